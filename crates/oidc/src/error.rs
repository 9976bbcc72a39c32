//! The one protocol error type: every flow returns [`OAuthError`], and the server maps it to an HTTP
//! response in one place with [`OAuthError::http_status`], [`OAuthError::www_authenticate`] and the
//! serde form of the RFC 6749 §5.2 JSON body.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The `error` codes of OAuth 2.0 (RFC 6749, 6750, 7009, 7662), OpenID Connect Core §3.1.2.6 and
/// RFC 9126 that this provider can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong secret, wrong method).
    InvalidClient,
    /// The code, refresh token or credentials are invalid, expired, revoked or not for this client.
    InvalidGrant,
    /// The client may not use this grant type or response type.
    UnauthorizedClient,
    /// The grant type is not supported by this server.
    UnsupportedGrantType,
    /// The requested scope is invalid, unknown, or exceeds what was granted.
    InvalidScope,
    /// The user or the server denied the request.
    AccessDenied,
    /// The response type is not supported.
    UnsupportedResponseType,
    /// `prompt=none` was sent but the user is not signed in.
    LoginRequired,
    /// `prompt=none` was sent but the user must interact (for example a required profiling step).
    InteractionRequired,
    /// `prompt=none` was sent but consent is needed.
    ConsentRequired,
    /// `prompt=none` was sent but the user must choose an account.
    AccountSelectionRequired,
    /// The `request` parameter (request objects) is not supported.
    RequestNotSupported,
    /// The `request_uri` parameter is not supported.
    RequestUriNotSupported,
    /// The `request_uri` points to an invalid request object.
    InvalidRequestUri,
    /// The `request` object is invalid.
    InvalidRequestObject,
    /// A bearer access token is missing, expired, revoked or malformed (RFC 6750).
    InvalidToken,
    /// The bearer token lacks the scope the resource needs (RFC 6750).
    InsufficientScope,
    /// RFC 7009: the server does not revoke this token type.
    UnsupportedTokenType,
    /// An unexpected condition on the server.
    ServerError,
    /// The server is overloaded or in maintenance; retry later.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The registered string form (`invalid_request`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::LoginRequired => "login_required",
            Self::InteractionRequired => "interaction_required",
            Self::ConsentRequired => "consent_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the client authenticated (or tried to), which decides the `WWW-Authenticate` challenge of an
/// `invalid_client` answer (RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ChallengeScheme {
    /// No challenge header (the client did not use HTTP authentication).
    #[default]
    None,
    /// The client used `Authorization: Basic`: answer 401 with a Basic challenge.
    Basic,
    /// A bearer token was used at a resource endpoint (userinfo): answer with a Bearer challenge.
    Bearer,
    /// No token at all reached a resource endpoint: a bare Bearer challenge without an error code
    /// (RFC 6750 §3.1).
    BearerWithoutToken,
}

/// An OAuth 2.0 / OpenID Connect protocol error, serialized as the RFC 6749 §5.2 JSON body
/// (`{"error": "...", "error_description": "..."}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {description}")]
pub struct OAuthError {
    /// The registered error code.
    #[serde(rename = "error")]
    pub kind: ErrorCode,
    /// A human-readable explanation for the developer of the client (never secrets).
    #[serde(rename = "error_description", default)]
    pub description: String,
    /// Which challenge a 401 answer carries; not part of the body.
    #[serde(skip)]
    pub challenge: ChallengeScheme,
}

