//! Enrichment: the email, its domain and the known fields are POSTed to a hook, and its reply is
//! mapped into the policy's fields with provenance `enrichment:<hook>`. A value a person gave
//! (or an administrator, an application, a provider) is never overwritten: only fields with no
//! value, or whose value came from an enrichment, are written. Fail-open: a hook that fails
//! changes nothing.

use std::sync::Arc;

use accrete_core::{CompiledPolicy, JsonAnswers, validate_json_answers};
use accrete_store::{ProfileChange, Store, StoreError, User};
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::spec::{EnrichmentTiming, HookSpec};
use super::{Hooks, at_path};
use crate::app::App;
use crate::facts::{location_of, stored_value};

/// The prefix of the provenance of enriched values.
pub const SOURCE_PREFIX: &str = "enrichment:";

/// What one enrichment did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enriched {
    /// The hook's name.
    pub hook: String,
    /// `ok`, or why nothing was written (`failed`: the hook did not answer usably).
    pub outcome: String,
    /// The fields written.
    pub fields: Vec<String>,
    /// The fields the reply gave that were left alone: a value a person gave, or refused by
    /// the field's rules.
    pub kept: Vec<String>,
}

/// The body POSTed to an enrichment hook.
pub(crate) fn body(hook: &HookSpec, trigger: &str, policy: &CompiledPolicy, user: &User) -> Value {
    let domain = user
        .email
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase());
    json!({
        "type": "enrichment",
        "hook": hook.name,
        "trigger": trigger,
        "user": {
            "id": user.id,
            "email": user.email,
            "email_domain": domain,
            "fields": known_fields(policy, user),
        },
    })
}

/// The user's stored values of the policy's fields, by field key.
pub(crate) fn known_fields(policy: &CompiledPolicy, user: &User) -> Map<String, Value> {
    policy
        .fields()
        .iter()
        .filter_map(|f| Some((f.key.as_str().to_owned(), stored_value(user, f)?.clone())))
        .collect()
}

/// The values `reply` gives for fields of `policy`, as the field's rules accept them (others
/// in `refused`): through the hook's mapping, else the reply's `fields` object.
fn mapped(
    hook: &HookSpec,
    policy: &CompiledPolicy,
    reply: &Value,
    now: OffsetDateTime,
    refused: &mut Vec<String>,
) -> JsonAnswers {
    let mut given = JsonAnswers::new();
    if hook.fields.is_empty() {
        if let Some(fields) = reply.get("fields").and_then(Value::as_object) {
            for (key, value) in fields {
                if !value.is_null() && policy.field(key).is_some() {
                    given.insert(key.clone(), value.clone());
                }
            }
        }
    } else {
        for (key, path) in &hook.fields {
            if policy.field(key).is_none() {
                tracing::warn!(hook = %hook.name, field = %key, "an enrichment maps a field the policy does not have");
                continue;
            }
            if let Some(value) = at_path(reply, path) {
                given.insert(key.clone(), value.clone());
            }
        }
    }
    // Each value passes its field's rules on its own, so that one bad value keeps the others.
    let mut accepted = JsonAnswers::new();
    for (key, value) in given {
        let one: JsonAnswers = [(key.clone(), value)].into_iter().collect();
        match validate_json_answers(
            policy,
            &[key.as_str()],
            &one,
            crate::values::MESSAGES,
            now.date(),
        ) {
            Ok(answers) => {
                for (k, v) in answers {
                    accepted.insert(k.as_str().to_owned(), v);
                }
            }
            Err(_) => {
                tracing::info!(hook = %hook.name, field = %key, "an enriched value was refused by its field's rules");
                refused.push(key);
            }
        }
    }
    accepted
}

/// Calls `hook` for `user` and stores what it gives (see the module documentation); the user as
/// it is afterwards.
pub async fn enrich(
    store: &dyn Store,
    hooks: &Hooks,
    hook: &HookSpec,
    policy: &CompiledPolicy,
    (user, trigger): (User, &str),
    now: OffsetDateTime,
) -> Result<(Enriched, User), StoreError> {
    let reply = hooks.call(hook, &body(hook, trigger, policy, &user)).await;
    apply(store, hook, policy, user, reply.ok(), now).await
}

