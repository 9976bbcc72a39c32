//! The signing keys of the running server: loaded from the store and decrypted with the
//! key-encryption key, generated on first start, reloaded periodically (so that a rotation made by
//! another node or by `accrete keys rotate` is seen) and on a token naming an unknown `kid`.
//!
//! Two nodes starting at once on an empty database must agree on one key per algorithm: the first
//! key of an algorithm gets a `kid` derived from what is already stored, so both nodes compute the
//! same `kid`, one insert wins, the other gets a conflict and reloads the winner's key.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration as StdDuration, Instant};

use accrete_oidc::keys::{
    Alg, KeyEncryptionKey, KeySchedule, KeySet, SealError, SigningKey, rotation,
};
use accrete_store::{Store, StoreError, StoredSigningKey};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};

/// How long a loaded key set is used before the store is read again.
pub const RELOAD_INTERVAL: StdDuration = StdDuration::from_secs(60);

/// At most one forced reload (unknown `kid`) per this interval, so forged tokens cannot make every
/// request read the store.
const FORCED_RELOAD_INTERVAL: StdDuration = StdDuration::from_secs(5);

/// The longest lifetime of a token signed by our keys: an old key stays published this long after
/// its successor starts signing.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::hours(1);

/// Why keys could not be loaded, generated or rotated.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key could not be generated or sealed.
    #[error("{0}")]
    Crypto(String),
}

impl From<SealError> for KeysError {
    fn from(error: SealError) -> Self {
        KeysError::Crypto(error.to_string())
    }
}

impl From<accrete_oidc::keys::KeyError> for KeysError {
    fn from(error: accrete_oidc::keys::KeyError) -> Self {
        KeysError::Crypto(error.to_string())
    }
}

/// The server's signing keys, shared by every handler (cheap to clone).
#[derive(Clone)]
pub struct KeyManager {
    inner: Arc<Inner>,
}

struct Inner {
    kek: KeyEncryptionKey,
    current: RwLock<Option<Loaded>>,
    /// Serialises reloads; requests that find it taken keep using the current set.
    reloading: tokio::sync::Mutex<()>,
    last_forced: Mutex<Option<Instant>>,
}

#[derive(Clone)]
struct Loaded {
    keys: Arc<KeySet>,
    at: Instant,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyManager(..)")
    }
}

impl KeyManager {
    /// A manager that has loaded nothing yet; keys are read on first use.
    pub fn new(key_encryption_key: &[u8; 32]) -> Result<KeyManager, KeysError> {
        Ok(KeyManager {
            inner: Arc::new(Inner {
                kek: KeyEncryptionKey::from_bytes(key_encryption_key)?,
                current: RwLock::new(None),
                reloading: tokio::sync::Mutex::new(()),
                last_forced: Mutex::new(None),
            }),
        })
    }

    fn loaded(&self) -> Option<Loaded> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The current key set: loaded (and completed) on first use, read again from the store once
    /// [`RELOAD_INTERVAL`] has passed.
    pub async fn current(&self, store: &dyn Store) -> Result<Arc<KeySet>, KeysError> {
        match self.loaded() {
            Some(loaded) if loaded.at.elapsed() < RELOAD_INTERVAL => Ok(loaded.keys),
            Some(loaded) => {
                // Stale: one request reloads, the others carry on with the set they have.
                match self.inner.reloading.try_lock() {
                    Ok(_guard) => match self.reload_locked(store).await {
                        Ok(keys) => Ok(keys),
                        Err(error) => {
                            tracing::warn!(%error, "could not reload signing keys; keeping the loaded ones");
                            Ok(loaded.keys)
                        }
                    },
                    Err(_) => Ok(loaded.keys),
                }
            }
            None => {
                let _guard = self.inner.reloading.lock().await;
                if let Some(loaded) = self.loaded() {
                    return Ok(loaded.keys);
                }
                self.reload_locked(store).await
            }
        }
    }

    /// Reads the keys again because a token named a `kid` we do not know (another node may have
    /// rotated). Rate-limited: returns `None` when a forced reload happened moments ago.
    pub async fn reload_for_unknown_kid(&self, store: &dyn Store) -> Option<Arc<KeySet>> {
        {
            let mut last = self
                .inner
                .last_forced
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < FORCED_RELOAD_INTERVAL) {
                return None;
            }
            *last = Some(Instant::now());
        }
        let _guard = self.inner.reloading.lock().await;
        match self.reload_locked(store).await {
            Ok(keys) => Some(keys),
            Err(error) => {
                tracing::warn!(%error, "could not reload signing keys");
                None
            }
        }
    }

    /// Loads every stored key and generates any missing algorithm; call at start-up.
    pub async fn reload(&self, store: &dyn Store) -> Result<Arc<KeySet>, KeysError> {
        let _guard = self.inner.reloading.lock().await;
        self.reload_locked(store).await
    }

    async fn reload_locked(&self, store: &dyn Store) -> Result<Arc<KeySet>, KeysError> {
        let now = OffsetDateTime::now_utc();
        let keys = Arc::new(ensure_keys(store, &self.inner.kek, now).await?);
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Loaded {
            keys: keys.clone(),
            at: Instant::now(),
        });
        Ok(keys)
    }
}

