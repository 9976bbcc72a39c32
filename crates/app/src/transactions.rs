//! The authorization transaction as the hosted pages continue it: opened once per request
//! (one read of the transaction, its client from the cache), and ended without a code when the
//! user declines to go on.

use accrete_oidc::OAuthError;
use accrete_oidc::authorize::AuthorizationRequest;
use accrete_oidc::error::ErrorCode;
use accrete_store::{AuthTransaction, Client, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::App;
use crate::companion::spec::CompanionState;

/// Why a transaction cannot be continued.
#[derive(Debug, thiserror::Error)]
pub enum TransactionError {
    /// Unknown, expired or already completed.
    #[error("the sign-in is over or unknown")]
    Gone,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An open transaction with what the pages show of it.
#[derive(Debug, Clone)]
pub struct OpenTransaction {
    /// The stored transaction.
    pub tx: AuthTransaction,
    /// Its client, if it still exists.
    pub client: Option<Client>,
}

impl OpenTransaction {
    fn param(&self, name: &str) -> Option<String> {
        self.tx
            .request
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }

    /// The request's `ui_locales`, space-separated (see [`ui_locales_of`]).
    pub fn ui_locales(&self) -> Option<String> {
        ui_locales_of(&self.tx)
    }

    /// The request's `login_hint`.
    pub fn login_hint(&self) -> Option<String> {
        self.param("login_hint")
    }
}

/// The `ui_locales` of a transaction's request, space-separated (the validated request stores a
/// list; a companion's visit stores the provider's `locale` the same way).
pub fn ui_locales_of(tx: &AuthTransaction) -> Option<String> {
    let request = &tx.request;
    request
        .get("ui_locales")
        .and_then(|v| v.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|joined| !joined.is_empty())
        .or_else(|| {
            request
                .get("ui_locales")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
}

/// The open (not expired, not completed) transaction `id`.
pub async fn open(
    app: &App,
    id: Option<&str>,
    now: OffsetDateTime,
) -> Result<AuthTransaction, TransactionError> {
    let id = id
        .and_then(|t| Uuid::parse_str(t).ok())
        .ok_or(TransactionError::Gone)?;
    app.store()
        .get_transaction(id)
        .await?
        .filter(|t| t.completed_at.is_none() && t.expires_at > now)
        .ok_or(TransactionError::Gone)
}

/// [`open`], with the transaction's client: what a hosted page needs, in one read of the
/// transaction.
pub async fn open_with_client(
    app: &App,
    id: Option<&str>,
    now: OffsetDateTime,
) -> Result<OpenTransaction, TransactionError> {
    let tx = open(app, id, now).await?;
    let client = app.clients.get(app.store(), &tx.client_id).await?;
    Ok(OpenTransaction { tx, client })
}

/// The stored authorization request of a transaction (`None`: unreadable, logged).
pub fn request_of(tx: &AuthTransaction) -> Option<AuthorizationRequest> {
    match serde_json::from_value::<AuthorizationRequest>(tx.request.clone()) {
        Ok(request) => Some(request),
        Err(error) => {
            tracing::error!(%error, "stored authorization request is unreadable");
            None
        }
    }
}

/// The user declined to go on (cancel on a hosted page): ends the transaction without a code
/// and returns where to send the browser: back to the client with `access_denied`, `state` and
/// `iss` (RFC 6749 §4.1.2.1, RFC 9207). `None` when the transaction was already over. A
/// companion's visit is marked declined and goes to its resume, which answers the provider.
pub async fn deny(
    app: &App,
    tx: &AuthTransaction,
    now: OffsetDateTime,
) -> Result<Option<String>, StoreError> {
    if let Some(mut companion) = CompanionState::of(&tx.state) {
        // A companion's visit ends declined at the resume, which answers the provider.
        companion.declined = true;
        let mut updated = tx.clone();
        companion.store_into(&mut updated.state);
        return match app.store().update_transaction(updated).await {
            Ok(_) => Ok(Some(format!("/authorize/resume?tx={}", tx.id))),
            Err(StoreError::VersionMismatch { .. } | StoreError::Conflict { .. }) => Ok(None),
            Err(error) => Err(error),
        };
    }
    let Some(request) = request_of(tx) else {
        return Ok(None);
    };
    if !app.store().complete_transaction(tx.id, now).await? {
        return Ok(None);
    }
    let error = OAuthError::new(ErrorCode::AccessDenied, "the user cancelled the sign-in");
    Ok(Some(request.error_redirect(error).to_url(app.issuer())))
}
