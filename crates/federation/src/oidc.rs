//! Signing in at an OpenID Connect provider with `openidconnect`: the authorization URL
//! (code flow, PKCE S256, `state`, `nonce`), and at the callback RFC 9207's `iss`, the code
//! exchange, the ID token verified against the cached JWKS (fetched again once for an unknown
//! key), Entra ID's issuer per tenant, `azp`, and the userinfo answer merged in.

use std::time::{SystemTime, UNIX_EPOCH};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthType, AuthorizationCode, ClaimsVerificationError, Client, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointNotSet, EndpointSet, IdToken,
    IdTokenFields, IdTokenVerifier, LanguageTag, LoginHint, Nonce, OAuth2TokenResponse as _,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    StandardErrorResponse, StandardTokenResponse, SubjectIdentifier, TokenResponse as _,
    UserInfoClaims, UserInfoError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::apple;
use crate::cache::{Cache, Source};
use crate::claims;
use crate::discovery::{Discovery, IssuerRule, is_tenant_id};
use crate::error::{UpstreamError, token_error};
use crate::flow::{Callback, Start, UpstreamIdentity};
use crate::hosts::host_label;
use crate::http::{Allowed, Http, Outbound};
use crate::presets::TENANT_PLACEHOLDER;
use crate::provider::{ClientAuth, Provider};

/// How far in the future an ID token's `iat` may be (the provider's clock ahead of ours).
const CLOCK_SKEW_SECS: i64 = 300;

/// The claims beyond the standard ones, kept as they came (`tid`, `is_private_email`, `groups`...).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: Map<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

type Tokens = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type Token = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type OidcClient<HasUserInfoUrl = EndpointNotSet> = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    HasUserInfoUrl,
>;

/// Where an OpenID Connect provider's requests may go: its issuer's origin and its preset's
/// endpoint hosts.
pub(crate) fn allowed(issuer: &Url, endpoint_hosts: &[String]) -> Allowed {
    let mut allowed = Allowed::default();
    allowed.allow(issuer);
    for host in endpoint_hosts {
        allowed.allow_host(host);
    }
    allowed
}

/// Where to send the user.
pub(crate) async fn authorization_url(
    http: &Http,
    cache: &Cache,
    provider: &Provider,
    source: &Source<'_>,
    start: &Start,
) -> Result<Url, UpstreamError> {
    let metadata = cache.metadata(http, source, false).await?;
    let client = client(
        provider,
        &metadata.discovery,
        CoreJsonWebKeySet::new(Vec::new()),
        start,
    )?;
    let verifier = PkceCodeVerifier::new(start.pkce_verifier.clone());
    let state = start.state.clone();
    let nonce = start.nonce.clone();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        )
        .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier));
    // `openidconnect` asks for `openid` itself.
    for scope in provider.scopes.iter().filter(|scope| *scope != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if let Some(hint) = &start.login_hint {
        request = request.set_login_hint(LoginHint::new(hint.clone()));
    }
    if start.prompt_login {
        request = request.add_prompt(CoreAuthPrompt::Login);
    }
    if let Some(max_age) = start.max_age {
        request = request.set_max_age(std::time::Duration::from_secs(max_age));
    }
    for locale in &start.ui_locales {
        request = request.add_ui_locale(LanguageTag::new(locale.clone()));
    }
    if let Some(mode) = &provider.response_mode {
        request = request.add_extra_param("response_mode", mode.clone());
    }
    let (url, _, _) = request.url();
    Ok(url)
}