/// Every stored key that opens with `kek`; keys that do not (sealed under another master key) or
/// do not parse are skipped with a warning.
pub async fn load_key_set(store: &dyn Store, kek: &KeyEncryptionKey) -> Result<KeySet, KeysError> {
    Ok(load(store, kek).await?.1)
}

/// The stored key ids with their algorithms, and the keys that open.
async fn load(
    store: &dyn Store,
    kek: &KeyEncryptionKey,
) -> Result<(Vec<(String, String)>, KeySet), KeysError> {
    let stored = store.list_signing_keys().await?;
    let set = KeySet::new(stored.iter().filter_map(|row| open(kek, row)).collect());
    Ok((
        stored.into_iter().map(|row| (row.alg, row.kid)).collect(),
        set,
    ))
}

fn open(kek: &KeyEncryptionKey, row: &StoredSigningKey) -> Option<SigningKey> {
    let Some(alg) = Alg::parse(&row.alg) else {
        tracing::warn!(kid = %row.kid, alg = %row.alg, "skipping a signing key of an unknown algorithm");
        return None;
    };
    let schedule = KeySchedule {
        active_from: row.active_from,
        retired_at: row.retired_at,
    };
    let opened = kek
        .open(&row.kid, &row.private_key)
        .map_err(|e| e.to_string())
        .and_then(|der| {
            SigningKey::from_pkcs8(row.kid.clone(), alg, &der, schedule).map_err(|e| e.to_string())
        });
    match opened {
        Ok(key) => Some(key),
        Err(error) => {
            tracing::warn!(kid = %row.kid, %error, "skipping a signing key that cannot be opened");
            None
        }
    }
}

