//! Signing in with a passkey from the sign-in page: `POST /passkeys/login/options` starts a
//! ceremony (the button's, or the browser's autofill), `POST /passkeys/login` finishes it and
//! signs the user in as a password does (a session with the passkey's `amr`, then back to the
//! authorization transaction). Both are JSON, CSRF-checked like the forms; errors are a small
//! JSON object with a sentence for the page. `POST /mfa/passkey/options` and `POST /mfa/passkey`
//! do the same for the signed-in user's second factor (one of their own passkeys, then on as
//! after any second factor, docs/mfa.md). Also serves the pages' script,
//! `/assets/passkeys.js`, and the JSON error mapping the account center's passkey endpoints
//! share.

use std::net::SocketAddr;

use accrete_app::mfa;
use accrete_app::passkeys::{self, Assertion, PasskeyError, Started};
use accrete_app::transactions::request_of;
use accrete_store::SsoSession;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::csrf;
use super::i18n::text;
use super::transaction::{TransactionView, continue_url, load_transaction, locale};
use crate::session;
use crate::state::AppState;

/// The script of the passkey buttons.
const SCRIPT: &str = include_str!("../../assets/passkeys.js");

/// The largest credential a browser sends, as JSON (a registration with attestation is a few
/// KiB; anything larger is refused before parsing).
pub(crate) const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;

/// `GET /assets/passkeys.js`.
pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// A JSON answer of the passkey endpoints: `{"error": code, "message": sentence}`.
pub(crate) fn json_error(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

/// The one mapping of passkey errors to JSON answers, with the page's words.
pub(crate) fn passkey_error(locale: &str, error: &PasskeyError) -> Response {
    let (status, code, key) = match error {
        PasskeyError::Unavailable(why) => {
            tracing::debug!(%why, "passkeys asked of a server without them");
            (StatusCode::NOT_FOUND, "unavailable", "passkeys.unavailable")
        }
        PasskeyError::NotOffered => (StatusCode::FORBIDDEN, "not_offered", "passkeys.not_offered"),
        PasskeyError::BadCeremony => (StatusCode::BAD_REQUEST, "expired", "passkeys.expired"),
        PasskeyError::Malformed => (StatusCode::BAD_REQUEST, "malformed", "passkeys.failed"),
        PasskeyError::UnknownCredential => (
            StatusCode::UNAUTHORIZED,
            "unknown_passkey",
            "passkeys.unknown",
        ),
        PasskeyError::Refused => (StatusCode::UNAUTHORIZED, "refused", "passkeys.refused"),
        PasskeyError::Throttled(wait) => {
            let seconds = crate::ratelimit::RetryAfter(*wait).seconds();
            let mut response = json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                text(locale, "error.rate_limited"),
            );
            if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        PasskeyError::AlreadyRegistered => (StatusCode::CONFLICT, "exists", "passkeys.exists"),
        PasskeyError::NoPasskey => (StatusCode::BAD_REQUEST, "no_passkey", "passkeys.none"),
        PasskeyError::NotFound => (StatusCode::NOT_FOUND, "not_found", "passkeys.not_found"),
        PasskeyError::BadName(_) => (StatusCode::BAD_REQUEST, "bad_name", "passkeys.name_invalid"),
        PasskeyError::LastWayIn => (StatusCode::CONFLICT, "last_way_in", "passkeys.last_way_in"),
        PasskeyError::SignInAgain => (
            StatusCode::FORBIDDEN,
            "sign_in_again",
            "passkeys.sign_in_again",
        ),
        PasskeyError::Disabled => (StatusCode::FORBIDDEN, "disabled", "signin.disabled"),
        PasskeyError::Store(error) => {
            tracing::error!(%error, "storage failure on a passkey endpoint");
            let mut response = json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                text(locale, "error.busy"),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            return response;
        }
    };
    json_error(status, code, text(locale, key))
}

/// The started ceremony as the script reads it.
pub(crate) fn started(jar: CookieJar, started: Started) -> Response {
    (
        jar,
        Json(json!({ "ceremony": started.ceremony, "options": started.options })),
    )
        .into_response()
}

/// The body of `POST /passkeys/login/options`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SignInOptions {
    csrf: String,
    tx: Option<String>,
    /// For the browser's autofill (conditional mediation) rather than the button.
    autofill: bool,
}

