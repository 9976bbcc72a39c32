//! The authorization transaction from the request to the code: stored when the request
//! arrives (any node can continue it, and it survives restarts), moved forward after each
//! hosted page, and completed by the one request that issues the code.

use accrete_oidc::OAuthError;
use accrete_oidc::authorize::{AuthorizationRequest, Prompt};
use accrete_oidc::error::ErrorCode;
use accrete_oidc::secrets::{TokenHasher, random_opaque};
use accrete_store::{
    AuthTransaction, CodeIssue, NewAuthTransaction, NewAuthorizationCode, SignInKind, SsoSession,
    StoreError,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::app::App;
use crate::flow::{Next, ProfilingError, before_code};
use crate::mfa;

/// How long an authorization code may wait for the token request.
pub const CODE_LIFETIME: Duration = Duration::seconds(60);

/// A new, validated authorization request. When this browser's session can be used as it is
/// and profiling has nothing to ask, the code is issued at once and no transaction is stored
/// (the common single sign-on: three writes fewer); otherwise the transaction is stored and
/// moved forward as after each hosted page ([`advance`]).
pub async fn start(
    app: &App,
    request: &AuthorizationRequest,
    session: Option<SsoSession>,
    hasher: &TokenHasher,
    now: OffsetDateTime,
) -> Result<Step, StoreError> {
    let fresh = |s: &SsoSession| {
        request.session_is_fresh_enough(s.auth_time.unix_timestamp(), now.unix_timestamp())
    };
    let Some(session) = session.filter(fresh) else {
        let tx = store_transaction(app, request, now).await?;
        return advance(app, tx, request, None, hasher, now).await;
    };
    // Not stored (nor its request serialized) unless profiling has something to ask.
    let unsaved = AuthTransaction {
        id: Uuid::nil(),
        client_id: request.client_id.clone(),
        request: serde_json::Value::Null,
        user_id: Some(session.user_id),
        session_hash: Some(session.hash.clone()),
        state: json!({}),
        created_at: now,
        expires_at: now + app.settings().lifetimes.transaction,
        completed_at: None,
        version: 0,
    };
    let user = count_single_sign_on(app, &session, &unsaved.client_id, now).await?;
    let signed_in = (&session, Some(user));
    match profiling(app, (&unsaved, false), request, signed_in, hasher, now).await? {
        Some(step) => Ok(step),
        None => issue_code(app, (None, None), request, &session, hasher, now).await,
    }
}

/// Stores `request` as a new transaction created at `now`.
async fn store_transaction(
    app: &App,
    request: &AuthorizationRequest,
    now: OffsetDateTime,
) -> Result<AuthTransaction, StoreError> {
    let new = NewAuthTransaction {
        client_id: request.client_id.clone(),
        request: serde_json::to_value(request).unwrap_or_default(),
        state: json!({}),
        now,
        expires_at: now + app.settings().lifetimes.transaction,
    };
    app.store().create_transaction(new).await
}

/// Where the transaction goes next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nobody usable is signed in: the sign-in page (or the sign-up page for `prompt=create`)
    /// of transaction `tx`.
    SignIn {
        tx: Uuid,
        /// `prompt=create`: the sign-up page.
        create: bool,
        /// `connection=NAME`: straight to that upstream provider.
        connection: Option<String>,
    },
    /// Back to the client with an error (`login_required`, `interaction_required`): the URL.
    Refused(String),
    /// A profiling step of transaction `tx` is on screen: the prompt page.
    Prompt { tx: Uuid },
    /// The client requires a verified email address: the verification page of `tx`.
    VerifyEmail { tx: Uuid },
    /// A second factor is due: the second-factor page of `tx`.
    SecondFactor { tx: Uuid },
    /// A second factor is required and the user has none: the set-up page of `tx`.
    EnrolFactor { tx: Uuid },
    /// Done: back to the client with a code; the URL.
    Code(String),
    /// A post-sign-in hook denied the sign-in: a page with its `message` (a string, one per
    /// locale, or `null`: the server's own words), linking back to the client with
    /// `access_denied` at `redirect`.
    Denied {
        message: serde_json::Value,
        redirect: String,
    },
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
            tx: tx.id,
            create: request.has_prompt(Prompt::Create),
            connection: request.connection.clone(),
        });
    };
    // The user as the SSO count left it, so that profiling need not read it again.
    let mut user = None;
    if tx.user_id != Some(session.user_id) {
        // A sign-in inside this transaction was counted as credentialed by the sign-in page;
        // reusing an earlier session is a single sign-on.
        if session.auth_time < tx.created_at {
            let counted = count_single_sign_on(app, &session, &tx.client_id, now).await?;
            // Disabling ends the sessions; one that raced it is refused here.
            if !crate::users::may_sign_in(&counted) {
                let error = OAuthError::new(ErrorCode::AccessDenied, "the account is disabled");
                return Ok(Step::Refused(refusal(app, request, error)));
            }
            user = Some(counted);
        }
        tx.user_id = Some(session.user_id);
        tx.session_hash = Some(session.hash.clone());
        tx = app.store().update_transaction(tx).await?;
    }
    match profiling(app, (&tx, true), request, (&session, user), hasher, now).await? {
        Some(step) => Ok(step),
        None => {
            // The claims post-sign-in hooks added, kept in the transaction they moved on.
            let claims = match app.hooks().at_sign_in() {
                true => app
                    .store()
                    .get_transaction(tx.id)
                    .await?
                    .and_then(|moved| crate::hooks::sign_in::claims_of(&moved)),
                false => None,
            };
            issue_code(app, (Some(tx.id), claims), request, &session, hasher, now).await
        }
    }
}

