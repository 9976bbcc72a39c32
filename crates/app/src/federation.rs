//! Signing in through an upstream identity provider: the round trip to the provider (`begin`,
//! `finish`), which Accrete user an upstream identity is (found, created, or linked only with
//! proof), what its claims become in the profile (`claim_mapping`), and the sign-in methods a
//! user has linked.
//!
//! Linking rules (no account takeover): an upstream identity (connection + subject) belongs to
//! one user. An unknown identity whose email no account has creates a user. An unknown identity
//! whose email an account already has is linked to it only when the provider asserts the email
//! as verified AND the person proves in the same transaction that the account is theirs (its
//! password, or another provider already linked to it); an unverified email is never linked.

use std::sync::Arc;

use accrete_federation::{Callback as UpstreamCallback, Start, UpstreamError, UpstreamIdentity};
use accrete_oidc::secrets::random_opaque;
use accrete_store::{
    AuthTransaction, Client, FederatedSignIn, FederationState, LinkedIdentity, NewUser, StoreError,
    UnlinkOutcome, User, normalize_email,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::app::App;
use crate::claim_mapping::{Mapped, map_claims, source_of};
use crate::connections::Connection;
use crate::facts::FlowState;
use crate::settings::self_signup_for;
use crate::transactions::request_of;
use accrete_oidc::authorize::Prompt;

/// How long a round trip to a provider may take.
pub const STATE_LIFETIME: Duration = Duration::minutes(10);

/// The `amr` value of a sign-in through an upstream provider (followed by the provider's own).
pub const FEDERATED_AMR: &str = "fed";

/// Why a sign-in through a provider did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// No enabled connection has this name.
    #[error("no enabled connection has this name")]
    UnknownConnection,
    /// The application does not offer this connection.
    #[error("this application does not offer this connection")]
    NotOffered,
    /// The `state` is missing, used already, expired, from another connection, or another
    /// browser's.
    #[error("the sign-in state is missing, used, expired or not this browser's")]
    BadState,
    /// The provider refused, could not be reached, or answered wrongly.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The provider shared no email address.
    #[error("the provider shared no email address")]
    NoEmail,
    /// An account has this email, and the provider did not assert it as verified.
    #[error("an account has this email and the provider did not verify it")]
    EmailUnverified,
    /// Linking from the account page: this provider account is another user's.
    #[error("this provider account is linked to another user")]
    IdentityTaken,
    /// The identity is unknown and the application accepts no new accounts (self sign-up is
    /// off for its client, or server-wide).
    #[error("this application does not accept new accounts")]
    SignupClosed,
    /// The identity is linked to an account an administrator disabled.
    #[error("the account is disabled")]
    Disabled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A sign-in through a provider that failed, with what the page needs to offer a way on.
#[derive(Debug)]
pub struct Failure {
    /// The authorization transaction waiting for it, if known.
    pub tx: Option<Uuid>,
    /// The connection's display name, if known.
    pub connection: Option<String>,
    pub error: FederationError,
}

/// How the user authenticated, for the session and the tokens (`amr`, `acr`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SignInMethod {
    pub amr: Vec<String>,
    pub acr: Option<String>,
}

impl SignInMethod {
    /// A password sign-in.
    pub fn password() -> SignInMethod {
        SignInMethod {
            amr: vec!["pwd".to_owned()],
            acr: None,
        }
    }

    /// Through a provider: `fed`, then the provider's own `amr` values; its `acr` as given.
    fn federated(identity: &UpstreamIdentity) -> SignInMethod {
        let mut amr = vec![FEDERATED_AMR.to_owned()];
        for value in &identity.amr {
            if !amr.contains(value) {
                amr.push(value.clone());
            }
        }
        SignInMethod {
            amr,
            acr: identity.acr.clone(),
        }
    }
}

