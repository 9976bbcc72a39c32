//! The authorization endpoint (`GET`/`POST /authorize`) and the point where an authorization
//! transaction continues after each hosted page (`GET /authorize/resume?tx=`).
//!
//! The transaction lives in the database: any node can continue it, and it survives restarts.
//! A code is issued only by the one request that completes the transaction.

use accrete_oidc::OAuthError;
use accrete_oidc::authorize::{AuthorizationRequest, AuthorizeError, AuthorizeParams, Prompt};
use accrete_oidc::error::ErrorCode;
use accrete_oidc::secrets::random_opaque;
use accrete_store::{
    AuthTransaction, NewAuthTransaction, NewAuthorizationCode, SignInKind, SsoSession,
};
use axum::Form;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use accrete_app::flow::{Next, ProfilingError, before_code};
use accrete_app::transactions::{self, TransactionError};

use crate::hosted::credentials::TxQuery;
use crate::hosted::errors::{protocol_error_page, store_failure, transaction_problem};
use crate::hosted::transaction::{TransactionView, locale as page_locale, urlencode};
use crate::session;
use crate::state::AppState;

/// How long a user has to sign in and answer prompts.
const TRANSACTION_LIFETIME: Duration = Duration::minutes(30);
/// How long an authorization code may wait for the token request.
const CODE_LIFETIME: Duration = Duration::seconds(60);

pub(super) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    start(state, headers, jar, pairs).await
}

pub(super) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    start(state, headers, jar, pairs).await
}

/// Validates the request, stores the transaction and moves it forward.
async fn start(
    state: AppState,
    headers: HeaderMap,
    jar: CookieJar,
    pairs: Vec<(String, String)>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let params = AuthorizeParams::from_pairs(&pairs);
    let locale = page_locale(&TransactionView::default(), &headers);
    let client_id = match params.client_id() {
        Ok(id) => id.to_owned(),
        Err(error) => return refused(&state, locale, error),
    };
    let client = match state
        .app
        .clients
        .get(state.store.as_ref(), &client_id)
        .await
    {
        Ok(Some(client)) => client,
        Ok(None) => return refused(&state, locale, AuthorizeError::unknown_client()),
        Err(error) => return store_failure(&state, locale, &error),
    };
    let request = match params.validate(&accrete_app::clients::client_view(&client)) {
        Ok(request) => request,
        Err(error) => return refused(&state, locale, error),
    };
    let new = NewAuthTransaction {
        client_id,
        request: serde_json::to_value(&request).unwrap_or_default(),
        state: json!({}),
        now,
        expires_at: now + TRANSACTION_LIFETIME,
    };
    match state.store.create_transaction(new).await {
        Ok(tx) => advance(&state, &headers, jar, tx, request, now).await,
        Err(error) => store_failure(&state, locale, &error),
    }
}

/// `GET /authorize/resume?tx=`: continue a transaction after a hosted page.
pub(super) async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<TxQuery>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let locale = page_locale(&TransactionView::default(), &headers);
    let tx = match transactions::open(&state.app, query.tx.as_deref(), now).await {
        Ok(tx) => tx,
        Err(problem) => return transaction_problem(&state, locale, problem),
    };
    let Some(request) = transactions::request_of(&tx) else {
        return transaction_problem(&state, locale, TransactionError::Gone);
    };
    advance(&state, &headers, jar, tx, request, now).await
}

