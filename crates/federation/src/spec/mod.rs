//! A connection to an upstream identity provider as an administrator writes it (TOML
//! configuration, JSON API bodies, command-line flags): [`ConnectionSpec`]. Plain data, no I/O.
//!
//! What a spec may be is in [`ConnectionSpec::check`] (`check.rs`); what a valid spec means for the
//! protocol is [`ConnectionSpec::provider`] (`resolve.rs`).
//!
//! The client secret and Apple's private key are write-only: they are sealed at rest by the caller,
//! apart from the rest of the spec ([`ConnectionSpec::secrets`], [`ConnectionSpec::without_secrets`],
//! [`ConnectionSpec::with_secrets`]), never shown ([`ConnectionSpec::redacted`]) and never printed
//! by `Debug`.

mod check;
mod resolve;
mod url_patterns;

pub use url_patterns::{ENDPOINT_PATTERN, ISSUER_PATTERN};

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a redacted secret reads as.
pub const REDACTED: &str = "********";

/// One connection to an upstream identity provider.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ConnectionSpec {
    /// The connection's name: `[a-z0-9][a-z0-9-]{0,39}`, used in URLs and as the key of linked
    /// identities.
    pub name: String,
    /// The text of the sign-in button ("Continue with {display_name}"); by default the preset's
    /// (see [`ConnectionSpec::display_name_or_default`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Which kind of provider this is.
    pub preset: Preset,
    /// The issuer: required for `oidc`; overrides the default of `google`, `microsoft`, `apple`
    /// and `gitlab` (a self-managed GitLab, a stand-in in tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Microsoft Entra ID's tenant: `common` (the default), `organizations`, `consumers`, a tenant
    /// id (GUID) or one of the tenant's domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// OAuth 2 authorization endpoint: required for `oauth2`; overrides GitHub's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// OAuth 2 token endpoint: required for `oauth2`; overrides GitHub's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// The endpoint answering with the user's profile: required for `oauth2`; overrides GitHub's
    /// (whose email addresses are then read from `{userinfo_endpoint}/emails`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret (write-only). Required except for Apple, whose secret is a JWT signed
    /// with [`AppleKey::private_key`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Sign in with Apple's key (required for `apple`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apple: Option<AppleKey>,
    /// The scopes asked for; by default the preset's ([`Preset::default_scopes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Email domains whose users are sent to this provider (home-realm discovery), lower-case
    /// DNS names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// How upstream claims become profile fields; by default [`default_mapping`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<Vec<ClaimMapping>>,
    /// Whether the connection is offered; `true` unless written otherwise.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// The kinds of upstream provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Preset {
    /// Any OpenID Connect provider, found by discovery from its issuer.
    #[serde(rename = "oidc")]
    Oidc,
    /// Any OAuth 2 provider with an endpoint answering with the user's profile as JSON.
    #[serde(rename = "oauth2")]
    OAuth2,
    /// Google.
    #[serde(rename = "google")]
    Google,
    /// Microsoft Entra ID (work, school and personal Microsoft accounts).
    #[serde(rename = "microsoft")]
    Microsoft,
    /// GitHub (OAuth 2, with its REST API for the profile and the verified email address).
    #[serde(rename = "github")]
    GitHub,
    /// Sign in with Apple.
    #[serde(rename = "apple")]
    Apple,
    /// GitLab.com, or a self-managed GitLab through `issuer`.
    #[serde(rename = "gitlab")]
    GitLab,
}

impl Preset {
    /// Every preset, in the order they are documented.
    pub const ALL: [Preset; 7] = [
        Preset::Oidc,
        Preset::OAuth2,
        Preset::Google,
        Preset::Microsoft,
        Preset::GitHub,
        Preset::Apple,
        Preset::GitLab,
    ];

