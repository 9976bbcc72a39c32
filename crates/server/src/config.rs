//! Server settings: one struct, resolved from defaults, a TOML file, `ACCRETE_*` environment
//! variables and command-line flags, in increasing order of precedence.
//!
//! Every layer is deserialised on its own into [`Layer`] with unknown keys refused, so an error
//! names the layer it came from (file and line, or the environment variable) and the key.

mod accounts;
#[cfg(test)]
mod accounts_and_lifetimes_tests;
#[cfg(test)]
mod companion_tests;
#[cfg(test)]
mod hooks_tests;
mod lifetimes;
mod retention;
#[cfg(test)]
mod retention_tests;
mod sms;
mod webhooks;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use accrete_app::companion::CompanionSpec;
use accrete_app::hooks::spec::HookSpec;
use accrete_app::settings::Settings;
use accrete_federation::spec::ConnectionSpec;
use accrete_store::mask_url;
use serde::{Deserialize, Serialize};

use crate::hosted::theme::Theme;

pub use accounts::{AccountsLayer, AccountsSettings};
pub use lifetimes::{Idle, LifetimesLayer, LifetimesSettings};
pub use retention::{RetentionConfig, RetentionLayer};
pub use sms::{SmsConfig, SmsLayer};
pub use webhooks::{WebhooksConfig, WebhooksLayer};

/// The effective configuration of a server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Folder for the embedded database, generated keys and the lock file.
    pub data_dir: PathBuf,
    /// Database URL; `None` means the embedded SQLite database in `data_dir`.
    pub database_url: Option<String>,
    /// Public base URL (the OpenID Connect issuer). Defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A `tracing` filter directive such as `info` or `accrete=debug,info`.
    pub log_level: String,
    /// Base64 master secret from which key-encryption and token-hashing keys are derived.
    /// `None` means a key file generated in `data_dir`.
    pub master_key: Option<String>,
    /// A policy document imported at start when the database has no policy yet.
    pub policy: Option<PathBuf>,
    /// Whether the `policy` file is published at start even over a different policy in force
    /// (one published since through the API or `accrete policy import`).
    pub policy_wins: bool,
    /// Bounded pool for password hashing.
    pub hashing: Hashing,
    /// Rate limits on credential endpoints.
    pub rate_limit: RateLimit,
    /// The server's theme of the hosted pages.
    pub theme: ThemeSettings,
    /// Calls to upstream identity providers.
    pub federation: FederationSettings,
    /// Outgoing mail (verification codes, reset links, notices).
    pub email: EmailSettings,
    /// Text messages with a code (verifying a phone number, signing in).
    pub sms: SmsConfig,
    /// Self sign-up and email verification, server-wide.
    pub accounts: AccountsSettings,
    /// How long tokens, sessions and authorization transactions last.
    pub lifetimes: LifetimesSettings,
    /// How webhooks are called.
    pub webhooks: WebhooksConfig,
    /// How long the history of values and the events are kept.
    pub retention: RetentionConfig,
    /// Connections to upstream identity providers, created or replaced at start (the
    /// `[[connections]]` tables of the file).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ConnectionSpec>,
    /// Synchronous hooks (the `[[hooks]]` tables of the file; see docs/hooks.md).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookSpec>,
    /// Identity providers Accrete is the companion of (the `[[companions]]` tables of the file;
    /// see docs/companion.md).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub companions: Vec<CompanionSpec>,
}

/// The `[federation]` settings: how Accrete calls upstream identity providers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FederationSettings {
    /// Seconds an upstream call may take (connect and answer) before the sign-in fails.
    pub timeout_seconds: u64,
    /// Whether plain `http://` is allowed to a provider on this machine (127.0.0.1, ::1,
    /// localhost): for development and tests only; every other provider is called over HTTPS.
    pub allow_loopback_http: bool,
}

/// The `[email]` settings: how account mail leaves (see docs/email.md). Without `smtp_url`,
/// mail is written to `<data_dir>/outbox` and its link or code logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailSettings {
    /// `smtp://user:password@host:587?tls=required` (STARTTLS), `smtps://host:465`, or
    /// `smtp://host:25` (a local relay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    /// The sender's address.
    pub from_address: String,
    /// The sender's name.
    pub from_name: String,
}

/// The `[theme]` of the hosted pages: the look every client's theme falls back to, and a
/// folder of template overrides (see docs/theming.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ThemeSettings {
    /// Brand, logo, colours and custom CSS.
    #[serde(flatten)]
    pub look: Theme,
    /// A file of custom CSS read at start (instead of `css`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub css_file: Option<PathBuf>,
    /// A folder of templates that replace the built-in ones of the same name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templates: Option<PathBuf>,
}