/// The connections `client` offers on its sign-in page, in its order (every enabled connection,
/// by name, when the client names none).
pub async fn offered(
    app: &App,
    client: Option<&Client>,
) -> Result<Vec<Arc<Connection>>, StoreError> {
    let all = app.federation.all(app.store()).await?;
    let enabled = all.iter().filter(|c| c.spec.enabled);
    Ok(match client.and_then(|c| c.connections.as_ref()) {
        Some(names) => names
            .iter()
            .filter_map(|name| enabled.clone().find(|c| c.name() == name).cloned())
            .collect(),
        None => enabled.cloned().collect(),
    })
}

/// Whether `client` offers signing in (and up) with a password.
pub fn password_offered(client: Option<&Client>) -> bool {
    client.is_none_or(|c| c.password_signin)
}

/// Home-realm discovery: the connection offered to `client` whose domains hold `email`'s.
pub async fn home_realm(
    app: &App,
    client: Option<&Client>,
    email: &str,
) -> Result<Option<Arc<Connection>>, StoreError> {
    let Some((_, domain)) = email.trim().rsplit_once('@') else {
        return Ok(None);
    };
    let domain = domain.to_ascii_lowercase();
    Ok(offered(app, client).await?.into_iter().find(|c| {
        c.spec
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&domain))
    }))
}

/// The start of a round trip to a provider.
pub struct Begin<'a> {
    pub connection: &'a str,
    /// The authorization transaction signing in (its client must offer the connection).
    pub tx: Option<(&'a AuthTransaction, Option<&'a Client>)>,
    /// A signed-in user linking the provider from their account page.
    pub linking: Option<Uuid>,
    /// This browser's CSRF cookie: the round trip is bound to it.
    pub browser: &'a str,
    pub login_hint: Option<String>,
    pub now: OffsetDateTime,
}

/// Starts a round trip: stores its single-use state (bound to the browser) and returns the
/// provider's authorization URL.
pub async fn begin(app: &App, begin: Begin<'_>) -> Result<String, FederationError> {
    let connection = app
        .federation
        .enabled(app.store(), begin.connection)
        .await?
        .ok_or(FederationError::UnknownConnection)?;
    if let Some((_, client)) = begin.tx {
        let offered = offered(app, client).await?;
        if !offered.iter().any(|c| c.name() == connection.name()) {
            return Err(FederationError::NotOffered);
        }
    }
    let state = random_opaque();
    let hasher = &app.federation.hasher;
    app.store()
        .create_federation_state(FederationState {
            hash: hasher.hash(&state),
            connection: connection.name().to_owned(),
            transaction_id: begin.tx.map(|(tx, _)| tx.id),
            user_id: begin.linking,
            browser: browser_hash(app, begin.browser),
            created_at: begin.now,
            expires_at: begin.now + STATE_LIFETIME,
        })
        .await?;
    let mut start = start_of(app, connection.name(), state, begin.login_hint)?;
    // What the application asked of the sign-in is asked of the provider too: a fresh sign-in
    // (its own session must not answer silently), the age, the language of its pages.
    if let Some(request) = begin.tx.and_then(|(tx, _)| request_of(tx)) {
        start.prompt_login = request.has_prompt(Prompt::Login);
        start.max_age = request.max_age;
        start.ui_locales = request.ui_locales;
    }
    let url = app
        .federation
        .upstream
        .authorization_url(&connection.provider, &start)
        .await?;
    Ok(url.to_string())
}

/// The redirect URI registered at the provider for `connection`.
pub fn callback_url(issuer: &str, connection: &str) -> String {
    format!(
        "{}/login/{connection}/callback",
        issuer.trim_end_matches('/')
    )
}

/// What the round trip's values are: the nonce and the PKCE verifier are derived from the
/// state with the server's key, so nothing secret is stored for them.
fn start_of(
    app: &App,
    connection: &str,
    state: String,
    login_hint: Option<String>,
) -> Result<Start, UpstreamError> {
    let hasher = &app.federation.hasher;
    let redirect_uri = callback_url(app.issuer(), connection)
        .parse()
        .map_err(|e| UpstreamError::Config(format!("redirect URI: {e}")))?;
    Ok(Start {
        redirect_uri,
        nonce: hasher.hash(&format!("nonce:{state}")),
        pkce_verifier: hasher.hash(&format!("pkce:{state}")),
        state,
        login_hint,
        prompt_login: false,
        max_age: None,
        ui_locales: Vec::new(),
    })
}

