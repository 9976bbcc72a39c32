//! What the protocol needs to know about a registered client, and the rules for registering one.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::keys::Alg;

/// An OAuth 2.0 grant type a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// `authorization_code` (with PKCE; the only interactive flow).
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// `client_credentials` (confidential clients only).
    ClientCredentials,
}

impl GrantType {
    /// Every supported grant type.
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    /// Parses a registered name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|grant| grant.as_str() == name)
    }
}

/// A client as the protocol sees it (the store holds more, such as the secret hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    /// The `client_id`.
    pub id: String,
    /// Registered redirect URIs, compared by exact string match.
    pub redirect_uris: Vec<String>,
    /// Registered `post_logout_redirect_uri` values, compared by exact string match.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Public clients (native apps, single-page apps) hold no secret and must use PKCE.
    pub public: bool,
    /// Scopes the client may request.
    pub allowed_scopes: Vec<String>,
    /// Grant types the client may use.
    pub grant_types: Vec<GrantType>,
    /// The algorithm its ID tokens are signed with (RS256 unless registered otherwise).
    #[serde(default = "default_alg")]
    pub id_token_alg: Alg,
}

fn default_alg() -> Alg {
    Alg::RS256
}

impl ClientView {
    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether `uri` is registered, by exact string comparison (no normalization: a trailing
    /// slash, a change of case or an extra query parameter is another URI).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    /// Whether `uri` is a registered post-logout redirect URI (exact match).
    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    /// Whether the client may be granted `scope` (`openid` always may).
    pub fn allows_scope(&self, scope: &str) -> bool {
        scope == "openid" || self.allowed_scopes.iter().any(|allowed| allowed == scope)
    }
}

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    /// Not an absolute URI.
    #[error("redirect URI is not an absolute URI")]
    NotAbsolute,
    /// RFC 6749 §3.1.2: the URI must not include a fragment.
    #[error("redirect URI must not contain a fragment")]
    Fragment,
    /// Plain `http` is allowed only for loopback addresses (RFC 8252 §7.3).
    #[error("redirect URI must use https (http only for localhost / loopback)")]
    InsecureHttp,
    /// `javascript:`, `data:` and similar schemes could run code in the browser.
    #[error("redirect URI scheme is not allowed")]
    DangerousScheme,
}

/// Checks a redirect URI at client registration: absolute, no fragment, `https` (or `http` on a
/// loopback host for development and native apps), or a private-use scheme for native apps
/// (RFC 8252 §7.1, such as `com.example.app:/callback`).
pub fn validate_redirect_uri(uri: &str) -> Result<(), RedirectUriError> {
    let parsed = Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute)?;
    if parsed.fragment().is_some() || uri.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => match parsed.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => Err(RedirectUriError::InsecureHttp),
        },
        "javascript" | "data" | "vbscript" | "file" | "blob" | "about" => {
            Err(RedirectUriError::DangerousScheme)
        }
        // Private-use schemes of native apps.
        _ => Ok(()),
    }
}

/// Whether `text` is a web origin as browsers send it in `Origin`: `http(s)://host[:port]` and
/// nothing else (no path, no trailing slash, default port omitted).
pub fn is_web_origin(text: &str) -> bool {
    Url::parse(text).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host().is_some()
            && u.origin().ascii_serialization() == text
    })
}