/// Attempts a minute allowed on credential endpoints (sign-in, sign-up, token); 0 disables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLimit {
    /// Per client IP address.
    pub per_ip_per_minute: u32,
    /// Per account (email or client id).
    pub per_account_per_minute: u32,
}

/// Settings of the bounded password-hashing pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hashing {
    /// Hashes computed at once (defaults to the number of cores).
    pub concurrency: usize,
    /// Requests allowed to wait for a hashing slot; beyond it the server answers 503.
    pub queue: usize,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// One source of settings; every key optional, unknown keys refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub master_key: Option<String>,
    pub policy: Option<PathBuf>,
    pub policy_wins: Option<bool>,
    pub hashing: Option<HashingLayer>,
    pub rate_limit: Option<RateLimitLayer>,
    pub theme: Option<ThemeLayer>,
    pub federation: Option<FederationLayer>,
    pub email: Option<EmailLayer>,
    pub sms: Option<SmsLayer>,
    pub accounts: Option<AccountsLayer>,
    pub lifetimes: Option<LifetimesLayer>,
    pub webhooks: Option<WebhooksLayer>,
    pub retention: Option<RetentionLayer>,
    /// `[[connections]]`: a list, taken whole from the highest layer that has one.
    pub connections: Option<Vec<ConnectionSpec>>,
    /// `[[hooks]]`: a list, taken whole from the highest layer that has one.
    pub hooks: Option<Vec<HookSpec>>,
    /// `[[companions]]`: a list, taken whole from the highest layer that has one.
    pub companions: Option<Vec<CompanionSpec>>,
}

/// The `[federation]` table of a [`Layer`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationLayer {
    pub timeout_seconds: Option<u64>,
    pub allow_loopback_http: Option<bool>,
}

/// The `[email]` table of a [`Layer`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailLayer {
    pub smtp_url: Option<String>,
    pub from_address: Option<String>,
    pub from_name: Option<String>,
}

/// The `[theme]` table of a [`Layer`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeLayer {
    pub brand: Option<String>,
    pub logo_url: Option<String>,
    pub primary: Option<String>,
    pub primary_text: Option<String>,
    pub background: Option<String>,
    pub surface: Option<String>,
    pub text: Option<String>,
    pub css: Option<String>,
    pub css_file: Option<PathBuf>,
    pub templates: Option<PathBuf>,
}

impl ThemeLayer {
    /// Returns `self` with unset keys taken from `lower`.
    fn over(self, lower: ThemeLayer) -> ThemeLayer {
        ThemeLayer {
            brand: self.brand.or(lower.brand),
            logo_url: self.logo_url.or(lower.logo_url),
            primary: self.primary.or(lower.primary),
            primary_text: self.primary_text.or(lower.primary_text),
            background: self.background.or(lower.background),
            surface: self.surface.or(lower.surface),
            text: self.text.or(lower.text),
            css: self.css.or(lower.css),
            css_file: self.css_file.or(lower.css_file),
            templates: self.templates.or(lower.templates),
        }
    }

    /// The resolved settings; an empty value (as from `ACCRETE_THEME__LOGO_URL=`) is unset.
    fn settings(self) -> ThemeSettings {
        let set = |value: Option<String>| value.filter(|v| !v.is_empty());
        ThemeSettings {
            look: Theme {
                brand: set(self.brand),
                logo_url: set(self.logo_url),
                primary: set(self.primary),
                primary_text: set(self.primary_text),
                background: set(self.background),
                surface: set(self.surface),
                text: set(self.text),
                css: set(self.css),
            },
            css_file: self.css_file.filter(|p| !p.as_os_str().is_empty()),
            templates: self.templates.filter(|p| !p.as_os_str().is_empty()),
        }
    }
}

/// The `[rate_limit]` table of a [`Layer`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitLayer {
    pub per_ip_per_minute: Option<u32>,
    pub per_account_per_minute: Option<u32>,
}

/// The `[hashing]` table of a [`Layer`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashingLayer {
    pub concurrency: Option<usize>,
    pub queue: Option<usize>,
}

/// Why the configuration could not be resolved. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Environment variables with the `ACCRETE_` prefix that are not settings: the configuration
/// file's path, and the binary the project's scripts run (`scripts/schemathesis`).
const NON_SETTING_VARS: &[&str] = &["ACCRETE_CONFIG", "ACCRETE_BIN"];

