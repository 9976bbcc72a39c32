//! What a [`ConnectionSpec`] may be: every problem at once, each at the path of the value it
//! concerns.

use url::Url;

use super::url_patterns::{ENDPOINT_PATTERN, ISSUER_PATTERN};
use super::{ConnectionSpec, Preset, SpecProblem};
use crate::apple;
use crate::hosts::is_loopback_host;

/// The longest connection name.
const NAME_MAX_CHARS: usize = 40;
/// The longest button text, in characters.
const DISPLAY_NAME_MAX_CHARS: usize = 100;
/// The longest client id, in bytes.
const CLIENT_ID_MAX_BYTES: usize = 255;
/// The longest field key of a mapping, in characters.
const FIELD_MAX_CHARS: usize = 100;

/// The tenants of Entra ID that are not one tenant.
const ENTRA_MULTI_TENANTS: [&str; 3] = ["common", "organizations", "consumers"];

impl ConnectionSpec {
    /// Checks the spec: every problem, in the order of the fields, or `Ok` when it can be used.
    ///
    /// Codes: `invalid_name`, `invalid_display_name`, `required` (missing for this preset),
    /// `not_applicable` (written but not used by this preset), `invalid_url` (not an absolute
    /// `https` URL without credentials or fragment; an issuer has no query either),
    /// `insecure_url` (`http` to a host other than `localhost`, `127.0.0.1` or `[::1]`),
    /// `invalid_tenant`, `invalid_client_id`, `invalid_client_secret`, `invalid_team_id`,
    /// `invalid_key_id`, `invalid_private_key` (not an EC P-256 key in PEM, PKCS#8),
    /// `invalid_scope`, `invalid_domain`, `duplicate_domain`, `invalid_pointer` (not a JSON
    /// pointer), `invalid_field`.
    ///
    /// The secrets are checked too: check a spec with its secrets (see
    /// [`ConnectionSpec::with_secrets`]).
    pub fn check(&self) -> Result<(), Vec<SpecProblem>> {
        let problems = self.problems(true);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The problems of the spec; `deep` also signs with Apple's key to prove it usable (left out
    /// when resolving a checked spec on every sign-in).
    pub(super) fn problems(&self, deep: bool) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        let preset = self.preset;

        if !is_name(&self.name) {
            problems.push(SpecProblem::new(
                "name",
                "invalid_name",
                "use 1 to 40 lower-case letters, digits and hyphens, starting with a letter or digit",
            ));
        }
        if let Some(display_name) = &self.display_name
            && !is_display_name(display_name)
        {
            problems.push(SpecProblem::new(
                "display_name",
                "invalid_display_name",
                format!("write 1 to {DISPLAY_NAME_MAX_CHARS} characters, without line breaks"),
            ));
        }

        match (&self.issuer, preset) {
            (Some(_), Preset::OAuth2 | Preset::GitHub) => {
                problems.push(not_applicable(
                    "issuer",
                    preset,
                    "its endpoints are configured",
                ));
            }
            (Some(issuer), _) => {
                if let Err(problem) = check_url("issuer", issuer, UrlKind::Issuer) {
                    problems.push(problem);
                }
            }
            (None, Preset::Oidc) => problems.push(required("issuer", preset)),
            (None, _) => {}
        }

        match (&self.tenant, preset) {
            (Some(tenant), Preset::Microsoft) => {
                if !is_tenant(tenant) {
                    problems.push(SpecProblem::new(
                        "tenant",
                        "invalid_tenant",
                        "use common, organizations, consumers, a tenant id or one of the tenant's domains",
                    ));
                }
            }
            (Some(_), _) => {
                problems.push(not_applicable("tenant", preset, "tenants are Microsoft's"));
            }
            (None, _) => {}
        }

        for (path, endpoint) in [
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("userinfo_endpoint", &self.userinfo_endpoint),
        ] {
            match endpoint {
                Some(_) if preset.is_oidc() => problems.push(not_applicable(
                    path,
                    preset,
                    "its endpoints come from the issuer's discovery document",
                )),
                Some(url) => {
                    if let Err(problem) = check_url(path, url, UrlKind::Endpoint) {
                        problems.push(problem);
                    }
                }
                None if preset == Preset::OAuth2 => problems.push(required(path, preset)),
                None => {}
            }
        }

        if self.client_id.is_empty() {
            problems.push(SpecProblem::new(
                "client_id",
                "required",
                "a client id is required",
            ));
        } else if !is_client_id(&self.client_id) {
            problems.push(SpecProblem::new(
                "client_id",
                "invalid_client_id",
                format!(
                    "write at most {CLIENT_ID_MAX_BYTES} bytes, without spaces around it or line breaks"
                ),
            ));
        }

        match (&self.client_secret, preset) {
            (Some(_), Preset::Apple) => problems.push(not_applicable(
                "client_secret",
                preset,
                "Apple's client secret is signed with the key of `apple`",
            )),
            (Some(secret), _) if secret.is_empty() => {
                problems.push(required("client_secret", preset));
            }
            (Some(secret), _) if secret.chars().any(char::is_control) => {
                problems.push(SpecProblem::new(
                    "client_secret",
                    "invalid_client_secret",
                    "the client secret contains a line break or another control character",
                ));
            }
            (Some(_), _) | (None, Preset::Apple) => {}
            (None, _) => problems.push(required("client_secret", preset)),
        }

        match (&self.apple, preset) {
            (Some(key), Preset::Apple) => {
                if !is_apple_id(&key.team_id) {
                    problems.push(SpecProblem::new(
                        "apple/team_id",
                        "invalid_team_id",
                        "an Apple team id is 10 upper-case letters and digits",
                    ));
                }
                if !is_apple_id(&key.key_id) {
                    problems.push(SpecProblem::new(
                        "apple/key_id",
                        "invalid_key_id",
                        "an Apple key id is 10 upper-case letters and digits",
                    ));
                }
                if key.private_key.is_empty() {
                    problems.push(SpecProblem::new(
                        "apple/private_key",
                        "required",
                        "the private key downloaded from Apple (.p8) is required",
                    ));
                } else if deep && apple::check_private_key(&key.private_key).is_err() {
                    problems.push(SpecProblem::new(
                        "apple/private_key",
                        "invalid_private_key",
                        "not an EC P-256 private key in PEM (PKCS#8), as Apple's .p8 files are",
                    ));
                }
            }
            (Some(_), _) => problems.push(not_applicable("apple", preset, "it is Apple's key")),
            (None, Preset::Apple) => problems.push(required("apple", preset)),
            (None, _) => {}
        }

        for (index, scope) in self.scopes.iter().flatten().enumerate() {
            if !is_scope_token(scope) {
                problems.push(SpecProblem::new(
                    format!("scopes/{index}"),
                    "invalid_scope",
                    "a scope is printable ASCII without spaces, quotes or backslashes",
                ));
            }
        }

        for (index, domain) in self.domains.iter().enumerate() {
            if !is_dns_name(domain) {
                problems.push(SpecProblem::new(
                    format!("domains/{index}"),
                    "invalid_domain",
                    "write a lower-case domain name such as example.com",
                ));
            } else if self.domains[..index].contains(domain) {
                problems.push(SpecProblem::new(
                    format!("domains/{index}"),
                    "duplicate_domain",
                    format!("{domain} is listed twice"),
                ));
            }
        }

        for (index, mapping) in self.mapping.iter().flatten().enumerate() {
            if !is_json_pointer(&mapping.claim) {
                problems.push(SpecProblem::new(
                    format!("mapping/{index}/claim"),
                    "invalid_pointer",
                    "write a JSON pointer such as /given_name or /address/country (~0 for ~, ~1 for /)",
                ));
            }
            if mapping.field.is_empty() {
                problems.push(SpecProblem::new(
                    format!("mapping/{index}/field"),
                    "required",
                    "the key of a field of the policy is required",
                ));
            } else if !is_field_key(&mapping.field) {
                problems.push(SpecProblem::new(
                    format!("mapping/{index}/field"),
                    "invalid_field",
                    format!(
                        "write a field key of at most {FIELD_MAX_CHARS} characters, without spaces"
                    ),
                ));
            }
        }

        problems
    }
}

