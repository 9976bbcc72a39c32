//! Token introspection (RFC 7662): the request (shared with revocation, see [`crate::revoke`]) and
//! the response. The endpoint requires client authentication; unknown, expired, revoked and
//! foreign tokens all get the same `{"active": false}`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::client_auth::{ClientAuthentication, from_params};
use crate::error::OAuthError;
use crate::jwt::{AccessTokenClaims, Audience};
use crate::params::Params;

/// The `token_type_hint` values we understand (others are ignored, as RFC 7009 §2.1 allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenTypeHint {
    /// An access token.
    AccessToken,
    /// A refresh token.
    RefreshToken,
}

/// A parsed introspection or revocation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLookupRequest {
    /// The caller (not yet authenticated: see [`ClientAuthentication::authenticate`]).
    pub client: ClientAuthentication,
    /// The token to introspect or revoke.
    pub token: String,
    /// Where to look first.
    pub token_type_hint: Option<TokenTypeHint>,
}

/// Parses an introspection or revocation request from the `Authorization` header value and the
/// form body.
pub fn parse_token_lookup(
    authorization: Option<&str>,
    body: &[(String, String)],
) -> Result<TokenLookupRequest, OAuthError> {
    let params = Params::from_pairs(body, &[]);
    if let Some(name) = params.first_duplicate() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        )));
    }
    let client = from_params(authorization, &params)?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let token_type_hint = match params.get("token_type_hint") {
        Some("access_token") => Some(TokenTypeHint::AccessToken),
        Some("refresh_token") => Some(TokenTypeHint::RefreshToken),
        _ => None,
    };
    Ok(TokenLookupRequest {
        client,
        token: token.to_owned(),
        token_type_hint,
    })
}

/// The introspection response (RFC 7662 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    /// Whether the token is currently active.
    pub active: bool,
    /// Granted scopes, space separated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_id: Option<String>,
    /// The subject.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sub: Option<String>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub token_type: Option<String>,
    /// Expiry (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exp: Option<i64>,
    /// Issued at (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub iat: Option<i64>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aud: Option<Audience>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub iss: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jti: Option<String>,
}

impl IntrospectionResponse {
    /// `{"active": false}`: for unknown, expired, revoked or foreign tokens alike.
    pub fn inactive() -> Self {
        Self {
            active: false,
            scope: None,
            client_id: None,
            sub: None,
            token_type: None,
            exp: None,
            iat: None,
            aud: None,
            iss: None,
            jti: None,
        }
    }

    /// The response for a verified JWT access token that the store does not list as revoked.
    pub fn for_access_token(claims: &AccessTokenClaims, now: OffsetDateTime) -> Self {
        if claims.exp <= now.unix_timestamp() {
            return Self::inactive();
        }
        Self {
            active: true,
            scope: Some(claims.scope.clone()),
            client_id: Some(claims.client_id.clone()),
            sub: Some(claims.sub.clone()),
            token_type: Some("Bearer".to_owned()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            aud: Some(claims.aud.clone()),
            iss: Some(claims.iss.clone()),
            jti: Some(claims.jti.clone()),
        }
    }

    /// The response for an active refresh token found in the store.
    pub fn for_refresh_token(
        client_id: &str,
        subject: &str,
        scopes: &[String],
        expires_at: Option<OffsetDateTime>,
        issuer: &str,
    ) -> Self {
        Self {
            active: true,
            scope: Some(scopes.join(" ")),
            client_id: Some(client_id.to_owned()),
            sub: Some(subject.to_owned()),
            token_type: Some("refresh_token".to_owned()),
            exp: expires_at.map(OffsetDateTime::unix_timestamp),
            iat: None,
            aud: None,
            iss: Some(issuer.to_owned()),
            jti: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::error::ErrorCode;
    use crate::params::pairs;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    #[test]
    fn request_with_token_and_hint_is_parsed() {
        let body = pairs(&[
            ("token", "abc"),
            ("token_type_hint", "refresh_token"),
            ("client_id", "rs"),
            ("client_secret", "s"),
        ]);
        let request = parse_token_lookup(None, &body).unwrap();
        assert_eq!(request.token, "abc");
        assert_eq!(request.token_type_hint, Some(TokenTypeHint::RefreshToken));
        assert_eq!(request.client.client_id(), "rs");
    }

    #[test]
    fn unknown_hint_is_ignored() {
        let body = pairs(&[
            ("token", "abc"),
            ("token_type_hint", "saml"),
            ("client_id", "rs"),
        ]);
        assert_eq!(
            parse_token_lookup(None, &body).unwrap().token_type_hint,
            None
        );
    }

    #[test]
    fn missing_token_is_invalid_request() {
        let error = parse_token_lookup(None, &pairs(&[("client_id", "rs")])).unwrap_err();
        assert_eq!(error.kind, ErrorCode::InvalidRequest);
    }

    #[test]
    fn unauthenticated_request_is_invalid_client() {
        let error = parse_token_lookup(None, &pairs(&[("token", "abc")])).unwrap_err();
        assert_eq!(error.kind, ErrorCode::InvalidClient);
    }

    #[test]
    fn inactive_response_is_just_active_false() {
        assert_eq!(
            serde_json::to_value(IntrospectionResponse::inactive()).unwrap(),
            json!({"active": false})
        );
    }

    #[test]
    fn active_access_token_is_described_and_expired_one_is_inactive() {
        let claims = AccessTokenClaims::new(
            "https://id.example.com",
            "user-1",
            "web",
            Audience::One("api".into()),
            &["openid".into(), "read".into()],
            NOW,
            Duration::minutes(5),
        );
        let response = IntrospectionResponse::for_access_token(&claims, NOW);
        assert!(response.active);
        assert_eq!(response.scope.as_deref(), Some("openid read"));
        assert_eq!(response.token_type.as_deref(), Some("Bearer"));
        let later = NOW + Duration::minutes(5);
        assert_eq!(
            IntrospectionResponse::for_access_token(&claims, later),
            IntrospectionResponse::inactive()
        );
    }

    #[test]
    fn refresh_token_response_names_its_type() {
        let response = IntrospectionResponse::for_refresh_token(
            "web",
            "user-1",
            &["openid".into()],
            None,
            "https://id",
        );
        let json = serde_json::to_value(response).unwrap();
        assert_eq!(json["token_type"], "refresh_token");
        assert_eq!(json["active"], true);
        assert!(json.get("exp").is_none());
    }
}
