//! The authorization endpoint (`GET`/`POST /authorize`) and the point where an authorization
//! transaction continues after each hosted page (`GET /authorize/resume?tx=`).
//!
//! The transaction lives in the database: any node can continue it, and it survives restarts.
//! A code is issued only by the one request that completes the transaction.

use accrete_app::authorization::{self, Step};
use accrete_app::clients::client_view;
use accrete_app::transactions::{self, TransactionError};
use accrete_oidc::authorize::{AuthorizationRequest, AuthorizeError, AuthorizeParams};
use accrete_store::{AuthTransaction, StoreError};
use axum::Form;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use time::OffsetDateTime;

use crate::hosted::credentials::TxQuery;
use crate::hosted::errors::{PageError, protocol_error_page, store_failure, transaction_problem};
use crate::hosted::i18n::text;
use crate::hosted::transaction::{TransactionView, locale as page_locale, urlencode};
use crate::session;
use crate::state::AppState;

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
    let request = match params.validate(&client_view(&client)) {
        Ok(request) => request,
        Err(error) => return refused(&state, locale, error),
    };
    let session = match session::current(&state, &jar, now).await {
        Ok(session) => session,
        Err(error) => return store_failure(&state, locale, &error),
    };
    let hasher = &state.secrets.token_hasher;
    let step = authorization::start(&state.app, &request, session, hasher, now).await;
    respond(&state, locale_of(&request, &headers), step)
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
    if accrete_app::companion::CompanionState::of(&tx.state).is_some() {
        return crate::hosted::companion::resume(&state, &headers, jar, tx, now).await;
    }
    let Some(request) = transactions::request_of(&tx) else {
        return transaction_problem(&state, locale, TransactionError::Gone);
    };
    advance(&state, &headers, jar, tx, request, now).await
}

/// Moves a transaction forward with this browser's session, and answers where it goes next.
async fn advance(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    tx: AuthTransaction,
    request: AuthorizationRequest,
    now: OffsetDateTime,
) -> Response {
    let locale = locale_of(&request, headers);
    let session = match session::current(state, &jar, now).await {
        Ok(session) => session,
        Err(error) => return store_failure(state, locale, &error),
    };
    let hasher = &state.secrets.token_hasher;
    let step = authorization::advance(&state.app, tx, &request, session, hasher, now).await;
    respond(state, locale, step)
}

/// The page locale of a request's own pages.
fn locale_of(request: &AuthorizationRequest, headers: &HeaderMap) -> &'static str {
    let view = TransactionView {
        ui_locales: Some(request.ui_locales.join(" ")),
        ..TransactionView::default()
    };
    page_locale(&view, headers)
}

/// Where the browser goes next.
fn respond(state: &AppState, locale: &str, step: Result<Step, StoreError>) -> Response {
    match step {
        Ok(Step::SignIn {
            tx,
            create,
            connection,
        }) => {
            let page = match connection {
                Some(name) => format!("/login/{}", urlencode(&name)),
                None if create => "/signup".to_owned(),
                None => "/login".to_owned(),
            };
            Redirect::to(&format!("{page}?tx={}", urlencode(&tx.to_string()))).into_response()
        }
        Ok(Step::Prompt { tx }) => Redirect::to(&format!("/prompt?tx={tx}")).into_response(),
        Ok(Step::VerifyEmail { tx }) => {
            Redirect::to(&format!("/verify-email?tx={tx}")).into_response()
        }
        Ok(Step::SecondFactor { tx }) => Redirect::to(&format!("/mfa?tx={tx}")).into_response(),
        Ok(Step::EnrolFactor { tx }) => {
            Redirect::to(&format!("/mfa/setup?tx={tx}")).into_response()
        }
        Ok(Step::Refused(to) | Step::Code(to)) => Redirect::to(&to).into_response(),
        Ok(Step::Denied { message, redirect }) => {
            // The hook's own words when it gave some, else ours.
            let message = accrete_app::hooks::message_in(&message, locale)
                .unwrap_or_else(|| text(locale, "hooks.denied"));
            PageError::new(state, StatusCode::FORBIDDEN, locale, message)
                .titled_with_back(text(locale, "hooks.denied_title"), redirect)
                .into_response()
        }
        Ok(Step::Gone) => transaction_problem(state, locale, TransactionError::Gone),
        Err(error) => store_failure(state, locale, &error),
    }
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
