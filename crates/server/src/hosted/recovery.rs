//! A forgotten password: `GET|POST /forgot-password` asks for the reset link (the same answer
//! whether or not the address has an account), `GET|POST /reset-password?token=` sets the new
//! password once. Both keep the authorization transaction (`tx`) the user came from, so that
//! signing in with the new password leads back to the application.

use std::net::SocketAddr;

use accrete_app::password_reset::{self, ResetError};
use accrete_oidc::credentials;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use time::OffsetDateTime;
use uuid::Uuid;

use super::credentials::{CredentialsPage, FieldErrors};
use super::errors::{hashing_busy, rate_limited, store_failure};
use super::i18n::text;
use super::signup::password_error;
use crate::state::AppState;

/// `?tx=` and `?token=`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RecoveryQuery {
    tx: Option<String>,
    token: Option<String>,
}

/// The posted forms (every field optional: a malformed post gets a page, not a rejection).
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RecoveryForm {
    csrf: String,
    tx: Option<String>,
    email: String,
    token: String,
    password: String,
    confirm: String,
}

async fn open(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    tx: Option<&str>,
    template: &'static str,
) -> Result<CredentialsPage, Response> {
    CredentialsPage::open(state, headers, jar, tx, template, OffsetDateTime::now_utc()).await
}

/// `GET /forgot-password`.
pub(crate) async fn forgot(
    State(state): State<AppState>,
    Query(query): Query<RecoveryQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    match open(&state, &headers, jar, query.tx.as_deref(), "forgot.html").await {
        Ok(page) => {
            let email = page.tx.login_hint.clone().unwrap_or_default();
            page.render_form(
                &state,
                "forgot.html",
                StatusCode::OK,
                (context! { email }, &FieldErrors::new(), None),
                context! {},
            )
        }
        Err(response) => response,
    }
}

/// `POST /forgot-password`: mails the link if the address has an account; the same page
/// either way, and the same limits (per address and per source) either way.
pub(crate) async fn ask(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<RecoveryForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page = match open(&state, &headers, jar, form.tx.as_deref(), "forgot.html").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale;
    let email = form.email.trim().to_owned();
    let again = |status, errors: &FieldErrors, alert| {
        let values = context! { email };
        page.render_form(
            &state,
            "forgot.html",
            status,
            (values, errors, alert),
            context! {},
        )
    };
    if !page.csrf_ok(&form.csrf) {
        return again(
            StatusCode::FORBIDDEN,
            &FieldErrors::new(),
            Some(text(locale, "error.csrf")),
        );
    }
    if credentials::check_email(&email).is_err() {
        let mut errors = FieldErrors::new();
        errors.insert("email".into(), text(locale, "error.email_invalid"));
        return again(
            StatusCode::BAD_REQUEST,
            &errors,
            Some(text(locale, "error.summary")),
        );
    }
    if let Err(wait) = state
        .limits
        .check_ip(peer.ip())
        .and_then(|()| state.limits.check_account(&email))
    {
        return rate_limited(&state, locale, wait);
    }
    let tx = page.tx.transaction.as_ref().map(|t| t.id);
    if let Err(error) =
        password_reset::request(&state.app, &email, page.tx.client.as_ref(), tx, locale, now).await
    {
        return store_failure(&state, locale, &error);
    }
    page.render_form(
        &state,
        "forgot.html",
        StatusCode::OK,
        (context! { email }, &FieldErrors::new(), None),
        context! { sent => true },
    )
}

/// `GET /reset-password?token=`: the new-password form, or why the link no longer works.
pub(crate) async fn show_reset(
    State(state): State<AppState>,
    Query(query): Query<RecoveryQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let now = OffsetDateTime::now_utc();
    // A transaction that expired meanwhile must not hide the form: the link is what counts.
    let tx = query.tx.as_deref().filter(|tx| Uuid::parse_str(tx).is_ok());
    let page = match open(&state, &headers, jar.clone(), tx, "reset.html").await {
        Ok(page) => page,
        Err(_) => match open(&state, &headers, jar, None, "reset.html").await {
            Ok(page) => page,
            Err(response) => return response,
        },
    };
    let token = query.token.unwrap_or_default();
    let email = match password_reset::check_link(&state.app, &token, now).await {
        Ok(email) => email,
        Err(error) => return store_failure(&state, page.locale, &error),
    };
    let extra = match email {
        Some(email) => context! { email, token },
        None => context! { expired => true },
    };
    page.render_form(
        &state,
        "reset.html",
        StatusCode::OK,
        (context! {}, &FieldErrors::new(), None),
        extra,
    )
}

/// `POST /reset-password`: sets the new password, once.
pub(crate) async fn reset(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<RecoveryForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let tx = form.tx.as_deref().filter(|tx| Uuid::parse_str(tx).is_ok());
    let page = match open(&state, &headers, jar.clone(), tx, "reset.html").await {
        Ok(page) => page,
        Err(_) => match open(&state, &headers, jar, None, "reset.html").await {
            Ok(page) => page,
            Err(response) => return response,
        },
    };
    let locale = page.locale;
    let email = match password_reset::check_link(&state.app, &form.token, now).await {
        Ok(email) => email,
        Err(error) => return store_failure(&state, locale, &error),
    };
    let again = |status, errors: &FieldErrors, alert: Option<String>, extra: Value| {
        page.render_form(
            &state,
            "reset.html",
            status,
            (context! {}, errors, alert),
            extra,
        )
    };
    let Some(email) = email else {
        return again(
            StatusCode::GONE,
            &FieldErrors::new(),
            None,
            context! { expired => true },
        );
    };
    let form_again = context! { email, token => form.token.clone() };
    if !page.csrf_ok(&form.csrf) {
        return again(
            StatusCode::FORBIDDEN,
            &FieldErrors::new(),
            Some(text(locale, "error.csrf")),
            form_again,
        );
    }
    let mut errors = FieldErrors::new();
    // The password's own rules are the use-case's (`ResetError::Password` below).
    if form.password != form.confirm {
        errors.insert("confirm".into(), text(locale, "reset.mismatch"));
    }
    if !errors.is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            &errors,
            Some(text(locale, "error.summary")),
            form_again,
        );
    }
    if let Err(wait) = state.limits.check_ip(peer.ip()) {
        return rate_limited(&state, locale, wait);
    }
    match password_reset::reset(&state.app, &form.token, form.password, locale, now).await {
        Ok(_) => again(
            StatusCode::OK,
            &FieldErrors::new(),
            None,
            context! { done => true },
        ),
        Err(ResetError::Expired) => again(
            StatusCode::GONE,
            &FieldErrors::new(),
            None,
            context! { expired => true },
        ),
        Err(ResetError::Password(problem)) => {
            errors.insert("password".into(), password_error(locale, problem));
            again(StatusCode::BAD_REQUEST, &errors, None, form_again)
        }
        Err(ResetError::Busy) => hashing_busy(&state, locale),
        Err(ResetError::Store(error)) => store_failure(&state, locale, &error),
    }
}
