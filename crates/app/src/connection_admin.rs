//! Administering connections to upstream identity providers (the API, the CLI and the
//! configuration file alike): create, read, list, replace, delete, test. A connection's
//! definition is checked by `accrete_federation::spec`; its secrets are sealed with the master
//! key before they reach the store and are never shown again (`redacted`).

use accrete_federation::spec::{ConnectionSpec, Secrets};
use accrete_store::{ConnectionUpdate, StoreError, StoredConnection};
use time::OffsetDateTime;

use crate::app::App;
use crate::federation::callback_url;
use crate::problems::Problem;

/// Why a connection use-case did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionAdminError {
    /// No connection has this name.
    #[error("connection not found")]
    NotFound,
    /// A connection with this name exists.
    #[error("a connection with this name exists")]
    Exists,
    /// The definition is refused, every problem at once.
    #[error("definition refused")]
    Invalid(Vec<Problem>),
    /// Changed meanwhile: the expected version is not the stored one.
    #[error("the connection changed meanwhile")]
    Stale,
    /// The secrets could not be sealed.
    #[error("the connection's secrets could not be sealed")]
    Seal,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ConnectionAdminError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ConnectionAdminError::NotFound,
            StoreError::Conflict { .. } => ConnectionAdminError::Exists,
            StoreError::VersionMismatch { .. } => ConnectionAdminError::Stale,
            other => ConnectionAdminError::Store(other),
        }
    }
}

/// A connection as administrators see it: secrets never shown, only whether they are set.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionView {
    /// The definition with its secrets replaced by `********`.
    pub spec: ConnectionSpec,
    /// The redirect URI to register at the provider.
    pub callback_url: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i64,
}

/// Creates a connection.
pub async fn create(
    app: &App,
    spec: ConnectionSpec,
    now: OffsetDateTime,
) -> Result<ConnectionView, ConnectionAdminError> {
    check(app, &spec, None).await?;
    let sealed = app
        .federation
        .seal(&spec.name, &spec.secrets())
        .map_err(|_| ConnectionAdminError::Seal)?;
    let stored = app
        .store()
        .create_connection(StoredConnection {
            name: spec.name.clone(),
            spec: definition(&spec),
            sealed_secrets: sealed,
            created_at: now,
            updated_at: now,
            version: 1,
        })
        .await?;
    app.federation.forget();
    tracing::info!(connection = %spec.name, "connection created");
    view(app, &stored)
}

/// Replaces a connection's definition. Secrets left out are kept as stored; secrets given
/// replace them. With `expected_version`, refused when the connection changed meanwhile.
pub async fn replace(
    app: &App,
    name: &str,
    spec: ConnectionSpec,
    expected_version: Option<i64>,
    now: OffsetDateTime,
) -> Result<ConnectionView, ConnectionAdminError> {
    if spec.name != name {
        return Err(ConnectionAdminError::Invalid(vec![Problem::new(
            "name",
            "immutable",
            "a connection's name cannot change (create another one)",
        )]));
    }
    let current = app
        .store()
        .get_connection(name)
        .await?
        .ok_or(ConnectionAdminError::NotFound)?;
    // The secrets as they will be: the stored ones where the new definition gives none.
    let kept = app
        .federation
        .open(&current)
        .map(|c| c.provider_secrets())
        .unwrap_or_default();
    let given = spec.secrets();
    let secrets = Secrets {
        client_secret: given.client_secret.or(kept.client_secret),
        apple_private_key: given.apple_private_key.or(kept.apple_private_key),
    };
    let full = spec.clone().with_secrets(secrets.clone());
    check(app, &full, Some(name)).await?;
    let sealed = app
        .federation
        .seal(name, &secrets)
        .map_err(|_| ConnectionAdminError::Seal)?;
    let stored = app
        .store()
        .update_connection(ConnectionUpdate {
            name: name.to_owned(),
            spec: definition(&spec),
            sealed_secrets: sealed,
            expected_version,
            now,
        })
        .await?;
    app.federation.forget();
    tracing::info!(connection = %name, "connection changed");
    view(app, &stored)
}

