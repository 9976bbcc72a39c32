//! Error pages: one plain sentence per kind of problem, in the page's locale, with the protocol
//! code under "Details for developers" when there is one, and `Retry-After` when waiting helps.
//!
//! Every error a person sees on a hosted page is a [`PageError`], answered by its one
//! `IntoResponse`; the functions below build the usual ones.

use std::sync::Arc;

use accrete_app::transactions::TransactionError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n;
use super::templates::Pages;
use crate::ratelimit::RetryAfter;
use crate::state::AppState;

/// An error shown to a person as a page.
pub(crate) struct PageError {
    pages: Arc<Pages>,
    status: StatusCode,
    locale: String,
    /// The plain sentence.
    message: String,
    /// The protocol code and description, under "Details for developers".
    technical: Option<String>,
    /// Seconds after which trying again may succeed (`Retry-After`).
    retry_after: Option<u64>,
    /// The ways on from inside an authorization transaction.
    ways_on: Option<WaysOn>,
    /// The page's title, when not "Something went wrong".
    title: Option<String>,
    /// A link back to the application (its redirect URI with an error).
    back: Option<String>,
}

/// Another way to sign in, or back to the application.
struct WaysOn {
    tx: String,
    csrf: String,
    client_name: Option<String>,
}

impl PageError {
    /// A page saying `message` with `status`.
    pub(crate) fn new(state: &AppState, status: StatusCode, locale: &str, message: String) -> Self {
        PageError {
            pages: state.pages.clone(),
            status,
            locale: locale.to_owned(),
            message,
            technical: None,
            retry_after: None,
            ways_on: None,
            title: None,
            back: None,
        }
    }

    /// With its own `title` and a link `back` to the application.
    pub(crate) fn titled_with_back(mut self, title: String, back: String) -> Self {
        self.title = Some(title);
        self.back = Some(back);
        self
    }

    /// With the links on from inside transaction `tx`: another way to sign in, and back to
    /// the application (a form posting `csrf`).
    pub(crate) fn ways_on(mut self, tx: &str, csrf: &str, client_name: Option<String>) -> Self {
        self.ways_on = Some(WaysOn {
            tx: tx.to_owned(),
            csrf: csrf.to_owned(),
            client_name,
        });
        self
    }

    /// With the protocol's own words for developers.
    pub(crate) fn technical(mut self, technical: String) -> Self {
        self.technical = Some(technical);
        self
    }

    /// With `Retry-After` (at least one second).
    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let PageError {
            pages,
            status,
            locale,
            message,
            technical,
            retry_after,
            ways_on,
            title,
            back,
        } = self;
        let ways_on = ways_on.map(|w| {
            minijinja::context! { tx => w.tx, csrf => w.csrf, client_name => w.client_name }
        });
        let mut response = pages.render(
            status,
            "error.html",
            minijinja::context! { locale, message, technical, ways_on, title, back },
        );
        if let Some(value) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Renders the error page.
pub(crate) fn error_page(
    state: &AppState,
    status: StatusCode,
    locale: &str,
    message: String,
) -> Response {
    PageError::new(state, status, locale, message).into_response()
}

/// A protocol error shown to a person (a request that cannot be sent back to the application):
/// a plain sentence for its kind of error, and the code and description in a "details for
/// developers" section.
pub(crate) fn protocol_error_page(
    state: &AppState,
    status: StatusCode,
    locale: &str,
    error: &accrete_oidc::OAuthError,
) -> Response {
    use accrete_oidc::error::ErrorCode;
    let key = match error.kind {
        ErrorCode::ServerError => "error.server",
        ErrorCode::TemporarilyUnavailable => "error.busy",
        // Every other refusal shown on a page is a link the application built wrongly.
        _ => "error.invalid_link",
    };
    let technical = format!("{}: {}", error.kind.as_str(), error.description);
    PageError::new(state, status, locale, i18n::text(locale, key))
        .technical(technical)
        .into_response()
}

/// The answer when the transaction is gone or the store failed.
pub(crate) fn transaction_problem(
    state: &AppState,
    locale: &str,
    problem: TransactionError,
) -> Response {
    match problem {
        TransactionError::Gone => error_page(
            state,
            StatusCode::BAD_REQUEST,
            locale,
            i18n::text(locale, "error.transaction_expired"),
        ),
        TransactionError::Store(error) => store_failure(state, locale, &error),
    }
}

/// A storage failure on a page: logged, answered 503 (the database may be briefly unavailable).
pub(crate) fn store_failure(
    state: &AppState,
    locale: &str,
    error: &accrete_store::StoreError,
) -> Response {
    tracing::error!(%error, "storage failure on a hosted page");
    retry_later(
        state,
        locale,
        StatusCode::SERVICE_UNAVAILABLE,
        "error.busy",
        5,
    )
}

/// 429 or 503 with `Retry-After`, rendered as a page.
pub(crate) fn retry_later(
    state: &AppState,
    locale: &str,
    status: StatusCode,
    key: &str,
    seconds: u64,
) -> Response {
    PageError::new(state, status, locale, i18n::text(locale, key))
        .retry_after(seconds)
        .into_response()
}

/// 429: too many attempts from this address or on this account; try again after `wait`.
pub(crate) fn rate_limited(state: &AppState, locale: &str, wait: RetryAfter) -> Response {
    retry_later(
        state,
        locale,
        StatusCode::TOO_MANY_REQUESTS,
        "error.rate_limited",
        wait.seconds(),
    )
}

/// 503: the password-hashing pool is full; try again in a moment.
pub(crate) fn hashing_busy(state: &AppState, locale: &str) -> Response {
    retry_later(
        state,
        locale,
        StatusCode::SERVICE_UNAVAILABLE,
        "error.busy",
        2,
    )
}
