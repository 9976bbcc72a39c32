//! Connections to upstream identity providers as the sign-in flow reads them: from the store,
//! their secrets opened with the master key, kept for a few seconds (every sign-in page lists
//! them, so reading them each time would cost a query per page).
//!
//! A connection's definition is stored without its secrets (`spec`); the client secret and
//! Apple's private key are sealed with the key-encryption key derived from the master key, bound
//! to the connection's name, like the signing keys.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use accrete_federation::spec::{ClaimMapping, ConnectionSpec, Secrets};
use accrete_federation::{Provider, Upstream};
use accrete_oidc::keys::{KeyEncryptionKey, SealError};
use accrete_store::{Store, StoreError, StoredConnection};

/// How long connections read from the store are used without reading them again.
pub const CONNECTION_CACHE_TTL: Duration = Duration::from_secs(5);

/// A connection ready for the sign-in flow.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Its definition, without secrets.
    pub spec: ConnectionSpec,
    /// What the protocol needs (with the secrets).
    pub provider: Provider,
    /// Its claim mappings (the preset's defaults when it names none).
    pub mappings: Vec<ClaimMapping>,
    secrets: Secrets,
}

impl Connection {
    /// The connection's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The name people see ("Continue with …").
    pub fn display_name(&self) -> String {
        self.spec.display_name_or_default().to_owned()
    }

    /// Its secrets, opened.
    pub fn provider_secrets(&self) -> Secrets {
        self.secrets.clone()
    }

    /// Its definition with its secrets.
    pub fn full_spec(&self) -> ConnectionSpec {
        self.spec.clone().with_secrets(self.secrets.clone())
    }
}

/// Why a stored connection cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("the stored definition of connection {name} is unreadable: {message}")]
    Definition { name: String, message: String },
    #[error("the secrets of connection {name} cannot be opened with this master key")]
    Secrets { name: String },
}

type Loaded = (Arc<[Arc<Connection>]>, Instant);

/// This node's connections, the outbound client that talks to them, and the key that seals
/// their secrets.
pub struct Federation {
    /// Talks to upstream providers (outbound HTTP, discovery and JWKS caches).
    pub upstream: Upstream,
    kek: KeyEncryptionKey,
    /// Keyed hash of federation states and of the browser they are bound to.
    pub(crate) hasher: accrete_oidc::secrets::TokenHasher,
    loaded: Mutex<Option<Loaded>>,
}

impl Federation {
    /// Connections whose secrets are sealed with `key_encryption_key`; states hashed with
    /// `hasher`.
    pub fn new(
        upstream: Upstream,
        key_encryption_key: &[u8; 32],
        hasher: accrete_oidc::secrets::TokenHasher,
    ) -> Result<Federation, SealError> {
        Ok(Federation {
            upstream,
            kek: KeyEncryptionKey::from_bytes(key_encryption_key)?,
            hasher,
            loaded: Mutex::new(None),
        })
    }

    /// A federation with fixed keys, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Federation {
        let hasher = accrete_oidc::secrets::TokenHasher::new(&[9; 32]).unwrap();
        let upstream = Upstream::new(accrete_federation::HttpOptions::default()).unwrap();
        Federation::new(upstream, &[7; 32], hasher).unwrap()
    }

    /// Every stored connection that can be used (enabled or not), by name, from the cache when
    /// read less than [`CONNECTION_CACHE_TTL`] ago. One that cannot be opened is logged and
    /// left out (the others still work).
    pub async fn all(&self, store: &dyn Store) -> Result<Arc<[Arc<Connection>]>, StoreError> {
        if let Some((list, at)) = self.lock().as_ref()
            && at.elapsed() < CONNECTION_CACHE_TTL
        {
            return Ok(list.clone());
        }
        let stored = store.list_connections().await?;
        let list: Arc<[Arc<Connection>]> = stored
            .iter()
            .filter_map(|row| match self.open(row) {
                Ok(connection) => Some(Arc::new(connection)),
                Err(error) => {
                    tracing::error!(%error, "connection left out");
                    None
                }
            })
            .collect();
        *self.lock() = Some((list.clone(), Instant::now()));
        Ok(list)
    }

    /// The enabled connection `name`, if any.
    pub async fn enabled(
        &self,
        store: &dyn Store,
        name: &str,
    ) -> Result<Option<Arc<Connection>>, StoreError> {
        let find = |list: &[Arc<Connection>]| {
            list.iter()
                .find(|c| c.name() == name && c.spec.enabled)
                .cloned()
        };
        if let Some(found) = find(&self.all(store).await?) {
            return Ok(Some(found));
        }
        // Unknown here: perhaps created or enabled elsewhere since the cache was filled (a
        // connection is usable at once anywhere, as a client is); read the store again.
        self.forget();
        Ok(find(&self.all(store).await?))
    }

    /// Makes the next read go to the store (after a change on this node).
    pub fn forget(&self) {
        *self.lock() = None;
    }

    /// Seals the secrets of connection `name` for storage (`None` when it has none).
    pub fn seal(&self, name: &str, secrets: &Secrets) -> Result<Option<Vec<u8>>, SealError> {
        if secrets.is_empty() {
            return Ok(None);
        }
        let plain = serde_json::to_vec(secrets).map_err(|_| SealError::Seal)?;
        self.kek.seal(&aad(name), &plain).map(Some)
    }

    /// A stored connection with its secrets opened.
    pub fn open(&self, row: &StoredConnection) -> Result<Connection, ConnectionError> {
        let definition = |message: String| ConnectionError::Definition {
            name: row.name.clone(),
            message,
        };
        let spec: ConnectionSpec =
            serde_json::from_value(row.spec.clone()).map_err(|e| definition(e.to_string()))?;
        let secrets = match &row.sealed_secrets {
            Some(sealed) => {
                let plain = self.kek.open(&aad(&row.name), sealed).map_err(|_| {
                    ConnectionError::Secrets {
                        name: row.name.clone(),
                    }
                })?;
                serde_json::from_slice(&plain).map_err(|_| ConnectionError::Secrets {
                    name: row.name.clone(),
                })?
            }
            None => Secrets::default(),
        };
        let full = spec.clone().with_secrets(secrets.clone());
        let provider = full.provider().map_err(|p| definition(p.message))?;
        Ok(Connection {
            mappings: spec.mapping_or_default(),
            spec,
            provider,
            secrets,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Loaded>> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a connection's sealed secrets are bound to.
fn aad(name: &str) -> String {
    format!("connection:{name}")
}
