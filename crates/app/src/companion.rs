//! Companion mode (docs/companion.md): Accrete's profiling for users who sign in at another
//! identity provider. The provider asks whether anything is due ([`check`], no write), sends
//! the browser with a signed start token ([`start`]: verified, used once, the user found or
//! created by the provider's subject, a transaction opened), the ordinary prompt pages ask, and
//! [`advance`] ends the visit with a signed answers token for the provider's continue URL
//! (and, for an Auth0 companion with `management`, records the write of the answered root
//! attributes through Auth0's Management API, made by [`management`]'s writer).

pub mod jwks;
pub mod management;
pub mod management_spec;
pub mod outbound;
pub mod spec;

use accrete_core::{CompiledPolicy, Storage};
use accrete_federation::spec::{ClaimMapping, Sync as SyncRule};
use accrete_oidc::authorize::AuthorizationRequest;
use accrete_oidc::companion::{
    ANSWERS_LIFETIME_SECONDS, AnswersClaims, Facts, Outcome, StartError, sign_answers,
};
use accrete_oidc::secrets::{TokenHasher, random_opaque};
use accrete_store::{
    AuthTransaction, CompanionStart, CompanionStarted, NewAuthTransaction, NewCompanionWrite,
    StoreError, User,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::App;
use crate::claim_mapping::{Mapped, map_claims};
use crate::facts::{
    FlowState, assume_stale, location_of, needs_provenance, stored_value, user_facts,
};
use crate::flow::{Next, before_code, next_ask};
use jwks::VerifyFailure;
pub use management_spec::ManagementSpec;
pub use spec::{Companion, CompanionKind, CompanionSpec, CompanionState, Companions};

/// The longest `state` a provider may give (Auth0's are about 200 characters).
pub const MAX_STATE_CHARS: usize = 2048;

/// Why a companion request is refused.
#[derive(Debug, thiserror::Error)]
pub enum CompanionError {
    /// No companion of that name.
    #[error("no companion of this name is configured")]
    Unknown,
    /// The caller of a check is not the companion's client.
    #[error("only the companion's own client may ask")]
    NotItsClient,
    /// The start token is refused.
    #[error(transparent)]
    Token(#[from] StartError),
    /// The provider's published keys (`jwks_uri`) cannot be fetched, and none were before.
    #[error("the provider's keys cannot be fetched: {0}")]
    KeysUnavailable(String),
    /// The start token was used already.
    #[error("the token was used already")]
    Replayed,
    /// The start has no usable `state`.
    #[error("the provider's state is missing or too long")]
    MissingState,
    /// The Accrete client the companion names is not registered (a configuration mistake).
    #[error("the companion's client is not registered: register it with `accrete client create`")]
    ClientMissing,
    /// A user id or a fact is refused: `(path, message)`.
    #[error("the facts are refused")]
    Facts(Vec<(&'static str, String)>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CompanionError {
    /// The code shown to developers on the error page.
    pub fn code(&self) -> &'static str {
        match self {
            CompanionError::Unknown => "unknown_companion",
            CompanionError::NotItsClient => "not_its_client",
            CompanionError::Token(error) => error.code(),
            CompanionError::KeysUnavailable(_) => "jwks_unavailable",
            CompanionError::Replayed => "token_replayed",
            CompanionError::MissingState => "missing_state",
            CompanionError::ClientMissing => "companion_client_missing",
            CompanionError::Facts(_) => "invalid_facts",
            CompanionError::Store(_) => "server_error",
        }
    }
}

impl From<VerifyFailure> for CompanionError {
    fn from(failure: VerifyFailure) -> Self {
        match failure {
            VerifyFailure::Token(error) => CompanionError::Token(error),
            VerifyFailure::KeysUnavailable(reason) => CompanionError::KeysUnavailable(reason),
        }
    }
}

/// Whether a step is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The step due, if any.
    pub step: Option<String>,
    /// Whether it is required.
    pub required: bool,
    /// When a step is due: the keys the policy's fields read in each bag, so that the start
    /// token carries only those (not the whole metadata).
    pub reads: Option<Reads>,
}

/// The keys of the policy's fields, by where they are stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// Keys of `user_metadata`.
    pub user_metadata: Vec<String>,
    /// Keys of `app_metadata`.
    pub app_metadata: Vec<String>,
    /// Standard claims.
    pub profile: Vec<String>,
}

/// The keys the fields of `policy` read, by bag, in the policy's order.
pub fn reads(policy: &CompiledPolicy) -> Reads {
    let mut reads = Reads::default();
    for field in policy.fields() {
        let (location, key) = location_of(field);
        let list = match location {
            accrete_store::Location::Profile => &mut reads.profile,
            accrete_store::Location::UserMetadata => &mut reads.user_metadata,
            accrete_store::Location::AppMetadata => &mut reads.app_metadata,
        };
        if !list.iter().any(|k| k == key) {
            list.push(key.to_owned());
        }
    }
    reads
}

/// The check call: whether anything is due for the provider's user `subject` with `facts`,
/// asked by the client `caller`. Reads, never writes.
pub async fn check(
    app: &App,
    name: &str,
    caller: &str,
    subject: &str,
    facts: &Facts,
    now: OffsetDateTime,
) -> Result<Due, CompanionError> {
    let companion = app.companions.get(name).ok_or(CompanionError::Unknown)?;
    if caller != companion.client() {
        return Err(CompanionError::NotItsClient);
    }
    let mut problems = facts.problems();
    if subject.is_empty() || subject.len() > accrete_oidc::companion::MAX_FACT_CHARS {
        problems.insert(0, ("/user_id", "1 to 512 characters".to_owned()));
    }
    if !problems.is_empty() {
        return Err(CompanionError::Facts(problems));
    }
    let none = Due {
        step: None,
        required: false,
        reads: None,
    };
    let Some(policy) = app.policy().await? else {
        return Ok(none);
    };
    let client = client_of(app, companion, facts).await?;
    let stored = app.store().companion_user(name, subject).await?;
    let known = stored.as_ref().map(|user| user.id);
    let mut user = stored.unwrap_or_else(|| blank_user(now));
    let mapped = mapped(&policy, facts, Some(&user), now);
    accrete_store::apply_in_memory(&mut user, &mapped.changes);
    user.credentialed_logins = i64::try_from(facts.logins_count).unwrap_or(i64::MAX);
    let flow = FlowState::default();
    let signup = facts.logins_count <= 1;
    let decide = |facts: &accrete_core::UserFacts| {
        next_ask(&policy, facts, &flow, &client, &[], signup, now)
    };
    let mut user_facts = user_facts(&policy, &user, &[], &[]);
    user_facts.suggestions = mapped.suggestions;
    let ask = match known {
        // Accrete has no history of a user it never met.
        None => decide(&user_facts).0,
        Some(user_id) => {
            // As before a code (`flow::before_code`): first without the history, taking every
            // value to re-confirm as stale; the history only holds steps back (or makes a due
            // optional step required), so when nothing is due then, nothing is due at all.
            let mut worst = user_facts.clone();
            assume_stale(&policy, &mut worst);
            let (first, held) = decide(&worst);
            let optional_open = policy.policy().settings.max_optional_steps_per_signin > 0;
            if first.is_none() && optional_open && !held {
                None
            } else {
                let (prompts, provenance) = match needs_provenance(&policy) {
                    true => tokio::try_join!(
                        app.store().prompt_states(user_id),
                        app.store().value_provenance(user_id)
                    )?,
                    false => (app.store().prompt_states(user_id).await?, Vec::new()),
                };
                let mut facts = crate::facts::user_facts(&policy, &user, &prompts, &provenance);
                facts.suggestions = user_facts.suggestions;
                decide(&facts).0
            }
        }
    };
    Ok(match ask {
        Some((ask, _)) => Due {
            step: Some(ask.step.as_str().to_owned()),
            required: ask.required,
            reads: Some(reads(&policy)),
        },
        None => none,
    })
}

/// Where the browser goes after a start or a page of the visit.
#[derive(Debug, Clone, PartialEq)]
pub enum Visit {
    /// A step is on screen: the prompt page of `tx`; `cookie` binds this browser to it (set it
    /// when `Some`).
    Prompt { tx: Uuid, cookie: Option<String> },
    /// Back to the provider: POST `state` and `token` to `url`.
    Back(Return),
    /// The visit ended meanwhile (a second tab, a double click).
    Gone,
}

/// The sentences the end of a visit may carry, in the person's language (the surface chooses
/// it: the pages' locale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    /// The language (`en`, `fr`): picks a hook's message given per locale.
    pub locale: String,
    /// The person left a required step.
    pub declined: String,
    /// A post-sign-in hook denied the sign-in without a message.
    pub denied: String,
}