/// Loads the stored keys and generates a key for each algorithm that has none able to sign now.
/// Safe when several nodes run it at once (see the module documentation).
pub async fn ensure_keys(
    store: &dyn Store,
    kek: &KeyEncryptionKey,
    now: OffsetDateTime,
) -> Result<KeySet, KeysError> {
    let (stored, set) = load(store, kek).await?;
    let missing = set.missing_algorithms(now);
    if missing.is_empty() {
        return Ok(set);
    }
    for alg in missing {
        let kid = first_kid(alg, &stored);
        let generated = SigningKey::generate(alg, KeySchedule::immediately(now))?;
        let key = SigningKey::from_pkcs8(
            kid,
            alg,
            generated.private_pkcs8(),
            KeySchedule::immediately(now),
        )?;
        match store.insert_signing_key(to_row(kek, &key, now)?).await {
            Ok(()) => tracing::info!(kid = %key.kid(), %alg, "generated a signing key"),
            // Another node generated the same first key: its key is loaded below.
            Err(StoreError::Conflict { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    load_key_set(store, kek).await
}

/// The `kid` of the key generated when `alg` has no usable key: a digest of the algorithm and of
/// the ids of its stored keys (usable or not), so every node looking at the same store picks the
/// same `kid`, and a new one once a key of that algorithm was added.
fn first_kid(alg: Alg, stored: &[(String, String)]) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(b"accrete first key\0");
    context.update(alg.as_str().as_bytes());
    let mut kids: Vec<&str> = stored
        .iter()
        .filter(|(stored_alg, _)| stored_alg == alg.as_str())
        .map(|(_, kid)| kid.as_str())
        .collect();
    kids.sort_unstable();
    for kid in kids {
        context.update(b"\0");
        context.update(kid.as_bytes());
    }
    let digest = context.finish();
    URL_SAFE_NO_PAD.encode(digest.as_ref().get(..12).unwrap_or_default())
}

fn to_row(
    kek: &KeyEncryptionKey,
    key: &SigningKey,
    now: OffsetDateTime,
) -> Result<StoredSigningKey, KeysError> {
    let schedule = key.schedule();
    Ok(StoredSigningKey {
        kid: key.kid().to_owned(),
        alg: key.alg().as_str().to_owned(),
        private_key: kek.seal(key.kid(), key.private_pkcs8())?,
        public_jwk: serde_json::to_value(key.public_jwk())
            .map_err(|e| KeysError::Crypto(e.to_string()))?,
        created_at: now,
        active_from: schedule.active_from,
        retired_at: schedule.retired_at,
    })
}

/// What a rotation did for one algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The algorithm.
    pub alg: Alg,
    /// The new key's id.
    pub kid: String,
    /// When the new key starts signing.
    pub active_from: OffsetDateTime,
    /// The keys it replaces and when they leave the JWKS.
    pub retiring: Vec<(String, OffsetDateTime)>,
}

/// Rotates the keys of `algs`: each new key is published at once and signs from
/// `now + activation_delay`; the keys it replaces stop signing then and stay published for
/// [`MAX_TOKEN_LIFETIME`] more.
pub async fn rotate(
    store: &dyn Store,
    kek: &KeyEncryptionKey,
    algs: &[Alg],
    activation_delay: Duration,
    now: OffsetDateTime,
) -> Result<Vec<Rotated>, KeysError> {
    let set = load_key_set(store, kek).await?;
    let (schedule, retire_at) = rotation(now, activation_delay, MAX_TOKEN_LIFETIME);
    let mut done = Vec::new();
    for &alg in algs {
        let key = SigningKey::generate(alg, schedule)?;
        store.insert_signing_key(to_row(kek, &key, now)?).await?;
        let mut retiring = Vec::new();
        for old in set.keys().iter().filter(|k| k.alg() == alg) {
            let schedule = old.schedule();
            if schedule.retired_at.is_none_or(|at| at > retire_at) {
                store.retire_signing_key(old.kid(), retire_at).await?;
                retiring.push((old.kid().to_owned(), retire_at));
            }
        }
        done.push(Rotated {
            alg,
            kid: key.kid().to_owned(),
            active_from: schedule.active_from,
            retiring,
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn kek() -> KeyEncryptionKey {
        KeyEncryptionKey::from_bytes(&[7u8; 32]).unwrap()
    }

    #[tokio::test]
    async fn first_start_generates_one_key_per_algorithm_and_a_second_start_reuses_them() {
        let (store, _dir) = accrete_store::testing::sqlite_store().await;
        let now = OffsetDateTime::now_utc();
        let first = ensure_keys(store.as_ref(), &kek(), now).await.unwrap();
        assert!(first.missing_algorithms(now).is_empty());
        assert_eq!(first.keys().len(), 3);
        let again = ensure_keys(store.as_ref(), &kek(), now).await.unwrap();
        let kids = |set: &KeySet| {
            let mut kids: Vec<String> = set.keys().iter().map(|k| k.kid().to_owned()).collect();
            kids.sort();
            kids
        };
        assert_eq!(kids(&first), kids(&again));
    }

    #[tokio::test]
    async fn two_nodes_starting_at_once_agree_on_the_same_keys() {
        let (store, _dir) = accrete_store::testing::sqlite_store().await;
        let now = OffsetDateTime::now_utc();
        let (one, two) = (kek(), kek());
        let (a, b) = tokio::join!(
            ensure_keys(store.as_ref(), &one, now),
            ensure_keys(store.as_ref(), &two, now)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(store.list_signing_keys().await.unwrap().len(), 3);
        for alg in Alg::ALL {
            assert_eq!(
                a.signing_key(alg, now).unwrap().kid(),
                b.signing_key(alg, now).unwrap().kid()
            );
        }
    }

    #[tokio::test]
    async fn rotation_publishes_at_once_signs_later_and_retires_the_old_key_after_tokens_expire() {
        let (store, _dir) = accrete_store::testing::sqlite_store().await;
        let now = OffsetDateTime::now_utc();
        let before = ensure_keys(store.as_ref(), &kek(), now).await.unwrap();
        let old = before
            .signing_key(Alg::ES256, now)
            .unwrap()
            .kid()
            .to_owned();
        let rotated = rotate(
            store.as_ref(),
            &kek(),
            &[Alg::ES256],
            Duration::minutes(10),
            now,
        )
        .await
        .unwrap();
        let new = rotated[0].kid.clone();
        let set = load_key_set(store.as_ref(), &kek()).await.unwrap();
        let published: Vec<String> = set.jwks(now).keys.into_iter().map(|k| k.kid).collect();
        assert!(published.contains(&new) && published.contains(&old));
        assert_eq!(set.signing_key(Alg::ES256, now).unwrap().kid(), old);
        let later = now + Duration::minutes(11);
        assert_eq!(set.signing_key(Alg::ES256, later).unwrap().kid(), new);
        let after_expiry = now + Duration::minutes(10) + MAX_TOKEN_LIFETIME;
        assert!(set.verification_key(&old, after_expiry).is_none());
        assert!(set.verification_key(&new, after_expiry).is_some());
    }

    #[tokio::test]
    async fn keys_sealed_under_another_master_key_are_skipped_and_replaced() {
        let (store, _dir) = accrete_store::testing::sqlite_store().await;
        let now = OffsetDateTime::now_utc();
        ensure_keys(store.as_ref(), &kek(), now).await.unwrap();
        let other = KeyEncryptionKey::from_bytes(&[9u8; 32]).unwrap();
        let set = ensure_keys(store.as_ref(), &other, now).await.unwrap();
        assert_eq!(set.keys().len(), 3, "only the keys it can open");
        assert!(set.missing_algorithms(now).is_empty());
    }
}
