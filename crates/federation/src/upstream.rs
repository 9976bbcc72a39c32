//! [`Upstream`]: the outbound HTTP client and the caches, shared by every connection, and the
//! three things asked of a provider: where to send the user, who came back, and whether the
//! connection works.

use std::fmt;
use std::sync::Arc;

use url::Url;

use crate::cache::{Cache, Source};
use crate::error::UpstreamError;
use crate::flow::{Callback, Start, UpstreamIdentity, is_pkce_verifier};
use crate::hosts::host_label;
use crate::http::{Http, HttpOptions};
use crate::oauth::{self, Endpoints};
use crate::oidc;
use crate::provider::{Protocol, Provider};

/// Accrete's side of every upstream provider: one HTTP client (one connection pool) and the
/// cached discovery documents and keys. Cheap to clone.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<Inner>,
}

struct Inner {
    http: Http,
    cache: Cache,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("options", self.inner.http.options())
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// The client and empty caches.
    pub fn new(options: HttpOptions) -> Result<Upstream, UpstreamError> {
        Ok(Upstream {
            inner: Arc::new(Inner {
                http: Http::new(options)?,
                cache: Cache::default(),
            }),
        })
    }

    /// Where to send the user to sign in at the provider: the authorization endpoint with the
    /// code flow, PKCE (S256) and `state` (and `nonce` with OpenID Connect). Fetches the
    /// discovery document unless it is cached.
    pub async fn authorization_url(
        &self,
        provider: &Provider,
        start: &Start,
    ) -> Result<Url, UpstreamError> {
        check_start(start)?;
        let http = &self.inner.http;
        match &provider.protocol {
            Protocol::Oidc {
                issuer,
                issuer_template,
                endpoint_hosts,
            } => {
                let allowed = oidc::allowed(issuer, endpoint_hosts);
                let source = Source {
                    issuer,
                    template: issuer_template.as_deref(),
                    endpoint_hosts,
                    allowed: &allowed,
                };
                oidc::authorization_url(http, &self.inner.cache, provider, &source, start).await
            }
            Protocol::OAuth2 {
                authorization_endpoint,
                token_endpoint,
                userinfo_endpoint,
            } => {
                let endpoints = Endpoints {
                    authorization: authorization_endpoint,
                    token: token_endpoint,
                    userinfo: userinfo_endpoint,
                };
                http.check_transport(authorization_endpoint)?;
                Ok(oauth::authorization_url(provider, &endpoints, start))
            }
        }
    }

    /// Who signed in, from the provider's answer at the callback (whose `state` the caller has
    /// checked) and the [`Start`] the caller kept.
    pub async fn finish(
        &self,
        provider: &Provider,
        callback: &Callback,
        start: &Start,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        check_start(start)?;
        let http = &self.inner.http;
        match &provider.protocol {
            Protocol::Oidc {
                issuer,
                issuer_template,
                endpoint_hosts,
            } => {
                let allowed = oidc::allowed(issuer, endpoint_hosts);
                let source = Source {
                    issuer,
                    template: issuer_template.as_deref(),
                    endpoint_hosts,
                    allowed: &allowed,
                };
                oidc::finish(http, &self.inner.cache, provider, &source, callback, start).await
            }
            Protocol::OAuth2 {
                authorization_endpoint,
                token_endpoint,
                userinfo_endpoint,
            } => {
                let endpoints = Endpoints {
                    authorization: authorization_endpoint,
                    token: token_endpoint,
                    userinfo: userinfo_endpoint,
                };
                oauth::finish(http, provider, &endpoints, callback, start).await
            }
        }
    }

    /// Whether the connection works (`accrete connection test`): for OpenID Connect, the
    /// discovery document and JWKS fetched now and checked; for OAuth 2, each endpoint's host
    /// answers. A one-line summary, or what is wrong.
    pub async fn check(&self, provider: &Provider) -> Result<String, UpstreamError> {
        let http = &self.inner.http;
        match &provider.protocol {
            Protocol::Oidc {
                issuer,
                issuer_template,
                endpoint_hosts,
            } => {
                let allowed = oidc::allowed(issuer, endpoint_hosts);
                let source = Source {
                    issuer,
                    template: issuer_template.as_deref(),
                    endpoint_hosts,
                    allowed: &allowed,
                };
                let metadata = self.inner.cache.metadata(http, &source, true).await?;
                let keys = metadata.keys.keys().len();
                let issuer = metadata.discovery.issuer.as_str();
                let tenants = if issuer_template.as_deref() == Some(issuer) {
                    " (any tenant)"
                } else {
                    ""
                };
                Ok(format!(
                    "discovery ok, {keys} key{}, issuer {issuer}{tenants}",
                    if keys == 1 { "" } else { "s" }
                ))
            }
            Protocol::OAuth2 {
                authorization_endpoint,
                token_endpoint,
                userinfo_endpoint,
            } => {
                let endpoints = Endpoints {
                    authorization: authorization_endpoint,
                    token: token_endpoint,
                    userinfo: userinfo_endpoint,
                };
                let allowed = endpoints.allowed(provider);
                let mut hosts: Vec<String> = Vec::new();
                for url in [authorization_endpoint, token_endpoint, userinfo_endpoint]
                    .into_iter()
                    .chain(provider.quirks.github_emails.as_ref())
                {
                    let host = host_label(url);
                    if hosts.contains(&host) {
                        continue;
                    }
                    // Any HTTP answer shows the host is there; only no answer is a failure.
                    match http.get(&allowed, url, None).await {
                        Ok(_)
                        | Err(UpstreamError::BadStatus { .. } | UpstreamError::TooLarge { .. }) => {
                        }
                        Err(error) => return Err(error),
                    }
                    hosts.push(host);
                }
                Ok(format!("endpoints reachable: {}", hosts.join(", ")))
            }
        }
    }
}

/// The caller's PKCE verifier has the shape RFC 7636 requires.
fn check_start(start: &Start) -> Result<(), UpstreamError> {
    if is_pkce_verifier(&start.pkce_verifier) {
        Ok(())
    } else {
        Err(UpstreamError::Config(
            "the PKCE code verifier must be 43 to 128 characters of A-Z, a-z, 0-9, -, ., _ and ~"
                .to_owned(),
        ))
    }
}
