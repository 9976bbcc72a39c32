//! Companion mode's browser side (docs/companion.md): `GET /companion/{name}/start` takes the
//! provider's start token, the prompt pages ask as usual, and the end of the visit is a page
//! that POSTs the answers token to the provider's continue URL.
//!
//! A companion's visit has no SSO session: the browser is bound to its transaction by the
//! `accrete_companion` cookie, whose keyed hash the transaction keeps as its `session_hash`.

use accrete_app::companion::{self, CompanionError, Return, Visit, Words};
use accrete_store::AuthTransaction;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;
use time::OffsetDateTime;

use super::errors::{PageError, store_failure, transaction_problem};
use super::i18n::text;
use super::transaction::{TransactionView, locale as page_locale, urlencode};
use crate::state::AppState;

/// The cookie binding a browser to its companion visit.
const COOKIE: &str = "accrete_companion";

/// The script that submits the return form at once (the page works without it).
const SCRIPT: &str = include_str!("../../assets/companion.js");

/// The query of a start.
#[derive(Debug, Deserialize)]
pub(crate) struct StartQuery {
    session_token: Option<String>,
    state: Option<String>,
}

/// `GET /companion/{name}/start?session_token=&state=`.
pub(crate) async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(name): Path<String>,
    Query(query): Query<StartQuery>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let locale = page_locale(&TransactionView::default(), &headers);
    let visit = companion::start(
        &state.app,
        &name,
        query.session_token.as_deref().unwrap_or_default(),
        query.state.as_deref().unwrap_or_default(),
        &state.secrets.token_hasher,
        &words(locale),
        now,
    )
    .await;
    match visit {
        Ok(Visit::Prompt { tx, cookie }) => {
            let jar = match cookie {
                Some(value) => jar.add(
                    Cookie::build((COOKIE, value))
                        .path("/")
                        .http_only(true)
                        .secure(state.secure_cookies())
                        .same_site(SameSite::Lax)
                        .build(),
                ),
                None => jar,
            };
            let to = format!("/prompt?tx={}", urlencode(&tx.to_string()));
            (jar, Redirect::to(&to)).into_response()
        }
        Ok(Visit::Back(back)) => return_page(&state, locale, &back),
        Ok(Visit::Gone) => transaction_problem(
            &state,
            locale,
            accrete_app::transactions::TransactionError::Gone,
        ),
        Err(CompanionError::Store(error)) => store_failure(&state, locale, &error),
        // The provider's published keys cannot be had: nothing was stored, try again soon.
        Err(error @ CompanionError::KeysUnavailable(_)) => {
            tracing::warn!(companion = %name, code = error.code(), %error, "companion start failed");
            let mut response = PageError::new(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                locale,
                text(locale, "error.server"),
            )
            .technical(format!("{}: {error}", error.code()))
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
            response
        }
        Err(error) => {
            tracing::info!(companion = %name, code = error.code(), "companion start refused");
            let (status, key) = match error {
                CompanionError::Unknown => (StatusCode::NOT_FOUND, "companion.invalid_start"),
                // The operator's mistake, not the person's link.
                CompanionError::ClientMissing => {
                    (StatusCode::SERVICE_UNAVAILABLE, "companion.not_ready")
                }
                _ => (StatusCode::BAD_REQUEST, "companion.invalid_start"),
            };
            PageError::new(&state, status, locale, text(locale, key))
                .technical(format!("{}: {error}", error.code()))
                .into_response()
        }
    }
}

/// Whether this browser holds the cookie of companion visit `tx`.
pub(crate) fn is_its_browser(state: &AppState, jar: &CookieJar, tx: &AuthTransaction) -> bool {
    match (jar.get(COOKIE), &tx.session_hash) {
        (Some(cookie), Some(hash)) => state.secrets.token_hasher.hash(cookie.value()) == *hash,
        _ => false,
    }
}

/// `/authorize/resume?tx=` of a companion's visit: the next step, or back to the provider.
pub(crate) async fn resume(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    tx: AuthTransaction,
    now: OffsetDateTime,
) -> Response {
    // The visit's language: the provider's (the token's `locale`), else the browser's.
    let view = TransactionView {
        ui_locales: accrete_app::transactions::ui_locales_of(&tx),
        ..TransactionView::default()
    };
    let locale = page_locale(&view, headers);
    if !is_its_browser(state, &jar, &tx) {
        return transaction_problem(
            state,
            locale,
            accrete_app::transactions::TransactionError::Gone,
        );
    }
    match companion::advance(&state.app, tx, &words(locale), now).await {
        Ok(Visit::Prompt { tx, .. }) => {
            Redirect::to(&format!("/prompt?tx={}", urlencode(&tx.to_string()))).into_response()
        }
        Ok(Visit::Back(back)) => {
            let jar = jar.remove(Cookie::build(COOKIE).path("/").build());
            (jar, return_page(state, locale, &back)).into_response()
        }
        Ok(Visit::Gone) => transaction_problem(
            state,
            locale,
            accrete_app::transactions::TransactionError::Gone,
        ),
        Err(error) => store_failure(state, locale, &error),
    }
}

/// The sentences of a visit's end in `locale`.
fn words(locale: &str) -> Words {
    Words {
        locale: locale.to_owned(),
        declined: text(locale, "companion.declined"),
        denied: text(locale, "hooks.denied"),
    }
}

/// The page that POSTs the answers token to the provider (by itself, or with its button).
fn return_page(state: &AppState, locale: &str, back: &Return) -> Response {
    let action = match url::Url::parse(&back.url) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair("state", &back.state);
            url.to_string()
        }
        Err(_) => back.url.clone(),
    };
    let mut response = state.pages.render(
        StatusCode::OK,
        "companion_return.html",
        minijinja::context! {
            locale,
            action,
            state => back.state,
            token => back.token,
        },
    );
    // The token must not be kept by a cache.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `GET /companion/{name}/jwks`: Accrete's public key for an ES256 companion (404 otherwise),
/// which verifies its answers tokens.
pub(crate) async fn jwks(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.app.companion(&name).and_then(|c| c.jwks()) {
        Some(jwks) => (
            [(header::CACHE_CONTROL, "public, max-age=300")],
            axum::Json(jwks),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no ES256 companion of this name").into_response(),
    }
}

/// `GET /assets/companion.js`.
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