/// Stores what `reply` gives (nothing when there is no reply).
pub(crate) async fn apply(
    store: &dyn Store,
    hook: &HookSpec,
    policy: &CompiledPolicy,
    user: User,
    reply: Option<Value>,
    now: OffsetDateTime,
) -> Result<(Enriched, User), StoreError> {
    let mut done = Enriched {
        hook: hook.name.clone(),
        outcome: "ok".to_owned(),
        fields: Vec::new(),
        kept: Vec::new(),
    };
    let Some(reply) = reply else {
        done.outcome = "failed".to_owned();
        return Ok((done, user));
    };
    let mut refused = Vec::new();
    let values = mapped(hook, policy, &reply, now, &mut refused);
    done.kept.clone_from(&refused);
    if values.is_empty() {
        return Ok((done, user));
    }
    let source = format!("{SOURCE_PREFIX}{}", hook.name);
    let mut user = user;
    // Written against the version read: a change made meanwhile (the user answering) is read
    // again and wins.
    for _ in 0..3 {
        let (changes, kept) = changes_for(store, policy, &user, &values).await?;
        done.kept = refused.iter().chain(&kept).cloned().collect();
        if changes.is_empty() {
            return Ok((done, user));
        }
        match store
            .apply_profile_changes(user.id, Some(user.version), &changes, &source, now)
            .await
        {
            Ok(updated) => {
                done.fields = values
                    .keys()
                    .filter(|k| !kept.contains(k))
                    .cloned()
                    .collect();
                return Ok((done, updated));
            }
            Err(StoreError::VersionMismatch { .. }) => {
                user = store.get_user(user.id).await?;
            }
            Err(error) => return Err(error),
        }
    }
    done.outcome = "conflict".to_owned();
    Ok((done, user))
}

/// The changes that write `values`, leaving out (in the second list) the fields whose stored
/// value did not come from an enrichment.
async fn changes_for(
    store: &dyn Store,
    policy: &CompiledPolicy,
    user: &User,
    values: &JsonAnswers,
) -> Result<(Vec<ProfileChange>, Vec<String>), StoreError> {
    let fields: Vec<_> = values.keys().filter_map(|k| policy.field(k)).collect();
    // The provenance is read only when a value is there already.
    let provenance = if fields.iter().any(|f| stored_value(user, f).is_some()) {
        store.value_provenance(user.id).await?
    } else {
        Vec::new()
    };
    let mut changes = Vec::new();
    let mut kept = Vec::new();
    for field in fields {
        let (location, key) = location_of(field);
        if stored_value(user, field).is_some() {
            let enriched = provenance.iter().any(|p| {
                p.location == location && p.key == key && p.source.starts_with(SOURCE_PREFIX)
            });
            if !enriched {
                kept.push(field.key.as_str().to_owned());
                continue;
            }
        }
        changes.push(ProfileChange {
            location,
            key: key.to_owned(),
            value: values.get(field.key.as_str()).cloned(),
        });
    }
    Ok((changes, kept))
}

/// Runs the enrichments of `moments` that run after the response (each hook once), in the
/// background: the caller never waits for them; a failure is logged.
pub fn after_response(app: &App, policy: &Arc<CompiledPolicy>, user: &User, moments: &[&str]) {
    let later: Vec<(HookSpec, String)> = app
        .hooks
        .enrichments(moments, EnrichmentTiming::AfterResponse)
        .map(|(hook, moment)| (hook.clone(), moment.to_owned()))
        .collect();
    if later.is_empty() {
        return;
    }
    let (store, hooks, policy) = (app.store.clone(), app.hooks.clone(), policy.clone());
    let user_id = user.id;
    tokio::spawn(async move {
        for (hook, moment) in later {
            if let Err(error) =
                in_background(&*store, &hooks, &hook, &policy, user_id, &moment).await
            {
                tracing::warn!(hook = %hook.name, %error, "an enrichment after the response was not stored");
            }
        }
    });
}

async fn in_background(
    store: &dyn Store,
    hooks: &Hooks,
    hook: &HookSpec,
    policy: &CompiledPolicy,
    user_id: Uuid,
    moment: &str,
) -> Result<(), StoreError> {
    let user = store.get_user(user_id).await?;
    let now = OffsetDateTime::now_utc();
    enrich(store, hooks, hook, policy, (user, moment), now)
        .await
        .map(drop)
}

/// `POST /api/v1/users/{id}/enrich`: the enrichment hooks that run on demand (`when` holds
/// `api`), one after the other, each waited for; what each did.
pub async fn on_demand(app: &App, user_id: Uuid) -> Result<Vec<Enriched>, StoreError> {
    let mut user = app.store().get_user(user_id).await?;
    let Some(policy) = app.policy().await? else {
        return Ok(Vec::new());
    };
    let hooks: Vec<&HookSpec> = app
        .hooks
        .of(super::spec::HookKind::Enrichment)
        .filter(|h| h.runs_at("api"))
        .collect();
    let mut done = Vec::with_capacity(hooks.len());
    for hook in hooks {
        let now = OffsetDateTime::now_utc();
        let (enriched, updated) =
            enrich(app.store(), &app.hooks, hook, &policy, (user, "api"), now).await?;
        user = updated;
        done.push(enriched);
    }
    Ok(done)
}
