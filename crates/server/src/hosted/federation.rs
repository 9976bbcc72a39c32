//! Signing in through an upstream identity provider, as the browser sees it:
//! `GET /login/{connection}?tx=…` goes to the provider, `GET|POST /login/{connection}/callback`
//! comes back from it (the redirect URI registered at the provider; a `form_post` answer is
//! turned into a GET so that the browser's SameSite cookies come along), `POST /login/cancel`
//! gives up and goes back to the application, and the account page links and unlinks
//! providers. The use-cases are `accrete_app::federation`.

use std::net::SocketAddr;

use accrete_app::federation::{self, Begin, Callback, FederationError, Finished};
use accrete_federation::{Callback as UpstreamCallback, UpstreamError};
use accrete_store::UnlinkOutcome;
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use time::OffsetDateTime;

use super::csrf;
use super::errors::{PageError, error_page, store_failure, transaction_problem};
use super::i18n::text;
use super::transaction::{TransactionView, continue_to, load_transaction, locale, urlencode};
use crate::session;
use crate::state::AppState;

/// Query of `GET /login/{connection}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct StartQuery {
    tx: Option<String>,
    login_hint: Option<String>,
}

/// `GET /login/{connection}?tx=…`: to the provider.
pub(super) async fn start(
    State(state): State<AppState>,
    Path(connection): Path<String>,
    Query(query): Query<StartQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let tx = match load_transaction(&state, query.tx.as_deref(), now).await {
        Ok(tx) => tx,
        Err(problem) => {
            let locale = locale(&TransactionView::default(), &headers);
            return transaction_problem(&state, locale, problem);
        }
    };
    let locale = locale(&tx, &headers);
    let (jar, browser) = csrf::token(jar, state.secure_cookies());
    let client = match &tx.client_id {
        Some(id) => match state.app.clients.get(state.app.store(), id).await {
            Ok(client) => client,
            Err(error) => return store_failure(&state, locale, &error),
        },
        None => None,
    };
    let begin = Begin {
        connection: &connection,
        tx: tx.transaction.as_ref().map(|t| (t, client.as_ref())),
        linking: None,
        browser: &browser,
        login_hint: query.login_hint.or_else(|| tx.login_hint.clone()),
        now,
    };
    match federation::begin(&state.app, begin).await {
        Ok(url) => (jar, Redirect::to(&url)).into_response(),
        Err(error) => {
            let failure = federation::Failure {
                tx: tx.transaction.as_ref().map(|t| t.id),
                connection: None,
                error,
            };
            (
                jar.clone(),
                failure_page(&state, locale, &jar, &tx, failure),
            )
                .into_response()
        }
    }
}

/// The provider's answer (query or `form_post`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct CallbackParams {
    state: Option<String>,
    code: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// Apple's first sign-in: the user's name, once.
    user: Option<String>,
}

/// `POST /login/{connection}/callback` (`response_mode=form_post`): the same answer as a GET,
/// so that it arrives with this browser's cookies (SameSite=Lax cookies are not sent on a
/// cross-site POST).
pub(super) async fn callback_post(
    Path(connection): Path<String>,
    Form(params): Form<Vec<(String, String)>>,
) -> Response {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Redirect::to(&format!(
        "/login/{}/callback?{query}",
        urlencode(&connection)
    ))
    .into_response()
}

