//! `http` and `https` addresses as the policy's values and answers accept them: a `url`
//! field's answer, a consent field's `consent_url`.

/// Longest URL accepted, in characters.
pub(crate) const MAX_URL_CHARS: usize = 2048;

/// An `http` or `https` URL as a `url` field and a field's `consent_url` accept it: at most
/// [`MAX_URL_CHARS`] characters, no spaces or control characters, and a host.
pub(crate) struct WebUrl<'a> {
    /// `http` or `https`, in lower case.
    pub(crate) scheme: String,
    /// The host, without user information or port (an IPv6 address in its brackets).
    pub(crate) host: &'a str,
    /// Everything after `://`.
    pub(crate) rest: &'a str,
}

impl<'a> WebUrl<'a> {
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        if text.chars().count() > MAX_URL_CHARS
            || text.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return None;
        }
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit('@').next().unwrap_or("");
        let host = if host.starts_with('[') && host.contains(']') {
            host.split_inclusive(']').next().unwrap_or("")
        } else {
            host.split(':').next().unwrap_or("")
        };
        if host.is_empty() || host.starts_with('.') || host.ends_with("..") {
            return None;
        }
        Some(Self { scheme, host, rest })
    }

    /// Whether the host is this machine by name or loopback address (`localhost`,
    /// `*.localhost`, `127.0.0.1`, `[::1]`), where browsers treat plain `http` as secure.
    pub(crate) fn is_localhost(&self) -> bool {
        let host = self.host.to_ascii_lowercase();
        host == "localhost"
            || host.ends_with(".localhost")
            || host == "127.0.0.1"
            || host == "[::1]"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_web_url_has_an_http_scheme_and_a_host() {
        let web = WebUrl::parse("HTTPS://user@shop.example:8443/terms?v=2#top").unwrap();
        assert_eq!(web.scheme, "https");
        assert_eq!(web.host, "shop.example");
        assert_eq!(web.rest, "user@shop.example:8443/terms?v=2#top");
        assert_eq!(WebUrl::parse("http://[::1]:8080/x").unwrap().host, "[::1]");
        for bad in [
            "shop.example/terms",
            "ftp://shop.example/terms",
            "https:///terms",
            "https://shop.example/the terms",
            "javascript://%0Aalert(1)",
        ] {
            assert!(WebUrl::parse(bad).is_none(), "{bad}");
        }
        assert!(WebUrl::parse(&format!("https://a.example/{}", "x".repeat(2048))).is_none());
    }

    #[test]
    fn localhost_is_the_name_or_a_loopback_address() {
        for local in [
            "http://localhost:8080/terms",
            "http://app.localhost/terms",
            "http://127.0.0.1/terms",
            "http://[::1]:3000/terms",
        ] {
            assert!(WebUrl::parse(local).unwrap().is_localhost(), "{local}");
        }
        for remote in [
            "http://localhost.example/",
            "http://10.0.0.1/",
            "http://[::2]/",
        ] {
            assert!(!WebUrl::parse(remote).unwrap().is_localhost(), "{remote}");
        }
    }
}
