//! OpenID Connect discovery: the provider's metadata (read with `openidconnect`) checked against
//! the connection (issuer, hosts of the endpoints) and boiled down to what the flows use, and its
//! JWKS.

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, IssuerUrl, JwsSigningAlgorithm as _, ProviderMetadata,
    TokenUrl, UserInfoUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::UpstreamError;
use crate::http::{Allowed, Http};
use crate::presets::TENANT_PLACEHOLDER;

/// RFC 9207's metadata, beside OpenID Connect Discovery's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Rfc9207Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_response_iss_parameter_supported: Option<bool>,
}

impl AdditionalProviderMetadata for Rfc9207Metadata {}

type Metadata = ProviderMetadata<
    Rfc9207Metadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Which issuer signs the ID tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IssuerRule {
    /// This one, character for character.
    Exact(String),
    /// Entra ID, several tenants: this template with the token's own `tid`.
    Template(String),
}

impl IssuerRule {
    /// The issuer as the discovery document writes it (a template for several tenants).
    pub(crate) fn as_str(&self) -> &str {
        match self {
            IssuerRule::Exact(issuer) | IssuerRule::Template(issuer) => issuer,
        }
    }
}

/// What the flows use of a provider's discovery document.
#[derive(Debug, Clone)]
pub(crate) struct Discovery {
    pub(crate) issuer: IssuerRule,
    pub(crate) authorization_endpoint: AuthUrl,
    pub(crate) token_endpoint: TokenUrl,
    pub(crate) userinfo_endpoint: Option<UserInfoUrl>,
    pub(crate) jwks_uri: Url,
    /// `client_secret_post` rather than `client_secret_basic`: the document lists only that.
    pub(crate) client_secret_post: bool,
    /// RFC 9207: every authorization answer carries `iss`.
    pub(crate) iss_parameter: bool,
    /// The ID token signature algorithms accepted: the document's, without the symmetric ones.
    pub(crate) algs: Vec<CoreJwsSigningAlgorithm>,
}

impl Discovery {
    /// The issuer for `openidconnect`'s client (only used to check signed userinfo answers).
    pub(crate) fn issuer_url(&self) -> Result<IssuerUrl, UpstreamError> {
        IssuerUrl::new(self.issuer.as_str().to_owned())
            .map_err(|_| UpstreamError::Discovery("the issuer is not a URL".to_owned()))
    }
}

/// `{issuer}/.well-known/openid-configuration`.
pub(crate) fn discovery_url(issuer: &Url) -> Result<Url, UpstreamError> {
    let base = issuer.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/.well-known/openid-configuration"))
        .map_err(|_| UpstreamError::Config("the issuer is not a URL".to_owned()))
}

