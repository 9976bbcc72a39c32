//! State shared by every handler.

use std::sync::Arc;

use accrete_store::Store;

use accrete_app::App;
use accrete_app::account_mail::AccountMail;
use accrete_app::connections::Federation;
use accrete_app::hashing::HashingPool;
use accrete_app::hooks::Hooks;
use accrete_app::mfa::keys::FactorKeys;
use accrete_app::webhooks::WebhookKeys;
use accrete_federation::{HttpOptions, Upstream};
use accrete_mail::{Brand, MailSettings, Mailer};
use accrete_sms::SmsSender;

use crate::config::Config;
use crate::hosted::templates::Pages;
use crate::ratelimit::RateLimits;
use crate::secrets::{SecretsError, ServerSecrets};

/// Shared application state: one allocation, so that the clone every handler and middleware
/// takes is a single reference count (and key material is never copied).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// The storage port.
    pub store: Arc<dyn Store>,
    /// Keys derived from the master secret.
    pub secrets: ServerSecrets,
    /// Hosted page templates.
    pub pages: Arc<Pages>,
    /// Rate limits of credential endpoints.
    pub limits: RateLimits,
    /// The signing keys (loaded from the store, reloaded to see rotations).
    pub keys: crate::keys::KeyManager,
    /// The access tokens whose signature this node verified with those keys.
    pub verified_tokens: crate::oauth::VerifiedTokens,
    /// The use-cases, with the store and this node's caches (clients, published policy).
    pub app: App,
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Store(#[from] accrete_store::StoreError),
    #[error("{0}")]
    Invalid(String),
}

/// The use-cases over `store` as `config` and the master key's `secrets` set them up: what a
/// server runs, and what the commands that administer one (`accrete connection ...`) run, so
/// that both seal and open connection secrets alike.
pub fn build_app(
    config: &Config,
    store: Arc<dyn Store>,
    secrets: &ServerSecrets,
) -> Result<App, StartError> {
    let upstream = Upstream::new(HttpOptions {
        timeout: std::time::Duration::from_secs(config.federation.timeout_seconds),
        allow_loopback_http: config.federation.allow_loopback_http,
        ..HttpOptions::default()
    })
    .map_err(|e| StartError::Invalid(e.to_string()))?;
    let federation = Federation::new(
        upstream,
        &secrets.key_encryption_key,
        secrets.federation_hasher.clone(),
    )
    .map_err(|e| StartError::Invalid(e.to_string()))?;
    Ok(App::new(
        store,
        config.issuer(),
        HashingPool::new(config.hashing.concurrency, config.hashing.queue),
        federation,
    )
    .with_settings(config.settings())
    .with_account_mail(account_mail(config, secrets)?)
    .with_factor_keys(
        FactorKeys::new(&secrets.key_encryption_key, secrets.account_hasher.clone())
            .map_err(|e| StartError::Invalid(e.to_string()))?,
    )
    .with_webhooks(
        config.webhooks.settings(),
        WebhookKeys::new(&secrets.key_encryption_key)
            .map_err(|e| StartError::Invalid(e.to_string()))?,
    )
    .with_hooks(
        Hooks::new(config.hooks.clone(), &config.webhooks.settings())
            .map_err(StartError::Invalid)?,
    )
    .with_companions(
        accrete_app::companion::Companions::new(
            config.companions.clone(),
            &config.webhooks.settings(),
        )
        .map_err(StartError::Invalid)?,
    ))
}

/// The account mail of `config`: SMTP or the outbox in the data folder, under the server's
/// brand.
fn account_mail(config: &Config, secrets: &ServerSecrets) -> Result<AccountMail, StartError> {
    let settings = MailSettings {
        smtp_url: config.email.smtp_url.clone(),
        from_address: config.email.from_address.clone(),
        from_name: config.email.from_name.clone(),
        ..MailSettings::default()
    }
    .outbox_in(&config.data_dir);
    let mailer = Mailer::new(settings).map_err(|e| StartError::Invalid(e.to_string()))?;
    let look = &config.theme.look;
    let issuer = config.issuer();
    let brand = Brand {
        product_name: look.brand.clone().unwrap_or_else(|| "Accrete".to_owned()),
        accent_color: look.primary.clone(),
        // A path on this server is made absolute: a mail is read elsewhere.
        logo_url: look.logo_url.as_ref().map(|logo| {
            if logo.starts_with('/') {
                format!("{}{logo}", issuer.trim_end_matches('/'))
            } else {
                logo.clone()
            }
        }),
    };
    let product = brand.product_name.clone();
    let sms = SmsSender::new(&config.sms.sender_settings(&config.data_dir), &product)
        .map_err(|e| StartError::Invalid(e.to_string()))?;
    Ok(AccountMail::new(mailer, secrets.account_hasher.clone(), brand).with_sms(sms))
}

impl AppState {
    /// Builds the state from its parts, loading (or creating) the master secret.
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>) -> Result<AppState, StartError> {
        let secrets = ServerSecrets::load(config.master_key.as_deref(), &config.data_dir)?;
        let keys = crate::keys::KeyManager::new(&secrets.key_encryption_key)
            .map_err(|e| StartError::Invalid(e.to_string()))?;
        let pages =
            Pages::from_settings(&config.theme).map_err(|e| StartError::Invalid(e.to_string()))?;
        // The configuration's theme (with `css_file` read) is the base of the saved one.
        let app = build_app(&config, store.clone(), &secrets)?
            .with_base_theme(pages.theme().as_ref().clone());
        Ok(AppState(Arc::new(Shared {
            keys,
            verified_tokens: crate::oauth::VerifiedTokens::default(),
            pages: Arc::new(pages),
            app,
            limits: RateLimits::new(
                config.rate_limit.per_ip_per_minute,
                config.rate_limit.per_account_per_minute,
            ),
            config,
            store,
            secrets,
        })))
    }

    /// Whether cookies must carry `Secure` (the issuer is served over HTTPS).
    pub fn secure_cookies(&self) -> bool {
        self.config.issuer().starts_with("https://")
    }
}