impl OAuthError {
    /// An error with a description.
    pub fn new(kind: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            kind,
            description: description.into(),
            challenge: ChallengeScheme::None,
        }
    }

    /// Shorthand for `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// Shorthand for `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// Shorthand for `invalid_client`.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// Shorthand for `invalid_token` at a bearer-protected resource.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, description).with_challenge(ChallengeScheme::Bearer)
    }

    /// Shorthand for `server_error`.
    pub fn server_error(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerError, description)
    }

    /// Sets the challenge scheme the 401 answer must carry.
    #[must_use]
    pub fn with_challenge(mut self, challenge: ChallengeScheme) -> Self {
        self.challenge = challenge;
        self
    }

    /// The HTTP status for this error: 401 for `invalid_client` / `invalid_token`, 403 for
    /// `insufficient_scope`, 500 for `server_error`, 503 for `temporarily_unavailable`, otherwise 400.
    pub fn http_status(&self) -> u16 {
        match self.kind {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    /// The `WWW-Authenticate` header value, when one is due: `Basic realm="accrete"` for an
    /// `invalid_client` after Basic authentication, and `Bearer error="..."` for resource errors
    /// (RFC 6750 §3); a request that sent no token at all gets a bare `Bearer realm` challenge.
    pub fn www_authenticate(&self) -> Option<String> {
        match (self.challenge, self.kind) {
            (ChallengeScheme::Basic, ErrorCode::InvalidClient) => {
                Some("Basic realm=\"accrete\", charset=\"UTF-8\"".to_owned())
            }
            (ChallengeScheme::BearerWithoutToken, _) => Some("Bearer realm=\"accrete\"".to_owned()),
            (ChallengeScheme::Bearer, kind) => {
                let description = quoted_header_safe(&self.description);
                Some(format!(
                    "Bearer realm=\"accrete\", error=\"{}\", error_description=\"{description}\"",
                    kind.as_str()
                ))
            }
            _ => None,
        }
    }
}

/// RFC 6750 §3: error_description must not contain `"` or `\` (nor non-visible characters).
fn quoted_header_safe(text: &str) -> String {
    text.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_serializes_as_rfc6749_json() {
        let body = serde_json::to_value(OAuthError::invalid_grant("code already used")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "invalid_grant", "error_description": "code already used"})
        );
    }

    #[test]
    fn error_body_round_trips_through_serde() {
        let error = OAuthError::new(ErrorCode::RequestUriNotSupported, "no");
        let text = serde_json::to_string(&error).unwrap();
        let back: OAuthError = serde_json::from_str(&text).unwrap();
        assert_eq!(back, error);
    }

    #[test]
    fn statuses_follow_the_rfcs() {
        assert_eq!(OAuthError::invalid_request("x").http_status(), 400);
        assert_eq!(OAuthError::invalid_client("x").http_status(), 401);
        assert_eq!(OAuthError::invalid_token("x").http_status(), 401);
        assert_eq!(
            OAuthError::new(ErrorCode::InsufficientScope, "x").http_status(),
            403
        );
        assert_eq!(OAuthError::server_error("x").http_status(), 500);
        assert_eq!(
            OAuthError::new(ErrorCode::TemporarilyUnavailable, "x").http_status(),
            503
        );
        assert_eq!(OAuthError::invalid_grant("x").http_status(), 400);
    }

    #[test]
    fn invalid_client_after_basic_auth_challenges_with_basic() {
        let error = OAuthError::invalid_client("bad secret").with_challenge(ChallengeScheme::Basic);
        assert_eq!(
            error.www_authenticate().as_deref(),
            Some("Basic realm=\"accrete\", charset=\"UTF-8\"")
        );
    }

    #[test]
    fn invalid_client_from_body_credentials_has_no_challenge() {
        assert_eq!(
            OAuthError::invalid_client("bad secret").www_authenticate(),
            None
        );
    }

    #[test]
    fn bearer_challenge_names_the_error_and_strips_quotes() {
        let error = OAuthError::invalid_token("token \"expired\"");
        assert_eq!(
            error.www_authenticate().as_deref(),
            Some(
                "Bearer realm=\"accrete\", error=\"invalid_token\", error_description=\"token expired\""
            )
        );
    }

    #[test]
    fn error_codes_display_as_registered_strings() {
        assert_eq!(
            ErrorCode::RequestNotSupported.to_string(),
            "request_not_supported"
        );
        assert_eq!(
            serde_json::to_value(ErrorCode::UnsupportedResponseType).unwrap(),
            serde_json::json!("unsupported_response_type")
        );
    }
}
