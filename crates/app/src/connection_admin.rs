//! Administering connections to upstream identity providers (the API, the CLI and the
//! configuration file alike): create, read, list, replace, delete, test. A connection's
//! definition is checked by `accrete_federation::spec`; its secrets are sealed with the master
//! key before they reach the store and are never shown again (`redacted`).

use accrete_federation::spec::{ConnectionSpec, Preset, REDACTED, Secrets};
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
    /// Changed meanwhile: the expected version is not the stored one (`current`).
    #[error("the connection changed meanwhile (now at version {current})")]
    Stale { current: i64 },
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
            StoreError::VersionMismatch { found, .. } => {
                ConnectionAdminError::Stale { current: found }
            }
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

/// Creates a connection. A secret that reads `********` (what reads show) is refused: it is
/// not the provider's.
pub async fn create(
    app: &App,
    spec: ConnectionSpec,
    now: OffsetDateTime,
) -> Result<ConnectionView, ConnectionAdminError> {
    let redacted: Vec<Problem> = redacted_paths(&spec)
        .into_iter()
        .map(|path| {
            Problem::new(
                path,
                "redacted",
                "write the secret itself: ******** is what reads show in its place",
            )
        })
        .collect();
    if !redacted.is_empty() {
        return Err(ConnectionAdminError::Invalid(redacted));
    }
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

/// Replaces a connection's definition. Secrets left out (or written as `********`, as reads show
/// them) are kept as stored, where the new definition uses them (no client secret for Apple, an
/// Apple key only with `apple`); secrets given replace them. With `expected_version`, refused
/// when the connection changed meanwhile.
pub async fn replace(
    app: &App,
    name: &str,
    spec: ConnectionSpec,
    expected_version: Option<i64>,
    now: OffsetDateTime,
) -> Result<ConnectionView, ConnectionAdminError> {
    let spec = without_redacted(spec);
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
    if let Some(expected) = expected_version
        && expected != current.version
    {
        return Err(ConnectionAdminError::Stale {
            current: current.version,
        });
    }
    // The secrets as they will be: the stored ones where the new definition gives none and
    // uses one.
    let mut kept: Secrets = app
        .federation
        .open(&current)
        .map(|c| c.provider_secrets())
        .unwrap_or_default();
    if spec.preset == Preset::Apple {
        kept.client_secret = None;
    }
    let full = spec.clone().with_secrets(kept);
    check(app, &full, Some(name)).await?;
    let sealed = app
        .federation
        .seal(name, &full.secrets())
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

/// What [`upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Replaced,
    /// The stored connection is already this definition, secrets included: nothing written.
    Unchanged,
}

/// Creates the connection, or replaces it when it exists (the configuration file at start); a
/// connection already stored as `spec` is left as it is (its version is not bumped at every
/// start). Nodes starting together may both create it: the one that finds it created replaces
/// it.
pub async fn upsert(
    app: &App,
    spec: ConnectionSpec,
    now: OffsetDateTime,
) -> Result<(Upserted, ConnectionView), ConnectionAdminError> {
    let name = spec.name.clone();
    match app.store().get_connection(&name).await? {
        Some(current) => {
            if let Ok(opened) = app.federation.open(&current)
                && opened.full_spec() == spec
            {
                return Ok((Upserted::Unchanged, view(app, &current)?));
            }
            let replaced = replace(app, &name, spec, None, now).await?;
            Ok((Upserted::Replaced, replaced))
        }
        None => match create(app, spec.clone(), now).await {
            Err(ConnectionAdminError::Exists) => {
                let replaced = replace(app, &name, spec, None, now).await?;
                Ok((Upserted::Replaced, replaced))
            }
            created => Ok((Upserted::Created, created?)),
        },
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

/// The paths of the secrets of `spec` that read `********`.
fn redacted_paths(spec: &ConnectionSpec) -> Vec<&'static str> {
    let mut paths = Vec::new();
    if spec.client_secret.as_deref() == Some(REDACTED) {
        paths.push("client_secret");
    }
    if spec
        .apple
        .as_ref()
        .is_some_and(|apple| apple.private_key == REDACTED)
    {
        paths.push("apple/private_key");
    }
    paths
}

/// `spec` with the secrets that read `********` (as a read shows them) left out.
fn without_redacted(mut spec: ConnectionSpec) -> ConnectionSpec {
    if spec.client_secret.as_deref() == Some(REDACTED) {
        spec.client_secret = None;
    }
    if let Some(apple) = &mut spec.apple
        && apple.private_key == REDACTED
    {
        apple.private_key.clear();
    }
    spec
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
