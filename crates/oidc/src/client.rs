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
    pub const fn as_str(self) -> &'static str {
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
    /// A private-use scheme is a reverse domain name the app's owner controls (RFC 8252 §7.1).
    #[error(
        "a private-use redirect URI scheme must be a reverse domain name, such as com.example.app"
    )]
    PrivateUseScheme,
    /// A host name written with letters outside ASCII: browsers send its `xn--` form.
    #[error("write an international host name in its ASCII form (xn--…), as browsers send it")]
    InternationalHost,
    /// Not `scheme://host[:port][/path][?query]` (or `scheme:/path`): a user name or password,
    /// an empty host, a port out of range, white space.
    #[error(
        "redirect URI must be scheme://host[:port][/path][?query], without user name or password"
    )]
    Shape,
}

/// A decimal octet without leading zeros, 0 to 255.
macro_rules! octet {
    () => {
        "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    };
}

/// A host the pattern describes: labels, or an IPv4 address in dotted decimal.
macro_rules! host {
    () => {
        concat!(
            r"(([A-Za-z0-9_~]+(-[A-Za-z0-9_~]+)*\.)*[A-Za-z_~][A-Za-z0-9_~]*(-[A-Za-z0-9_~]+)*\.?|",
            octet!(),
            r"(\.",
            octet!(),
            "){3})"
        )
    };
}

/// A port without leading zeros, 0 to 65535.
macro_rules! port {
    () => {
        "(0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
    };
}

/// [`validate_redirect_uri`]'s accepted values as a regular expression (ECMA-262 and Rust
/// `regex` alike), for the OpenAPI document's `pattern`. Every value it describes is accepted;
/// every value it does not describe is refused, except where a regular expression cannot follow
/// URL parsing: IPv6 hosts and international (`xn--`) host names are accepted (when the rest
/// of the rule allows) without being described.
///
/// Three forms: `https://host`, `http://` on `localhost` or `127.x.y.z`, and a private-use
/// scheme with a dot (`com.example.app:/callback`, `com.example.app://callback`). A host is an
/// IPv4 address or labels of letters, digits, `_`, `~` and single hyphens, the last starting
/// with a letter, `_` or `~` (`https://08` is an invalid IPv4 address); then an optional port
/// (0 to 65535, no leading zeros) and a path or query without white space or `#`.
pub const REDIRECT_URI_PATTERN: &str = concat!(
    "^(",
    "[Hh][Tt][Tt][Pp][Ss]:/{1,2}",
    host!(),
    "|[Hh][Tt][Tt][Pp]:/{1,2}(localhost|127",
    r"(\.",
    octet!(),
    "){3})",
    r"|[A-Za-z][A-Za-z0-9+-]*\.[A-Za-z0-9+.-]*:/{1,2}",
    host!(),
    ")(:",
    port!(),
    r")?([/?][^#\s]*)?$"
);

/// Checks a redirect URI (or a post-logout redirect URI) at client registration: absolute, no
/// fragment, `https` (or `http` on a loopback host for development and native apps), or a
/// private-use scheme of a native app named by a reverse domain name (RFC 8252 §7.1, such as
/// `com.example.app:/callback`); and of the form [`REDIRECT_URI_PATTERN`] describes (or would
/// describe, but for a host it cannot: [`described_but_for_its_host`]).
pub fn validate_redirect_uri(uri: &str) -> Result<(), RedirectUriError> {
    static DESCRIBED: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(REDIRECT_URI_PATTERN).ok());
    let parsed = Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute)?;
    if parsed.fragment().is_some() || uri.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    match parsed.scheme() {
        "https" => {}
        "http" => match parsed.host() {
            Some(url::Host::Domain("localhost")) => {}
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => {}
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => {}
            _ => return Err(RedirectUriError::InsecureHttp),
        },
        "javascript" | "data" | "vbscript" | "file" | "blob" | "about" => {
            return Err(RedirectUriError::DangerousScheme);
        }
        private if !private.contains('.') => return Err(RedirectUriError::PrivateUseScheme),
        _ => {}
    }
    let matches = |text: &str| DESCRIBED.as_ref().is_some_and(|re| re.is_match(text));
    let indescribable = parsed.username().is_empty()
        && parsed.password().is_none()
        && described_but_for_its_host(&parsed, uri, matches);
    if matches(uri) || indescribable {
        Ok(())
    } else if parsed
        .host_str()
        .is_some_and(|host| host.contains("xn--") && !uri.contains(host))
    {
        Err(RedirectUriError::InternationalHost)
    } else {
        Err(RedirectUriError::Shape)
    }
}