/// An `ACCRETE_*` environment variable that names no setting. It is ignored (a warning, not an
/// error: the environment is shared with other tools; a file's unknown key is still refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEnvVar {
    /// The variable, e.g. `ACCRETE_LISTN`.
    pub var: String,
    /// The setting's variable with the closest name, e.g. `ACCRETE_LISTEN`.
    pub closest: Option<String>,
}

impl std::fmt::Display for UnknownEnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "environment variable {} is not an Accrete setting and is ignored",
            self.var
        )?;
        match &self.closest {
            Some(closest) => write!(f, "; the closest setting is {closest}"),
            None => Ok(()),
        }
    }
}

impl Layer {
    /// Parses a TOML configuration file's text.
    pub fn from_toml(path: &Path, text: &str) -> Result<Layer, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: describe_toml_error(&e, text),
        })
    }

    /// Collects `ACCRETE_*` variables: `ACCRETE_LISTEN` sets `listen`, `ACCRETE_HASHING__QUEUE`
    /// sets `hashing.queue`. Variables under `ACCRETE_TEST_` belong to the test suite; other
    /// variables that name no setting are ignored (see [`Layer::from_env_noting_unknown`]).
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Layer, ConfigError> {
        Ok(Layer::from_env_noting_unknown(vars)?.0)
    }

    /// Like [`Layer::from_env`], also returning the `ACCRETE_*` variables that name no setting,
    /// each with the closest setting, for a warning. A setting with a wrong value is an error.
    pub fn from_env_noting_unknown(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Layer, Vec<UnknownEnvVar>), ConfigError> {
        let mut layer = Layer::default();
        let mut unknown = Vec::new();
        for (var, value) in vars {
            let Some(name) = var.strip_prefix("ACCRETE_") else {
                continue;
            };
            if name.starts_with("TEST_") || NON_SETTING_VARS.contains(&var.as_str()) {
                continue;
            }
            let mut table = toml::Table::new();
            let path: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
            insert_path(&mut table, &path, env_value(&value));
            match toml::Value::Table(table).try_into::<Layer>() {
                Ok(one) => layer = one.over(layer),
                Err(_) if !is_setting(&path) => unknown.push(UnknownEnvVar {
                    closest: closest_setting(&var),
                    var,
                }),
                Err(e) => {
                    return Err(ConfigError::Env {
                        var,
                        message: e.message().trim().to_owned(),
                    });
                }
            }
        }
        Ok((layer, unknown))
    }

    /// Returns `self` with unset keys taken from `lower`.
    pub fn over(self, lower: Layer) -> Layer {
        let hashing = match (self.hashing, lower.hashing) {
            (Some(h), Some(l)) => Some(HashingLayer {
                concurrency: h.concurrency.or(l.concurrency),
                queue: h.queue.or(l.queue),
            }),
            (h, l) => h.or(l),
        };
        let rate_limit = match (self.rate_limit, lower.rate_limit) {
            (Some(h), Some(l)) => Some(RateLimitLayer {
                per_ip_per_minute: h.per_ip_per_minute.or(l.per_ip_per_minute),
                per_account_per_minute: h.per_account_per_minute.or(l.per_account_per_minute),
            }),
            (h, l) => h.or(l),
        };
        let federation = match (self.federation, lower.federation) {
            (Some(h), Some(l)) => Some(FederationLayer {
                timeout_seconds: h.timeout_seconds.or(l.timeout_seconds),
                allow_loopback_http: h.allow_loopback_http.or(l.allow_loopback_http),
            }),
            (h, l) => h.or(l),
        };
        let email = match (self.email, lower.email) {
            (Some(h), Some(l)) => Some(EmailLayer {
                smtp_url: h.smtp_url.or(l.smtp_url),
                from_address: h.from_address.or(l.from_address),
                from_name: h.from_name.or(l.from_name),
            }),
            (h, l) => h.or(l),
        };
        let theme = match (self.theme, lower.theme) {
            (Some(h), Some(l)) => Some(h.over(l)),
            (h, l) => h.or(l),
        };
        let sms = match (self.sms, lower.sms) {
            (Some(h), Some(l)) => Some(h.over(l)),
            (h, l) => h.or(l),
        };
        let accounts = match (self.accounts, lower.accounts) {
            (Some(h), Some(l)) => Some(h.over(l)),
            (h, l) => h.or(l),
        };
        let lifetimes = match (self.lifetimes, lower.lifetimes) {
            (Some(h), Some(l)) => Some(h.over(l)),
            (h, l) => h.or(l),
        };
        let webhooks = match (self.webhooks, lower.webhooks) {
            (Some(h), Some(l)) => Some(h.over(l)),
            (h, l) => h.or(l),
        };
        let retention = match (self.retention, lower.retention) {
            (Some(h), Some(l)) => Some(h.over(l)),
            (h, l) => h.or(l),
        };
        Layer {
            listen: self.listen.or(lower.listen),
            data_dir: self.data_dir.or(lower.data_dir),
            database_url: self.database_url.or(lower.database_url),
            public_url: self.public_url.or(lower.public_url),
            log_format: self.log_format.or(lower.log_format),
            log_level: self.log_level.or(lower.log_level),
            master_key: self.master_key.or(lower.master_key),
            policy: self.policy.or(lower.policy),
            policy_wins: self.policy_wins.or(lower.policy_wins),
            hashing,
            rate_limit,
            theme,
            federation,
            email,
            sms,
            accounts,
            lifetimes,
            webhooks,
            retention,
            connections: self.connections.or(lower.connections),
            hooks: self.hooks.or(lower.hooks),
            companions: self.companions.or(lower.companions),
        }
    }
}

