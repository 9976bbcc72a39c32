//! [`App`]: the store and this node's caches, which every use-case works with.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use accrete_core::CompiledPolicy;
use accrete_store::{Store, StoreError};

use crate::clients::ClientCache;
use crate::connections::Federation;
use crate::hashing::HashingPool;
use crate::policy::PolicyCache;
use crate::settings::Settings;

/// What every use-case works with: the store and this node's caches. One per server, shared.
pub struct App {
    pub(crate) store: Arc<dyn Store>,
    issuer: String,
    /// Registered clients, kept for a few seconds.
    pub clients: ClientCache,
    /// The bounded pool that runs Argon2id.
    pub hashing: HashingPool,
    policy: PolicyCache,
    /// Connections to upstream identity providers and the client that talks to them.
    pub federation: Federation,
    /// When this node last swept abandoned prompts (unix seconds).
    pub(crate) last_sweep: AtomicI64,
    /// The operator's settings of accounts and lifetimes.
    settings: Settings,
}

impl App {
    /// The use-cases over `store`, for the server reachable at `issuer`.
    pub fn new(
        store: Arc<dyn Store>,
        issuer: String,
        hashing: HashingPool,
        federation: Federation,
    ) -> App {
        App {
            store,
            issuer,
            clients: ClientCache::default(),
            hashing,
            policy: PolicyCache::default(),
            federation,
            last_sweep: AtomicI64::new(0),
            settings: Settings::default(),
        }
    }

    /// The same use-cases with the operator's `settings` (instead of the defaults).
    pub fn with_settings(self, settings: Settings) -> App {
        App { settings, ..self }
    }

    /// The operator's settings of accounts and lifetimes.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The storage port.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The issuer identifier (the `iss` of redirects back to clients).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The published policy on this node (`None`: no policy, a plain identity server).
    pub async fn policy(&self) -> Result<Option<Arc<CompiledPolicy>>, StoreError> {
        self.policy.current(self.store.as_ref()).await
    }

    /// Makes the next request re-read the published version (after a publish on this node).
    pub fn policy_changed(&self) {
        self.policy.invalidate();
    }
}
