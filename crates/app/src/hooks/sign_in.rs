//! The hooks between authentication and the decision, once per sign-in: the enrichments of a
//! sign-up (before the decision, within their time budget, so that an enriched field is not
//! asked; or in the background after the response), and the post-sign-in hooks, whose replies
//! add facts (`user.facts.<name>` in step conditions) and claims (the ID token), or deny the
//! sign-in. What they said is kept in the transaction (`FlowState::hooks`).

use std::collections::BTreeMap;

use accrete_oidc::authorize::AuthorizationRequest;
use accrete_store::{AuthTransaction, StoreError, User};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::enrichment::{self, known_fields};
use super::spec::{EnrichmentTiming, FailureMode, HookKind, HookSpec};
use crate::app::App;
use crate::claims::namespaced_claims;
use crate::facts::{FlowState, HookResults};
use crate::webhooks::delivery::futures_join_all;

/// The most bytes of facts (as JSON) a sign-in keeps.
pub const MAX_FACTS_BYTES: usize = 4096;
/// The longest name of a fact.
const MAX_FACT_NAME: usize = 64;

/// What the sign-in does after its hooks.
#[derive(Debug)]
pub enum AtSignIn {
    /// Go on to the decision with this user and transaction (changed when the hooks ran).
    Go {
        user: Option<Box<User>>,
        tx: Option<Box<AuthTransaction>>,
    },
    /// The hooks run in a stored transaction only: store it, then call again.
    StoreFirst,
    /// A hook denied the sign-in: its message for the person (a string or one per locale;
    /// `null` when a fail-closed hook failed).
    Denied(Value),
}