/// Moves a transaction forward: authenticate (or reuse the SSO session), then issue the code.
async fn advance(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    mut tx: AuthTransaction,
    request: AuthorizationRequest,
    now: OffsetDateTime,
) -> Response {
    let view = TransactionView {
        ui_locales: Some(request.ui_locales.join(" ")),
        ..TransactionView::default()
    };
    let locale = page_locale(&view, headers);
    let session = match session::current(state, &jar, now).await {
        Ok(session) => session,
        Err(error) => return store_failure(state, locale, &error),
    };
    let Some(session) = session.filter(|s| usable(s, &tx, &request, now)) else {
        if request.has_prompt(Prompt::None) {
            return redirect_error(
                state,
                &request,
                OAuthError::new(ErrorCode::LoginRequired, "the user must sign in"),
            );
        }
        let page = if request.has_prompt(Prompt::Create) {
            "/signup"
        } else {
            "/login"
        };
        return Redirect::to(&format!("{page}?tx={}", urlencode(&tx.id.to_string())))
            .into_response();
    };
    // The user as the SSO count left it, so that profiling need not read it again.
    let mut user = None;
    if tx.user_id != Some(session.user_id) {
        // A sign-in inside this transaction was counted as credentialed by the sign-in page;
        // reusing an earlier session is a single sign-on.
        if session.auth_time < tx.created_at {
            match state
                .store
                .record_sign_in(session.user_id, SignInKind::Sso, now)
                .await
            {
                Ok(counted) => {
                    tracing::info!(
                        user_id = %session.user_id,
                        client_id = %tx.client_id,
                        "sign-in succeeded by single sign-on"
                    );
                    user = Some(counted);
                }
                Err(error) => return store_failure(state, locale, &error),
            }
        }
        tx.user_id = Some(session.user_id);
        tx.session_hash = Some(session.hash.clone());
        tx = match state.store.update_transaction(tx).await {
            Ok(tx) => tx,
            Err(error) => return store_failure(state, locale, &error),
        };
    }
    match before_code(&state.app, &tx, &request, session.user_id, user, now).await {
        Ok(Next::Proceed) => {}
        Ok(Next::Prompt(_)) => {
            return Redirect::to(&format!("/prompt?tx={}", tx.id)).into_response();
        }
        Ok(Next::InteractionRequired) => {
            let error = OAuthError::new(ErrorCode::InteractionRequired, "profile input needed");
            return redirect_error(state, &request, error);
        }
        Err(ProfilingError::Store(e)) => {
            return store_failure(state, locale, &e);
        }
    }
    issue_code(state, locale, &tx, &request, &session, now).await
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

/// Completes the transaction (exactly once) and redirects to the client with a new code.
async fn issue_code(
    state: &AppState,
    locale: &str,
    tx: &AuthTransaction,
    request: &AuthorizationRequest,
    session: &SsoSession,
    now: OffsetDateTime,
) -> Response {
    match state.store.complete_transaction(tx.id, now).await {
        Ok(true) => {}
        Ok(false) => {
            return transaction_problem(state, locale, TransactionError::Gone);
        }
        Err(error) => return store_failure(state, locale, &error),
    }
    let grant = match state
        .store
        .create_grant(session.user_id, &request.client_id, &request.scopes, now)
        .await
    {
        Ok(grant) => grant,
        Err(error) => return store_failure(state, locale, &error),
    };
    let code = random_opaque();
    let new = NewAuthorizationCode {
        hash: state.secrets.token_hasher.hash(&code),
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
    if let Err(error) = state.store.insert_code(new).await {
        return store_failure(state, locale, &error);
    }
    Redirect::to(&request.success_redirect(&code, &state.config.issuer())).into_response()
}

fn redirect_error(state: &AppState, request: &AuthorizationRequest, error: OAuthError) -> Response {
    Redirect::to(&request.error_redirect(error).to_url(&state.config.issuer())).into_response()
}

/// An invalid request: redirected to the client when its redirect URI is established, otherwise
/// shown on a page (never an open redirect).
fn refused(state: &AppState, locale: &str, error: AuthorizeError) -> Response {
    match error {
        AuthorizeError::Redirect(redirect) => {
            Redirect::to(&redirect.to_url(&state.config.issuer())).into_response()
        }
        AuthorizeError::Show(error) => {
            protocol_error_page(state, StatusCode::BAD_REQUEST, locale, &error)
        }
    }
}