/// Reads and checks the discovery document of `issuer`: its issuer is the one configured (for
/// Entra ID, `template` literally or with one tenant id), it has a token endpoint, its token,
/// userinfo and JWKS endpoints are on allowed hosts, and the browser goes to its authorization
/// endpoint over `https`.
pub(crate) async fn discover(
    http: &Http,
    allowed: &Allowed,
    issuer: &Url,
    template: Option<&str>,
) -> Result<Discovery, UpstreamError> {
    let body = http.get(allowed, &discovery_url(issuer)?, None).await?;
    let metadata: Metadata = serde_json::from_slice(&body).map_err(|error| {
        UpstreamError::Discovery(format!(
            "it is not an OpenID Connect discovery document ({error})"
        ))
    })?;

    let published = metadata.issuer().as_str();
    let issuer_rule = match template {
        Some(template) if published == template => IssuerRule::Template(template.to_owned()),
        Some(template) if tenant_of(template, published).is_some() => {
            IssuerRule::Exact(published.to_owned())
        }
        _ if same_url(published, issuer) => IssuerRule::Exact(published.to_owned()),
        _ => {
            return Err(UpstreamError::IssuerMismatch {
                expected: template.map_or_else(|| issuer.to_string(), str::to_owned),
                got: published.to_owned(),
            });
        }
    };

    let token_endpoint = metadata
        .token_endpoint()
        .cloned()
        .ok_or_else(|| UpstreamError::Discovery("it names no token endpoint".to_owned()))?;
    let userinfo_endpoint = metadata.userinfo_endpoint().cloned();
    let jwks_uri = metadata.jwks_uri().url().clone();
    http.check_transport(metadata.authorization_endpoint().url())?;
    http.check_target(allowed, token_endpoint.url())?;
    if let Some(userinfo) = &userinfo_endpoint {
        http.check_target(allowed, userinfo.url())?;
    }
    http.check_target(allowed, &jwks_uri)?;

    let client_secret_post = metadata
        .token_endpoint_auth_methods_supported()
        .is_some_and(|methods| {
            methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
        });
    let mut algs: Vec<CoreJwsSigningAlgorithm> = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| !alg.uses_shared_secret())
        .cloned()
        .collect();
    if algs.is_empty() {
        algs.push(CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
    }

    Ok(Discovery {
        issuer: issuer_rule,
        authorization_endpoint: metadata.authorization_endpoint().clone(),
        token_endpoint,
        userinfo_endpoint,
        jwks_uri,
        client_secret_post,
        iss_parameter: metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported
            == Some(true),
        algs,
    })
}

/// Reads the provider's JWKS.
pub(crate) async fn keys(
    http: &Http,
    allowed: &Allowed,
    jwks_uri: &Url,
) -> Result<CoreJsonWebKeySet, UpstreamError> {
    let body = http.get(allowed, jwks_uri, None).await?;
    serde_json::from_slice(&body).map_err(|error| {
        UpstreamError::Discovery(format!("its JWKS is not a JSON Web Key Set ({error})"))
    })
}

/// The tenant id in `issuer` when it is `template` with one: letters, digits and hyphens where
/// `{tenantid}` is.
pub(crate) fn tenant_of<'a>(template: &str, issuer: &'a str) -> Option<&'a str> {
    let (prefix, suffix) = template.split_once(TENANT_PLACEHOLDER)?;
    let tenant = issuer.strip_prefix(prefix)?.strip_suffix(suffix)?;
    is_tenant_id(tenant).then_some(tenant)
}

/// A tenant id as it may stand in an issuer: letters, digits and hyphens.
pub(crate) fn is_tenant_id(tenant: &str) -> bool {
    !tenant.is_empty()
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Whether a published issuer is the configured one, up to how URLs are written
/// (`https://id.example` and `https://id.example/` are one issuer).
fn same_url(published: &str, configured: &Url) -> bool {
    Url::parse(published).is_ok_and(|published| &published == configured)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

    #[test]
    fn a_tenant_fills_the_template() {
        assert_eq!(
            tenant_of(
                TEMPLATE,
                "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
            ),
            Some("9188040d-6c67-4c5b-b112-36a304b66dad")
        );
        assert_eq!(
            tenant_of(TEMPLATE, "https://login.microsoftonline.com//v2.0"),
            None
        );
        assert_eq!(
            tenant_of(TEMPLATE, "https://login.microsoftonline.com/a/b/v2.0"),
            None
        );
        assert_eq!(tenant_of(TEMPLATE, "https://evil.example/a/v2.0"), None);
    }

    #[test]
    fn the_discovery_document_is_under_the_issuer() {
        let issuer = Url::parse("https://id.example/realms/a/").unwrap();
        assert_eq!(
            discovery_url(&issuer).unwrap().as_str(),
            "https://id.example/realms/a/.well-known/openid-configuration"
        );
        let bare = Url::parse("https://id.example").unwrap();
        assert_eq!(
            discovery_url(&bare).unwrap().as_str(),
            "https://id.example/.well-known/openid-configuration"
        );
    }
}
