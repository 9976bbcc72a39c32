//! The userinfo endpoint (OpenID Connect Core §5.3): the bearer token from the `Authorization`
//! header or a form body (RFC 6750 §2.1, §2.2), its scope check, and the claims released.

use serde_json::{Map, Value};

use crate::error::{ChallengeScheme, ErrorCode, OAuthError};
use crate::jwt::{AccessTokenClaims, is_reserved};
use crate::params::Params;

/// Extracts the bearer token from the `Authorization` header value or the `access_token` form
/// parameter of a POST body. Both at once is `invalid_request`; neither is `invalid_token`.
/// Tokens in the URL query are not accepted (they end up in logs).
pub fn bearer_token(
    authorization: Option<&str>,
    form_body: Option<&[(String, String)]>,
) -> Result<String, OAuthError> {
    let body_token = match form_body {
        Some(body) => {
            let params = Params::from_pairs(body, &[]);
            if params.is_duplicated("access_token") {
                return Err(bearer_request_error("access_token is repeated"));
            }
            params.get("access_token").map(str::to_owned)
        }
        None => None,
    };
    let header_token = match authorization {
        Some(header) => {
            let (scheme, token) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(OAuthError::invalid_token(
                    "the Authorization scheme must be Bearer",
                ));
            }
            let token = token.trim();
            if token.is_empty() {
                return Err(OAuthError::invalid_token("the bearer token is empty"));
            }
            Some(token.to_owned())
        }
        None => None,
    };
    match (header_token, body_token) {
        (Some(_), Some(_)) => Err(bearer_request_error(
            "send the access token in one place only",
        )),
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (None, None) => Err(OAuthError::invalid_token("an access token is required")
            .with_challenge(ChallengeScheme::BearerWithoutToken)),
    }
}

fn bearer_request_error(description: &str) -> OAuthError {
    OAuthError::invalid_request(description).with_challenge(ChallengeScheme::Bearer)
}

/// Checks that a verified access token may read userinfo: it must carry the `openid` scope
/// (tokens from client credentials never do). Fails with `insufficient_scope` (403).
pub fn check_userinfo_access(token: &AccessTokenClaims) -> Result<(), OAuthError> {
    if token.has_scope("openid") {
        Ok(())
    } else {
        Err(
            OAuthError::new(ErrorCode::InsufficientScope, "the openid scope is required")
                .with_challenge(ChallengeScheme::Bearer),
        )
    }
}

/// The userinfo response: `sub` first, then the claims released for the token's grant, as the
/// caller decided them (the same claims as the grant's ID token: one decision, see the server's
/// `released_claims`), types preserved. Protocol claims are never overridden
/// ([`crate::jwt::RESERVED_CLAIMS`], as in the ID token).
pub fn userinfo_response(
    token: &AccessTokenClaims,
    released: &Map<String, Value>,
) -> Map<String, Value> {
    let mut response = Map::new();
    response.insert("sub".to_owned(), Value::String(token.sub.clone()));
    response.extend(
        released
            .iter()
            .filter(|(name, value)| !value.is_null() && !is_reserved(name))
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    response
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::jwt::Audience;
    use crate::params::pairs;

    fn token(scopes: &[&str]) -> AccessTokenClaims {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        AccessTokenClaims::new(
            "https://id.example.com",
            "user-1",
            "web",
            Audience::One("https://id.example.com/userinfo".into()),
            &scopes,
            datetime!(2026-03-01 12:00 UTC),
            Duration::minutes(5),
        )
    }

    #[test]
    fn token_is_read_from_the_bearer_header() {
        assert_eq!(
            bearer_token(Some("Bearer abc.def"), None).unwrap(),
            "abc.def"
        );
        assert_eq!(bearer_token(Some("bearer   abc"), None).unwrap(), "abc");
    }

    #[test]
    fn token_is_read_from_a_post_body() {
        let body = pairs(&[("access_token", "abc")]);
        assert_eq!(bearer_token(None, Some(&body)).unwrap(), "abc");
    }

    #[test]
    fn token_in_header_and_body_is_invalid_request() {
        let body = pairs(&[("access_token", "abc")]);
        let error = bearer_token(Some("Bearer abc"), Some(&body)).unwrap_err();
        assert_eq!(error.kind, ErrorCode::InvalidRequest);
        assert_eq!(error.http_status(), 400);
    }

    #[test]
    fn missing_token_is_invalid_token_with_a_bearer_challenge() {
        let error = bearer_token(None, None).unwrap_err();
        assert_eq!(error.kind, ErrorCode::InvalidToken);
        assert_eq!(error.http_status(), 401);
        assert!(
            error
                .www_authenticate()
                .unwrap()
                .starts_with("Bearer realm=")
        );
    }

    #[test]
    fn other_schemes_are_refused() {
        assert!(bearer_token(Some("Basic d2ViOnM="), None).is_err());
        assert!(bearer_token(Some("Bearer "), None).is_err());
    }

    #[test]
    fn token_without_openid_scope_is_insufficient_scope() {
        let error = check_userinfo_access(&token(&["read"])).unwrap_err();
        assert_eq!(error.kind, ErrorCode::InsufficientScope);
        assert_eq!(error.http_status(), 403);
        assert!(
            error
                .www_authenticate()
                .unwrap()
                .contains("insufficient_scope")
        );
        assert!(check_userinfo_access(&token(&["openid"])).is_ok());
    }

    #[test]
    fn response_has_sub_and_the_released_claims_without_overriding_protocol_claims() {
        let released = json!({
            "email": "ada@example.com", "company": "Acme", "team_size": 12,
            "sub": "someone-else", "iss": "evil", "nickname": null
        });
        let response = userinfo_response(
            &token(&["openid", "email", "work"]),
            released.as_object().unwrap(),
        );
        assert_eq!(
            Value::Object(response),
            json!({"sub": "user-1", "email": "ada@example.com", "company": "Acme", "team_size": 12})
        );
    }
}
