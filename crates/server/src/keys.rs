//! The signing keys of the running server: loaded from the store and decrypted with the
//! key-encryption key, generated on first start, reloaded periodically (so that a rotation made by
//! another node or by `accrete keys rotate` is seen) and on a token naming an unknown `kid`.
//!
//! Every key gets a random `kid`, so no two keys (of one deployment or of two) share one. Nodes
//! starting at once on an empty database still agree on one key per algorithm: each generates a
//! key and asks the store to insert it only if no key of its algorithm can sign yet
//! ([`Store::insert_signing_key_if_missing`], checked and inserted under one lock); the first
//! node's key is stored, the others store nothing and load the winner's key.
//!
//! A published key that does not open with this node's key-encryption key was sealed under
//! another master key: the node refuses to load keys ([`KeysError::OtherMasterKey`]) rather than
//! serve without them or add keys the other nodes cannot open.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration as StdDuration, Instant};

use accrete_oidc::keys::{
    Alg, KeyEncryptionKey, KeySchedule, KeySet, SealError, SigningKey, rotation,
};
use accrete_store::{Store, StoreError, StoredSigningKey};
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
    /// Published keys in the store do not open with this node's master key.
    #[error(
        "the signing keys in the database were sealed with another master key ({unopened} of \
         {published} published keys do not open with this node's); use the same \
         ACCRETE_MASTER_KEY on every node"
    )]
    OtherMasterKey {
        /// How many published keys do not open.
        unopened: usize,
        /// How many keys are published.
        published: usize,
    },
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

    /// Whether a key set has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.loaded().is_some()
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

    /// Every stored key with its state now (the console's and `accrete keys list`'s view).
    pub async fn rows(
        &self,
        store: &dyn Store,
        now: OffsetDateTime,
    ) -> Result<Vec<KeyRow>, KeysError> {
        key_rows(store, &self.inner.kek, now).await
    }

    /// Rotates the keys of `algs` (see [`rotate`]) and reloads this node's set at once (the
    /// others see the new keys within [`RELOAD_INTERVAL`], before they sign).
    pub async fn rotate(
        &self,
        store: &dyn Store,
        algs: &[Alg],
        activation_delay: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<Rotated>, KeysError> {
        let _guard = self.inner.reloading.lock().await;
        ensure_keys(store, &self.inner.kek, now).await?;
        let done = rotate(store, &self.inner.kek, algs, activation_delay, now).await?;
        self.reload_locked(store).await?;
        Ok(done)
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
    let stored = store.list_signing_keys().await?;
    let keys = stored
        .iter()
        .filter_map(|row| match open(kek, row) {
            Ok(key) => Some(key),
            Err(problem) => {
                tracing::warn!(kid = %row.kid, %problem, "skipping a signing key");
                None
            }
        })
        .collect();
    Ok(KeySet::new(keys))
}

/// The stored keys as a set, refusing published keys sealed under another master key.
fn open_published(
    kek: &KeyEncryptionKey,
    stored: &[StoredSigningKey],
    now: OffsetDateTime,
) -> Result<KeySet, KeysError> {
    let mut keys = Vec::new();
    let (mut published, mut unopened) = (0, 0);
    for row in stored {
        let in_jwks = row.retired_at.is_none_or(|retired| now < retired);
        published += usize::from(in_jwks);
        match open(kek, row) {
            Ok(key) => keys.push(key),
            Err(Unopened::OtherMasterKey(_)) if in_jwks => unopened += 1,
            // A retired key is never used again, whichever key sealed it.
            Err(Unopened::OtherMasterKey(_)) => {}
            Err(problem) => tracing::warn!(kid = %row.kid, %problem, "skipping a signing key"),
        }
    }
    if unopened > 0 {
        return Err(KeysError::OtherMasterKey {
            unopened,
            published,
        });
    }
    Ok(KeySet::new(keys))
}

/// Why a stored key is not in the key set.
#[derive(Debug, thiserror::Error)]
enum Unopened {
    #[error("unknown algorithm {0}")]
    UnknownAlgorithm(String),
    #[error("it does not open with this master key: {0}")]
    OtherMasterKey(String),
    #[error("it does not parse: {0}")]
    Invalid(String),
}

fn open(kek: &KeyEncryptionKey, row: &StoredSigningKey) -> Result<SigningKey, Unopened> {
    let alg = Alg::parse(&row.alg).ok_or_else(|| Unopened::UnknownAlgorithm(row.alg.clone()))?;
    let schedule = KeySchedule {
        active_from: row.active_from,
        retired_at: row.retired_at,
    };
    let der = kek
        .open(&row.kid, &row.private_key)
        .map_err(|e| Unopened::OtherMasterKey(e.to_string()))?;
    SigningKey::from_pkcs8(row.kid.clone(), alg, &der, schedule)
        .map_err(|e| Unopened::Invalid(e.to_string()))
}

/// Loads the stored keys and generates a key for each algorithm that has none able to sign now.
/// Safe when several nodes run it at once (see the module documentation). Fails with
/// [`KeysError::OtherMasterKey`] when published keys were sealed under another master key.
pub async fn ensure_keys(
    store: &dyn Store,
    kek: &KeyEncryptionKey,
    now: OffsetDateTime,
) -> Result<KeySet, KeysError> {
    let set = open_published(kek, &store.list_signing_keys().await?, now)?;
    let missing = set.missing_algorithms(now);
    if missing.is_empty() {
        return Ok(set);
    }
    for alg in missing {
        let key = SigningKey::generate(alg, KeySchedule::immediately(now))?;
        if store
            .insert_signing_key_if_missing(to_row(kek, &key, now)?, now)
            .await?
        {
            tracing::info!(kid = %key.kid(), %alg, "generated a signing key");
        }
        // Otherwise another node stored its key first: it is loaded below.
    }
    open_published(kek, &store.list_signing_keys().await?, now)
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

/// A stored signing key as people are shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub alg: String,
    pub kid: String,
    /// `signing`, `next` (published, signs later), `published` (verifies tokens it signed),
    /// `retired`, or `unusable` (sealed under another master key).
    pub state: &'static str,
    pub active_from: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

/// Every stored key with its state at `now`.
pub async fn key_rows(
    store: &dyn Store,
    kek: &KeyEncryptionKey,
    now: OffsetDateTime,
) -> Result<Vec<KeyRow>, KeysError> {
    let rows = store.list_signing_keys().await?;
    let set = load_key_set(store, kek).await?;
    Ok(rows
        .into_iter()
        .map(|row| KeyRow {
            state: key_state(
                &set,
                &row.kid,
                &row.alg,
                row.active_from,
                row.retired_at,
                now,
            ),
            alg: row.alg,
            kid: row.kid,
            active_from: row.active_from,
            retired_at: row.retired_at,
        })
        .collect())
}

fn key_state(
    set: &KeySet,
    kid: &str,
    alg: &str,
    active_from: OffsetDateTime,
    retired_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> &'static str {
    if !set.keys().iter().any(|k| k.kid() == kid) {
        return "unusable";
    }
    if retired_at.is_some_and(|at| at <= now) {
        return "retired";
    }
    if active_from > now {
        return "next";
    }
    let signing = Alg::parse(alg)
        .and_then(|alg| set.signing_key(alg, now))
        .is_some_and(|key| key.kid() == kid);
    if signing { "signing" } else { "published" }
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
    async fn keys_sealed_under_another_master_key_are_refused_and_not_replaced() {
        let (store, _dir) = accrete_store::testing::sqlite_store().await;
        let now = OffsetDateTime::now_utc();
        ensure_keys(store.as_ref(), &kek(), now).await.unwrap();
        let other = KeyEncryptionKey::from_bytes(&[9u8; 32]).unwrap();
        let refused = ensure_keys(store.as_ref(), &other, now).await.unwrap_err();
        assert!(
            matches!(
                refused,
                KeysError::OtherMasterKey {
                    unopened: 3,
                    published: 3
                }
            ),
            "{refused}"
        );
        assert_eq!(
            store.list_signing_keys().await.unwrap().len(),
            3,
            "no key added"
        );
        assert!(ensure_keys(store.as_ref(), &kek(), now).await.is_ok());
    }

    #[tokio::test]
    async fn a_retired_key_sealed_under_another_master_key_does_not_stop_the_keys() {
        let (store, _dir) = accrete_store::testing::sqlite_store().await;
        let now = OffsetDateTime::now_utc();
        let other = KeyEncryptionKey::from_bytes(&[9u8; 32]).unwrap();
        let old = SigningKey::generate(Alg::ES256, KeySchedule::immediately(now)).unwrap();
        store
            .insert_signing_key(to_row(&other, &old, now).unwrap())
            .await
            .unwrap();
        store.retire_signing_key(old.kid(), now).await.unwrap();
        let set = ensure_keys(store.as_ref(), &kek(), now).await.unwrap();
        assert!(set.missing_algorithms(now).is_empty());
        assert!(set.keys().iter().all(|key| key.kid() != old.kid()));
    }
}
