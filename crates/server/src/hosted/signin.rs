//! `GET /login` shows the sign-in form; `POST /login` checks the credentials.

use std::net::SocketAddr;

use accrete_app::accounts::{self, SignIn, SignInError};
use accrete_app::federation::{self, SignInMethod};
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use time::OffsetDateTime;

use super::credentials::{CredentialsForm, CredentialsPage, FieldErrors, TxQuery};
use super::errors::{hashing_busy, rate_limited, store_failure};
use super::i18n::text;
use super::transaction::{continue_to, urlencode};
use crate::ratelimit::RetryAfter;
use crate::session;
use crate::state::AppState;

pub(super) async fn show(
    State(state): State<AppState>,
    Query(query): Query<TxQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let now = OffsetDateTime::now_utc();
    match CredentialsPage::open(
        &state,
        &headers,
        jar,
        query.tx.as_deref(),
        "signin.html",
        now,
    )
    .await
    {
        Ok(mut page) => {
            // Outside an application's sign-in, someone already signed in is shown the way to
            // their account center.
            if query.tx.is_none()
                && let Ok(Some(session)) = session::current(&state, &page.jar, now).await
                && let Ok(user) = state.store.get_user(session.user_id).await
            {
                page.signed_in = Some(user.email);
            }
            page.blank(&state)
        }
        Err(response) => response,
    }
}

pub(super) async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<CredentialsForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page = match CredentialsPage::open(
        &state,
        &headers,
        jar,
        form.tx.as_deref(),
        "signin.html",
        now,
    )
    .await
    {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale;
    let email = form.email.trim().to_owned();
    let again = |status: StatusCode, errors: FieldErrors, alert: Option<String>| {
        page.render(&state, status, &email, &errors, alert)
    };
    if !page.csrf_ok(&form.csrf) {
        return again(
            StatusCode::FORBIDDEN,
            FieldErrors::new(),
            Some(text(locale, "error.csrf")),
        );
    }
    // Home-realm discovery: an email whose domain is bound to a provider goes there (unless
    // the person is proving an account to link a provider to it).
    if page.home_realms && page.pending_link.is_none() && !email.is_empty() {
        match federation::home_realm(&state.app, page.tx.client.as_ref(), &email).await {
            Ok(Some(connection)) => {
                let mut to = format!(
                    "/login/{}?login_hint={}",
                    urlencode(connection.name()),
                    urlencode(&email)
                );
                if let Some(tx) = &page.tx.id {
                    to.push_str(&format!("&tx={}", urlencode(tx)));
                }
                return Redirect::to(&to).into_response();
            }
            Ok(None) => {}
            Err(error) => return store_failure(&state, locale, &error),
        }
    }
    if !page.password {
        return again(
            StatusCode::FORBIDDEN,
            FieldErrors::new(),
            Some(text(locale, "federation.no_password")),
        );
    }
    let mut errors = FieldErrors::new();
    if email.is_empty() {
        errors.insert("email".into(), text(locale, "error.required"));
    }
    // Counted in characters, as when it was set: any password that could be set is presented.
    if let Err(problem) = accrete_oidc::credentials::check_presented_password(&form.password) {
        let message = super::signup::password_error(locale, problem);
        errors.insert("password".into(), message);
    }
    if !errors.is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            errors,
            Some(text(locale, "error.summary")),
        );
    }
    if let Err(wait) = state.limits.check_ip(peer.ip()) {
        return rate_limited(&state, locale, wait);
    }
    let attempt = SignIn {
        email: &email,
        password: form.password.clone(),
        source: peer.ip().to_string(),
        throttle: state.limits.sign_in_throttle(),
        now,
    };
    let user = match accounts::sign_in(&state.app, attempt).await {
        Ok(user) => user,
        Err(SignInError::Throttled(wait)) => {
            return rate_limited(&state, locale, RetryAfter(wait));
        }
        Err(SignInError::Busy) => {
            return hashing_busy(&state, locale);
        }
        Err(SignInError::WrongCredentials) => {
            return again(
                StatusCode::UNAUTHORIZED,
                FieldErrors::new(),
                Some(text(locale, "signin.invalid")),
            );
        }
        Err(SignInError::Disabled) => {
            return again(
                StatusCode::FORBIDDEN,
                FieldErrors::new(),
                Some(text(locale, "signin.disabled")),
            );
        }
        Err(SignInError::Store(error)) => return store_failure(&state, locale, &error),
    };
    let tx_id = page.tx.transaction.as_ref().map(|t| t.id);
    if page.pending_link.is_some()
        && let Err(error) = federation::link_pending(&state.app, tx_id, &user, now).await
    {
        tracing::warn!(%error, "could not link the provider waiting for this sign-in");
    }
    let method = SignInMethod::password();
    match session::start(
        &state,
        page.jar.clone(),
        user.id,
        &method,
        session::Device::of(&headers, peer),
        now,
    )
    .await
    {
        Ok((jar, _)) => {
            let client_id = page.tx.client_id.as_deref().unwrap_or("-");
            tracing::info!(user_id = %user.id, %client_id, "sign-in succeeded");
            if page.tx.id.is_none() && user.mfa_factors > 0 {
                // Outside an application the account center comes next: after the second
                // factor (inside one, the authorization flow asks for it).
                return (jar, Redirect::to("/mfa")).into_response();
            }
            (jar, continue_to(&page.tx)).into_response()
        }
        Err(error) => store_failure(&state, locale, &error),
    }
}
