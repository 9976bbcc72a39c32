//! Registered clients as the protocol endpoints read them: from the store, kept for a few
//! seconds.
//!
//! Every token, authorization and revocation request names a client, so reading it from the
//! database each time would cost a database round trip per request. Entries are kept for
//! [`CLIENT_CACHE_TTL`]; this node forgets an entry at once when it changes or deletes the client,
//! and a change made elsewhere (another node, `accrete client ...` against the same database) is
//! seen within the TTL. Unknown ids are never cached, so they cannot fill the cache, and a client
//! created anywhere is usable at once.
//!
//! Bearer tokens are checked against it too ([`ClientCache::holds_token_issued_at`]): a deleted client's access
//! tokens are refused at once on the node that deleted it, within the TTL on the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use accrete_oidc::client::{ClientView, GrantType};
use accrete_oidc::keys::Alg;
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
        self.get_at(store, id, Instant::now()).await
    }

    /// Whether the client `id` exists and existed when a token of it was issued at `issued_at`
    /// (seconds since the epoch, the token's `iat`), as bearer-token checks ask it: a cache hit
    /// (without a copy of the client) when it was read less than [`CLIENT_CACHE_TTL`] ago, so a
    /// client deleted on another node is refused here within that time, and a client deleted and
    /// registered again under the same id does not accept its predecessor's tokens.
    pub async fn holds_token_issued_at(
        &self,
        store: &dyn Store,
        id: &str,
        issued_at: i64,
    ) -> Result<bool, StoreError> {
        self.holds_token_at(store, id, issued_at, Instant::now())
            .await
    }

    /// Deletes the client `id` with its authorization transactions, grants, codes and refresh
    /// tokens (one statement: they cascade), and forgets it on this node at once. The one way
    /// to delete a client, for the API and `accrete client delete` alike (the command has a cache
    /// of its own: running servers notice within [`CLIENT_CACHE_TTL`]).
    pub async fn delete(&self, store: &dyn Store, id: &str) -> Result<(), StoreError> {
        let deleted = store.delete_client(id).await;
        self.forget(id);
        deleted
    }

    /// Drops what this node knows of `id`; call it after changing or deleting the client.
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// [`ClientCache::get`] at a given instant (time is passed in for tests).
    async fn get_at(
        &self,
        store: &dyn Store,
        id: &str,
        now: Instant,
    ) -> Result<Option<Client>, StoreError> {
        if let Some(client) = self.fresh(id, now) {
            return Ok(Some(client));
        }
        let client = store.get_client(id).await?;
        let mut entries = self.lock();
        match &client {
            Some(client) => {
                if entries.len() >= CAPACITY {
                    entries.clear();
                }
                entries.insert(id.to_owned(), (client.clone(), now));
            }
            // Deleted since it was cached: the stale entry goes too.
            None => {
                entries.remove(id);
            }
        }
        Ok(client)
    }

    /// [`ClientCache::holds_token_issued_at`] at a given instant.
    async fn holds_token_at(
        &self,
        store: &dyn Store,
        id: &str,
        issued_at: i64,
        now: Instant,
    ) -> Result<bool, StoreError> {
        // Whole seconds, as `iat` is: a token issued in the second of the registration counts.
        let existed = |client: &Client| client.created_at.unix_timestamp() <= issued_at;
        if let Some(existed) = self.fresh_with(id, now, existed) {
            return Ok(existed);
        }
        Ok(self
            .get_at(store, id, now)
            .await?
            .is_some_and(|c| existed(&c)))
    }

    fn fresh(&self, id: &str, now: Instant) -> Option<Client> {
        let entries = self.lock();
        let (client, at) = entries.get(id)?;
        (now.saturating_duration_since(*at) < CLIENT_CACHE_TTL).then(|| client.clone())
    }

    /// `test` of the cached client `id`, if its entry is fresh.
    fn fresh_with<T>(&self, id: &str, now: Instant, test: impl Fn(&Client) -> T) -> Option<T> {
        let entries = self.lock();
        let (client, at) = entries.get(id)?;
        (now.saturating_duration_since(*at) < CLIENT_CACHE_TTL).then(|| test(client))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Client, Instant)>> {
        // The map holds no invariant a panicking holder could break.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The protocol's view of a stored client.
pub fn client_view(client: &Client) -> ClientView {
    ClientView {
        id: client.id.clone(),
        redirect_uris: client.redirect_uris.clone(),
        post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
        public: client.public,
        allowed_scopes: client.scopes.clone(),
        grant_types: client
            .grant_types
            .iter()
            .filter_map(|g| GrantType::parse(g))
            .collect(),
        id_token_alg: Alg::parse(&client.id_token_alg).unwrap_or(Alg::RS256),
    }
}

#[cfg(test)]
mod tests {
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
            connections: None,
            password_signin: true,
            self_signup: None,
            email_verification: None,
            mfa: None,
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

    async fn sqlite() -> (std::sync::Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let store = accrete_store::connect(&url, ConnectOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        (store, dir)
    }

    #[tokio::test]
    async fn a_client_deleted_elsewhere_stops_existing_here_once_its_entry_is_older_than_the_ttl() {
        let (store, _dir) = sqlite().await;
        store.create_client(client("web", "Web")).await.unwrap();
        let node = ClientCache::default();
        let t0 = Instant::now();
        assert!(
            node.holds_token_at(store.as_ref(), "web", i64::MAX, t0)
                .await
                .unwrap()
        );
        // Another node, or `accrete client delete` with a cache of its own.
        ClientCache::default()
            .delete(store.as_ref(), "web")
            .await
            .unwrap();
        let within = t0 + CLIENT_CACHE_TTL - Duration::from_millis(1);
        assert!(
            node.holds_token_at(store.as_ref(), "web", i64::MAX, within)
                .await
                .unwrap(),
            "still cached"
        );
        let after = t0 + CLIENT_CACHE_TTL;
        assert!(
            !node
                .holds_token_at(store.as_ref(), "web", i64::MAX, after)
                .await
                .unwrap()
        );
        assert!(
            !node
                .holds_token_at(store.as_ref(), "web", i64::MAX, within)
                .await
                .unwrap(),
            "a miss is not cached"
        );
    }

    #[tokio::test]
    async fn deleting_a_client_forgets_it_on_this_node_at_once() {
        let (store, _dir) = sqlite().await;
        store.create_client(client("web", "Web")).await.unwrap();
        let node = ClientCache::default();
        assert!(
            node.holds_token_issued_at(store.as_ref(), "web", i64::MAX)
                .await
                .unwrap()
        );
        node.delete(store.as_ref(), "web").await.unwrap();
        assert!(
            !node
                .holds_token_issued_at(store.as_ref(), "web", i64::MAX)
                .await
                .unwrap()
        );
        assert!(matches!(
            node.delete(store.as_ref(), "web").await,
            Err(StoreError::NotFound)
        ));
    }
}
