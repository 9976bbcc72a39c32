//! The shapes of the URLs of a connection's definition as regular expressions: what
//! `check::check_url` accepts, and the API schema's `pattern`s.

/// A decimal octet without leading zeros, 0 to 255.
macro_rules! octet {
    () => {
        "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    };
}

/// The start of a URL the check takes: `https://` and a host (labels of letters, digits
/// and single hyphens, the last starting with a letter, or an IPv4 address), or `http://`
/// and a loopback host; then an optional port.
macro_rules! url_start {
    () => {
        concat!(
            "^(https://(([A-Za-z0-9]+(-[A-Za-z0-9]+)*\\.)*[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*|",
            octet!(),
            r"(\.",
            octet!(),
            "){3})|http://(localhost|127",
            r"(\.",
            octet!(),
            r"){3}|\[::1\]))",
            "(:(0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
        )
    };
}

/// A character of a URL's path: unreserved, sub-delimiters, `:`, `@`, `/`, or a
/// percent-encoded octet.
macro_rules! path_char {
    () => {
        "([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})"
    };
}

/// An issuer as `check::check_url` takes it, as a regular expression (ECMA-262 and Rust `regex`
/// alike) for the OpenAPI document's `pattern`: an `https` URL (`http` to this machine), a
/// path of the characters RFC 3986 allows unescaped, or `%XX`; no query or fragment. Accepted
/// but not described: a host that is an IPv6 literal or an `xn--` name, written as the URL
/// parser writes it (`accrete_oidc::client::indescribable_host`).
pub const ISSUER_PATTERN: &str = concat!(url_start!(), "(/", path_char!(), "*)?$");

/// An endpoint as `check::check_url` takes it: an issuer's shape, and a query.
pub const ENDPOINT_PATTERN: &str = concat!(
    url_start!(),
    "(/",
    path_char!(),
    r"*)?(\?(",
    path_char!(),
    r"|\?)*)?$"
);