/// `GET /login/{connection}/callback`: the end of the round trip.
pub(super) async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(connection): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let params: CallbackParams =
        callback_params(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    let browser = jar.get(csrf::COOKIE).map(|c| c.value().to_owned());
    let callback = Callback {
        connection: &connection,
        state: params.state.as_deref(),
        browser: browser.as_deref(),
        response: UpstreamCallback {
            code: params.code,
            iss: params.iss,
            error: params.error,
            error_description: params.error_description,
            user: params.user,
        },
        now,
    };
    let finished = federation::finish(&state.app, callback).await;
    let tx_id = match &finished {
        Ok(Finished::SignedIn { tx, .. }) => tx.map(|t| t.to_string()),
        Ok(Finished::ConfirmLink { tx }) => Some(tx.to_string()),
        Ok(Finished::Linked { .. }) => None,
        Err(failure) => failure.tx.map(|t| t.to_string()),
    };
    // The transaction as the page shows it (its client and locale); gone is fine here.
    let tx = load_transaction(&state, tx_id.as_deref(), now)
        .await
        .unwrap_or_default();
    let locale = locale(&tx, &headers);
    match finished {
        Ok(Finished::SignedIn { user, method, .. }) => {
            match session::start(
                &state,
                jar,
                user.id,
                &method,
                session::Device::of(&headers, peer),
                now,
            )
            .await
            {
                Ok((jar, _)) => (jar, continue_to(&tx)).into_response(),
                Err(error) => store_failure(&state, locale, &error),
            }
        }
        Ok(Finished::Linked { .. }) => Redirect::to("/account/security?linked=1").into_response(),
        Ok(Finished::ConfirmLink { tx }) => {
            Redirect::to(&format!("/login?tx={tx}")).into_response()
        }
        Err(failure) => {
            let (jar, _) = csrf::token(jar, state.secure_cookies());
            (
                jar.clone(),
                failure_page(&state, locale, &jar, &tx, failure),
            )
                .into_response()
        }
    }
}

fn callback_params(raw: &str) -> Option<CallbackParams> {
    let mut params = CallbackParams::default();
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let slot = match name.as_ref() {
            "state" => &mut params.state,
            "code" => &mut params.code,
            "iss" => &mut params.iss,
            "error" => &mut params.error,
            "error_description" => &mut params.error_description,
            "user" => &mut params.user,
            _ => continue,
        };
        if slot.is_some() {
            // A parameter given twice is not an answer a provider sends.
            return None;
        }
        *slot = Some(value.into_owned());
    }
    Some(params)
}

/// A failed sign-in through a provider, said plainly, with the ways on: another way to sign
/// in, or back to the application (which then receives `access_denied`).
fn failure_page(
    state: &AppState,
    locale: &str,
    jar: &CookieJar,
    tx: &TransactionView,
    failure: federation::Failure,
) -> Response {
    let provider = failure
        .connection
        .clone()
        .unwrap_or_else(|| text(locale, "federation.the_provider"));
    let say = |key: &str| text(locale, key).replace("{provider}", &provider);
    let (status, message, technical) = match &failure.error {
        FederationError::UnknownConnection | FederationError::NotOffered => {
            (StatusCode::NOT_FOUND, say("federation.unknown"), None)
        }
        FederationError::BadState => (StatusCode::BAD_REQUEST, say("federation.bad_state"), None),
        FederationError::NoEmail => (StatusCode::BAD_REQUEST, say("federation.no_email"), None),
        FederationError::EmailUnverified => (
            StatusCode::CONFLICT,
            say("federation.email_unverified"),
            None,
        ),
        FederationError::IdentityTaken => {
            (StatusCode::CONFLICT, say("federation.identity_taken"), None)
        }
        FederationError::SignupClosed => (StatusCode::FORBIDDEN, say("signup.closed"), None),
        FederationError::Disabled => (StatusCode::FORBIDDEN, say("signin.disabled"), None),
        FederationError::Store(error) => return store_failure(state, locale, error),
        FederationError::Upstream(error) => {
            let technical = Some(format!("{}: {error}", error.kind()));
            match error {
                UpstreamError::Denied { .. } => {
                    (StatusCode::FORBIDDEN, say("federation.denied"), technical)
                }
                UpstreamError::Timeout { .. } | UpstreamError::Unreachable { .. } => (
                    StatusCode::BAD_GATEWAY,
                    say("federation.unreachable"),
                    technical,
                ),
                _ => (
                    StatusCode::BAD_GATEWAY,
                    say("federation.bad_answer"),
                    technical,
                ),
            }
        }
    };
    let mut page = PageError::new(state, status, locale, message);
    if let Some(technical) = technical {
        page = page.technical(technical);
    }
    if let (Some(id), Some(csrf)) = (&tx.id, jar.get(csrf::COOKIE))
        && tx
            .transaction
            .as_ref()
            .is_some_and(|t| t.completed_at.is_none())
    {
        page = page.ways_on(id, csrf.value(), tx.client_name.clone());
    }
    page.into_response()
}