    /// The preset's name as written in a spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Oidc => "oidc",
            Preset::OAuth2 => "oauth2",
            Preset::Google => "google",
            Preset::Microsoft => "microsoft",
            Preset::GitHub => "github",
            Preset::Apple => "apple",
            Preset::GitLab => "gitlab",
        }
    }

    /// The button text of a connection that names none; `None` for the generic presets (their
    /// connection's name is used).
    pub fn display_name(self) -> Option<&'static str> {
        match self {
            Preset::Oidc | Preset::OAuth2 => None,
            Preset::Google => Some("Google"),
            Preset::Microsoft => Some("Microsoft"),
            Preset::GitHub => Some("GitHub"),
            Preset::Apple => Some("Apple"),
            Preset::GitLab => Some("GitLab"),
        }
    }

    /// The scopes asked for when a spec names none.
    pub fn default_scopes(self) -> &'static [&'static str] {
        match self {
            Preset::Oidc | Preset::Google | Preset::Microsoft | Preset::GitLab => {
                &["openid", "email", "profile"]
            }
            Preset::OAuth2 => &[],
            Preset::GitHub => &["read:user", "user:email"],
            Preset::Apple => &["name", "email"],
        }
    }

    /// Whether the provider speaks OpenID Connect (issuer and discovery) rather than plain
    /// OAuth 2 with configured endpoints.
    pub fn is_oidc(self) -> bool {
        !matches!(self, Preset::OAuth2 | Preset::GitHub)
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sign in with Apple's key: the client secret is an ES256 JWT signed with it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppleKey {
    /// The Apple Developer team id (10 characters).
    pub team_id: String,
    /// The id of the key (10 characters).
    pub key_id: String,
    /// The key as downloaded from Apple: PEM, PKCS#8 (write-only; empty once taken out by
    /// [`ConnectionSpec::without_secrets`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub private_key: String,
}

impl fmt::Debug for AppleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppleKey")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("private_key", &redact_str(&self.private_key))
            .finish()
    }
}

/// One upstream claim copied into a profile field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimMapping {
    /// A JSON pointer (RFC 6901) into the merged claims: `/given_name`, `/org/name`.
    pub claim: String,
    /// The key of a field of the policy.
    pub field: String,
    /// When the field is written.
    #[serde(default)]
    pub sync: Sync,
}

/// When a mapped claim is written into its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sync {
    /// Only while the field has no value (what the user entered is kept).
    #[default]
    IfEmpty,
    /// At every sign-in through the provider (the provider is the source of truth).
    Always,
}

/// The standard claims of OpenID Connect Core §5.1 mapped by default, each to the field of the
/// same name (the caller drops the mappings whose field the policy does not have).
pub const DEFAULT_MAPPED_CLAIMS: [&str; 10] = [
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "locale",
    "zoneinfo",
    "phone_number",
    "birthdate",
    "website",
];

/// The mapping of a spec that writes none: [`DEFAULT_MAPPED_CLAIMS`], `if_empty`.
pub fn default_mapping() -> Vec<ClaimMapping> {
    DEFAULT_MAPPED_CLAIMS
        .iter()
        .map(|claim| ClaimMapping {
            claim: format!("/{claim}"),
            field: (*claim).to_owned(),
            sync: Sync::IfEmpty,
        })
        .collect()
}

/// The write-only values of a spec, sealed at rest by the caller.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// [`ConnectionSpec::client_secret`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// [`AppleKey::private_key`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apple_private_key: Option<String>,
}

impl Secrets {
    /// Whether there is no secret at all.
    pub fn is_empty(&self) -> bool {
        self.client_secret.is_none() && self.apple_private_key.is_none()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field(
                "client_secret",
                &self.client_secret.as_deref().map(redact_str),
            )
            .field(
                "apple_private_key",
                &self.apple_private_key.as_deref().map(redact_str),
            )
            .finish()
    }
}