/// Who signed in, from the provider's answer at the callback.
pub(crate) async fn finish(
    http: &Http,
    cache: &Cache,
    provider: &Provider,
    source: &Source<'_>,
    callback: &Callback,
    start: &Start,
) -> Result<UpstreamIdentity, UpstreamError> {
    if let Some(error) = &callback.error {
        return Err(UpstreamError::denied(
            error,
            callback.error_description.as_deref(),
        ));
    }
    let metadata = cache.metadata(http, source, false).await?;
    let discovery = &metadata.discovery;
    check_response_issuer(discovery, callback.iss.as_deref())?;
    let code = callback
        .code
        .as_deref()
        .filter(|code| !code.is_empty())
        .ok_or(UpstreamError::MissingCode)?;

    let outbound = Outbound {
        http,
        allowed: source.allowed,
    };
    // The JWKS goes to the verifier below; the client's would only check signed userinfo.
    let client = authenticate(
        client(provider, discovery, metadata.keys.as_ref().clone(), start)?,
        provider,
        discovery,
    )?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(start.pkce_verifier.clone()))
        .request_async(&outbound)
        .await
        .map_err(token_error)?;
    let token = tokens.id_token().ok_or_else(|| {
        UpstreamError::IdToken("the token endpoint answered without an ID token".to_owned())
    })?;

    let mut claims = match verify(token, provider, discovery, &metadata.keys, &start.nonce) {
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => match cache.newer_keys(http, source, &metadata).await? {
            Some(keys) => verify(token, provider, discovery, &keys, &start.nonce),
            None => Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )),
        },
        verified => verified,
    }
    .map_err(id_token_error)?;
    let issuer = check_token_issuer(discovery, &claims)?;
    if let Some(iss) = &callback.iss
        && *iss != issuer
    {
        return Err(UpstreamError::IssuerMismatch {
            expected: issuer,
            got: iss.clone(),
        });
    }
    check_authorized_party(provider, &claims)?;
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
        .ok_or(UpstreamError::NoSubject)?
        .to_owned();

    if let Some(userinfo_url) = &discovery.userinfo_endpoint {
        let host = host_label(userinfo_url.url());
        let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = client
            .set_user_info_url(userinfo_url.clone())
            .user_info(
                tokens.access_token().clone(),
                Some(SubjectIdentifier::new(subject.clone())),
            )
            .request_async(&outbound)
            .await
            .map_err(|error| userinfo_error(error, host))?;
        claims::merge_userinfo(&mut claims, to_map(&info)?);
    }

    if provider.quirks.apple_user_param
        && let Some(user) = &callback.user
    {
        let (given_name, family_name) = apple::user_name(user);
        for (claim, value) in [("given_name", given_name), ("family_name", family_name)] {
            if let Some(value) = value {
                claims.entry(claim).or_insert(Value::String(value));
            }
        }
    }

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

/// The client of one sign-in: the discovery document's endpoints and the caller's redirect URI.
fn client(
    provider: &Provider,
    discovery: &Discovery,
    keys: CoreJsonWebKeySet,
    start: &Start,
) -> Result<OidcClient, UpstreamError> {
    Ok(Client::new(
        ClientId::new(provider.client_id.clone()),
        discovery.issuer_url()?,
        keys,
    )
    .set_auth_uri(discovery.authorization_endpoint.clone())
    .set_token_uri(discovery.token_endpoint.clone())
    .set_redirect_uri(RedirectUrl::from_url(start.redirect_uri.clone())))
}

/// The client authenticating at the token endpoint: `client_secret_basic` unless the provider
/// lists only `client_secret_post`; Apple's signed secret in the body.
fn authenticate(
    client: OidcClient,
    provider: &Provider,
    discovery: &Discovery,
) -> Result<OidcClient, UpstreamError> {
    Ok(match &provider.client_auth {
        ClientAuth::Secret(secret) => client
            .set_client_secret(ClientSecret::new(secret.clone()))
            .set_auth_type(if discovery.client_secret_post {
                AuthType::RequestBody
            } else {
                AuthType::BasicAuth
            }),
        ClientAuth::Apple {
            team_id,
            key_id,
            private_key_pem,
        } => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            let secret = apple::client_secret(
                team_id,
                key_id,
                private_key_pem,
                &provider.client_id,
                discovery.issuer.as_str(),
                now,
            )
            .map_err(|error| UpstreamError::Config(error.to_string()))?;
            client
                .set_client_secret(ClientSecret::new(secret))
                .set_auth_type(AuthType::RequestBody)
        }
        ClientAuth::None => client.set_auth_type(AuthType::RequestBody),
    })
}

/// RFC 9207: an `iss` in the answer is the provider's (for Entra ID's several tenants, of the
/// template's shape until the ID token names the tenant); a provider that says it always sends
/// one must have.
fn check_response_issuer(discovery: &Discovery, iss: Option<&str>) -> Result<(), UpstreamError> {
    match (iss, &discovery.issuer) {
        (Some(iss), IssuerRule::Exact(expected)) if iss != expected => {
            Err(UpstreamError::IssuerMismatch {
                expected: expected.clone(),
                got: iss.to_owned(),
            })
        }
        (Some(iss), IssuerRule::Template(template))
            if crate::discovery::tenant_of(template, iss).is_none() =>
        {
            Err(UpstreamError::IssuerMismatch {
                expected: template.clone(),
                got: iss.to_owned(),
            })
        }
        (None, _) if discovery.iss_parameter => Err(UpstreamError::MissingIssuer),
        _ => Ok(()),
    }
}

