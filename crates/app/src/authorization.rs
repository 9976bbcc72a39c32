//! The authorization transaction from the request to the code: stored when the request
//! arrives (any node can continue it, and it survives restarts), moved forward after each
//! hosted page, and completed by the one request that issues the code.

use accrete_oidc::OAuthError;
use accrete_oidc::authorize::{AuthorizationRequest, Prompt};
use accrete_oidc::error::ErrorCode;
use accrete_oidc::secrets::{TokenHasher, random_opaque};
use accrete_store::{
    AuthTransaction, NewAuthTransaction, NewAuthorizationCode, SignInKind, SsoSession, StoreError,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::app::App;
use crate::flow::{Next, ProfilingError, before_code};

/// How long a user has to sign in and answer prompts.
pub const TRANSACTION_LIFETIME: Duration = Duration::minutes(30);
/// How long an authorization code may wait for the token request.
pub const CODE_LIFETIME: Duration = Duration::seconds(60);

/// Stores a validated authorization request as a new transaction.
pub async fn begin(
    app: &App,
    request: &AuthorizationRequest,
    now: OffsetDateTime,
) -> Result<AuthTransaction, StoreError> {
    let new = NewAuthTransaction {
        client_id: request.client_id.clone(),
        request: serde_json::to_value(request).unwrap_or_default(),
        state: json!({}),
        now,
        expires_at: now + TRANSACTION_LIFETIME,
    };
    app.store().create_transaction(new).await
}

/// Where the transaction goes next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nobody usable is signed in: the sign-in page (or the sign-up page for `prompt=create`).
    SignIn {
        /// `prompt=create`: the sign-up page.
        create: bool,
    },
    /// Back to the client with an error (`login_required`, `interaction_required`): the URL.
    Refused(String),
    /// A profiling step is on screen: the prompt page.
    Prompt,
    /// Done: back to the client with a code; the URL.
    Code(String),
    /// The transaction was completed meanwhile (a second tab, a double click).
    Gone,
}

/// Moves a transaction forward with the browser's SSO session (if any): authenticate (or
/// reuse the session), let profiling ask what is due, then issue the code.
pub async fn advance(
    app: &App,
    mut tx: AuthTransaction,
    request: &AuthorizationRequest,
    session: Option<SsoSession>,
    hasher: &TokenHasher,
    now: OffsetDateTime,
) -> Result<Step, StoreError> {
    let Some(session) = session.filter(|s| usable(s, &tx, request, now)) else {
        if request.has_prompt(Prompt::None) {
            let error = OAuthError::new(ErrorCode::LoginRequired, "the user must sign in");
            return Ok(Step::Refused(refusal(app, request, error)));
        }
        return Ok(Step::SignIn {
            create: request.has_prompt(Prompt::Create),
        });
    };
    // The user as the SSO count left it, so that profiling need not read it again.
    let mut user = None;
    if tx.user_id != Some(session.user_id) {
        // A sign-in inside this transaction was counted as credentialed by the sign-in page;
        // reusing an earlier session is a single sign-on.
        if session.auth_time < tx.created_at {
            let counted = app
                .store()
                .record_sign_in(session.user_id, SignInKind::Sso, now)
                .await?;
            tracing::info!(
                user_id = %session.user_id,
                client_id = %tx.client_id,
                "sign-in succeeded by single sign-on"
            );
            user = Some(counted);
        }
        tx.user_id = Some(session.user_id);
        tx.session_hash = Some(session.hash.clone());
        tx = app.store().update_transaction(tx).await?;
    }
    match before_code(app, &tx, request, session.user_id, user, now).await {
        Ok(Next::Proceed) => {}
        Ok(Next::Prompt(_)) => return Ok(Step::Prompt),
        Ok(Next::InteractionRequired) => {
            let error = OAuthError::new(ErrorCode::InteractionRequired, "profile input needed");
            return Ok(Step::Refused(refusal(app, request, error)));
        }
        Err(ProfilingError::Store(error)) => return Err(error),
    }
    issue_code(app, &tx, request, &session, hasher, now).await
}

/// Whether `session` may be used for this request: fresh enough for `max_age` and
/// `prompt=login`, unless the user authenticated inside this very transaction.
fn usable(
    session: &SsoSession,
    tx: &AuthTransaction,
    request: &AuthorizationRequest,
    now: OffsetDateTime,
) -> bool {
    session.auth_time >= tx.created_at
        || request.session_is_fresh_enough(session.auth_time.unix_timestamp(), now.unix_timestamp())
}

/// Completes the transaction (exactly once) and stores a new code under a new grant.
async fn issue_code(
    app: &App,
    tx: &AuthTransaction,
    request: &AuthorizationRequest,
    session: &SsoSession,
    hasher: &TokenHasher,
    now: OffsetDateTime,
) -> Result<Step, StoreError> {
    if !app.store().complete_transaction(tx.id, now).await? {
        return Ok(Step::Gone);
    }
    let grant = app
        .store()
        .create_grant(session.user_id, &request.client_id, &request.scopes, now)
        .await?;
    let code = random_opaque();
    let new = NewAuthorizationCode {
        hash: hasher.hash(&code),
        grant_id: grant.id,
        redirect_uri: request.redirect_uri.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request
            .code_challenge
            .as_ref()
            .map(|c| c.as_str().to_owned()),
        auth_time: session.auth_time,
        context: json!({ "sid": session.hash, "amr": ["pwd"] }),
        now,
        expires_at: now + CODE_LIFETIME,
    };
    app.store().insert_code(new).await?;
    Ok(Step::Code(request.success_redirect(&code, app.issuer())))
}

/// The redirect back to the client with `error` (and `state`, `iss`).
fn refusal(app: &App, request: &AuthorizationRequest, error: OAuthError) -> String {
    request.error_redirect(error).to_url(app.issuer())
}