/// Whether `text` is a web origin as browsers send it in `Origin`: `http(s)://host[:port]` and
/// nothing else (no path, no trailing slash, default port omitted).
///
/// The host is an IPv4 address, an IPv6 literal, or lower-case labels of letters, digits and
/// single hyphens, the last starting with a letter; `xn--` labels of international names too.
/// [`WEB_ORIGIN_PATTERN`] describes every accepted origin but those with an IPv6 literal or an
/// `xn--` label.
pub fn is_web_origin(text: &str) -> bool {
    static DESCRIBED: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(WEB_ORIGIN_PATTERN).ok());
    Url::parse(text).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host().is_some()
            && u.origin().ascii_serialization() == text
            && (DESCRIBED.as_ref().is_some_and(|re| re.is_match(text))
                || indescribable_host(&u, text))
    })
}

/// Whether `text`, parsed as `url`, has a host no pattern here can describe (a regular
/// expression cannot follow URL parsing): an IPv6 literal, or a name of letter, digit and hyphen
/// labels one of which is an `xn--` label (whose Punycode the URL parser has checked), written
/// in `text` as parsed (an international name in its `xn--` form, an IPv6 literal compressed
/// and in lower case). Other hosts are accepted only where a pattern describes them.
pub fn indescribable_host(url: &Url, text: &str) -> bool {
    let written = url.host_str().is_some_and(|host| text.contains(host));
    written
        && match url.host() {
            Some(url::Host::Ipv6(_)) => true,
            Some(url::Host::Domain(name)) => {
                name.split('.').any(|label| label.starts_with("xn--"))
                    && name.split('.').all(|label| {
                        !label.is_empty()
                            && label
                                .bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    })
            }
            _ => false,
        }
}

/// Whether `text`, parsed as `url`, has a host no pattern can describe
/// ([`indescribable_host`]) and would be `described` with an ordinary host in its place: the
/// rest of a URL is held to its pattern whatever its host.
pub fn described_but_for_its_host(url: &Url, text: &str, described: impl Fn(&str) -> bool) -> bool {
    indescribable_host(url, text)
        && url
            .host_str()
            .is_some_and(|host| described(&text.replacen(host, "localhost", 1)))
}

/// A port of five digits, 10000 to 65535.
macro_rules! five_digit_port {
    () => {
        "[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]"
    };
}

/// The host of a web origin the pattern describes: lower-case labels of letters, digits and
/// single hyphens, the last starting with a letter, or an IPv4 address in dotted decimal.
macro_rules! origin_host {
    () => {
        concat!(
            r"(([a-z0-9]+(-[a-z0-9]+)*\.)*[a-z][a-z0-9]*(-[a-z0-9]+)*|",
            octet!(),
            r"(\.",
            octet!(),
            "){3})"
        )
    };
}