/// The form a visit ends with.
#[derive(Debug, Clone, PartialEq)]
pub struct Return {
    /// The provider's continue URL.
    pub url: String,
    /// The provider's `state`.
    pub state: String,
    /// The answers token.
    pub token: String,
}

/// A browser arriving with a start token: verified (signature, issuer, audience, times), its
/// `jti` used once, the user found or created with the provider's values, a transaction opened
/// (bound to this browser by a cookie whose hash it keeps), then the first step due, or
/// straight back when nothing is.
pub async fn start(
    app: &App,
    name: &str,
    token: &str,
    state: &str,
    hasher: &TokenHasher,
    words: &Words,
    now: OffsetDateTime,
) -> Result<Visit, CompanionError> {
    let companion = app.companions.get(name).ok_or(CompanionError::Unknown)?;
    if state.is_empty() || state.len() > MAX_STATE_CHARS {
        return Err(CompanionError::MissingState);
    }
    let claims = companion.verify_start(token, app.issuer(), now).await?;
    let policy = app.policy().await?;
    let client = client_of(app, companion, &claims.facts).await?;
    if app.clients.get(app.store(), &client).await?.is_none() {
        tracing::error!(companion = name, client_id = %client, "the companion's client is not registered");
        return Err(CompanionError::ClientMissing);
    }
    let companion_state = CompanionState {
        name: name.to_owned(),
        subject: claims.sub.clone(),
        issuer: claims.iss.clone(),
        state: state.to_owned(),
        logins: claims.facts.logins_count,
        declined: false,
    };
    let cookie = random_opaque();
    let mut attempts = 0;
    let (user, tx) = loop {
        let stored = app.store().companion_user(name, &claims.sub).await?;
        let mapped = match &policy {
            Some(policy) => mapped(policy, &claims.facts, stored.as_ref(), now),
            None => Mapped::default(),
        };
        let mut tx_state = json!({});
        companion_state.store_into(&mut tx_state);
        FlowState {
            suggestions: mapped.suggestions,
            ..FlowState::default()
        }
        .store_into(&mut tx_state);
        let locales: Vec<&str> = claims.facts.locale.iter().map(String::as_str).collect();
        let started = app
            .store()
            .start_companion(CompanionStart {
                companion: name.to_owned(),
                subject: claims.sub.clone(),
                jti: claims.jti.clone().unwrap_or_default(),
                token_expires_at: OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(now),
                email: claims.facts.email.clone().unwrap_or_default(),
                email_verified: claims.facts.email_verified,
                logins: i64::try_from(claims.facts.logins_count).unwrap_or(i64::MAX),
                changes: mapped.changes,
                source: companion.source(),
                transaction: NewAuthTransaction {
                    client_id: client.clone(),
                    request: json!({ "companion": name, "ui_locales": locales }),
                    state: tx_state,
                    now,
                    expires_at: now + app.settings().lifetimes.transaction,
                },
                session_hash: Some(hasher.hash(&cookie)),
                now,
            })
            .await;
        match started {
            Ok(CompanionStarted::Started { user, transaction }) => break (user, transaction),
            Ok(CompanionStarted::Replayed) => return Err(CompanionError::Replayed),
            // Two first visits of a new user at once: the other created it; read it again.
            Err(StoreError::Conflict { .. }) if attempts == 0 => attempts += 1,
            Err(error) => return Err(error.into()),
        }
    };
    tracing::info!(
        companion = name,
        user_id = %user.id,
        client_id = %client,
        "companion visit started"
    );
    Ok(match advance(app, *tx, words, now).await? {
        Visit::Prompt { tx, .. } => Visit::Prompt {
            tx,
            cookie: Some(cookie),
        },
        other => other,
    })
}

