//! The discovery document (`/.well-known/openid-configuration`, OpenID Connect Discovery 1.0) and
//! the endpoint paths, all derived from the issuer URL.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::claims::{STANDARD_SCOPES, all_standard_claims};
use crate::keys::Alg;

/// Endpoint paths, relative to the issuer. The server mounts its routes on these.
pub mod paths {
    /// Discovery document.
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    /// JSON Web Key Set.
    pub const JWKS: &str = "/jwks.json";
    /// Authorization endpoint (GET and POST).
    pub const AUTHORIZE: &str = "/authorize";
    /// Token endpoint.
    pub const TOKEN: &str = "/token";
    /// Userinfo endpoint (GET and POST).
    pub const USERINFO: &str = "/userinfo";
    /// RP-initiated logout (GET and POST).
    pub const END_SESSION: &str = "/logout";
    /// Token revocation (RFC 7009).
    pub const REVOCATION: &str = "/revoke";
    /// Token introspection (RFC 7662).
    pub const INTROSPECTION: &str = "/introspect";
}

/// Why an issuer URL is not acceptable (OpenID Connect Discovery §3: `https` scheme, no query, no
/// fragment; `http` only on loopback for development).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// Not an absolute URL.
    #[error("issuer is not an absolute URL")]
    NotAbsolute,
    /// Has a query or a fragment.
    #[error("issuer must not have a query or fragment")]
    QueryOrFragment,
    /// Neither `https` nor `http` on a loopback host.
    #[error("issuer must use https (http only on localhost / loopback)")]
    Scheme,
}

/// A validated issuer identifier, without a trailing slash (`https://id.example.com` or
/// `https://example.com/id`). Its string form is the exact `iss` value of every token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    /// Validates an issuer URL.
    pub fn parse(text: &str) -> Result<Self, IssuerError> {
        let url = Url::parse(text).map_err(|_| IssuerError::NotAbsolute)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(IssuerError::QueryOrFragment);
        }
        let loopback = match url.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(IssuerError::NotAbsolute),
        };
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(IssuerError::Scheme);
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    /// The `iss` value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute URL of an endpoint path (see [`paths`]).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// What the discovery document advertises beyond the fixed protocol choices.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryOptions {
    /// Algorithms ID tokens may be signed with (RS256 first).
    pub id_token_algs: Vec<Alg>,
    /// Custom scopes declared by the administrator, added to the standard ones.
    pub extra_scopes: Vec<String>,
    /// Custom claims released by those scopes.
    pub extra_claims: Vec<String>,
    /// Locales the hosted pages are translated into (BCP 47).
    pub ui_locales: Vec<String>,
}

/// The OpenID Provider Metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryDocument {
    /// The issuer identifier.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// Userinfo endpoint.
    pub userinfo_endpoint: String,
    /// JWKS URL.
    pub jwks_uri: String,
    /// RP-initiated logout endpoint.
    pub end_session_endpoint: String,
    /// RFC 7009 revocation endpoint.
    pub revocation_endpoint: String,
    /// RFC 7662 introspection endpoint.
    pub introspection_endpoint: String,
    /// Only `code`.
    pub response_types_supported: Vec<String>,
    /// Only `query`.
    pub response_modes_supported: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types_supported: Vec<String>,
    /// Only `public`.
    pub subject_types_supported: Vec<String>,
    /// ID token algorithms.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Standard and custom scopes.
    pub scopes_supported: Vec<String>,
    /// Standard and custom claims.
    pub claims_supported: Vec<String>,
    /// Only `S256`.
    pub code_challenge_methods_supported: Vec<String>,
    /// `client_secret_basic`, `client_secret_post`, `none`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Same as the token endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// `client_secret_basic`, `client_secret_post` (no `none`: confidential clients only).
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// Request objects are not supported.
    pub request_parameter_supported: bool,
    /// `request_uri` is not supported.
    pub request_uri_parameter_supported: bool,
    /// The `claims` parameter is not supported.
    pub claims_parameter_supported: bool,
    /// RFC 9207: the `iss` parameter is sent on authorization responses.
    pub authorization_response_iss_parameter_supported: bool,
    /// Locales of the hosted pages.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ui_locales_supported: Vec<String>,
    /// `none`, `login`, `consent`, `select_account`, `create`.
    pub prompt_values_supported: Vec<String>,
    /// Algorithms of JWT access tokens (RFC 9068).
    pub access_token_signing_alg_values_supported: Vec<String>,
    /// The `acr` values a relying party may ask for with `acr_values` (see `crate::mfa`).
    pub acr_values_supported: Vec<String>,
}

/// The `prompt` values understood by the authorization endpoint.
pub const PROMPT_VALUES: &[&str] = &["none", "login", "consent", "select_account", "create"];

/// Client authentication methods at the token and revocation endpoints (`none`: public clients,
/// which may revoke their own tokens, RFC 7009 §2.1).
pub const AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "none"];