/// The verified claims of the ID token, as JSON: signature against `keys` with one of the
/// provider's asymmetric algorithms, audience, expiry, issue time and nonce (the issuer is
/// checked after, by [`check_token_issuer`]).
fn verify(
    token: &Token,
    provider: &Provider,
    discovery: &Discovery,
    keys: &CoreJsonWebKeySet,
    nonce: &str,
) -> Result<Map<String, Value>, ClaimsVerificationError> {
    let issuer = discovery
        .issuer_url()
        .map_err(|error| ClaimsVerificationError::Other(error.to_string()))?;
    let verifier = IdTokenVerifier::new_public_client(
        ClientId::new(provider.client_id.clone()),
        issuer,
        keys.clone(),
    )
    .require_issuer_match(false)
    .set_allowed_algs(discovery.algs.iter().cloned())
    // Other audiences are allowed when `azp` names this client (checked after).
    .set_other_audience_verifier_fn(|_| true)
    .set_issue_time_verifier_fn(|issued| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            });
        if issued.timestamp() > now.saturating_add(CLOCK_SKEW_SECS) {
            Err("it was issued in the future".to_owned())
        } else {
            Ok(())
        }
    });
    let verified = token.claims(&verifier, &Nonce::new(nonce.to_owned()))?;
    match serde_json::to_value(verified) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(ClaimsVerificationError::Other(
            "its claims are not a JSON object".to_owned(),
        )),
    }
}

fn id_token_error(error: ClaimsVerificationError) -> UpstreamError {
    UpstreamError::IdToken(match error {
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => "it is signed with a key the provider does not publish".to_owned(),
        ClaimsVerificationError::SignatureVerification(inner) => {
            format!("its signature does not verify ({inner})")
        }
        other => other.to_string(),
    })
}

/// The ID token's `iss` is the provider's: exactly, or for Entra ID's several tenants the
/// template with the token's own `tid`. The issuer, as the token names it.
fn check_token_issuer(
    discovery: &Discovery,
    claims: &Map<String, Value>,
) -> Result<String, UpstreamError> {
    let got = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let expected = match &discovery.issuer {
        IssuerRule::Exact(issuer) => issuer.clone(),
        IssuerRule::Template(template) => {
            let tid = claims
                .get("tid")
                .and_then(Value::as_str)
                .filter(|tid| is_tenant_id(tid))
                .ok_or_else(|| UpstreamError::IdToken("it names no tenant (`tid`)".to_owned()))?;
            template.replace(TENANT_PLACEHOLDER, tid)
        }
    };
    if got == expected {
        Ok(got)
    } else {
        Err(UpstreamError::IssuerMismatch { expected, got })
    }
}

/// OpenID Connect Core §3.1.3.7: with several audiences, `azp` is present; when present, it is
/// this client.
fn check_authorized_party(
    provider: &Provider,
    claims: &Map<String, Value>,
) -> Result<(), UpstreamError> {
    let audiences = claims
        .get("aud")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != provider.client_id => Err(UpstreamError::IdToken(format!(
            "it was issued to another party ({azp})"
        ))),
        None if audiences > 1 => Err(UpstreamError::IdToken(
            "it has several audiences but no authorized party (`azp`)".to_owned(),
        )),
        _ => Ok(()),
    }
}

fn userinfo_error(error: UserInfoError<UpstreamError>, host: String) -> UpstreamError {
    match error {
        UserInfoError::Request(error) => error,
        UserInfoError::Response(status, _, _) if !status.is_success() => UpstreamError::BadStatus {
            host,
            status: status.as_u16(),
        },
        UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(_)) => {
            UpstreamError::IdToken(
                "the userinfo answer is about another subject than the ID token".to_owned(),
            )
        }
        UserInfoError::ClaimsVerification(error) => {
            UpstreamError::IdToken(format!("the signed userinfo answer is not valid ({error})"))
        }
        UserInfoError::Response(..) | UserInfoError::Parse(_) | UserInfoError::Other(_) => {
            UpstreamError::IdToken(format!("the userinfo answer of {host} cannot be read"))
        }
        _ => UpstreamError::IdToken(format!("the userinfo answer of {host} cannot be read")),
    }
}

fn to_map(
    info: &UserInfoClaims<OtherClaims, CoreGenderClaim>,
) -> Result<Map<String, Value>, UpstreamError> {
    match serde_json::to_value(info) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(UpstreamError::IdToken(
            "the userinfo answer is not a JSON object".to_owned(),
        )),
    }
}