fn required(path: &str, preset: Preset) -> SpecProblem {
    SpecProblem::new(path, "required", format!("{path} is required for {preset}"))
}

fn not_applicable(path: &str, preset: Preset, why: &str) -> SpecProblem {
    SpecProblem::new(
        path,
        "not_applicable",
        format!("{path} is not used by {preset}: {why}"),
    )
}

/// Which rules a URL follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlKind {
    /// An OpenID Connect issuer: no query either.
    Issuer,
    /// An endpoint.
    Endpoint,
}

/// Parses a URL of a spec: absolute, `https` (or `http` to `localhost`, `127.0.0.1`, `[::1]`),
/// with a host, without credentials or fragment; an issuer without query.
pub(crate) fn check_url(path: &str, value: &str, kind: UrlKind) -> Result<Url, SpecProblem> {
    let invalid = |why: &str| SpecProblem::new(path, "invalid_url", why);
    let url = Url::parse(value).map_err(|_| invalid("not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if url.host().is_some_and(|host| is_loopback_host(&host)) => {}
        "http" => {
            return Err(SpecProblem::new(
                path,
                "insecure_url",
                "use https (http only for localhost, 127.0.0.1 or [::1])",
            ));
        }
        _ => return Err(invalid("use an https URL")),
    }
    if url.host().is_none() {
        return Err(invalid("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("the URL must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(invalid("the URL must not have a fragment (#...)"));
    }
    if kind == UrlKind::Issuer && url.query().is_some() {
        return Err(invalid("an issuer has no query (?...)"));
    }
    static PATTERNS: std::sync::LazyLock<Option<(regex::Regex, regex::Regex)>> =
        std::sync::LazyLock::new(|| {
            Some((
                regex::Regex::new(ISSUER_PATTERN).ok()?,
                regex::Regex::new(ENDPOINT_PATTERN).ok()?,
            ))
        });
    let described = |text: &str| {
        PATTERNS
            .as_ref()
            .is_some_and(|(issuer, endpoint)| match kind {
                UrlKind::Issuer => issuer.is_match(text),
                UrlKind::Endpoint => endpoint.is_match(text),
            })
    };
    if !described(value)
        && !accrete_oidc::client::described_but_for_its_host(&url, value, described)
    {
        return Err(invalid(
            "write the URL as https://host[:port]/path: the host in letters, digits, dots and \
             hyphens (an international name in its xn-- form), the path and query in letters, \
             digits, -._~!$&'()*+,;=:@/ and %XX escapes",
        ));
    }
    Ok(url)
}

/// `[a-z0-9][a-z0-9-]{0,39}`.
fn is_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && name.len() <= NAME_MAX_CHARS
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_display_name(name: &str) -> bool {
    let count = name.chars().count();
    !name.trim().is_empty()
        && count <= DISPLAY_NAME_MAX_CHARS
        && !name.chars().any(char::is_control)
}

fn is_client_id(id: &str) -> bool {
    id.len() <= CLIENT_ID_MAX_BYTES && id.trim() == id && !id.chars().any(char::is_control)
}

fn is_field_key(field: &str) -> bool {
    field.chars().count() <= FIELD_MAX_CHARS
        && !field.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Apple's team and key ids: 10 upper-case letters and digits.
fn is_apple_id(id: &str) -> bool {
    id.len() == 10
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// An Entra ID tenant: `common`, `organizations`, `consumers`, a tenant id or a domain.
fn is_tenant(tenant: &str) -> bool {
    ENTRA_MULTI_TENANTS.contains(&tenant) || is_guid(tenant) || is_dns_name(tenant)
}

/// `8-4-4-4-12` hexadecimal digits.
pub(super) fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A lower-case DNS name of at least two labels (`example.com`): labels of 1 to 63 letters,
/// digits and inner hyphens, 253 bytes in all, a top-level label that starts with a letter.
fn is_dns_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().next().is_some_and(|b| b.is_ascii_lowercase()))
}

/// A scope token (RFC 6749 §3.3): `%x21 / %x23-5B / %x5D-7E`, at least one.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A JSON pointer (RFC 6901): empty, or `/`-prefixed reference tokens where `~` is followed by
/// `0` or `1`.
fn is_json_pointer(pointer: &str) -> bool {
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        return false;
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_pattern() {
        assert!(is_name("google"));
        assert!(is_name("0-a"));
        assert!(is_name(&"a".repeat(40)));
        assert!(!is_name(&"a".repeat(41)));
        assert!(!is_name("-a"));
        assert!(!is_name("Google"));
        assert!(!is_name("a_b"));
        assert!(!is_name(""));
    }

    #[test]
    fn dns_names_are_lower_case_with_two_labels() {
        assert!(is_dns_name("example.com"));
        assert!(is_dns_name("xn--bcher-kva.example"));
        assert!(!is_dns_name("Example.com"));
        assert!(!is_dns_name("localhost"));
        assert!(!is_dns_name("a..b"));
        assert!(!is_dns_name("-a.com"));
        assert!(!is_dns_name("10.0.0.1"));
        assert!(!is_dns_name("a.com."));
        assert!(!is_dns_name("a.1b"));
    }

    #[test]
    fn tenants_are_words_ids_or_domains() {
        assert!(is_tenant("common"));
        assert!(is_tenant("9188040d-6c67-4c5b-b112-36a304b66dad"));
        assert!(is_tenant("contoso.onmicrosoft.com"));
        assert!(!is_tenant("everyone"));
        assert!(!is_tenant("9188040d-6c67-4c5b-b112"));
    }

    #[test]
    fn json_pointers_start_with_a_slash_and_escape_tildes() {
        assert!(is_json_pointer(""));
        assert!(is_json_pointer("/given_name"));
        assert!(is_json_pointer("/a~1b/~0"));
        assert!(!is_json_pointer("given_name"));
        assert!(!is_json_pointer("/a~2"));
        assert!(!is_json_pointer("/a~"));
    }

    #[test]
    fn urls_are_https_except_to_loopback() {
        assert!(check_url("issuer", "https://id.example", UrlKind::Issuer).is_ok());
        assert!(check_url("issuer", "http://127.0.0.1:8080/x", UrlKind::Issuer).is_ok());
        assert!(check_url("issuer", "http://[::1]/", UrlKind::Issuer).is_ok());
        assert!(check_url("issuer", "http://localhost/", UrlKind::Issuer).is_ok());
        let insecure = check_url("issuer", "http://id.example", UrlKind::Issuer);
        assert_eq!(insecure.map_err(|p| p.code), Err("insecure_url"));
        for bad in [
            "id.example",
            "ftp://id.example",
            "https://user:pw@id.example",
            "https://id.example/#x",
        ] {
            let result = check_url("issuer", bad, UrlKind::Endpoint);
            assert_eq!(result.map_err(|p| p.code), Err("invalid_url"), "{bad}");
        }
        assert!(check_url("e", "https://id.example/?a=b", UrlKind::Endpoint).is_ok());
        assert!(check_url("i", "https://id.example/?a=b", UrlKind::Issuer).is_err());
    }

    #[test]
    fn urls_are_written_as_the_schema_describes_them_but_for_indescribable_hosts() {
        let described = regex::Regex::new(ISSUER_PATTERN).unwrap();
        for bad in [
            "https://a*b.example",
            "https://id.example/café",
            "https://id.example/a b",
            "https://id.example:0443",
            "http://LOCALHOST:3000",
            "https://bücher.example",
            "http://[0::1]/",
        ] {
            let result = check_url("issuer", bad, UrlKind::Issuer);
            assert_eq!(result.map_err(|p| p.code), Err("invalid_url"), "{bad}");
            assert!(!described.is_match(bad), "{bad}");
        }
        for good in [
            "https://xn--bcher-kva.example/realms/a",
            "https://[2001:db8::1]:8443/x",
            "https://id.example/caf%C3%A9",
        ] {
            assert!(check_url("issuer", good, UrlKind::Issuer).is_ok(), "{good}");
        }
    }
}