/// The body of `POST /passkeys/login`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SignInFinish {
    csrf: String,
    tx: Option<String>,
    ceremony: String,
    /// The browser's `PublicKeyCredential`, as JSON.
    credential: Value,
}

/// Why a JSON body was not read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BodyProblem {
    TooLarge,
    Malformed,
}

/// Reads a JSON body (at most [`MAX_CREDENTIAL_BYTES`]).
pub(crate) fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyProblem> {
    if bytes.len() > MAX_CREDENTIAL_BYTES {
        return Err(BodyProblem::TooLarge);
    }
    serde_json::from_slice(bytes).map_err(|_| BodyProblem::Malformed)
}

/// The answer to a body that was not read: 413 or 400 with a sentence (never axum's
/// plain-text rejection).
pub(crate) fn body_refused(locale: &str, problem: BodyProblem) -> Response {
    let (status, code) = match problem {
        BodyProblem::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        BodyProblem::Malformed => (StatusCode::BAD_REQUEST, "malformed"),
    };
    json_error(status, code, text(locale, "passkeys.failed"))
}

/// The browser's CSRF cookie, when the posted token matches it (the ceremony is bound to it).
pub(crate) fn browser<'a>(jar: &'a CookieJar, submitted: &str) -> Option<&'a str> {
    csrf::verify(jar, Some(submitted))
        .then(|| jar.get(csrf::COOKIE).map(|c| c.value()))
        .flatten()
}

fn csrf_refused(locale: &str) -> Response {
    json_error(StatusCode::FORBIDDEN, "csrf", text(locale, "error.csrf"))
}

async fn transaction(
    state: &AppState,
    headers: &HeaderMap,
    tx: Option<&str>,
    now: OffsetDateTime,
) -> Result<(TransactionView, &'static str), Response> {
    match load_transaction(state, tx, now).await {
        Ok(view) => {
            let locale = locale(&view, headers);
            Ok((view, locale))
        }
        Err(problem) => {
            let locale = locale(&TransactionView::default(), headers);
            tracing::info!(?problem, "passkey sign-in for a gone transaction");
            Err(json_error(
                StatusCode::BAD_REQUEST,
                "transaction",
                text(locale, "passkeys.expired"),
            ))
        }
    }
}

/// What the passkey endpoints read first: the JSON body, its transaction with the page's
/// locale, and the browser's CSRF cookie that the body's token matches (the ceremony is bound
/// to it).
struct Call<T> {
    form: T,
    tx: TransactionView,
    locale: &'static str,
    browser: String,
}

/// A body of the passkey endpoints: the page's CSRF token and transaction.
trait PageForm {
    fn csrf(&self) -> &str;
    fn tx(&self) -> Option<&str>;
}

impl PageForm for SignInOptions {
    fn csrf(&self) -> &str {
        &self.csrf
    }
    fn tx(&self) -> Option<&str> {
        self.tx.as_deref()
    }
}

impl PageForm for SignInFinish {
    fn csrf(&self) -> &str {
        &self.csrf
    }
    fn tx(&self) -> Option<&str> {
        self.tx.as_deref()
    }
}

impl<T: serde::de::DeserializeOwned + PageForm> Call<T> {
    async fn open(
        state: &AppState,
        headers: &HeaderMap,
        jar: &CookieJar,
        bytes: &[u8],
        now: OffsetDateTime,
    ) -> Result<Call<T>, Response> {
        let plain = locale(&TransactionView::default(), headers);
        let form: T = body(bytes).map_err(|problem| body_refused(plain, problem))?;
        let (tx, locale) = transaction(state, headers, form.tx(), now).await?;
        let browser = browser(jar, form.csrf())
            .ok_or_else(|| csrf_refused(locale))?
            .to_owned();
        Ok(Call {
            form,
            tx,
            locale,
            browser,
        })
    }
}

/// `POST /passkeys/login/options`.
pub(crate) async fn sign_in_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    bytes: axum::body::Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let Call {
        form,
        tx,
        locale,
        browser,
    } = match Call::<SignInOptions>::open(&state, &headers, &jar, &bytes, now).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    let browser = browser.as_str();
    match passkeys::start_sign_in(&state.app, tx.client.as_ref(), browser, form.autofill, now).await
    {
        Ok(ceremony) => started(jar, ceremony),
        Err(error) => passkey_error(locale, &error),
    }
}