/// Runs the hooks of this sign-in unless they ran already in `tx` (see the module
/// documentation).
pub async fn run(
    app: &App,
    (tx, stored): (&AuthTransaction, bool),
    request: &AuthorizationRequest,
    user_id: uuid::Uuid,
    user: Option<User>,
    now: OffsetDateTime,
) -> Result<AtSignIn, StoreError> {
    let mut flow = FlowState::of(&tx.state);
    if flow.hooks.is_some() {
        return Ok(AtSignIn::Go {
            user: user.map(Box::new),
            tx: None,
        });
    }
    if !stored {
        return Ok(AtSignIn::StoreFirst);
    }
    let mut user = match user.filter(|u| u.id == user_id) {
        Some(user) => user,
        None => app.store().get_user(user_id).await?,
    };
    let policy = app.policy().await?;
    let signup = user.created_at >= tx.created_at;
    let mut moments = Vec::new();
    if signup {
        moments.push("signup");
        if flow.provider_signup {
            moments.push("provider_signup");
        }
    }
    if flow.provider_link {
        moments.push("provider_link");
    }
    let enrich: Vec<(&HookSpec, &str)> = match &policy {
        Some(_) => app
            .hooks
            .enrichments(&moments, EnrichmentTiming::BeforeDecision)
            .collect(),
        None => Vec::new(),
    };
    let post: Vec<&HookSpec> = app.hooks.of(HookKind::PostSignIn).collect();
    let fields = policy
        .as_deref()
        .map(|p| known_fields(p, &user))
        .unwrap_or_default();
    let post_body = |hook: &HookSpec| {
        json!({
            "type": "post_sign_in",
            "hook": hook.name,
            "client_id": tx.client_id,
            "scopes": request.scopes,
            "signup": signup,
            "user": {
                "id": user.id,
                "email": user.email,
                "email_verified": user.email_verified,
                "fields": fields,
            },
        })
    };
    let enrich_bodies: Vec<Value> = enrich
        .iter()
        .map(|(hook, moment)| {
            policy
                .as_deref()
                .map(|p| enrichment::body(hook, moment, p, &user))
                .unwrap_or_default()
        })
        .collect();
    let post_bodies: Vec<Value> = post.iter().map(|h| post_body(h)).collect();
    // Every call at once: the sign-in waits for the slowest, never for the sum.
    let calls = enrich
        .iter()
        .map(|(hook, _)| *hook)
        .zip(&enrich_bodies)
        .chain(post.iter().copied().zip(&post_bodies))
        .map(|(hook, body)| app.hooks.call(hook, body));
    let mut replies = futures_join_all(calls).await.into_iter();
    let enrich_replies: Vec<_> = replies.by_ref().take(enrich.len()).collect();
    let mut results = HookResults::default();
    for (hook, reply) in post.iter().zip(replies) {
        let reply = match reply {
            Ok(reply) => reply,
            Err(_) if hook.failure() == FailureMode::Closed => {
                return Ok(AtSignIn::Denied(Value::Null));
            }
            Err(_) => continue,
        };
        if let Some(deny) = reply
            .get("deny")
            .filter(|d| !d.is_null() && d != &&json!(false))
        {
            tracing::info!(hook = %hook.name, user_id = %user.id, "a post-sign-in hook denied the sign-in");
            let message = deny.get("message").cloned().unwrap_or_else(|| deny.clone());
            return Ok(AtSignIn::Denied(message));
        }
        add_facts(hook, &reply, &mut results.facts);
        if let Some(claims) = reply.get("claims").and_then(Value::as_object) {
            match &hook.claim_namespace {
                Some(namespace) => {
                    let mut all = results.claims.clone();
                    all.extend(namespaced_claims(namespace, claims));
                    if serde_json::to_vec(&all).map_or(0, |b| b.len())
                        <= crate::claims::MAX_HOOK_CLAIMS_BYTES
                    {
                        results.claims = all;
                    } else {
                        tracing::warn!(hook = %hook.name, "a post-sign-in hook's claims were left out: too large");
                    }
                }
                None => {
                    tracing::warn!(hook = %hook.name, "a post-sign-in hook gave claims but has no claim_namespace: left out");
                }
            }
        }
    }
    if let Some(policy) = &policy {
        for ((hook, _), reply) in enrich.iter().zip(enrich_replies) {
            let (_, updated) =
                enrichment::apply(app.store(), hook, policy, user, reply.ok(), now).await?;
            user = updated;
        }
        enrichment::after_response(app, policy, &user, &moments);
    }
    flow.hooks = Some(results);
    let mut updated = tx.clone();
    flow.store_into(&mut updated.state);
    let updated = match app.store().update_transaction(updated).await {
        Ok(updated) => updated,
        // Another request of this sign-in (a double click) moved it on: go on with it.
        Err(StoreError::VersionMismatch { .. }) => app
            .store()
            .get_transaction(tx.id)
            .await?
            .ok_or(StoreError::NotFound)?,
        Err(error) => return Err(error),
    };
    Ok(AtSignIn::Go {
        user: Some(Box::new(user)),
        tx: Some(Box::new(updated)),
    })
}

/// Adds the reply's `facts` (names of letters, digits and `_`, within [`MAX_FACTS_BYTES`]).
fn add_facts(hook: &HookSpec, reply: &Value, facts: &mut BTreeMap<String, Value>) {
    let Some(given) = reply.get("facts").and_then(Value::as_object) else {
        return;
    };
    let mut size = serde_json::to_vec(&*facts).map_or(0, |b| b.len());
    for (name, value) in given {
        let valid = !name.is_empty()
            && name.len() <= MAX_FACT_NAME
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !valid {
            tracing::warn!(hook = %hook.name, "a fact with an invalid name was left out");
            continue;
        }
        let weight = name.len() + serde_json::to_vec(value).map_or(0, |b| b.len()) + 4;
        if size + weight > MAX_FACTS_BYTES {
            tracing::warn!(hook = %hook.name, "facts beyond the size limit were left out");
            break;
        }
        size += weight;
        facts.insert(name.clone(), value.clone());
    }
}

/// The claims post-sign-in hooks added in `tx`, if any.
pub fn claims_of(tx: &AuthTransaction) -> Option<Map<String, Value>> {
    FlowState::of(&tx.state)
        .hooks
        .map(|h| h.claims)
        .filter(|c| !c.is_empty())
}
