//! The authorization transaction a hosted page belongs to: loaded once per request, with
//! what the page shows of it (client, locale, login hint), and where the browser goes next.

use accrete_app::transactions::{self, TransactionError};
use accrete_store::AuthTransaction;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use time::OffsetDateTime;

use super::i18n;
use super::templates::ClientTheme;
use crate::state::AppState;

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
    /// The client (its connections and whether it offers passwords).
    pub client: Option<accrete_store::Client>,
    /// The stored transaction (read once per request).
    pub transaction: Option<AuthTransaction>,
}

/// Loads the transaction named by `tx` (if any) for a hosted page.
pub(crate) async fn load_transaction(
    state: &AppState,
    tx: Option<&str>,
    now: OffsetDateTime,
) -> Result<TransactionView, TransactionError> {
    let Some(id) = tx.filter(|t| !t.is_empty()) else {
        return Ok(TransactionView::default());
    };
    let open = transactions::open_with_client(&state.app, Some(id), now).await?;
    Ok(TransactionView {
        id: Some(id.to_owned()),
        ui_locales: open.ui_locales(),
        login_hint: open.login_hint(),
        client_name: open.client.as_ref().map(|c| c.name.clone()),
        client_id: Some(open.tx.client_id.clone()),
        client_theme: open.client.as_ref().map(ClientTheme::of),
        client: open.client,
        transaction: Some(open.tx),
    })
}

/// Where the browser goes after a successful sign-in or sign-up.
pub(crate) fn continue_to(tx: &TransactionView) -> Response {
    Redirect::to(&continue_url(tx)).into_response()
}

/// The address [`continue_to`] redirects to (for a script that goes there itself).
pub(crate) fn continue_url(tx: &TransactionView) -> String {
    match &tx.id {
        Some(id) => format!("/authorize/resume?tx={}", urlencode(id)),
        None => "/account".to_owned(),
    }
}

pub(crate) fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The page locale for a request inside (or outside) a transaction.
pub(crate) fn locale(tx: &TransactionView, headers: &HeaderMap) -> &'static str {
    i18n::page_locale(tx.ui_locales.as_deref(), headers)
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
