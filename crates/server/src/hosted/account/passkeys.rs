//! The passkeys of `/account/security`: the list (name, added, last used), "Add a passkey"
//! (`POST /account/security/passkeys/options` and `POST /account/security/passkeys`, JSON for
//! the page's script), rename and remove (plain forms). Removing needs a recent sign-in
//! (`accrete_app::account::recent_sign_in`); otherwise the page says to sign in again.

use accrete_app::passkeys::{self, NewPasskey, PasskeyError};
use axum::Form;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::csrf;
use super::super::i18n::{self, text};
use super::super::passkey::{body, body_refused, browser, json_error, passkey_error, started};
use super::page::AccountPage;
use super::security;
use super::sessions::device_words;
use crate::state::AppState;

/// The body of `POST /account/security/passkeys/options`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct AddOptions {
    csrf: String,
}

/// The body of `POST /account/security/passkeys`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct AddFinish {
    csrf: String,
    ceremony: String,
    name: String,
    credential: serde_json::Value,
}

fn signed_out(locale: &str) -> Response {
    json_error(
        StatusCode::UNAUTHORIZED,
        "signed_out",
        text(locale, "passkeys.signed_out"),
    )
}

/// `POST /account/security/passkeys/options`: starts registering a passkey.
pub(crate) async fn add_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    bytes: axum::body::Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page = match AccountPage::open(&state, &headers, jar, None).await {
        Ok(page) => page,
        Err(_) => return signed_out(i18n::page_locale(None, &headers)),
    };
    let locale = page.locale;
    let form: AddOptions = match body(&bytes) {
        Ok(form) => form,
        Err(problem) => return body_refused(locale, problem),
    };
    let Some(browser) = browser(&page.jar, &form.csrf) else {
        return json_error(StatusCode::FORBIDDEN, "csrf", text(locale, "error.csrf"));
    };
    match passkeys::start_registration(&state.app, page.user.id, browser, now).await {
        Ok(ceremony) => started(page.jar.clone(), ceremony),
        Err(error) => passkey_error(locale, &error),
    }
}

/// `POST /account/security/passkeys`: stores the new passkey; the page goes back to the
/// section with a notice.
pub(crate) async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    bytes: axum::body::Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page = match AccountPage::open(&state, &headers, jar, None).await {
        Ok(page) => page,
        Err(_) => return signed_out(i18n::page_locale(None, &headers)),
    };
    let locale = page.locale;
    let form: AddFinish = match body(&bytes) {
        Ok(form) => form,
        Err(problem) => return body_refused(locale, problem),
    };
    let Some(browser) = browser(&page.jar, &form.csrf) else {
        return json_error(StatusCode::FORBIDDEN, "csrf", text(locale, "error.csrf"));
    };
    // Unnamed, a passkey is called after the device it was added from.
    let name = match form.name.trim() {
        "" => device_words(locale, page.session.user_agent.as_deref()),
        given => given.to_owned(),
    };
    let response = form.credential.to_string();
    let new = NewPasskey {
        user_id: page.user.id,
        ceremony: &form.ceremony,
        browser,
        response: &response,
        name: &name,
        now,
    };
    match passkeys::finish_registration(&state.app, new).await {
        Ok(added) => {
            // The new passkey, verified with its user, proves a second factor in this session
            // (as an authenticator app's first code does): the account center stays open.
            let factor = if added.backup_eligible {
                passkeys::AMR_SYNCED
            } else {
                passkeys::AMR_DEVICE_BOUND
            };
            if let Err(error) =
                accrete_app::mfa::complete(&state.app, &page.session, factor, None, now).await
            {
                return passkey_error(locale, &PasskeyError::Store(error));
            }
            let redirect = page.link("/account/security", "done=passkey_added");
            (page.jar, Json(json!({ "redirect": redirect }))).into_response()
        }
        Err(error) => passkey_error(locale, &error),
    }
}

/// The rename and remove forms.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct PasskeyForm {
    csrf: String,
    return_to: Option<String>,
    name: String,
}

/// `POST /account/security/passkeys/{id}/rename`.
pub(crate) async fn rename(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Response {
    let page = match AccountPage::open(&state, &headers, jar, form.return_to.as_deref()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    if !csrf::verify(&page.jar, Some(&form.csrf)) {
        return alert(&state, page, StatusCode::FORBIDDEN, "error.csrf").await;
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return alert(&state, page, StatusCode::NOT_FOUND, "passkeys.not_found").await;
    };
    match passkeys::rename(&state.app, page.user.id, id, &form.name).await {
        Ok(()) => page.redirect("/account/security", "passkey_renamed"),
        Err(error) => refused(&state, page, &error).await,
    }
}

/// `POST /account/security/passkeys/{id}/remove`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page = match AccountPage::open(&state, &headers, jar, form.return_to.as_deref()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    if !csrf::verify(&page.jar, Some(&form.csrf)) {
        return alert(&state, page, StatusCode::FORBIDDEN, "error.csrf").await;
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return alert(&state, page, StatusCode::NOT_FOUND, "passkeys.not_found").await;
    };
    let auth_time = page.session.auth_time;
    match passkeys::remove(&state.app, page.user.id, id, auth_time, now).await {
        Ok(()) => page.redirect("/account/security", "passkey_removed"),
        Err(error) => refused(&state, page, &error).await,
    }
}

/// The security section again, with the sentence of a refused rename or removal.
async fn refused(state: &AppState, page: AccountPage, error: &PasskeyError) -> Response {
    let (status, key) = match error {
        PasskeyError::BadName(_) => (StatusCode::BAD_REQUEST, "passkeys.name_invalid"),
        PasskeyError::NotFound => (StatusCode::NOT_FOUND, "passkeys.not_found"),
        PasskeyError::LastWayIn => (StatusCode::CONFLICT, "passkeys.last_way_in"),
        PasskeyError::SignInAgain => (StatusCode::FORBIDDEN, "passkeys.sign_in_again"),
        PasskeyError::Store(error) => {
            return super::super::errors::store_failure(state, page.locale, error);
        }
        _ => (StatusCode::BAD_REQUEST, "passkeys.failed"),
    };
    alert(state, page, status, key).await
}

async fn alert(state: &AppState, page: AccountPage, status: StatusCode, key: &str) -> Response {
    let alert = Some(text(page.locale, key));
    let reauth = key == "passkeys.sign_in_again";
    security::render_with(state, page, status, (None, alert), reauth).await
}