fn browser_hash(app: &App, browser: &str) -> String {
    app.federation.hasher.hash(&format!("browser:{browser}"))
}

/// The provider's answer at the redirect URI.
pub struct Callback<'a> {
    /// The connection named by the redirect URI.
    pub connection: &'a str,
    pub state: Option<&'a str>,
    /// This browser's CSRF cookie.
    pub browser: Option<&'a str>,
    pub response: UpstreamCallback,
    pub now: OffsetDateTime,
}

/// Where a finished round trip leads.
#[derive(Debug)]
pub enum Finished {
    /// Signed in: start the session and continue the transaction (or show the account page).
    SignedIn {
        user: Box<User>,
        tx: Option<Uuid>,
        method: SignInMethod,
    },
    /// The provider was linked to the signed-in user's account (from the account page).
    Linked { user_id: Uuid },
    /// An account has the provider's (verified) email: the person must prove it is theirs
    /// on the sign-in page of `tx`, after which the provider is linked.
    ConfirmLink { tx: Uuid },
}

/// The end of a round trip: checks the state (single use, this connection, this browser),
/// lets the provider's answer be verified, and signs the user in, creates them, or links.
pub async fn finish(app: &App, callback: Callback<'_>) -> Result<Finished, Failure> {
    let fail = |tx, connection: Option<&Connection>, error| Failure {
        tx,
        connection: connection.map(Connection::display_name),
        error,
    };
    let hasher = &app.federation.hasher;
    let Some(state) = callback.state.filter(|s| !s.is_empty()) else {
        return Err(fail(None, None, FederationError::BadState));
    };
    let stored = app
        .store()
        .consume_federation_state(&hasher.hash(state), callback.now)
        .await
        .map_err(|e| fail(None, None, e.into()))?;
    let Some(stored) = stored.filter(|s| s.connection == callback.connection) else {
        tracing::warn!(
            connection = callback.connection,
            "federation state unknown, used or foreign"
        );
        return Err(fail(None, None, FederationError::BadState));
    };
    let tx = stored.transaction_id;
    let same_browser = callback
        .browser
        .is_some_and(|b| hasher.verify(&format!("browser:{b}"), &stored.browser));
    if !same_browser {
        tracing::warn!(
            connection = callback.connection,
            "federation state of another browser"
        );
        return Err(fail(tx, None, FederationError::BadState));
    }
    let connection = app
        .federation
        .enabled(app.store(), callback.connection)
        .await
        .map_err(|e| fail(tx, None, e.into()))?
        .ok_or_else(|| fail(tx, None, FederationError::UnknownConnection))?;
    let start = start_of(app, connection.name(), state.to_owned(), None)
        .map_err(|e| fail(tx, Some(&connection), e.into()))?;
    let identity = app
        .federation
        .upstream
        .finish(&connection.provider, &callback.response, &start)
        .await
        .map_err(|e| {
            tracing::warn!(connection = connection.name(), kind = e.kind(), error = %e, "sign-in through a provider failed");
            fail(tx, Some(&connection), e.into())
        })?;
    let outcome = match stored.user_id {
        Some(user_id) => {
            link_from_account(app, &connection, &identity, user_id, callback.now).await
        }
        None => sign_in(app, &connection, &identity, tx, callback.now).await,
    };
    outcome.map_err(|error| fail(tx, Some(&connection), error))
}

