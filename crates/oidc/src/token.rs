//! The token endpoint: parsing token requests (`authorization_code`, `refresh_token`,
//! `client_credentials`), the pure checks of a code redemption, a refresh and a client-credentials
//! grant, and the response body.
//!
//! The single-use guarantees (a code redeemed once, a refresh token rotated once) are atomic
//! statements in the store; these functions decide whether a record found there may be used.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::authorize::AuthorizationRequest;
use crate::client::{ClientView, GrantType};
use crate::client_auth::{ClientAuthentication, from_params};
use crate::error::{ErrorCode, OAuthError};
use crate::params::{Params, split_list};

/// What the client asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRequest {
    /// Redeem an authorization code.
    AuthorizationCode {
        /// The code.
        code: String,
        /// Must equal the redirect URI of the authorization request.
        redirect_uri: Option<String>,
        /// The PKCE verifier.
        code_verifier: Option<String>,
    },
    /// Rotate a refresh token.
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
        /// A narrower scope, if asked.
        scope: Option<Vec<String>>,
    },
    /// A token for the client itself.
    ClientCredentials {
        /// The scopes asked (all the client may have when absent).
        scope: Option<Vec<String>>,
        /// Target resource servers (`resource`, RFC 8707, or `audience`), repeatable.
        audience: Vec<String>,
    },
}

impl GrantRequest {
    /// The grant type.
    pub fn grant_type(&self) -> GrantType {
        match self {
            GrantRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            GrantRequest::RefreshToken { .. } => GrantType::RefreshToken,
            GrantRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
        }
    }
}

/// A parsed token request: who is asking and for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The client's credentials (not yet checked: see [`ClientAuthentication::authenticate`]).
    pub client: ClientAuthentication,
    /// The grant.
    pub grant: GrantRequest,
}

/// Parses a token request from the `Authorization` header value and the form body.
pub fn parse_token_request(
    authorization: Option<&str>,
    body: &[(String, String)],
) -> Result<TokenRequest, OAuthError> {
    let params = Params::from_pairs(body, &["resource", "audience"]);
    if let Some(name) = params.first_duplicate() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        )));
    }
    let client = from_params(authorization, &params)?;
    let required = |name: &str| {
        params
            .get(name)
            .map(str::to_owned)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
    };
    let scope = params.get("scope").map(split_list);
    let grant = match params.get("grant_type") {
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
        Some("authorization_code") => GrantRequest::AuthorizationCode {
            code: required("code")?,
            redirect_uri: params.get("redirect_uri").map(str::to_owned),
            code_verifier: params.get("code_verifier").map(str::to_owned),
        },
        Some("refresh_token") => GrantRequest::RefreshToken {
            refresh_token: required("refresh_token")?,
            scope,
        },
        Some("client_credentials") => {
            let mut audience = params.all("resource").to_vec();
            audience.extend(params.all("audience").iter().cloned());
            GrantRequest::ClientCredentials { scope, audience }
        }
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "grant_type is not supported",
            ));
        }
    };
    Ok(TokenRequest { client, grant })
}

/// Whether an authenticated client may use the grant it asked for (`unauthorized_client` if not).
pub fn ensure_grant_allowed(client: &ClientView, grant: GrantType) -> Result<(), OAuthError> {
    let public_credentials = client.public && grant == GrantType::ClientCredentials;
    if client.allows_grant(grant) && !public_credentials {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("client may not use the {} grant", grant.as_str()),
        ))
    }
}

/// Checks the redemption of an authorization code issued for `request` and valid until
/// `expires_at`: same client, identical `redirect_uri`, a PKCE verifier matching the challenge
/// (and none when no challenge was sent), not expired. Any failure is `invalid_grant`.
pub fn check_code_redemption(
    request: &AuthorizationRequest,
    expires_at: OffsetDateTime,
    client_id: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    if request.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "code was issued to another client",
        ));
    }
    if now >= expires_at {
        return Err(OAuthError::invalid_grant("code has expired"));
    }
    if redirect_uri != Some(request.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&request.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) => challenge.verify(verifier),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is missing")),
        // A verifier without a challenge is a PKCE downgrade attempt (RFC 9700 §2.1.1).
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "no code_challenge was sent for this code",
        )),
        (None, None) => Ok(()),
    }
}

/// A refresh token record as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The scopes granted with it.
    pub scopes: Vec<String>,
    /// Absolute expiry, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// Checks a refresh: same client, not expired, and a requested scope only narrowing the granted
/// one. Returns the scopes of the new tokens.
pub fn check_refresh(
    grant: &RefreshGrant,
    client_id: &str,
    requested: Option<&[String]>,
    now: OffsetDateTime,
) -> Result<Vec<String>, OAuthError> {
    if grant.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    if grant.expires_at.is_some_and(|expires_at| now >= expires_at) {
        return Err(OAuthError::invalid_grant("refresh token has expired"));
    }
    match requested {
        None => Ok(grant.scopes.clone()),
        Some(requested) => {
            if let Some(extra) = requested.iter().find(|s| !grant.scopes.contains(s)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("scope {extra} was not granted originally"),
                ));
            }
            Ok(requested.to_vec())
        }
    }
}

/// Scopes that only make sense with a user, never granted to client credentials.
const USER_SCOPES: &[&str] = &[
    "openid",
    "offline_access",
    "profile",
    "email",
    "phone",
    "address",
];

/// Checks a client-credentials request: the client may use the grant (confidential only) and every
/// requested scope is allowed and not a user scope. Without `scope`, every allowed non-user scope
/// is granted.
pub fn check_client_credentials(
    client: &ClientView,
    requested: Option<&[String]>,
) -> Result<Vec<String>, OAuthError> {
    ensure_grant_allowed(client, GrantType::ClientCredentials)?;
    let grantable = |scope: &str| {
        !USER_SCOPES.contains(&scope) && client.allowed_scopes.iter().any(|s| s == scope)
    };
    match requested {
        None => Ok(client
            .allowed_scopes
            .iter()
            .filter(|s| grantable(s))
            .cloned()
            .collect()),
        Some(requested) => {
            if let Some(bad) = requested.iter().find(|s| !grantable(s)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("scope {bad} cannot be granted to this client"),
                ));
            }
            Ok(requested.to_vec())
        }
    }
}

/// The successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3). Serve it with
/// `Cache-Control: no-store`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    /// A new refresh token, when issued.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refresh_token: Option<String>,
    /// The ID token, for user grants with `openid`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id_token: Option<String>,
    /// The granted scopes, space separated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// A bearer response with the granted scopes.
    pub fn bearer(access_token: String, expires_in: u64, scopes: &[String]) -> Self {
        Self {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in,
            refresh_token: None,
            id_token: None,
            scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        }
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