/// Counts a sign-in by single sign-on (an earlier session reused); returns the user so counted.
async fn count_single_sign_on(
    app: &App,
    session: &SsoSession,
    client_id: &str,
    now: OffsetDateTime,
) -> Result<accrete_store::User, StoreError> {
    let counted = app
        .store()
        .record_sign_in(session.user_id, SignInKind::Sso, now)
        .await?;
    tracing::info!(
        user_id = %session.user_id,
        %client_id,
        "sign-in succeeded by single sign-on"
    );
    Ok(counted)
}

/// What profiling does before the code: `None` to issue it, else where to go instead. An
/// unsaved transaction with a step due is stored (with its user) and moved forward again.
async fn profiling(
    app: &App,
    (tx, stored): (&AuthTransaction, bool),
    request: &AuthorizationRequest,
    (session, user): (&SsoSession, Option<accrete_store::User>),
    hasher: &TokenHasher,
    now: OffsetDateTime,
) -> Result<Option<Step>, StoreError> {
    // Authentication first: a second factor when one is due, then profiling.
    let mut user = user;
    let next = match mfa::gate(app, (tx, stored), request, session, &mut user, now).await? {
        mfa::Gate::Open => before_code(app, tx, stored, request, session.user_id, user, now).await,
        mfa::Gate::Challenge => Ok(Next::SecondFactor),
        mfa::Gate::Enrol => Ok(Next::EnrolFactor),
        mfa::Gate::InteractionRequired => {
            let error =
                OAuthError::new(ErrorCode::InteractionRequired, "a second factor is needed");
            return Ok(Some(Step::Refused(refusal(app, request, error))));
        }
        mfa::Gate::StoreFirst => Ok(Next::StoreFirst),
    };
    match next {
        Ok(Next::Proceed) => Ok(None),
        Ok(Next::Prompt(_)) => Ok(Some(Step::Prompt { tx: tx.id })),
        Ok(Next::VerifyEmail) => Ok(Some(Step::VerifyEmail { tx: tx.id })),
        Ok(Next::SecondFactor) => Ok(Some(Step::SecondFactor { tx: tx.id })),
        Ok(Next::EnrolFactor) => Ok(Some(Step::EnrolFactor { tx: tx.id })),
        Ok(Next::InteractionRequired) => {
            let error = OAuthError::new(ErrorCode::InteractionRequired, "profile input needed");
            Ok(Some(Step::Refused(refusal(app, request, error))))
        }
        Ok(Next::Denied(message)) => {
            let error = OAuthError::new(ErrorCode::AccessDenied, "the sign-in was denied");
            if request.has_prompt(Prompt::None) {
                // No page may be shown: straight back to the client.
                return Ok(Some(Step::Refused(refusal(app, request, error))));
            }
            Ok(Some(Step::Denied {
                message,
                redirect: refusal(app, request, error),
            }))
        }
        Ok(Next::StoreFirst) => {
            let mut stored = store_transaction(app, request, tx.created_at).await?;
            stored.user_id = tx.user_id;
            stored.session_hash.clone_from(&tx.session_hash);
            let stored = app.store().update_transaction(stored).await?;
            // The sign-in was counted already: the user is the transaction's now.
            Box::pin(advance(
                app,
                stored,
                request,
                Some(session.clone()),
                hasher,
                now,
            ))
            .await
            .map(Some)
        }
        Err(ProfilingError::Store(error)) => Err(error),
    }
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

/// Issues the code in one unit of work: the transaction (if stored) completed exactly once,
/// a new grant, and the code under it.
async fn issue_code(
    app: &App,
    (tx, claims): (
        Option<Uuid>,
        Option<serde_json::Map<String, serde_json::Value>>,
    ),
    request: &AuthorizationRequest,
    session: &SsoSession,
    hasher: &TokenHasher,
    now: OffsetDateTime,
) -> Result<Step, StoreError> {
    let code = random_opaque();
    let mut context = match &session.acr {
        Some(acr) => json!({ "sid": session.hash, "amr": session.amr, "acr": acr }),
        None => json!({ "sid": session.hash, "amr": session.amr }),
    };
    if let (Some(claims), Some(context)) = (claims, context.as_object_mut()) {
        context.insert("claims".to_owned(), serde_json::Value::Object(claims));
    }
    let issue = CodeIssue {
        transaction: tx,
        user_id: session.user_id,
        client_id: request.client_id.clone(),
        scopes: request.scopes.clone(),
        code: NewAuthorizationCode {
            hash: hasher.hash(&code),
            grant_id: Uuid::nil(),
            redirect_uri: request.redirect_uri.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request
                .code_challenge
                .as_ref()
                .map(|c| c.as_str().to_owned()),
            auth_time: session.auth_time,
            context,
            now,
            expires_at: now + CODE_LIFETIME,
        },
    };
    match app.store().issue_code(issue).await? {
        Some(_) => Ok(Step::Code(request.success_redirect(&code, app.issuer()))),
        None => Ok(Step::Gone),
    }
}

/// The redirect back to the client with `error` (and `state`, `iss`).
fn refusal(app: &App, request: &AuthorizationRequest, error: OAuthError) -> String {
    request.error_redirect(error).to_url(app.issuer())
}