/// Client authentication methods at the introspection endpoint: confidential clients only, since
/// RFC 7662 §2.1 wants the caller authorized and a public client cannot authenticate.
pub const INTROSPECTION_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post"];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl DiscoveryDocument {
    /// The document for `issuer`.
    pub fn new(issuer: &Issuer, options: &DiscoveryOptions) -> Self {
        let mut algs = options.id_token_algs.clone();
        if algs.is_empty() {
            algs.push(Alg::RS256);
        }
        let algs: Vec<String> = algs.iter().map(|alg| alg.as_str().to_owned()).collect();
        let mut scopes = strings(STANDARD_SCOPES);
        scopes.extend(
            options
                .extra_scopes
                .iter()
                .filter(|s| !scopes.contains(s))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let mut claims = strings(&all_standard_claims());
        claims.extend(
            [
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "azp",
                "at_hash",
                "amr",
                "acr",
                "sid",
            ]
            .map(String::from),
        );
        claims.extend(
            options
                .extra_claims
                .iter()
                .filter(|c| !claims.contains(c))
                .cloned()
                .collect::<Vec<_>>(),
        );
        Self {
            issuer: issuer.as_str().to_owned(),
            authorization_endpoint: issuer.endpoint(paths::AUTHORIZE),
            token_endpoint: issuer.endpoint(paths::TOKEN),
            userinfo_endpoint: issuer.endpoint(paths::USERINFO),
            jwks_uri: issuer.endpoint(paths::JWKS),
            end_session_endpoint: issuer.endpoint(paths::END_SESSION),
            revocation_endpoint: issuer.endpoint(paths::REVOCATION),
            introspection_endpoint: issuer.endpoint(paths::INTROSPECTION),
            response_types_supported: strings(&["code"]),
            response_modes_supported: strings(&["query"]),
            grant_types_supported: strings(&[
                "authorization_code",
                "refresh_token",
                "client_credentials",
            ]),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: algs.clone(),
            scopes_supported: scopes,
            claims_supported: claims,
            code_challenge_methods_supported: strings(&["S256"]),
            token_endpoint_auth_methods_supported: strings(AUTH_METHODS),
            revocation_endpoint_auth_methods_supported: strings(AUTH_METHODS),
            introspection_endpoint_auth_methods_supported: strings(INTROSPECTION_AUTH_METHODS),
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            claims_parameter_supported: false,
            authorization_response_iss_parameter_supported: true,
            ui_locales_supported: options.ui_locales.clone(),
            prompt_values_supported: strings(PROMPT_VALUES),
            access_token_signing_alg_values_supported: algs,
            acr_values_supported: strings(&crate::mfa::ACR_VALUES_SUPPORTED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        Issuer::parse("https://id.example.com/").unwrap()
    }

    #[test]
    fn endpoints_are_derived_from_the_issuer() {
        let doc = DiscoveryDocument::new(&issuer(), &DiscoveryOptions::default());
        assert_eq!(doc.issuer, "https://id.example.com");
        assert_eq!(
            doc.authorization_endpoint,
            "https://id.example.com/authorize"
        );
        assert_eq!(doc.jwks_uri, "https://id.example.com/jwks.json");
        assert_eq!(doc.end_session_endpoint, "https://id.example.com/logout");
    }

    #[test]
    fn issuer_with_a_path_keeps_it() {
        let issuer = Issuer::parse("https://example.com/id").unwrap();
        assert_eq!(
            issuer.endpoint(paths::TOKEN),
            "https://example.com/id/token"
        );
    }

    #[test]
    fn document_advertises_code_flow_with_s256_and_no_request_objects() {
        let doc = DiscoveryDocument::new(&issuer(), &DiscoveryOptions::default());
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            json["response_types_supported"],
            serde_json::json!(["code"])
        );
        assert_eq!(
            json["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            json["subject_types_supported"],
            serde_json::json!(["public"])
        );
        assert_eq!(json["request_parameter_supported"], false);
        assert_eq!(json["request_uri_parameter_supported"], false);
        assert_eq!(json["claims_parameter_supported"], false);
        assert_eq!(
            json["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"])
        );
        assert!(json.get("ui_locales_supported").is_none());
    }

    #[test]
    fn options_add_algorithms_scopes_claims_and_locales() {
        let options = DiscoveryOptions {
            id_token_algs: vec![Alg::RS256, Alg::ES256, Alg::EdDSA],
            extra_scopes: vec!["org".into(), "email".into()],
            extra_claims: vec!["company".into()],
            ui_locales: vec!["en".into(), "fr".into()],
        };
        let doc = DiscoveryDocument::new(&issuer(), &options);
        assert_eq!(
            doc.id_token_signing_alg_values_supported,
            ["RS256", "ES256", "EdDSA"]
        );
        assert_eq!(
            doc.scopes_supported
                .iter()
                .filter(|s| *s == "email")
                .count(),
            1
        );
        assert!(doc.scopes_supported.contains(&"org".to_owned()));
        assert!(doc.claims_supported.contains(&"company".to_owned()));
        assert_eq!(doc.ui_locales_supported, ["en", "fr"]);
    }

    #[test]
    fn public_clients_may_revoke_but_not_introspect() {
        let doc = DiscoveryDocument::new(&issuer(), &DiscoveryOptions::default());
        assert!(
            doc.revocation_endpoint_auth_methods_supported
                .contains(&"none".to_owned())
        );
        assert_eq!(
            doc.introspection_endpoint_auth_methods_supported,
            ["client_secret_basic", "client_secret_post"]
        );
    }

    #[test]
    fn issuer_must_be_https_without_query_or_fragment() {
        assert_eq!(
            Issuer::parse("http://id.example.com"),
            Err(IssuerError::Scheme)
        );
        assert!(Issuer::parse("http://localhost:8080").is_ok());
        assert!(Issuer::parse("http://127.0.0.1:8080").is_ok());
        assert_eq!(
            Issuer::parse("https://id.example.com?x=1"),
            Err(IssuerError::QueryOrFragment)
        );
        assert_eq!(
            Issuer::parse("https://id.example.com#x"),
            Err(IssuerError::QueryOrFragment)
        );
        assert_eq!(
            Issuer::parse("id.example.com"),
            Err(IssuerError::NotAbsolute)
        );
    }
}