/// A signed-in user links a provider from their account page.
async fn link_from_account(
    app: &App,
    connection: &Connection,
    identity: &UpstreamIdentity,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<Finished, FederationError> {
    if let Some(existing) = app
        .store()
        .find_identity(connection.name(), &identity.subject)
        .await?
        && existing.user_id != user_id
    {
        return Err(FederationError::IdentityTaken);
    }
    let user = app.store().get_user(user_id).await?;
    let mapped = mapped(app, connection, identity, Some(&user), now).await?;
    write_sign_in(
        app,
        connection,
        identity,
        user_id,
        mapped.changes,
        false,
        now,
    )
    .await?;
    tracing::info!(%user_id, connection = connection.name(), "provider linked from the account page");
    Ok(Finished::Linked { user_id })
}

/// Signs in the user this identity belongs to, creates one, or asks for proof before linking.
async fn sign_in(
    app: &App,
    connection: &Connection,
    identity: &UpstreamIdentity,
    tx: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<Finished, FederationError> {
    let method = SignInMethod::federated(identity);
    if let Some(known) = app
        .store()
        .find_identity(connection.name(), &identity.subject)
        .await?
    {
        let user = app.store().get_user(known.user_id).await?;
        if !crate::users::may_sign_in(&user) {
            tracing::info!(user_id = %user.id, connection = connection.name(), "sign-in through a provider refused: the account is disabled");
            return Err(FederationError::Disabled);
        }
        let mapped = mapped(app, connection, identity, Some(&user), now).await?;
        let user = write_sign_in(
            app,
            connection,
            identity,
            user.id,
            mapped.changes,
            true,
            now,
        )
        .await?;
        keep_suggestions(app, tx, mapped.suggestions, None, false).await?;
        link_pending(app, tx, &user, now).await?;
        tracing::info!(user_id = %user.id, connection = connection.name(), "sign-in through a provider succeeded");
        return Ok(Finished::SignedIn {
            user: Box::new(user),
            tx,
            method,
        });
    }
    let email = identity
        .email
        .clone()
        .filter(|e| !e.trim().is_empty())
        .ok_or(FederationError::NoEmail)?;
    if app.store().find_user_by_email(&email).await?.is_some() {
        if !identity.email_verified {
            tracing::info!(
                connection = connection.name(),
                "no link: the provider did not verify the email of an existing account"
            );
            return Err(FederationError::EmailUnverified);
        }
        let Some(tx) = tx else {
            return Err(FederationError::BadState);
        };
        park_pending_link(app, tx, connection, identity, &email, &method).await?;
        return Ok(Finished::ConfirmLink { tx });
    }
    if !self_signup_allowed(app, tx).await? {
        tracing::info!(
            connection = connection.name(),
            "no account created through a provider: self sign-up is off"
        );
        return Err(FederationError::SignupClosed);
    }
    let mapped = mapped(app, connection, identity, None, now).await?;
    let mut new = NewUser::with_email(email, now);
    new.email_verified = identity.email_verified;
    let linked = linked_identity(connection, identity, Uuid::nil(), now);
    let user = match app
        .store()
        .create_user_with_identity(
            new,
            linked,
            mapped.changes,
            source_of(connection.name()),
            now,
        )
        .await
    {
        Ok(user) => user,
        // Created meanwhile (a double click): the identity is known now, sign in as it.
        Err(StoreError::Conflict { .. }) => {
            return Box::pin(sign_in(app, connection, identity, tx, now)).await;
        }
        Err(error) => return Err(error.into()),
    };
    keep_suggestions(app, tx, mapped.suggestions, None, true).await?;
    tracing::info!(user_id = %user.id, connection = connection.name(), "sign-up through a provider");
    Ok(Finished::SignedIn {
        user: Box::new(user),
        tx,
        method,
    })
}

/// Whether people may create their own account in the transaction `tx` (its client's setting,
/// else the server's; the server's outside any transaction).
async fn self_signup_allowed(app: &App, tx: Option<Uuid>) -> Result<bool, StoreError> {
    let transaction = match tx {
        Some(id) => app.store().get_transaction(id).await?,
        None => None,
    };
    let client = match transaction {
        Some(transaction) => app.clients.get(app.store(), &transaction.client_id).await?,
        None => None,
    };
    Ok(self_signup_for(app, client.as_ref()))
}

/// The claims mapped for `user` with the published policy.
async fn mapped(
    app: &App,
    connection: &Connection,
    identity: &UpstreamIdentity,
    user: Option<&User>,
    now: OffsetDateTime,
) -> Result<Mapped, StoreError> {
    let policy = app.policy().await?;
    Ok(map_claims(
        policy.as_deref(),
        &connection.mappings,
        &identity.claims,
        user,
        now.date(),
    ))
}

fn linked_identity(
    connection: &Connection,
    identity: &UpstreamIdentity,
    user_id: Uuid,
    now: OffsetDateTime,
) -> LinkedIdentity {
    LinkedIdentity {
        connection: connection.name().to_owned(),
        subject: identity.subject.clone(),
        user_id,
        email: identity.email.clone(),
        created_at: now,
        last_used_at: now,
    }
}

/// One unit of work: the identity (stored or refreshed), the mapped values, the count.
async fn write_sign_in(
    app: &App,
    connection: &Connection,
    identity: &UpstreamIdentity,
    user_id: Uuid,
    changes: Vec<accrete_store::ProfileChange>,
    count_sign_in: bool,
    now: OffsetDateTime,
) -> Result<User, FederationError> {
    let write = FederatedSignIn {
        identity: linked_identity(connection, identity, user_id, now),
        changes,
        source: source_of(connection.name()),
        count_sign_in,
        now,
    };
    match app.store().federated_sign_in(write).await {
        Ok(user) => Ok(user),
        Err(StoreError::Conflict { .. }) => Err(FederationError::IdentityTaken),
        Err(error) => Err(error.into()),
    }
}

/// What profiling keeps of the round trip in the transaction: values the fields refused (the
/// prompt pre-fills them), a sign-up through the provider (no credentials page in the sign-up's
/// progress), a pending link.
async fn keep_suggestions(
    app: &App,
    tx: Option<Uuid>,
    suggestions: std::collections::BTreeMap<String, Value>,
    pending: Option<Value>,
    signup: bool,
) -> Result<(), StoreError> {
    let Some(tx) = tx else {
        return Ok(());
    };
    if suggestions.is_empty() && pending.is_none() && !signup {
        return Ok(());
    }
    let Some(mut stored) = app.store().get_transaction(tx).await? else {
        return Ok(());
    };
    if !suggestions.is_empty() || signup {
        let mut flow = FlowState::of(&stored.state);
        flow.suggestions.extend(suggestions);
        flow.provider_signup |= signup;
        flow.store_into(&mut stored.state);
    }
    if let Some(pending) = pending {
        set_pending(&mut stored.state, Some(pending));
    }
    app.store().update_transaction(stored).await?;
    Ok(())
}

/// A provider sign-in waiting for proof that the existing account with its email is the
/// person's (kept in the transaction's state under `"federation"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingLink {
    pub connection: String,
    /// The connection's display name.
    pub display_name: String,
    pub subject: String,
    pub email: String,
    pub claims: Map<String, Value>,
    pub method: SignInMethod,
}

/// The pending link of `tx`, if any (the sign-in page says what to do).
pub fn pending_link(tx: &AuthTransaction) -> Option<PendingLink> {
    let value = tx.state.get("federation")?.get("pending_link")?;
    serde_json::from_value(value.clone()).ok()
}

fn set_pending(state: &mut Value, pending: Option<Value>) {
    if !state.is_object() {
        *state = json!({});
    }
    if let Some(object) = state.as_object_mut() {
        match pending {
            Some(pending) => {
                object.insert("federation".into(), json!({ "pending_link": pending }));
            }
            None => {
                object.remove("federation");
            }
        }
    }
}

async fn park_pending_link(
    app: &App,
    tx: Uuid,
    connection: &Connection,
    identity: &UpstreamIdentity,
    email: &str,
    method: &SignInMethod,
) -> Result<(), StoreError> {
    let pending = PendingLink {
        connection: connection.name().to_owned(),
        display_name: connection.display_name(),
        subject: identity.subject.clone(),
        email: email.to_owned(),
        claims: identity.claims.clone(),
        method: method.clone(),
    };
    let pending = serde_json::to_value(pending).unwrap_or_default();
    keep_suggestions(app, Some(tx), Default::default(), Some(pending), false).await
}

/// After a sign-in inside transaction `tx` (a password, or a provider already linked): links
/// the pending provider when the signed-in account has its email. Returns whether it did.
pub async fn link_pending(
    app: &App,
    tx: Option<Uuid>,
    user: &User,
    now: OffsetDateTime,
) -> Result<bool, FederationError> {
    let Some(tx) = tx else {
        return Ok(false);
    };
    let Some(mut stored) = app.store().get_transaction(tx).await? else {
        return Ok(false);
    };
    let Some(pending) = pending_link(&stored) else {
        return Ok(false);
    };
    set_pending(&mut stored.state, None);
    let connection = if normalize_email(&pending.email) != normalize_email(&user.email) {
        tracing::info!(user_id = %user.id, "pending link dropped: another account signed in");
        None
    } else {
        app.federation
            .enabled(app.store(), &pending.connection)
            .await?
    };
    if connection.is_some() {
        // The provider's first sign-in into this account: its `provider_link` enrichments
        // run at this sign-in (hooks::sign_in).
        let mut flow = FlowState::of(&stored.state);
        flow.provider_link = true;
        flow.store_into(&mut stored.state);
    }
    app.store().update_transaction(stored).await?;
    let Some(connection) = connection else {
        return Ok(false);
    };
    let identity = UpstreamIdentity {
        subject: pending.subject,
        claims: pending.claims,
        email: Some(pending.email),
        email_verified: true,
        amr: Vec::new(),
        acr: None,
    };
    let mapped = mapped(app, &connection, &identity, Some(user), now).await?;
    write_sign_in(
        app,
        &connection,
        &identity,
        user.id,
        mapped.changes,
        false,
        now,
    )
    .await?;
    tracing::info!(user_id = %user.id, connection = connection.name(), "provider linked after the account was proven");
    Ok(true)
}

/// A sign-in method linked to an account, as the account page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedMethod {
    pub connection: String,
    pub display_name: String,
    /// The email the provider last gave.
    pub email: Option<String>,
    pub linked_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
}

