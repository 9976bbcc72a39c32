//! The `management` table of an Auth0 companion (docs/companion.md, "Writing root attributes
//! through Auth0's Management API"): the machine-to-machine credentials Accrete writes the
//! answers of root attributes with, where it calls, and which attributes those are. Imports
//! nothing of the companions, which hold it.

use serde::{Deserialize, Serialize};

/// The root attributes of an Auth0 user that answers are written to: those Auth0 documents as
/// updatable with `PATCH /api/v2/users/{id}` ("Update Root Attributes for Users"). Not
/// `phone_number`: Auth0 accepts it only for users of SMS connections (or with attribute
/// configuration), so writing it would fail for most users.
pub const AUTH0_ROOT_ATTRIBUTES: [&str; 5] =
    ["given_name", "family_name", "name", "nickname", "picture"];

/// Whether the profile claim `claim` is a root attribute the Management API writes.
pub fn writable(claim: &str) -> bool {
    AUTH0_ROOT_ATTRIBUTES.contains(&claim)
}

/// `[companions.management]`: Accrete writes answers to root attributes through Auth0's
/// Management API with these credentials.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagementSpec {
    /// The client id of a machine-to-machine application authorised for the Management API
    /// with the `update:users` permission.
    pub client_id: String,
    /// Its client secret (masked by `accrete config show`, never in logs).
    pub client_secret: String,
    /// The tenant's domain (default: the companion's `issuer`): the audience of the tokens is
    /// `https://<domain>/api/v2/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Where to call (default `https://<domain>`): another address of the tenant, or a
    /// stand-in in tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

// The secret never reaches a log through `{:?}`.
impl std::fmt::Debug for ManagementSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagementSpec")
            .field("client_id", &self.client_id)
            .field("client_secret", &"********")
            .field("domain", &self.domain)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl ManagementSpec {
    /// As `accrete config show` prints it: the secret masked.
    pub fn redacted(&self) -> ManagementSpec {
        ManagementSpec {
            client_secret: "********".to_owned(),
            ..self.clone()
        }
    }

    /// The tenant's domain: the configured one, else the companion's `issuer`.
    pub fn domain<'a>(&'a self, issuer: &'a str) -> &'a str {
        self.domain.as_deref().unwrap_or(issuer).trim()
    }

    /// The audience of the Management API's tokens: `https://<domain>/api/v2/`.
    pub fn audience(&self, issuer: &str) -> String {
        format!("https://{}/api/v2/", self.domain(issuer))
    }

    /// Where the token endpoint and the API are: `base_url`, else `https://<domain>` (no
    /// trailing slash).
    pub fn base_url(&self, issuer: &str) -> String {
        match &self.base_url {
            Some(url) => url.trim().trim_end_matches('/').to_owned(),
            None => format!("https://{}", self.domain(issuer)),
        }
    }

    /// Its problems, as `(path, message)`, for a companion whose `issuer` is given.
    pub fn problems(&self, issuer: &str) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.client_id.trim().is_empty() {
            problems.push((
                "management.client_id",
                "the client id of a machine-to-machine application is required".to_owned(),
            ));
        }
        if self.client_secret.is_empty() {
            problems.push((
                "management.client_secret",
                "the machine-to-machine application's secret is required".to_owned(),
            ));
        }
        let domain = self.domain(issuer);
        if !is_host_name(domain) {
            let message = match self.domain {
                Some(_) => format!("not a host name such as example.eu.auth0.com: {domain}"),
                None => format!(
                    "the issuer ({domain}) is not a host name: set the tenant's domain, such as \
                     example.eu.auth0.com"
                ),
            };
            problems.push(("management.domain", message));
        }
        if let Some(url) = &self.base_url {
            match url::Url::parse(url.trim()) {
                Ok(parsed)
                    if matches!(parsed.scheme(), "https" | "http")
                        && parsed.host().is_some()
                        && parsed.query().is_none()
                        && parsed.fragment().is_none() => {}
                _ => problems.push((
                    "management.base_url",
                    format!("not an http(s) URL without query: {url}"),
                )),
            }
        }
        problems
    }
}

/// Whether `text` is a bare host name (no scheme, port or path).
fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && url::Url::parse(&format!("https://{text}/"))
            .is_ok_and(|url| url.host_str() == Some(&text.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ManagementSpec {
        ManagementSpec {
            client_id: "m2m".into(),
            client_secret: "a machine secret".into(),
            domain: None,
            base_url: None,
        }
    }

    #[test]
    fn the_tenant_is_the_issuer_unless_said() {
        let spec = spec();
        assert!(spec.problems("example.eu.auth0.com").is_empty());
        assert_eq!(
            spec.audience("example.eu.auth0.com"),
            "https://example.eu.auth0.com/api/v2/"
        );
        assert_eq!(
            spec.base_url("example.eu.auth0.com"),
            "https://example.eu.auth0.com"
        );
        let custom = ManagementSpec {
            domain: Some("tenant.us.auth0.com".into()),
            base_url: Some("http://127.0.0.1:8080/".into()),
            ..spec
        };
        assert_eq!(
            custom.audience("login.example.com"),
            "https://tenant.us.auth0.com/api/v2/"
        );
        assert_eq!(
            custom.base_url("login.example.com"),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn every_mistake_is_named_by_its_key_and_the_secret_never_shown() {
        let bad = ManagementSpec {
            client_id: " ".into(),
            client_secret: String::new(),
            domain: None,
            base_url: Some("ftp://x".into()),
        };
        let problems = bad.problems("https://example.eu.auth0.com/");
        let paths: Vec<&str> = problems.iter().map(|(path, _)| *path).collect();
        assert_eq!(
            paths,
            [
                "management.client_id",
                "management.client_secret",
                "management.domain",
                "management.base_url"
            ]
        );
        assert!(!format!("{:?}", spec()).contains("machine secret"));
        assert_eq!(spec().redacted().client_secret, "********");
        assert!(writable("given_name") && !writable("phone_number") && !writable("email"));
    }
}