/// Moves a companion's transaction on after a page: the next step due, or the end of the
/// visit (the transaction completed exactly once, the answers token signed).
pub async fn advance(
    app: &App,
    tx: AuthTransaction,
    words: &Words,
    now: OffsetDateTime,
) -> Result<Visit, StoreError> {
    let (Some(state), Some(user_id)) = (CompanionState::of(&tx.state), tx.user_id) else {
        return Ok(Visit::Gone);
    };
    let Some(companion) = app.companions.get(&state.name) else {
        return Ok(Visit::Gone);
    };
    if state.declined {
        let message = words.declined.clone();
        return finish(app, companion, &tx, &state, Some(message), now).await;
    }
    let request = AuthorizationRequest {
        client_id: tx.client_id.clone(),
        redirect_uri: companion.continue_url.clone(),
        scopes: Vec::new(),
        state: Some(state.state.clone()),
        nonce: None,
        code_challenge: None,
        prompt: Vec::new(),
        max_age: None,
        login_hint: None,
        ui_locales: Vec::new(),
        id_token_hint: None,
        acr_values: Vec::new(),
        connection: None,
    };
    let next = before_code(app, &tx, true, &request, user_id, None, now)
        .await
        .map_err(|crate::flow::ProfilingError::Store(e)| e)?;
    match next {
        Next::Prompt(_) => Ok(Visit::Prompt {
            tx: tx.id,
            cookie: None,
        }),
        Next::Denied(message) => {
            // The hook's message in the person's language, else in English, else any.
            let message = match message {
                Value::String(text) => Some(text),
                Value::Object(map) => map
                    .get(&words.locale)
                    .or_else(|| map.get("en"))
                    .or_else(|| map.values().next())
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            }
            .or_else(|| Some(words.denied.clone()));
            finish(app, companion, &tx, &state, message, now).await
        }
        // The others are not asked of a companion's visit (no email gate, no second factor,
        // a stored transaction, no `prompt=none`): nothing more is due.
        _ => finish(app, companion, &tx, &state, None, now).await,
    }
}