/// Form of `POST /login/cancel`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct CancelForm {
    csrf: String,
    tx: String,
}

/// `POST /login/cancel`: the person gives up signing in; back to the application with
/// `access_denied`.
pub(super) async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<CancelForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let tx = match load_transaction(&state, Some(&form.tx), now).await {
        Ok(tx) => tx,
        Err(problem) => {
            let locale = locale(&TransactionView::default(), &headers);
            return transaction_problem(&state, locale, problem);
        }
    };
    let locale = locale(&tx, &headers);
    if !csrf::verify(&jar, Some(&form.csrf)) {
        return error_page(
            &state,
            StatusCode::FORBIDDEN,
            locale,
            text(locale, "error.csrf"),
        );
    }
    let Some(stored) = &tx.transaction else {
        return Redirect::to("/").into_response();
    };
    match accrete_app::transactions::deny(&state.app, stored, now).await {
        Ok(Some(url)) => Redirect::to(&url).into_response(),
        Ok(None) => error_page(
            &state,
            StatusCode::BAD_REQUEST,
            locale,
            text(locale, "error.transaction_expired"),
        ),
        Err(error) => store_failure(&state, locale, &error),
    }
}

/// Form of the account page's link and unlink buttons.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct AccountForm {
    csrf: String,
}

/// The signed-in user of an account-page form with a valid CSRF token; otherwise the answer.
async fn account_user(
    state: &AppState,
    jar: &CookieJar,
    form: &AccountForm,
    locale: &str,
    now: OffsetDateTime,
) -> Result<uuid::Uuid, Response> {
    if !csrf::verify(jar, Some(&form.csrf)) {
        let message = text(locale, "error.csrf");
        return Err(error_page(state, StatusCode::FORBIDDEN, locale, message));
    }
    match session::current(state, jar, now).await {
        Ok(Some(session)) => Ok(session.user_id),
        Ok(None) => Err(Redirect::to("/account/security").into_response()),
        Err(error) => Err(store_failure(state, locale, &error)),
    }
}

/// `POST /account/connections/{connection}/link`: a signed-in user links a provider.
pub(super) async fn link(
    State(state): State<AppState>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<AccountForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let locale = locale(&TransactionView::default(), &headers);
    let user_id = match account_user(&state, &jar, &form, locale, now).await {
        Ok(user_id) => user_id,
        Err(response) => return response,
    };
    let begin = Begin {
        connection: &connection,
        tx: None,
        linking: Some(user_id),
        browser: &form.csrf,
        login_hint: None,
        now,
    };
    match federation::begin(&state.app, begin).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(error) => {
            let failure = federation::Failure {
                tx: None,
                connection: None,
                error,
            };
            failure_page(&state, locale, &jar, &TransactionView::default(), failure)
        }
    }
}

/// `POST /account/connections/{connection}/unlink`: never the last way in.
pub(super) async fn unlink(
    State(state): State<AppState>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<AccountForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let locale = locale(&TransactionView::default(), &headers);
    let user_id = match account_user(&state, &jar, &form, locale, now).await {
        Ok(user_id) => user_id,
        Err(response) => return response,
    };
    match federation::unlink(&state.app, user_id, &connection).await {
        Ok(UnlinkOutcome::Unlinked | UnlinkOutcome::NotFound) => {
            Redirect::to("/account/security?unlinked=1").into_response()
        }
        Ok(UnlinkOutcome::LastWayIn) => {
            Redirect::to("/account/security?last_way_in=1").into_response()
        }
        Err(error) => store_failure(&state, locale, &error),
    }
}