/// One refused value of a spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecProblem {
    /// Where: `issuer`, `apple/team_id`, `mapping/0/claim`, `domains/2`.
    pub path: String,
    /// A stable code (`required`, `invalid_url`, ...; see [`ConnectionSpec::check`]).
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

impl SpecProblem {
    pub(crate) fn new(
        path: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        SpecProblem {
            path: path.into(),
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for SpecProblem {}

impl ConnectionSpec {
    /// The button text: the spec's own, else the preset's, else the connection's name.
    pub fn display_name_or_default(&self) -> &str {
        self.display_name
            .as_deref()
            .or(self.preset.display_name())
            .unwrap_or(&self.name)
    }

    /// The scopes asked for: the spec's own, else the preset's.
    pub fn scopes_or_default(&self) -> Vec<String> {
        match &self.scopes {
            Some(scopes) => scopes.clone(),
            None => self
                .preset
                .default_scopes()
                .iter()
                .map(|scope| (*scope).to_owned())
                .collect(),
        }
    }

    /// The claim mapping: the spec's own, else [`default_mapping`].
    pub fn mapping_or_default(&self) -> Vec<ClaimMapping> {
        match &self.mapping {
            Some(mapping) => mapping.clone(),
            None => default_mapping(),
        }
    }

    /// The spec's write-only values.
    pub fn secrets(&self) -> Secrets {
        Secrets {
            client_secret: self.client_secret.clone(),
            apple_private_key: self
                .apple
                .as_ref()
                .filter(|apple| !apple.private_key.is_empty())
                .map(|apple| apple.private_key.clone()),
        }
    }

    /// The spec without its write-only values, to be stored apart from the sealed [`Secrets`].
    #[must_use]
    pub fn without_secrets(&self) -> ConnectionSpec {
        let mut spec = self.clone();
        spec.client_secret = None;
        if let Some(apple) = &mut spec.apple {
            apple.private_key.clear();
        }
        spec
    }

    /// The spec with the secrets it lacks taken from `secrets`: a secret the spec already holds
    /// is kept (a changed secret written in an update wins over the stored one), so
    /// `spec.without_secrets().with_secrets(spec.secrets()) == spec`. Apple's key goes into
    /// [`ConnectionSpec::apple`] only when the spec has one.
    #[must_use]
    pub fn with_secrets(mut self, secrets: Secrets) -> ConnectionSpec {
        if self.client_secret.is_none() {
            self.client_secret = secrets.client_secret;
        }
        if let (Some(apple), Some(key)) = (&mut self.apple, secrets.apple_private_key)
            && apple.private_key.is_empty()
        {
            apple.private_key = key;
        }
        self
    }

    /// The spec for display: every secret it holds reads [`REDACTED`].
    #[must_use]
    pub fn redacted(&self) -> ConnectionSpec {
        let mut spec = self.clone();
        if spec.client_secret.is_some() {
            spec.client_secret = Some(REDACTED.to_owned());
        }
        if let Some(apple) = &mut spec.apple
            && !apple.private_key.is_empty()
        {
            apple.private_key = REDACTED.to_owned();
        }
        spec
    }
}

impl fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = self.redacted();
        f.debug_struct("ConnectionSpec")
            .field("name", &spec.name)
            .field("display_name", &spec.display_name)
            .field("preset", &spec.preset)
            .field("issuer", &spec.issuer)
            .field("tenant", &spec.tenant)
            .field("authorization_endpoint", &spec.authorization_endpoint)
            .field("token_endpoint", &spec.token_endpoint)
            .field("userinfo_endpoint", &spec.userinfo_endpoint)
            .field("client_id", &spec.client_id)
            .field("client_secret", &spec.client_secret)
            .field("apple", &spec.apple)
            .field("scopes", &spec.scopes)
            .field("domains", &spec.domains)
            .field("mapping", &spec.mapping)
            .field("enabled", &spec.enabled)
            .finish()
    }
}

fn redact_str(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { REDACTED }
}
