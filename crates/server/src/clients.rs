//! Registered clients as the protocol endpoints read them: from the store, kept for a few
//! seconds.
//!
//! Every token, authorization and revocation request names a client, so reading it from the
//! database each time would cost a database round trip per request. Entries are kept for
//! [`CLIENT_CACHE_TTL`]; this node forgets an entry at once when it changes or deletes the client,
//! and a change made elsewhere (another node, `accrete client ...` against the same database) is
//! seen within the TTL. Unknown ids are never cached, so they cannot fill the cache, and a client
//! created anywhere is usable at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use accrete_store::{Client, Store, StoreError};

/// How long a client read from the store is used without reading it again.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(5);

/// Most clients kept at once; beyond it the cache starts over.
const CAPACITY: usize = 10_000;

/// A short-lived cache of clients in front of the store.
#[derive(Clone, Default)]
pub struct ClientCache {
    entries: Arc<Mutex<HashMap<String, (Client, Instant)>>>,
}

impl ClientCache {
    /// The client `id`, from the cache when read less than [`CLIENT_CACHE_TTL`] ago.
    pub async fn get(&self, store: &dyn Store, id: &str) -> Result<Option<Client>, StoreError> {
        if let Some(client) = self.fresh(id) {
            return Ok(Some(client));
        }
        let client = store.get_client(id).await?;
        if let Some(client) = &client {
            let mut entries = self.lock();
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(id.to_owned(), (client.clone(), Instant::now()));
        }
        Ok(client)
    }

    /// Drops what this node knows of `id`; call it after changing or deleting the client.
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn fresh(&self, id: &str) -> Option<Client> {
        let entries = self.lock();
        let (client, at) = entries.get(id)?;
        (at.elapsed() < CLIENT_CACHE_TTL).then(|| client.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Client, Instant)>> {
        // The map holds no invariant a panicking holder could break.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use accrete_store::ConnectOptions;
    use time::OffsetDateTime;

    fn client(id: &str, name: &str) -> Client {
        let now = OffsetDateTime::now_utc();
        Client {
            id: id.to_owned(),
            secret_hash: None,
            name: name.to_owned(),
            redirect_uris: vec!["https://app.example/cb".to_owned()],
            post_logout_redirect_uris: vec![],
            grant_types: vec!["authorization_code".to_owned()],
            scopes: vec!["openid".to_owned()],
            audience: vec![],
            public: true,
            id_token_alg: "RS256".to_owned(),
            allowed_origins: vec![],
            theme: serde_json::json!({}),
            created_at: now,
            updated_at: now,
        }
    }

    #[tokio::test]
    async fn a_cached_client_is_reused_until_forgotten_and_unknown_ids_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let store = accrete_store::connect(&url, ConnectOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let cache = ClientCache::default();
        assert_eq!(cache.get(store.as_ref(), "web").await.unwrap(), None);
        store.create_client(client("web", "Web")).await.unwrap();
        // A miss is not remembered: the new client is seen at once.
        let first = cache.get(store.as_ref(), "web").await.unwrap().unwrap();
        assert_eq!(first.name, "Web");
        store.update_client(client("web", "Renamed")).await.unwrap();
        let cached = cache.get(store.as_ref(), "web").await.unwrap().unwrap();
        assert_eq!(cached.name, "Web", "served from the cache within the TTL");
        cache.forget("web");
        let reread = cache.get(store.as_ref(), "web").await.unwrap().unwrap();
        assert_eq!(reread.name, "Renamed");
    }
}