/// A scope token (RFC 6749 §3.3): one or more of `%x21 / %x23-5B / %x5D-7E`, i.e. printable
/// ASCII without space, `"` and `\`. The same rule as a regular expression, for the OpenAPI
/// document's `pattern`, is [`SCOPE_TOKEN_PATTERN`].
pub fn is_scope_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// [`is_scope_token`] as a regular expression (ECMA-262 and Rust `regex` alike).
pub const SCOPE_TOKEN_PATTERN: &str = r"^[\x21\x23-\x5B\x5D-\x7E]+$";

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_web_origin_is_scheme_host_and_port_only() {
        assert!(is_web_origin("https://shop.example"));
        assert!(is_web_origin("http://127.0.0.1:8000"));
        for bad in [
            "https://shop.example/",
            "https://shop.example/path",
            "https://shop.example:443",
            "ftp://shop.example",
            "shop.example",
            "",
        ] {
            assert!(!is_web_origin(bad), "{bad}");
        }
    }

    #[test]
    fn a_scope_token_is_printable_ascii_without_space_quote_or_backslash() {
        for good in [
            "openid",
            "work:read",
            "a!#[]^{}~",
            "https://api.example/x?y=1",
        ] {
            assert!(is_scope_token(good), "{good}");
        }
        for bad in [
            "",
            "two words",
            "tab\there",
            "new\nline",
            "nul\0",
            "del\u{7f}",
            "quote\"",
            "back\\slash",
            "caf\u{e9}",
            "\u{2028}",
            "\u{a0}",
        ] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
    }

    /// A confidential web client used across the crate's tests.
    pub(crate) fn web_client() -> ClientView {
        ClientView {
            id: "web".into(),
            redirect_uris: vec!["https://app.example.com/callback".into()],
            post_logout_redirect_uris: vec!["https://app.example.com/bye".into()],
            public: false,
            allowed_scopes: vec![
                "openid".into(),
                "profile".into(),
                "email".into(),
                "offline_access".into(),
            ],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            id_token_alg: Alg::RS256,
        }
    }

    /// A public native client.
    pub(crate) fn public_client() -> ClientView {
        ClientView {
            id: "spa".into(),
            redirect_uris: vec!["http://localhost:5173/cb".into()],
            public: true,
            ..web_client()
        }
    }

    #[test]
    fn redirect_uris_match_exactly_only() {
        let client = web_client();
        assert!(client.has_redirect_uri("https://app.example.com/callback"));
        assert!(!client.has_redirect_uri("https://app.example.com/callback/"));
        assert!(!client.has_redirect_uri("https://APP.example.com/callback"));
        assert!(!client.has_redirect_uri("https://app.example.com/Callback"));
        assert!(!client.has_redirect_uri("https://app.example.com/callback?x=1"));
        assert!(!client.has_redirect_uri("https://app.example.com:443/callback"));
    }

    #[test]
    fn openid_scope_is_always_allowed() {
        let mut client = web_client();
        client.allowed_scopes.clear();
        assert!(client.allows_scope("openid"));
        assert!(!client.allows_scope("email"));
    }

    #[test]
    fn registration_accepts_https_loopback_http_and_native_schemes() {
        assert!(validate_redirect_uri("https://app.example.com/cb?tenant=1").is_ok());
        assert!(validate_redirect_uri("http://localhost:8080/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:8080/cb").is_ok());
        assert!(validate_redirect_uri("http://[::1]:8080/cb").is_ok());
        assert!(validate_redirect_uri("com.example.app:/oauth2redirect").is_ok());
    }

    #[test]
    fn registration_refuses_fragments_plain_http_and_script_schemes() {
        assert_eq!(
            validate_redirect_uri("https://a.example/cb#x"),
            Err(RedirectUriError::Fragment)
        );
        assert_eq!(
            validate_redirect_uri("http://a.example/cb"),
            Err(RedirectUriError::InsecureHttp)
        );
        assert_eq!(
            validate_redirect_uri("javascript:alert(1)"),
            Err(RedirectUriError::DangerousScheme)
        );
        assert_eq!(
            validate_redirect_uri("/relative"),
            Err(RedirectUriError::NotAbsolute)
        );
    }

    #[test]
    fn grant_types_parse_by_registered_name() {
        for grant in GrantType::ALL {
            assert_eq!(GrantType::parse(grant.as_str()), Some(grant));
        }
        assert_eq!(GrantType::parse("implicit"), None);
        assert_eq!(
            serde_json::to_value(GrantType::ClientCredentials).unwrap(),
            "client_credentials"
        );
    }
}