/// [`is_web_origin`]'s accepted values as a regular expression (ECMA-262 and Rust `regex`
/// alike), for the OpenAPI document's `pattern`: `http(s)://host[:port]`, the scheme's default
/// port (80, 443) left out, hosts with an IPv6 literal or an `xn--` label aside.
pub const WEB_ORIGIN_PATTERN: &str = concat!(
    "^(http://",
    origin_host!(),
    "(:([0-9]|[1-79][0-9]|8[1-9]|[1-9][0-9]{2,3}|",
    five_digit_port!(),
    "))?|https://",
    origin_host!(),
    "(:([1-9]?[0-9]|[1-35-9][0-9]{2}|4[0-35-9][0-9]|44[0-24-9]|[1-9][0-9]{3}|",
    five_digit_port!(),
    "))?)$"
);

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
        for uri in [
            "https://app.example.com/cb?tenant=1",
            "http://localhost:8080/cb",
            "http://127.0.0.1:8080/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
            "com.example.app://callback",
            "https://xn--bcher-kva.example/cb",
        ] {
            assert_eq!(validate_redirect_uri(uri), Ok(()), "{uri}");
        }
    }

    #[test]
    fn registration_refuses_fragments_plain_http_and_script_schemes() {
        for (uri, error) in [
            ("https://a.example/cb#x", RedirectUriError::Fragment),
            ("http://a.example/cb", RedirectUriError::InsecureHttp),
            ("http://[::2]/cb", RedirectUriError::InsecureHttp),
            ("javascript:alert(1)", RedirectUriError::DangerousScheme),
            (
                "JavaScript://x/%0aalert(1)",
                RedirectUriError::DangerousScheme,
            ),
            ("/relative", RedirectUriError::NotAbsolute),
        ] {
            assert_eq!(validate_redirect_uri(uri), Err(error), "{uri}");
        }
    }

    #[test]
    fn a_private_use_scheme_is_a_reverse_domain_name() {
        for uri in ["myapp://callback", "app:/cb", "ws://a.example/cb"] {
            assert_eq!(
                validate_redirect_uri(uri),
                Err(RedirectUriError::PrivateUseScheme),
                "{uri}"
            );
        }
    }

    #[test]
    fn credentials_and_shapes_the_pattern_does_not_describe_are_refused() {
        for uri in [
            "https://user:pw@app.example/cb",
            "https://user@[2001:db8::1]/cb",
            "com.example.app:/",
            "a.b:/x*",
            "https://app.example:080/cb",
            "http://127.1/cb",
            "http://LOCALHOST/cb",
        ] {
            assert_eq!(
                validate_redirect_uri(uri),
                Err(RedirectUriError::Shape),
                "{uri}"
            );
        }
    }

    fn described(uri: &str) -> bool {
        regex::Regex::new(REDIRECT_URI_PATTERN)
            .unwrap()
            .is_match(uri)
    }

    #[test]
    fn the_pattern_describes_the_usual_values_and_no_refused_one() {
        for uri in [
            "https://app.example/callback",
            "http://localhost:3000/cb?next=%2F",
            "http://127.0.0.1:8080/cb",
            "HTTPS://APP.example/cb",
            "com.example.app:/oauth2redirect",
            "com.example.app://callback",
        ] {
            assert!(described(uri), "{uri}");
        }
        for uri in [
            "https://app.example/cb#x",
            "/cb",
            "mailto:a@example.com",
            "http:/",
            "http://app.example/cb",
            "http://10.0.0.1/cb",
            "myapp://callback",
            "javascript://x/%0aalert(1)",
            "https://user:pw@app.example/cb",
        ] {
            assert!(!described(uri), "{uri}");
        }
    }

    #[test]
    fn hosts_the_pattern_cannot_describe_are_judged_by_the_rest_of_the_rule() {
        for uri in ["http://[::1]:8080/cb", "https://xn--bcher-kva.example/cb"] {
            assert!(!described(uri), "{uri}");
            assert_eq!(validate_redirect_uri(uri), Ok(()), "{uri}");
        }
        // Written otherwise than parsed, such a host would let any character the URL parser
        // maps or drops through undescribed.
        for uri in [
            "https://bücher.example/cb",
            "https:𒾐/cb",
            "https://XN--BCHER-KVA.example/cb",
        ] {
            assert_eq!(
                validate_redirect_uri(uri),
                Err(RedirectUriError::InternationalHost),
                "{uri}"
            );
        }
        assert_eq!(
            validate_redirect_uri("http://[0:0::1]:8080/cb"),
            Err(RedirectUriError::Shape)
        );
        // The rest of the URI is held to the pattern whatever its host: a port with a leading
        // zero, white space in the path (which the URL parser would percent-encode).
        for uri in [
            "https://[2001:db8::1]:080/cb",
            "https://[2001:db8::1]/a b",
            "https://xn--bcher-kva.example:0443/cb",
            "https://xn--bcher-kva.example/a\tb",
        ] {
            assert!(Url::parse(uri).is_ok(), "{uri}");
            assert_eq!(
                validate_redirect_uri(uri),
                Err(RedirectUriError::Shape),
                "{uri}"
            );
        }
        assert_eq!(
            validate_redirect_uri("http://bücher.example/cb"),
            Err(RedirectUriError::InsecureHttp)
        );
    }

    proptest::proptest! {
        #[test]
        fn every_redirect_uri_the_pattern_describes_is_accepted(
            uri in proptest::string::string_regex(
                REDIRECT_URI_PATTERN.trim_start_matches('^').trim_end_matches('$')
            ).unwrap(),
        ) {
            proptest::prop_assert_eq!(validate_redirect_uri(&uri), Ok(()), "{:?}", uri);
        }
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
