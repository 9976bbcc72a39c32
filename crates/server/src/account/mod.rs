//! Hosted account pages: sign-in and sign-up (credentials), with CSRF, rate limits and the
//! bounded hashing pool. After a successful sign-in inside an authorization transaction the
//! browser continues at `/authorize/resume?tx=...`; otherwise at `/account`.

mod page;
mod signin;
mod signup;

pub(crate) use page::CredentialsPage;

use std::collections::BTreeMap;

use axum::Router;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::Value;
use time::OffsetDateTime;

use crate::i18n;
use crate::pages::ClientTheme;
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(signin::show).post(signin::submit))
        .route("/signup", get(signup::show).post(signup::submit))
}

/// What a credentials page knows about the authorization transaction it belongs to.
#[derive(Debug, Default, Clone)]
pub(crate) struct TransactionView {
    pub id: Option<String>,
    pub ui_locales: Option<String>,
    pub login_hint: Option<String>,
    pub client_name: Option<String>,
    /// The client the user is signing in to, for the log.
    pub client_id: Option<String>,
    /// The client's theme of the hosted pages.
    pub client_theme: Option<ClientTheme>,
}

/// Why a transaction cannot be continued.
pub(crate) enum TransactionProblem {
    /// Unknown, expired or already completed.
    Gone,
    /// The store failed.
    Store(accrete_store::StoreError),
}

/// Loads the transaction named by `tx` (if any) for display on a credentials page.
pub(crate) async fn load_transaction(
    state: &AppState,
    tx: Option<&str>,
    now: OffsetDateTime,
) -> Result<TransactionView, TransactionProblem> {
    let Some(id) = tx.filter(|t| !t.is_empty()) else {
        return Ok(TransactionView::default());
    };
    let transaction = crate::oauth::load_open(state, Some(id), now).await?;
    let param = |name: &str| {
        transaction
            .request
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let client = match state
        .clients
        .get(state.store.as_ref(), &transaction.client_id)
        .await
    {
        Ok(client) => client,
        Err(error) => return Err(TransactionProblem::Store(error)),
    };
    Ok(TransactionView {
        id: Some(id.to_owned()),
        // Stored as the validated request's list of locales.
        ui_locales: transaction
            .request
            .get("ui_locales")
            .and_then(|v| v.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|joined| !joined.is_empty())
            .or_else(|| param("ui_locales")),
        login_hint: param("login_hint"),
        client_name: client.as_ref().map(|c| c.name.clone()),
        client_id: Some(transaction.client_id.clone()),
        client_theme: client.as_ref().map(ClientTheme::of),
    })
}

/// Where the browser goes after a successful sign-in or sign-up.
pub(crate) fn continue_to(tx: &TransactionView) -> Response {
    match &tx.id {
        Some(id) => {
            Redirect::to(&format!("/authorize/resume?tx={}", urlencode(id))).into_response()
        }
        None => Redirect::to("/account").into_response(),
    }
}

pub(crate) fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The page locale for a request inside (or outside) a transaction.
pub(crate) fn locale(tx: &TransactionView, headers: &HeaderMap) -> &'static str {
    let accept = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    i18n::negotiate(tx.ui_locales.as_deref(), accept)
}

/// Per-field error messages of a form, keyed by input name.
pub(crate) type FieldErrors = BTreeMap<String, String>;

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
    problem: TransactionProblem,
) -> Response {
    match problem {
        TransactionProblem::Gone => error_page(
            state,
            StatusCode::BAD_REQUEST,
            locale,
            i18n::text(locale, "error.transaction_expired"),
        ),
        TransactionProblem::Store(error) => store_failure(state, locale, &error),
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

/// Context shared by the credentials forms.
pub(crate) fn form_context(
    locale: &str,
    csrf: &str,
    tx: &TransactionView,
    values: Value,
    errors: &FieldErrors,
    alert: Option<String>,
) -> Value {
    minijinja::context! {
        locale,
        csrf,
        tx => tx.id,
        client_name => tx.client_name,
        values,
        errors => Value::from_serialize(errors),
        alert,
    }
}

/// Form fields common to the credentials pages; every field optional so that a malformed post
/// gets a page with messages rather than a bare rejection.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct CredentialsForm {
    pub csrf: String,
    pub tx: Option<String>,
    pub email: String,
    pub password: String,
    pub action: Option<String>,
}

impl std::fmt::Display for CredentialsForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(
            f,
            "CredentialsForm {{ email: {:?}, tx: {:?} }}",
            self.email, self.tx
        )
    }
}

/// Query of the GET credentials pages.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct TxQuery {
    pub tx: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_are_escaped_in_redirects() {
        assert_eq!(urlencode("a b&c"), "a+b%26c");
        assert_eq!(urlencode("AZaz09-_."), "AZaz09-_.");
    }
}
