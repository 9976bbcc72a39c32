//! The one place where protocol failures become HTTP responses: the RFC 6749 §5.2 JSON body,
//! the status and `WWW-Authenticate` challenge chosen by [`OAuthError`], `Retry-After` on 429 and
//! 503, and `Cache-Control: no-store` / `Pragma: no-cache` on every answer of these endpoints.

use std::time::Duration;

use accrete_oidc::OAuthError;
use accrete_oidc::error::ErrorCode;
use accrete_store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::keys::KeysError;
use crate::ratelimit::RetryAfter;

/// When to come back after a 503 (the database or another dependency is unavailable).
pub(crate) const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why a token, userinfo, revocation or introspection request failed.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// A protocol error, answered as the RFC 6749 JSON body.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// Too many failed attempts for this client: 429 with `Retry-After`.
    #[error("too many attempts; retry in {0:?}")]
    TooMany(Duration),
    /// The store failed: 503 when it is unavailable, otherwise 500.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] KeysError),
}

/// A storage failure at a protocol endpoint, as OAuth reports it: `temporarily_unavailable`
/// while the database is unavailable (the client may retry), otherwise a logged
/// `server_error`. The one mapping of store errors for every OAuth endpoint and bearer check.
pub(crate) fn store_oauth_error(error: StoreError) -> OAuthError {
    match error {
        StoreError::Unavailable { .. } => OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the database is unavailable",
        ),
        other => {
            tracing::error!(error = %other, "storage failure at an OAuth endpoint");
            OAuthError::server_error("storage failure")
        }
    }
}

impl EndpointError {
    fn into_oauth(self) -> (OAuthError, Option<Duration>) {
        match self {
            EndpointError::OAuth(error) => (error, None),
            EndpointError::TooMany(wait) => (
                OAuthError::new(
                    ErrorCode::InvalidClient,
                    "too many failed attempts for this client; retry later",
                ),
                Some(wait),
            ),
            EndpointError::Store(error) => {
                let unavailable = matches!(error, StoreError::Unavailable { .. });
                (
                    store_oauth_error(error),
                    unavailable.then_some(UNAVAILABLE_RETRY_AFTER),
                )
            }
            EndpointError::Keys(error) => {
                tracing::error!(%error, "signing keys unavailable");
                (
                    OAuthError::server_error("signing keys are unavailable"),
                    None,
                )
            }
        }
    }
}

impl IntoResponse for EndpointError {
    fn into_response(self) -> Response {
        let too_many = matches!(self, EndpointError::TooMany(_));
        let (error, retry_after) = self.into_oauth();
        let status = if too_many {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
        };
        let mut response = (status, axum::Json(&error)).into_response();
        let headers = response.headers_mut();
        if let Some(value) = error
            .www_authenticate()
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        // Every 503 says when to come back, whichever error led to it.
        let retry_after = retry_after
            .or((status == StatusCode::SERVICE_UNAVAILABLE).then_some(UNAVAILABLE_RETRY_AFTER));
        if let Some(wait) = retry_after
            && let Ok(value) = HeaderValue::from_str(&RetryAfter(wait).seconds().to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        no_store(response)
    }
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A JSON success answer that must not be cached.
pub(crate) fn json_no_store<T: serde::Serialize>(body: &T) -> Response {
    no_store(axum::Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use accrete_oidc::error::ChallengeScheme;

    use super::*;

    #[test]
    fn invalid_client_after_basic_is_401_with_a_basic_challenge_and_no_store() {
        let response = EndpointError::from(
            OAuthError::invalid_client("nope").with_challenge(ChallengeScheme::Basic),
        )
        .into_response();
        assert_eq!(response.status(), 401);
        let headers = response.headers();
        assert!(
            headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::PRAGMA], "no-cache");
    }

    #[test]
    fn too_many_attempts_is_429_with_retry_after() {
        let response = EndpointError::TooMany(Duration::from_secs(7)).into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn a_too_many_wait_with_a_fraction_of_a_second_is_rounded_up() {
        let response = EndpointError::TooMany(Duration::from_millis(6_200)).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn a_bearer_check_that_finds_the_store_unavailable_is_503_with_retry_after() {
        let error = store_oauth_error(StoreError::Unavailable {
            backend: "PostgreSQL",
            message: "down".into(),
        });
        let response = EndpointError::from(error).into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn an_unavailable_store_is_503_temporarily_unavailable() {
        let response = EndpointError::from(StoreError::Unavailable {
            backend: "SQLite",
            message: "locked".into(),
        })
        .into_response();
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
    }
}
