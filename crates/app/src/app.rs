//! [`App`]: the store and this node's caches, which every use-case works with.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use accrete_core::CompiledPolicy;
use accrete_store::{Store, StoreError};

use crate::account_mail::AccountMail;
use crate::clients::ClientCache;
use crate::companion::spec::Companions;
use crate::connections::Federation;
use crate::hashing::HashingPool;
use crate::hooks::Hooks;
use crate::mfa::keys::FactorKeys;
use crate::passkeys::{RelyingParty, Unavailable};
use crate::policy::PolicyCache;
use crate::settings::Settings;
use crate::theme::cache::ThemeCache;
use crate::theme::rules::Theme;
use crate::webhooks::settings::{WebhookKeys, WebhookSettings};

/// What every use-case works with: the store and this node's caches. One per server, shared.
pub struct App {
    pub(crate) store: Arc<dyn Store>,
    issuer: String,
    /// Registered clients, kept for a few seconds.
    pub clients: ClientCache,
    /// The bounded pool that runs Argon2id.
    pub hashing: HashingPool,
    policy: PolicyCache,
    theme: ThemeCache,
    /// Connections to upstream identity providers and the client that talks to them.
    pub federation: Federation,
    /// When this node last swept abandoned prompts (unix seconds).
    pub(crate) last_sweep: AtomicI64,
    /// The operator's settings of accounts and lifetimes.
    settings: Settings,
    /// The account mail (codes, links, notices) and the keyed hash of its proofs.
    pub(crate) mail: AccountMail,
    /// The key sealing authenticator-app secrets and the hash of recovery codes.
    pub(crate) factors: FactorKeys,
    /// The relying party of passkeys (from the issuer), or why there is none.
    pub(crate) passkeys: Result<RelyingParty, Unavailable>,
    /// How webhooks are called.
    pub(crate) webhook_settings: WebhookSettings,
    /// The key sealing webhook signing secrets.
    pub(crate) webhook_keys: Arc<WebhookKeys>,
    /// The synchronous hooks (none by default).
    pub(crate) hooks: Arc<Hooks>,
    /// The identity providers Accrete is the companion of (none by default).
    pub(crate) companions: Arc<Companions>,
    /// The import jobs this node runs.
    pub(crate) jobs: Arc<crate::import_jobs::running::Running>,
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
            passkeys: RelyingParty::for_issuer(&issuer),
            store,
            issuer,
            clients: ClientCache::default(),
            hashing,
            policy: PolicyCache::default(),
            theme: ThemeCache::default(),
            federation,
            last_sweep: AtomicI64::new(0),
            settings: Settings::default(),
            mail: AccountMail::disabled(),
            factors: FactorKeys::ephemeral(),
            webhook_settings: WebhookSettings::default(),
            webhook_keys: Arc::new(WebhookKeys::ephemeral()),
            hooks: Arc::new(Hooks::none()),
            companions: Arc::new(Companions::default()),
            jobs: Arc::default(),
        }
    }

    /// The same use-cases with the operator's `settings` (instead of the defaults).
    pub fn with_settings(self, settings: Settings) -> App {
        App { settings, ..self }
    }

    /// The same use-cases with the configuration's theme of the hosted pages (the base that a
    /// theme saved at run time overrides).
    #[must_use]
    pub fn with_base_theme(mut self, base: Theme) -> App {
        self.theme = ThemeCache::new(base);
        self
    }

    /// The server's theme of the hosted pages on this node (see `crate::theme`).
    pub async fn theme(&self) -> Result<Arc<Theme>, StoreError> {
        self.theme.current(self.store.as_ref()).await
    }

    /// The cache of the server's theme (its base, its last value).
    pub fn theme_cache(&self) -> &ThemeCache {
        &self.theme
    }

    /// Makes the next request re-read the server's theme (after a save on this node).
    pub fn theme_changed(&self) {
        self.theme.invalidate();
    }

    /// The operator's settings of accounts and lifetimes.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The same use-cases sending the account mail through `mail` (none by default).
    #[must_use]
    pub fn with_account_mail(mut self, mail: AccountMail) -> App {
        self.mail = mail;
        self
    }

    /// The same use-cases protecting second factors with `keys` (keys of this process only by
    /// default).
    #[must_use]
    pub fn with_factor_keys(mut self, keys: FactorKeys) -> App {
        self.factors = keys;
        self
    }

    /// The same use-cases calling webhooks as `settings` say, their secrets sealed with `keys`
    /// (keys of this process only by default).
    #[must_use]
    pub fn with_webhooks(mut self, settings: WebhookSettings, keys: WebhookKeys) -> App {
        self.webhook_settings = settings;
        self.webhook_keys = Arc::new(keys);
        self
    }

    /// The same use-cases calling `hooks` (none by default).
    #[must_use]
    pub fn with_hooks(mut self, hooks: Hooks) -> App {
        self.hooks = Arc::new(hooks);
        self
    }

    /// The same use-cases as the companion of `companions` (none by default).
    #[must_use]
    pub fn with_companions(mut self, companions: Companions) -> App {
        self.companions = Arc::new(companions);
        self
    }

    /// The companion `name`, if configured.
    pub fn companion(&self, name: &str) -> Option<&crate::companion::spec::Companion> {
        self.companions.get(name)
    }

    /// The synchronous hooks.
    pub fn hooks(&self) -> &Hooks {
        &self.hooks
    }

    /// How webhooks are called.
    pub fn webhook_settings(&self) -> &WebhookSettings {
        &self.webhook_settings
    }

    /// The product's name as people read it (mails, authenticator apps).
    pub fn product_name(&self) -> &str {
        &self.mail.brand.product_name
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

#[cfg(test)]
impl App {
    /// An application on `store` for this crate's tests: the issuer `issuer`, one hashing
    /// thread (with room for four in its queue) and no upstream providers.
    pub(crate) fn for_tests(store: Arc<dyn Store>, issuer: &str) -> App {
        App::new(
            store,
            issuer.to_owned(),
            HashingPool::new(1, 4),
            Federation::for_tests(),
        )
    }
}
