//! What goes in and out of a sign-in at a provider: the caller's [`Start`] (kept with its own
//! transaction between the redirect and the callback), the provider's [`Callback`], and the
//! [`UpstreamIdentity`] that comes out.

use std::fmt;

use serde_json::{Map, Value};
use url::Url;

/// What the caller chose when sending the user to the provider, and presents again at the
/// callback.
#[derive(Clone, PartialEq, Eq)]
pub struct Start {
    /// Accrete's callback URL for this connection, as registered at the provider.
    pub redirect_uri: Url,
    /// The `state` (the caller checks it at the callback).
    pub state: String,
    /// The OpenID Connect `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier: 43 to 128 characters `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
    pub pkce_verifier: String,
    /// An address or name to pre-fill at the provider (`login_hint`).
    pub login_hint: Option<String>,
    /// The application asked for a fresh sign-in (`prompt=login`): asked of an OpenID provider
    /// too, so that its own session does not answer silently.
    pub prompt_login: bool,
    /// The application's `max_age`, passed on to an OpenID provider.
    pub max_age: Option<u64>,
    /// The application's `ui_locales`, passed on to an OpenID provider (its pages in the
    /// person's language).
    pub ui_locales: Vec<String>,
}

impl fmt::Debug for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Start")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("state", &"********")
            .field("nonce", &"********")
            .field("pkce_verifier", &"********")
            .field("login_hint", &self.login_hint)
            .field("prompt_login", &self.prompt_login)
            .field("max_age", &self.max_age)
            .field("ui_locales", &self.ui_locales)
            .finish()
    }
}

/// The provider's answer at the callback, query or form (Apple posts it). The caller has checked
/// `state` already.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Callback {
    /// `code`.
    pub code: Option<String>,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// Apple's `user` form field (JSON, on the first sign-in only).
    pub user: Option<String>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("code", &self.code.as_ref().map(|_| "********"))
            .field("iss", &self.iss)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .field("user", &self.user.as_ref().map(|_| "…"))
            .finish()
    }
}

/// Who signed in at the provider, and what it says of them.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamIdentity {
    /// The provider's stable identifier of the user (`sub`; GitHub's numeric `id`).
    pub subject: String,
    /// Every claim: the ID token's, with the userinfo answer's added (the ID token's win; `sub`
    /// is never replaced). For OAuth 2 providers, the profile answer with `sub`, `email`,
    /// `email_verified`, `name`, `preferred_username` and `picture` named as OpenID Connect
    /// names them.
    pub claims: Map<String, Value>,
    /// The email address, when the provider gave one.
    pub email: Option<String>,
    /// Whether the provider vouches for `email` (never true without an `email`).
    pub email_verified: bool,
    /// How the user authenticated (`amr`), when the provider says.
    pub amr: Vec<String>,
    /// The authentication context class (`acr`), when the provider says.
    pub acr: Option<String>,
}

/// Whether a PKCE code verifier has the shape RFC 7636 §4.1 requires.
pub(crate) fn is_pkce_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}