/// `POST /passkeys/login`: signs the passkey's owner in and says where to go next.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    bytes: axum::body::Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let Call {
        form,
        tx,
        locale,
        browser,
    } = match Call::<SignInFinish>::open(&state, &headers, &jar, &bytes, now).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    let browser = browser.as_str();
    if let Err(wait) = state.limits.check_ip(peer.ip()) {
        return passkey_error(locale, &PasskeyError::Throttled(wait.0));
    }
    let response = form.credential.to_string();
    let assertion = Assertion {
        ceremony: &form.ceremony,
        browser,
        response: &response,
        source: peer.ip().to_string(),
        throttle: state.limits.sign_in_throttle(),
        now,
    };
    let (user, method) =
        match passkeys::finish_sign_in(&state.app, tx.client.as_ref(), assertion).await {
            Ok(signed_in) => signed_in,
            Err(error) => return passkey_error(locale, &error),
        };
    let device = session::Device::of(&headers, peer);
    match session::start(&state, jar, user.id, &method, device, now).await {
        Ok((jar, _)) => {
            let client_id = tx.client_id.as_deref().unwrap_or("-");
            tracing::info!(user_id = %user.id, %client_id, "sign-in with a passkey succeeded");
            (jar, Json(json!({ "redirect": continue_url(&tx) }))).into_response()
        }
        Err(error) => passkey_error(locale, &PasskeyError::Store(error)),
    }
}

/// The signed-in user's session for a second factor in `tx` (the user signing in there), or
/// the JSON answer saying to sign in again.
async fn second_factor_session(
    state: &AppState,
    jar: &CookieJar,
    tx: &TransactionView,
    locale: &str,
    now: OffsetDateTime,
) -> Result<SsoSession, Response> {
    let signed_out = || {
        json_error(
            StatusCode::UNAUTHORIZED,
            "signed_out",
            text(locale, "passkeys.signed_out_mfa"),
        )
    };
    let session = match session::current(state, jar, now).await {
        Ok(Some(session)) => session,
        Ok(None) => return Err(signed_out()),
        Err(error) => return Err(passkey_error(locale, &PasskeyError::Store(error))),
    };
    let signing_in = tx.transaction.as_ref().map(|t| t.user_id);
    if signing_in.is_some_and(|user| user != Some(session.user_id)) {
        return Err(signed_out());
    }
    Ok(session)
}

/// `POST /mfa/passkey/options`: an assertion of one of the signed-in user's passkeys.
pub(crate) async fn second_factor_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    bytes: axum::body::Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let Call {
        form: _,
        tx,
        locale,
        browser,
    } = match Call::<SignInOptions>::open(&state, &headers, &jar, &bytes, now).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    let browser = browser.as_str();
    let session = match second_factor_session(&state, &jar, &tx, locale, now).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    match passkeys::start_for_user(&state.app, session.user_id, browser, now).await {
        Ok(ceremony) => started(jar, ceremony),
        Err(error) => passkey_error(locale, &error),
    }
}

/// `POST /mfa/passkey`: the passkey proves the second factor; the session records it (`amr`
/// gains `hwk` or `swk`, and `mfa`) and the answer says where to go on.
pub(crate) async fn second_factor(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    bytes: axum::body::Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let Call {
        form,
        tx,
        locale,
        browser,
    } = match Call::<SignInFinish>::open(&state, &headers, &jar, &bytes, now).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    let browser = browser.as_str();
    let session = match second_factor_session(&state, &jar, &tx, locale, now).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let response = form.credential.to_string();
    let assertion = Assertion {
        ceremony: &form.ceremony,
        browser,
        response: &response,
        source: peer.ip().to_string(),
        throttle: state.limits.sign_in_throttle(),
        now,
    };
    let method = match passkeys::finish_for_user(&state.app, session.user_id, assertion).await {
        Ok(method) => method,
        Err(error) => return passkey_error(locale, &error),
    };
    let factor = method
        .amr
        .first()
        .map_or(passkeys::AMR_DEVICE_BOUND, String::as_str);
    let request = tx.transaction.as_ref().and_then(request_of);
    match mfa::complete(&state.app, &session, factor, request.as_ref(), now).await {
        Ok(_) => {
            tracing::info!(user_id = %session.user_id, "second factor passed with a passkey");
            (jar, Json(json!({ "redirect": continue_url(&tx) }))).into_response()
        }
        Err(error) => passkey_error(locale, &PasskeyError::Store(error)),
    }
}