/// Creates the connection, or replaces it when it exists (the configuration file at start).
pub async fn upsert(
    app: &App,
    spec: ConnectionSpec,
    now: OffsetDateTime,
) -> Result<ConnectionView, ConnectionAdminError> {
    let name = spec.name.clone();
    match app.store().get_connection(&name).await? {
        Some(_) => replace(app, &name, spec, None, now).await,
        None => create(app, spec, now).await,
    }
}

/// One connection.
pub async fn get(app: &App, name: &str) -> Result<ConnectionView, ConnectionAdminError> {
    let stored = app
        .store()
        .get_connection(name)
        .await?
        .ok_or(ConnectionAdminError::NotFound)?;
    view(app, &stored)
}

/// Every connection, by name.
pub async fn list(app: &App) -> Result<Vec<ConnectionView>, ConnectionAdminError> {
    let stored = app.store().list_connections().await?;
    stored.iter().map(|row| view(app, row)).collect()
}

/// Deletes a connection; the identities linked through it go with it.
pub async fn delete(app: &App, name: &str) -> Result<(), ConnectionAdminError> {
    if !app.store().delete_connection(name).await? {
        return Err(ConnectionAdminError::NotFound);
    }
    app.federation.forget();
    tracing::info!(connection = %name, "connection deleted");
    Ok(())
}

/// Reaches the provider (discovery and JWKS, or the endpoints' hosts): a one-line summary, or
/// what is wrong in one line.
pub async fn test(app: &App, name: &str) -> Result<Result<String, String>, ConnectionAdminError> {
    let stored = app
        .store()
        .get_connection(name)
        .await?
        .ok_or(ConnectionAdminError::NotFound)?;
    let connection = match app.federation.open(&stored) {
        Ok(connection) => connection,
        Err(error) => return Ok(Err(error.to_string())),
    };
    Ok(app
        .federation
        .upstream
        .check(&connection.provider)
        .await
        .map_err(|e| e.to_string()))
}

/// The definition's own rules, and those across connections: a domain bound to one only.
async fn check(
    app: &App,
    spec: &ConnectionSpec,
    replacing: Option<&str>,
) -> Result<(), ConnectionAdminError> {
    let mut problems: Vec<Problem> = match spec.check() {
        Ok(()) => Vec::new(),
        Err(found) => found
            .into_iter()
            .map(|p| Problem::new(p.path, p.code, p.message))
            .collect(),
    };
    let others = app.store().list_connections().await?;
    for (i, domain) in spec.domains.iter().enumerate() {
        let taken = others.iter().find(|other| {
            Some(other.name.as_str()) != replacing
                && other.name != spec.name
                && other.spec["domains"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| d.as_str() == Some(domain.as_str())))
        });
        if let Some(other) = taken {
            problems.push(Problem::new(
                format!("domains/{i}"),
                "taken",
                format!("{domain} is already bound to connection {}", other.name),
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConnectionAdminError::Invalid(problems))
    }
}

/// The definition as stored: without its secrets.
fn definition(spec: &ConnectionSpec) -> serde_json::Value {
    serde_json::to_value(spec.without_secrets()).unwrap_or_default()
}

fn view(app: &App, row: &StoredConnection) -> Result<ConnectionView, ConnectionAdminError> {
    let spec: ConnectionSpec = match app.federation.open(row) {
        Ok(connection) => connection.full_spec().redacted(),
        // Unreadable secrets (another master key): shown without them.
        Err(_) => serde_json::from_value::<ConnectionSpec>(row.spec.clone())
            .map_err(|e| {
                ConnectionAdminError::Store(StoreError::Invalid {
                    message: format!("stored connection {}: {e}", row.name),
                })
            })?
            .redacted(),
    };
    Ok(ConnectionView {
        callback_url: callback_url(app.issuer(), &row.name),
        spec,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
    })
}
