//! Signing in at a plain OAuth 2 provider with `oauth2`: the authorization URL (code flow, PKCE
//! S256, `state`), the code exchange, and the profile read with the access token, named as
//! OpenID Connect names it. GitHub's verified address comes from its email list.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
    TokenUrl,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::claims;
use crate::error::{UpstreamError, token_error};
use crate::flow::{Callback, Start, UpstreamIdentity};
use crate::http::{Allowed, Http, Outbound};
use crate::provider::{ClientAuth, Provider};

type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A plain OAuth 2 provider's endpoints.
pub(crate) struct Endpoints<'a> {
    pub(crate) authorization: &'a Url,
    pub(crate) token: &'a Url,
    pub(crate) userinfo: &'a Url,
}

impl Endpoints<'_> {
    /// Where the provider's requests may go: its endpoints' origins and GitHub's email list.
    pub(crate) fn allowed(&self, provider: &Provider) -> Allowed {
        let mut allowed = Allowed::default();
        for url in [self.authorization, self.token, self.userinfo]
            .into_iter()
            .chain(provider.quirks.github_emails.as_ref())
        {
            allowed.allow(url);
        }
        allowed
    }
}

/// Where to send the user.
pub(crate) fn authorization_url(
    provider: &Provider,
    endpoints: &Endpoints<'_>,
    start: &Start,
) -> Url {
    let client = client(provider, endpoints, start);
    let verifier = PkceCodeVerifier::new(start.pkce_verifier.clone());
    let state = start.state.clone();
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier));
    for scope in &provider.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if let Some(hint) = &start.login_hint {
        // GitHub's name for it.
        let name = if provider.quirks.github_emails.is_some() {
            "login"
        } else {
            "login_hint"
        };
        request = request.add_extra_param(name, hint.clone());
    }
    if let Some(mode) = &provider.response_mode {
        request = request.add_extra_param("response_mode", mode.clone());
    }
    let (url, _) = request.url();
    url
}

/// Who signed in, from the provider's answer at the callback.
pub(crate) async fn finish(
    http: &Http,
    provider: &Provider,
    endpoints: &Endpoints<'_>,
    callback: &Callback,
    start: &Start,
) -> Result<UpstreamIdentity, UpstreamError> {
    if let Some(error) = &callback.error {
        return Err(UpstreamError::denied(
            error,
            callback.error_description.as_deref(),
        ));
    }
    let code = callback
        .code
        .as_deref()
        .filter(|code| !code.is_empty())
        .ok_or(UpstreamError::MissingCode)?;
    let allowed = endpoints.allowed(provider);
    let outbound = Outbound {
        http,
        allowed: &allowed,
    };
    let tokens = client(provider, endpoints, start)
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(start.pkce_verifier.clone()))
        .request_async(&outbound)
        .await
        .map_err(token_error)?;
    let access_token = tokens.access_token().secret();

    let body = http
        .get(&allowed, endpoints.userinfo, Some(access_token))
        .await?;
    let profile: Map<String, Value> =
        serde_json::from_slice(&body).map_err(|_| UpstreamError::NoSubject)?;
    let mut claims = claims::normalize_oauth2(profile)?;
    if let Some(emails) = &provider.quirks.github_emails
        && let Some((email, verified)) = github_email(http, &allowed, emails, access_token).await?
    {
        claims.insert("email".to_owned(), Value::String(email));
        claims.insert("email_verified".to_owned(), Value::Bool(verified));
    }

    let subject = claims::oauth2_subject(&claims)?;
    let (email, email_verified) = claims::email(&claims);
    let (amr, acr) = claims::authentication(&claims);
    Ok(UpstreamIdentity {
        subject,
        claims,
        email,
        email_verified,
        amr,
        acr,
    })
}

/// The client of one sign-in. A secret goes in HTTP Basic (RFC 6749 §2.3.1), GitHub's in the
/// body as its documentation shows.
fn client(provider: &Provider, endpoints: &Endpoints<'_>, start: &Start) -> OAuthClient {
    let client = BasicClient::new(ClientId::new(provider.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(endpoints.authorization.clone()))
        .set_token_uri(TokenUrl::from_url(endpoints.token.clone()))
        .set_redirect_uri(RedirectUrl::from_url(start.redirect_uri.clone()));
    match &provider.client_auth {
        ClientAuth::Secret(secret) => client
            .set_client_secret(ClientSecret::new(secret.clone()))
            .set_auth_type(if provider.quirks.github_emails.is_some() {
                AuthType::RequestBody
            } else {
                AuthType::BasicAuth
            }),
        ClientAuth::Apple { .. } | ClientAuth::None => client.set_auth_type(AuthType::RequestBody),
    }
}

/// One of GitHub's addresses (`GET /user/emails`).
#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

/// GitHub's primary address and whether GitHub verified it; `None` when the list cannot be read
/// (a token without the `user:email` scope gets 403 or 404): the profile's public `email` then
/// stays, unverified.
async fn github_email(
    http: &Http,
    allowed: &Allowed,
    url: &Url,
    access_token: &str,
) -> Result<Option<(String, bool)>, UpstreamError> {
    let body = match http.get(allowed, url, Some(access_token)).await {
        Ok(body) => body,
        Err(UpstreamError::BadStatus {
            status: 403 | 404, ..
        }) => return Ok(None),
        Err(error) => return Err(error),
    };
    let emails: Vec<GitHubEmail> = serde_json::from_slice(&body).unwrap_or_default();
    Ok(emails
        .into_iter()
        .find(|email| email.primary)
        .map(|email| (email.email, email.verified)))
}