/// The providers linked to `user_id`.
pub async fn linked_methods(app: &App, user_id: Uuid) -> Result<Vec<LinkedMethod>, StoreError> {
    let identities = app.store().user_identities(user_id).await?;
    let all = app.federation.all(app.store()).await?;
    Ok(identities
        .into_iter()
        .map(|identity| {
            let display_name = all
                .iter()
                .find(|c| c.name() == identity.connection)
                .map_or_else(|| identity.connection.clone(), |c| c.display_name());
            LinkedMethod {
                display_name,
                connection: identity.connection,
                email: identity.email,
                linked_at: identity.created_at,
                last_used_at: identity.last_used_at,
            }
        })
        .collect())
}

/// Unlinks `connection` from `user_id`, never the last way in.
pub async fn unlink(
    app: &App,
    user_id: Uuid,
    connection: &str,
) -> Result<UnlinkOutcome, StoreError> {
    let identities = app.store().user_identities(user_id).await?;
    let Some(identity) = identities.iter().find(|i| i.connection == connection) else {
        return Ok(UnlinkOutcome::NotFound);
    };
    let outcome = app
        .store()
        .unlink_identity(user_id, connection, &identity.subject)
        .await?;
    if outcome == UnlinkOutcome::Unlinked {
        tracing::info!(%user_id, connection, "provider unlinked");
    }
    Ok(outcome)
}

/// The fields a linked provider keeps up to date (mapped with `sync = "always"`), read-only
/// for the user: field key → the provider's display name.
pub async fn provider_owned_fields(
    app: &App,
    linked: &[LinkedMethod],
) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
    let mut owned = std::collections::BTreeMap::new();
    if linked.is_empty() {
        return Ok(owned);
    }
    let all = app.federation.all(app.store()).await?;
    for method in linked {
        if let Some(connection) = all.iter().find(|c| c.name() == method.connection) {
            for field in crate::claim_mapping::synced_fields(&connection.mappings) {
                owned
                    .entry(field.to_owned())
                    .or_insert_with(|| connection.display_name());
            }
        }
    }
    Ok(owned)
}