/// Completes the transaction (exactly once) and signs what the visit gave.
async fn finish(
    app: &App,
    companion: &Companion,
    tx: &AuthTransaction,
    state: &CompanionState,
    declined: Option<String>,
    now: OffsetDateTime,
) -> Result<Visit, StoreError> {
    let flow = FlowState::of(&tx.state);
    let policy = match flow.answered.is_empty() {
        true => None,
        false => app.policy().await?,
    };
    // The answered root attributes to write through the Management API, recorded with the
    // completion (values are read when it is sent).
    let write = match (&policy, tx.user_id, companion.management()) {
        (Some(policy), Some(user_id), Some(_)) => {
            let fields = management_fields(policy, &flow);
            (!fields.is_empty()).then(|| NewCompanionWrite {
                companion: state.name.clone(),
                user_id,
                subject: state.subject.clone(),
                fields,
                now,
            })
        }
        _ => None,
    };
    let recorded = write.is_some();
    if !app
        .store()
        .complete_companion_visit(tx.id, now, write)
        .await?
    {
        return Ok(Visit::Gone);
    }
    if recorded {
        app.companions.written.notify_one();
    }
    let mut claims = AnswersClaims {
        iss: app.issuer().to_owned(),
        sub: state.subject.clone(),
        aud: state.issuer.clone(),
        iat: now.unix_timestamp(),
        exp: now.unix_timestamp() + ANSWERS_LIFETIME_SECONDS,
        jti: random_opaque(),
        state: state.state.clone(),
        outcome: match declined {
            Some(_) => Outcome::Declined,
            None => Outcome::Completed,
        },
        message: declined,
        user_metadata: Map::new(),
        app_metadata: Map::new(),
        profile: Map::new(),
        skipped: flow.skipped.clone(),
    };
    if let (Some(policy), Some(user_id)) = (policy, tx.user_id) {
        let user = app.store().get_user(user_id).await?;
        for field in flow
            .answered
            .iter()
            .filter_map(|step| policy.step(step))
            .flat_map(|step| step.fields.iter())
            .filter_map(|key| policy.field(key.as_str()))
        {
            let Some(value) = stored_value(&user, field) else {
                continue;
            };
            let (location, key) = location_of(field);
            let bag = match location {
                accrete_store::Location::Profile => &mut claims.profile,
                accrete_store::Location::UserMetadata => &mut claims.user_metadata,
                accrete_store::Location::AppMetadata => &mut claims.app_metadata,
            };
            bag.insert(key.to_owned(), value.clone());
        }
    }
    tracing::info!(
        companion = %state.name,
        outcome = ?claims.outcome,
        answered = flow.answered.len(),
        skipped = flow.skipped.len(),
        "companion visit ended"
    );
    Ok(Visit::Back(Return {
        url: companion.continue_url.clone(),
        state: state.state.clone(),
        token: sign_answers(&claims, &companion.key),
    }))
}