impl Config {
    /// Resolves flags over environment over file over defaults.
    pub fn resolve(flags: Layer, env: Layer, file: Layer) -> Result<Config, ConfigError> {
        let layer = flags.over(env).over(file);
        let hashing = layer.hashing.unwrap_or_default();
        let rate_limit = layer.rate_limit.unwrap_or_default();
        let federation = layer.federation.unwrap_or_default();
        let email = layer.email.unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let config = Config {
            listen: layer
                .listen
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: layer
                .data_dir
                .unwrap_or_else(|| PathBuf::from("./accrete-data")),
            database_url: layer.database_url.filter(|u| !u.is_empty()),
            public_url: layer.public_url.map(|u| u.trim_end_matches('/').to_owned()),
            log_format: layer.log_format.unwrap_or(LogFormat::Text),
            log_level: layer.log_level.unwrap_or_else(|| "info".to_owned()),
            master_key: layer.master_key.filter(|k| !k.is_empty()),
            policy: layer.policy,
            policy_wins: layer.policy_wins.unwrap_or(false),
            hashing: Hashing {
                concurrency: hashing.concurrency.unwrap_or(cores),
                queue: hashing.queue.unwrap_or(64),
            },
            rate_limit: RateLimit {
                per_ip_per_minute: rate_limit.per_ip_per_minute.unwrap_or(120),
                per_account_per_minute: rate_limit.per_account_per_minute.unwrap_or(10),
            },
            theme: layer.theme.unwrap_or_default().settings(),
            federation: FederationSettings {
                timeout_seconds: federation.timeout_seconds.unwrap_or(10),
                allow_loopback_http: federation.allow_loopback_http.unwrap_or(false),
            },
            email: EmailSettings {
                smtp_url: email.smtp_url.filter(|u| !u.is_empty()),
                from_address: email
                    .from_address
                    .unwrap_or_else(|| "accrete@localhost".to_owned()),
                from_name: email.from_name.unwrap_or_else(|| "Accrete".to_owned()),
            },
            sms: layer.sms.unwrap_or_default().settings(),
            accounts: layer.accounts.unwrap_or_default().settings(),
            lifetimes: layer.lifetimes.unwrap_or_default().settings(),
            webhooks: layer.webhooks.unwrap_or_default().config(),
            retention: layer.retention.unwrap_or_default().config(),
            connections: layer.connections.unwrap_or_default(),
            hooks: layer.hooks.unwrap_or_default(),
            companions: layer.companions.unwrap_or_default(),
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if let Some(problem) = self.webhooks.problem() {
            return Err(ConfigError::Invalid(problem.to_owned()));
        }
        if let Some(problem) = self.retention.problem() {
            return Err(ConfigError::Invalid(problem.to_owned()));
        }
        if !(1..=120).contains(&self.federation.timeout_seconds) {
            return Err(ConfigError::Invalid(
                "federation.timeout_seconds must be between 1 and 120".to_owned(),
            ));
        }
        if self.hashing.concurrency == 0 {
            return Err(ConfigError::Invalid(
                "hashing.concurrency must be at least 1".to_owned(),
            ));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(format!(
                "database_url `{}` is not supported: use sqlite://PATH or postgres://USER@HOST/DB",
                mask_url(url)
            )));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "public_url `{url}` must start with https:// (or http:// for local testing)"
            )));
        }
        let problems = self.theme.look.problems();
        if !problems.is_empty() {
            let each: Vec<String> = problems.iter().map(|p| format!("theme.{p}")).collect();
            return Err(ConfigError::Invalid(each.join("; ")));
        }
        if self.theme.look.css.is_some() && self.theme.css_file.is_some() {
            return Err(ConfigError::Invalid(
                "theme.css and theme.css_file are both set: keep one".to_owned(),
            ));
        }
        if let Some(problem) = self.sms.problems() {
            return Err(ConfigError::Invalid(problem));
        }
        let mut problems = self.lifetimes.problems();
        problems.extend(self.accounts.problems());
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems.join("; ")));
        }
        let problems = connection_problems(&self.connections);
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems.join("; ")));
        }
        let problems = accrete_app::hooks::spec::check_all(&self.hooks, &self.webhooks.settings());
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems.join("; ")));
        }
        let problems =
            accrete_app::companion::spec::check_all(&self.companions, &self.webhooks.settings());
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems.join("; ")));
        }
        Ok(())
    }

    /// The database URL to open: the configured one, or the embedded SQLite file.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.sqlite_path().display()),
        }
    }

    /// Path of the embedded SQLite database.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("accrete.db")
    }

    /// The issuer: the public URL, or `http://<listen>`.
    pub fn issuer(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The settings of accounts and lifetimes the use-cases take.
    pub fn settings(&self) -> Settings {
        Settings {
            self_signup: self.accounts.self_signup,
            email_verification: self.accounts.email_verification,
            lifetimes: self.lifetimes.lifetimes(),
            mfa: self.accounts.mfa(),
            retention: self.retention.retention(),
        }
    }

    /// The effective configuration as TOML with secrets masked.
    pub fn to_masked_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(mask_url(&self.effective_database_url()));
        shown.master_key = self.master_key.as_ref().map(|_| "********".to_owned());
        shown.email.smtp_url = self.email.smtp_url.as_deref().map(mask_url);
        shown.sms = self.sms.masked();
        shown.connections = self
            .connections
            .iter()
            .map(ConnectionSpec::redacted)
            .collect();
        shown.hooks = self.hooks.iter().map(HookSpec::redacted).collect();
        shown.companions = self
            .companions
            .iter()
            .map(CompanionSpec::redacted)
            .collect();
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// The problems of the `[[connections]]` of the file, each as `connections[<index>].<path>:
/// <message>`: each definition's own (`ConnectionSpec::check`), a name defined twice, a domain
/// bound to two of them.
fn connection_problems(connections: &[ConnectionSpec]) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, spec) in connections.iter().enumerate() {
        if let Err(refused) = spec.check() {
            problems.extend(refused.iter().map(|problem| {
                format!(
                    "connections[{index}].{}: {}",
                    toml_path(&problem.path),
                    problem.message
                )
            }));
        }
        if let Some(first) = connections[..index]
            .iter()
            .position(|c| c.name == spec.name)
        {
            problems.push(format!(
                "connections[{index}].name: {} is defined twice (also connections[{first}])",
                spec.name
            ));
        }
        for (at, domain) in spec.domains.iter().enumerate() {
            if let Some(other) = connections[..index]
                .iter()
                .position(|c| c.name != spec.name && c.domains.contains(domain))
            {
                problems.push(format!(
                    "connections[{index}].domains[{at}]: {domain} is already bound to \
                     connections[{other}] ({})",
                    connections[other].name
                ));
            }
        }
    }
    problems
}

