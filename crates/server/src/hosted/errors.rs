//! Error pages: one plain sentence per kind of problem, in the page's locale, with the protocol
//! code under "Details for developers" when there is one, and `Retry-After` when waiting helps.

use accrete_app::transactions::TransactionError;
use axum::http::StatusCode;
use axum::response::Response;

use super::i18n;
use crate::state::AppState;

/// Renders the error page.
pub(crate) fn error_page(
    state: &AppState,
    status: StatusCode,
    locale: &str,
    message: String,
) -> Response {
    state.pages.render(
        status,
        "error.html",
        minijinja::context! { locale, message },
    )
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
    let message = i18n::text(locale, key);
    let technical = format!("{}: {}", error.kind.as_str(), error.description);
    state.pages.render(
        status,
        "error.html",
        minijinja::context! { locale, message, technical },
    )
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
    let mut response = error_page(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        locale,
        i18n::text(locale, "error.busy"),
    );
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("5"),
    );
    response
}

/// 429 or 503 with `Retry-After`, rendered as a page.
pub(crate) fn retry_later(
    state: &AppState,
    locale: &str,
    status: StatusCode,
    key: &str,
    seconds: u64,
) -> Response {
    let mut response = error_page(state, status, locale, i18n::text(locale, key));
    if let Ok(value) = axum::http::HeaderValue::from_str(&seconds.max(1).to_string()) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}