/// The profile claims of the fields of the steps answered in a visit that Auth0's Management
/// API writes (root attributes), each once, in the order they were asked.
fn management_fields(policy: &CompiledPolicy, flow: &FlowState) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for field in flow
        .answered
        .iter()
        .filter_map(|step| policy.step(step))
        .flat_map(|step| step.fields.iter())
        .filter_map(|key| policy.field(key.as_str()))
    {
        let (location, key) = location_of(field);
        if location == accrete_store::Location::Profile
            && management_spec::writable(key)
            && !fields.iter().any(|k| k == key)
        {
            fields.push(key.to_owned());
        }
    }
    fields
}

/// The Accrete client of a visit: the one whose id is the provider's application's, when it
/// exists, else the companion's own.
async fn client_of(app: &App, companion: &Companion, facts: &Facts) -> Result<String, StoreError> {
    let now = std::time::Instant::now();
    if let Some(id) = facts.client_id.as_deref().filter(|id| !id.is_empty())
        && !app.companions.known_unregistered(id, now)
    {
        if app.clients.get(app.store(), id).await?.is_some() {
            return Ok(id.to_owned());
        }
        app.companions.note_unregistered(id, now);
    }
    Ok(companion.client().to_owned())
}

/// The provider's values of the policy's fields, checked by each field's rules: valid ones as
/// changes of `user`'s (the provider is the source of truth), refused ones as suggestions.
fn mapped(
    policy: &CompiledPolicy,
    facts: &Facts,
    user: Option<&User>,
    now: OffsetDateTime,
) -> Mapped {
    let mappings: Vec<ClaimMapping> = policy
        .fields()
        .iter()
        .map(|field| {
            let bag = match &field.storage {
                Storage::Profile { .. } => "profile",
                Storage::UserMetadata => "user_metadata",
                Storage::AppMetadata => "app_metadata",
            };
            let (_, key) = location_of(field);
            let escaped = key.replace('~', "~0").replace('/', "~1");
            ClaimMapping {
                claim: format!("/{bag}/{escaped}"),
                field: field.key.as_str().to_owned(),
                sync: SyncRule::Always,
            }
        })
        .collect();
    map_claims(Some(policy), &mappings, &facts.bags(), user, now.date())
}

/// A user Accrete has not met yet, as of `now`.
fn blank_user(now: OffsetDateTime) -> User {
    User {
        id: Uuid::nil(),
        email: String::new(),
        email_verified: false,
        password_hash: None,
        created_at: now,
        updated_at: now,
        credentialed_logins: 0,
        sso_logins: 0,
        last_login_at: None,
        profile: json!({}),
        user_metadata: json!({}),
        app_metadata: json!({}),
        version: 0,
        mfa_factors: 0,
        disabled_at: None,
    }
}