/// A spec's path (`mapping/0/claim`) as TOML names it (`mapping[0].claim`).
fn toml_path(path: &str) -> String {
    let mut out = String::new();
    for segment in path.split('/') {
        if segment.bytes().all(|b| b.is_ascii_digit()) && !out.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// The tables of a [`Layer`] and their keys, as their `Deserialize` implementations know them.
fn setting_tables() -> [(&'static str, &'static [&'static str]); 10] {
    [
        ("accounts", field_names::<AccountsLayer>()),
        ("federation", field_names::<FederationLayer>()),
        ("email", field_names::<EmailLayer>()),
        ("hashing", field_names::<HashingLayer>()),
        ("lifetimes", field_names::<LifetimesLayer>()),
        ("rate_limit", field_names::<RateLimitLayer>()),
        ("retention", field_names::<RetentionLayer>()),
        ("sms", field_names::<SmsLayer>()),
        ("theme", field_names::<ThemeLayer>()),
        ("webhooks", field_names::<WebhooksLayer>()),
    ]
}

/// Whether a lower-case key path (`["hashing", "queue"]`) names a setting or a table.
fn is_setting(path: &[String]) -> bool {
    let Some(first) = path.first() else {
        return false;
    };
    if !field_names::<Layer>().contains(&first.as_str()) {
        return false;
    }
    match (
        setting_tables().iter().find(|(t, _)| t == first),
        &path[1..],
    ) {
        (_, []) => true,
        (Some((_, keys)), [key]) => keys.contains(&key.as_str()),
        _ => false,
    }
}

/// The environment variable of every setting (`ACCRETE_LISTEN`, `ACCRETE_HASHING__QUEUE`, ...).
fn setting_vars() -> Vec<String> {
    let tables = setting_tables();
    let mut vars = Vec::new();
    for key in field_names::<Layer>() {
        match tables.iter().find(|(t, _)| t == key) {
            Some((table, keys)) => vars.extend(
                keys.iter()
                    .map(|k| format!("ACCRETE_{table}__{k}").to_ascii_uppercase()),
            ),
            None => vars.push(format!("ACCRETE_{key}").to_ascii_uppercase()),
        }
    }
    vars
}

/// The setting variable whose name is closest to `var`.
fn closest_setting(var: &str) -> Option<String> {
    setting_vars()
        .into_iter()
        .map(|known| (strsim::jaro_winkler(var, &known), known))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known)| known)
}

/// The field names of a struct as its derived `Deserialize` lists them (the same list that
/// `deny_unknown_fields` checks), so that the known settings are never a second list to keep.
fn field_names<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error as _, Visitor};

    struct Names<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Names<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(Self::Error::custom("only the field names were wanted"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(Names(&mut names));
    names
}

fn insert_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [] => {}
        [last] => {
            table.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Environment values are strings; numbers and booleans are recognised so typed keys accept them.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(n) = raw.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

fn describe_toml_error(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_configuration() {
        let c = Config::resolve(Layer::default(), Layer::default(), Layer::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./accrete-data"));
        assert_eq!(
            c.effective_database_url(),
            "sqlite://./accrete-data/accrete.db"
        );
        assert_eq!(c.issuer(), "http://127.0.0.1:8080");
        assert!(c.hashing.concurrency >= 1);
    }

    #[test]
    fn flags_beat_environment_which_beats_file() {
        let file = Layer::from_toml(
            Path::new("accrete.toml"),
            "listen = \"127.0.0.1:1000\"\nlog_level = \"warn\"\ndata_dir = \"/f\"\n[hashing]\nqueue = 5\n",
        )
        .unwrap();
        let env = Layer::from_env(env(&[
            ("ACCRETE_LISTEN", "127.0.0.1:2000"),
            ("ACCRETE_LOG_LEVEL", "debug"),
            ("ACCRETE_HASHING__CONCURRENCY", "3"),
        ]))
        .unwrap();
        let flags = Layer {
            listen: Some("127.0.0.1:3000".parse().unwrap()),
            ..Layer::default()
        };
        let c = Config::resolve(flags, env, file).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.log_level, "debug");
        assert_eq!(c.data_dir, PathBuf::from("/f"));
        assert_eq!(
            c.hashing,
            Hashing {
                concurrency: 3,
                queue: 5
            }
        );
    }

    #[test]
    fn unknown_file_key_names_the_file_line_and_key() {
        let err = Layer::from_toml(
            Path::new("/etc/accrete.toml"),
            "listen = \"127.0.0.1:1\"\nlisten_addr = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("/etc/accrete.toml: line 2:"), "{err}");
        assert!(err.contains("unknown field `listen_addr`"), "{err}");
        assert!(err.contains("expected one of"), "{err}");
    }

    #[test]
    fn wrong_type_in_file_says_what_was_expected() {
        let err = Layer::from_toml(Path::new("a.toml"), "[hashing]\nqueue = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(
            err.contains("invalid type: string \"many\", expected usize"),
            "{err}"
        );
    }

    #[test]
    fn invalid_listen_address_in_file_is_an_error() {
        let err = Layer::from_toml(Path::new("a.toml"), "listen = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid socket address"), "{err}");
    }

    #[test]
    fn unknown_environment_variable_is_ignored_and_reported_with_the_closest_setting() {
        let (layer, unknown) = Layer::from_env_noting_unknown(env(&[
            ("ACCRETE_LISTN", "x"),
            ("ACCRETE_HASHING__QUEU", "3"),
            ("ACCRETE_THEME__COLOUR", "#fff"),
            ("ACCRETE_LOG_LEVEL", "debug"),
            ("ACCRETE_BIN", "/usr/bin/accrete"),
        ]))
        .unwrap();
        assert_eq!(layer.log_level.as_deref(), Some("debug"));
        let closest: Vec<(&str, Option<&str>)> = unknown
            .iter()
            .map(|u| (u.var.as_str(), u.closest.as_deref()))
            .collect();
        assert_eq!(closest[0], ("ACCRETE_LISTN", Some("ACCRETE_LISTEN")));
        assert_eq!(
            closest[1],
            ("ACCRETE_HASHING__QUEU", Some("ACCRETE_HASHING__QUEUE"))
        );
        assert_eq!(closest[2].0, "ACCRETE_THEME__COLOUR");
        assert_eq!(unknown.len(), 3, "ACCRETE_BIN is the scripts' own");
        assert_eq!(
            unknown[0].to_string(),
            "environment variable ACCRETE_LISTN is not an Accrete setting and is ignored; \
             the closest setting is ACCRETE_LISTEN"
        );
    }

    #[test]
    fn every_setting_has_a_known_environment_variable() {
        let vars = setting_vars();
        for var in ["ACCRETE_LISTEN", "ACCRETE_POLICY", "ACCRETE_HASHING__QUEUE"] {
            assert!(vars.iter().any(|v| v == var), "{var} in {vars:?}");
        }
        assert!(
            vars.iter()
                .any(|v| v == "ACCRETE_RATE_LIMIT__PER_IP_PER_MINUTE")
        );
        assert!(vars.iter().any(|v| v == "ACCRETE_THEME__CSS_FILE"));
        assert!(!vars.iter().any(|v| v == "ACCRETE_HASHING"), "{vars:?}");
    }

    #[test]
    fn a_wrong_value_of_a_known_environment_setting_is_refused_with_its_variable() {
        let err = Layer::from_env(env(&[("ACCRETE_HASHING__QUEUE", "many")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable ACCRETE_HASHING__QUEUE:"),
            "{err}"
        );
        let err = Layer::from_env(env(&[("ACCRETE_HASHING", "5")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable ACCRETE_HASHING:"),
            "{err}"
        );
    }

    #[test]
    fn test_suite_variables_are_not_settings() {
        let layer = Layer::from_env(env(&[
            ("ACCRETE_TEST_POSTGRES_URL", "postgres://x"),
            ("HOME", "/root"),
        ]))
        .unwrap();
        assert!(layer.database_url.is_none());
    }

    #[test]
    fn secrets_are_masked_when_shown() {
        let flags = Layer {
            database_url: Some("postgres://app:s3cret@db/accrete".into()),
            master_key: Some("c2VjcmV0".into()),
            ..Layer::default()
        };
        let shown = Config::resolve(flags, Layer::default(), Layer::default())
            .unwrap()
            .to_masked_toml();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(
            shown.contains("postgres://app:********@db/accrete"),
            "{shown}"
        );
    }

    #[test]
    fn unsupported_database_scheme_is_refused() {
        let flags = Layer {
            database_url: Some("mysql://x".into()),
            ..Layer::default()
        };
        let err = Config::resolve(flags, Layer::default(), Layer::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not supported"), "{err}");
    }

    #[test]
    fn theme_keys_are_layered_one_by_one() {
        let file = Layer::from_toml(
            Path::new("accrete.toml"),
            "[theme]\nbrand = \"Acme\"\nprimary = \"#111111\"\ntemplates = \"/etc/accrete/templates\"\n",
        )
        .unwrap();
        let env = Layer::from_env(env(&[
            ("ACCRETE_THEME__PRIMARY", "#222"),
            ("ACCRETE_THEME__LOGO_URL", "/logo.svg"),
        ]))
        .unwrap();
        let c = Config::resolve(Layer::default(), env, file).unwrap();
        assert_eq!(c.theme.look.brand.as_deref(), Some("Acme"));
        assert_eq!(c.theme.look.primary.as_deref(), Some("#222"));
        assert_eq!(c.theme.look.logo_url.as_deref(), Some("/logo.svg"));
        assert_eq!(
            c.theme.templates,
            Some(PathBuf::from("/etc/accrete/templates"))
        );
        let shown = c.to_masked_toml();
        assert!(shown.contains("[theme]"), "{shown}");
        assert!(shown.contains("primary = \"#222\""), "{shown}");
    }

    #[test]
    fn unknown_theme_key_names_the_line_and_key() {
        let err = Layer::from_toml(
            Path::new("accrete.toml"),
            "[theme]\nbrand = \"Acme\"\ncolour = \"#fff\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("accrete.toml: line 3:"), "{err}");
        assert!(err.contains("unknown field `colour`"), "{err}");
        assert!(err.contains("primary_text"), "lists the known keys: {err}");
    }

    #[test]
    fn invalid_theme_values_are_refused_with_their_keys() {
        let file = Layer::from_toml(
            Path::new("accrete.toml"),
            "[theme]\nprimary = \"blue\"\nlogo_url = \"http://cdn.example/logo.png\"\n",
        )
        .unwrap();
        let err = Config::resolve(Layer::default(), Layer::default(), file)
            .unwrap_err()
            .to_string();
        assert!(err.contains("theme.logo_url: an https:// URL"), "{err}");
        assert!(
            err.contains("theme.primary: `blue` is not a CSS hex colour"),
            "{err}"
        );
    }

    const CONNECTIONS: &str = r#"
[[connections]]
name = "google"
preset = "google"
client_id = "1234.apps.googleusercontent.com"
client_secret = "g-secret-value"

[[connections]]
name = "apple"
preset = "apple"
client_id = "com.example.web"
apple = { team_id = "TEAM123456", key_id = "KEY1234567", private_key = "PRIVATE-PEM-TEXT" }
"#;

    #[test]
    fn connections_of_the_file_are_read_and_shown_without_their_secrets() {
        let file = Layer::from_toml(Path::new("accrete.toml"), CONNECTIONS).unwrap();
        let connections = file.connections.clone().unwrap();
        assert_eq!(connections.len(), 2);
        assert_eq!(
            connections[0].client_secret.as_deref(),
            Some("g-secret-value")
        );
        // The Apple key is checked when resolved: this one is not a key.
        let err = Config::resolve(Layer::default(), Layer::default(), file)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "connections[1].apple.private_key: not an EC P-256 private key in PEM (PKCS#8), \
             as Apple's .p8 files are"
        );
        let google = Layer::from_toml(
            Path::new("accrete.toml"),
            CONNECTIONS
                .split("\n[[connections]]\nname = \"apple\"")
                .next()
                .unwrap(),
        )
        .unwrap();
        let config = Config::resolve(Layer::default(), Layer::default(), google).unwrap();
        let shown = config.to_masked_toml();
        assert!(shown.contains("[[connections]]"), "{shown}");
        assert!(shown.contains("client_secret = \"********\""), "{shown}");
        assert!(!shown.contains("g-secret-value"), "{shown}");
        assert!(!format!("{config:?}").contains("g-secret-value"));
    }

    #[test]
    fn every_problem_of_the_connections_is_named_by_its_path() {
        let file = Layer::from_toml(
            Path::new("accrete.toml"),
            r#"
[[connections]]
name = "acme"
preset = "oidc"
issuer = "http://login.acme.example"
client_id = "c"
domains = ["acme.example"]
mapping = [{ claim = "given_name", field = "given_name" }]

[[connections]]
name = "acme"
preset = "github"
client_id = "c"
client_secret = "s"
domains = ["acme.example"]
"#,
        )
        .unwrap();
        let err = Config::resolve(Layer::default(), Layer::default(), file)
            .unwrap_err()
            .to_string();
        let each: Vec<&str> = err.split("; ").collect();
        assert_eq!(
            each,
            [
                "connections[0].issuer: use https (http only for localhost, 127.0.0.1 or [::1])",
                "connections[0].client_secret: client_secret is required for oidc",
                "connections[0].mapping[0].claim: write a JSON pointer such as /given_name or \
                 /address/country (~0 for ~, ~1 for /)",
                "connections[1].name: acme is defined twice (also connections[0])",
            ]
        );
        let err = Layer::from_toml(
            Path::new("accrete.toml"),
            "[[connections]]\nname = \"a\"\npreset = \"okta\"\nclient_id = \"c\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("accrete.toml: line 3:"), "{err}");
        assert!(err.contains("unknown variant `okta`"), "{err}");
    }

    #[test]
    fn a_domain_is_bound_to_one_connection_of_the_file() {
        let file = Layer::from_toml(
            Path::new("accrete.toml"),
            r#"
[[connections]]
name = "a"
preset = "gitlab"
client_id = "c"
client_secret = "s"
domains = ["acme.example"]

[[connections]]
name = "b"
preset = "google"
client_id = "c"
client_secret = "s"
domains = ["other.example", "acme.example"]
"#,
        )
        .unwrap();
        let err = Config::resolve(Layer::default(), Layer::default(), file)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "connections[1].domains[1]: acme.example is already bound to connections[0] (a)"
        );
    }

    #[test]
    fn theme_css_and_css_file_are_exclusive() {
        let file = Layer::from_toml(
            Path::new("accrete.toml"),
            "[theme]\ncss = \"a {}\"\ncss_file = \"theme.css\"\n",
        )
        .unwrap();
        let err = Config::resolve(Layer::default(), Layer::default(), file)
            .unwrap_err()
            .to_string();
        assert!(err.contains("theme.css and theme.css_file"), "{err}");
    }
}
