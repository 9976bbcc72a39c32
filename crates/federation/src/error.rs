//! Everything that can go wrong with an upstream provider: [`UpstreamError`], one line each, for
//! people (its `Display`) and for logs and the choice of a page ([`UpstreamError::kind`]).
//! Never a secret, a code or a token.

use std::fmt;
use std::time::Duration;

use openidconnect::{ErrorResponseType, RequestTokenError, StandardErrorResponse};
use serde::Deserialize;

/// The longest text taken from a provider into an error (its `error` and `error_description`).
const PROVIDER_TEXT_MAX_CHARS: usize = 200;

/// What went wrong with an upstream provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The provider sent the user back with an error (`access_denied` when they declined).
    #[error(
        "the provider did not sign the user in: {error}{}",
        describe(description)
    )]
    Denied {
        /// The provider's `error` code.
        error: String,
        /// The provider's `error_description`.
        description: Option<String>,
    },
    /// No connection could be made.
    #[error("the provider at {host} could not be reached: {reason}")]
    Unreachable {
        /// `host` or `host:port`.
        host: String,
        /// Why, in a few words.
        reason: String,
    },
    /// The provider did not answer in time.
    #[error("the provider at {host} did not answer within {}", Seconds(*after))]
    Timeout {
        /// `host` or `host:port`.
        host: String,
        /// The time allowed.
        after: Duration,
    },
    /// A request would have gone to a host the connection does not name, or over plain `http`.
    #[error(
        "requests to {host} are refused: not a host of this connection's configuration or of the endpoints its discovery may name, or not over https"
    )]
    HostNotAllowed {
        /// `host` or `host:port`.
        host: String,
    },
    /// An unexpected HTTP status, a redirect included (they are never followed).
    #[error("the provider at {host} answered with HTTP status {status}")]
    BadStatus {
        /// `host` or `host:port`.
        host: String,
        /// The status.
        status: u16,
    },
    /// An answer larger than allowed.
    #[error("the answer of the provider at {host} is larger than {limit} bytes")]
    TooLarge {
        /// `host` or `host:port`.
        host: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The discovery document or the JWKS cannot be used.
    #[error("the provider's discovery document cannot be used: {0}")]
    Discovery(String),
    /// The issuer in the discovery document, the ID token or the callback is not the one
    /// configured.
    #[error("the issuer is {got}, not {expected} as configured")]
    IssuerMismatch {
        /// What was expected.
        expected: String,
        /// What came.
        got: String,
    },
    /// The provider advertises RFC 9207 `iss` in its answers but the callback has none.
    #[error(
        "the provider's answer does not say which issuer sent it, though the provider says it always does"
    )]
    MissingIssuer,
    /// The ID token is not valid (signature, audience, nonce, expiry...).
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
    /// The callback has neither a code nor an error.
    #[error("the provider's answer has no authorization code")]
    MissingCode,
    /// The token endpoint refused the code.
    #[error(
        "the provider's token endpoint refused the code: {error}{}",
        describe(description)
    )]
    TokenEndpoint {
        /// The OAuth 2 `error` code (`invalid_grant`...).
        error: String,
        /// The `error_description`.
        description: Option<String>,
    },
    /// The provider did not say who the user is.
    #[error("the provider did not say who the user is (no subject)")]
    NoSubject,
    /// The connection or the request cannot be used as given.
    #[error("the connection cannot be used: {0}")]
    Config(String),
}

impl UpstreamError {
    /// A stable snake_case word for logs, metrics and the choice of a page: `denied`,
    /// `unreachable`, `timeout`, `host_not_allowed`, `bad_status`, `too_large`, `discovery`,
    /// `issuer_mismatch`, `missing_issuer`, `id_token`, `missing_code`, `token_endpoint`,
    /// `no_subject`, `config`.
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Denied { .. } => "denied",
            UpstreamError::Unreachable { .. } => "unreachable",
            UpstreamError::Timeout { .. } => "timeout",
            UpstreamError::HostNotAllowed { .. } => "host_not_allowed",
            UpstreamError::BadStatus { .. } => "bad_status",
            UpstreamError::TooLarge { .. } => "too_large",
            UpstreamError::Discovery(_) => "discovery",
            UpstreamError::IssuerMismatch { .. } => "issuer_mismatch",
            UpstreamError::MissingIssuer => "missing_issuer",
            UpstreamError::IdToken(_) => "id_token",
            UpstreamError::MissingCode => "missing_code",
            UpstreamError::TokenEndpoint { .. } => "token_endpoint",
            UpstreamError::NoSubject => "no_subject",
            UpstreamError::Config(_) => "config",
        }
    }

    /// The user declined or the provider refused to sign them in: `error` and
    /// `error_description` of the callback, cut short and on one line.
    pub(crate) fn denied(error: &str, description: Option<&str>) -> Self {
        UpstreamError::Denied {
            error: provider_text(error),
            description: description.map(provider_text),
        }
    }

    /// The token endpoint's error answer, cut short and on one line.
    pub(crate) fn token_endpoint(error: &str, description: Option<&str>) -> Self {
        UpstreamError::TokenEndpoint {
            error: provider_text(error),
            description: description.map(provider_text),
        }
    }
}

/// The token endpoint's refusal, or why its answer could not be used.
pub(crate) fn token_error<T: ErrorResponseType + fmt::Display + 'static>(
    error: RequestTokenError<UpstreamError, StandardErrorResponse<T>>,
) -> UpstreamError {
    /// An OAuth 2 error answer, whatever its `error` code (GitHub answers `200 OK` with one).
    #[derive(Deserialize)]
    struct ErrorAnswer {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }

    match error {
        RequestTokenError::ServerResponse(answer) => UpstreamError::token_endpoint(
            &answer.error().to_string(),
            answer.error_description().map(String::as_str),
        ),
        RequestTokenError::Request(error) => error,
        RequestTokenError::Parse(error, body) => {
            if error.path().to_string().starts_with("id_token") {
                UpstreamError::IdToken(
                    "it cannot be read (a signed JWT with the claims of OpenID Connect is expected)"
                        .to_owned(),
                )
            } else if let Ok(answer) = serde_json::from_slice::<ErrorAnswer>(&body) {
                UpstreamError::token_endpoint(&answer.error, answer.error_description.as_deref())
            } else {
                UpstreamError::token_endpoint(
                    "invalid_response",
                    Some("the answer is not an OAuth 2 token response"),
                )
            }
        }
        RequestTokenError::Other(reason) => {
            UpstreamError::token_endpoint("invalid_response", Some(&reason))
        }
    }
}

/// Text a provider (or whoever crafted the callback) wrote, made fit for a log line and a page:
/// control characters dropped, at most [`PROVIDER_TEXT_MAX_CHARS`] characters.
fn provider_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(PROVIDER_TEXT_MAX_CHARS)
        .collect()
}

fn describe(description: &Option<String>) -> String {
    match description {
        Some(description) if !description.is_empty() => format!(" ({description})"),
        _ => String::new(),
    }
}

/// A duration as people read it: `10 s`, `250 ms`.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Seconds(duration) = self;
        if duration.subsec_millis() == 0 {
            write!(f, "{} s", duration.as_secs())
        } else {
            write!(f, "{} ms", duration.as_millis())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_names_the_host_and_the_time() {
        let error = UpstreamError::Timeout {
            host: "login.example".to_owned(),
            after: Duration::from_secs(10),
        };
        assert_eq!(
            error.to_string(),
            "the provider at login.example did not answer within 10 s"
        );
        let short = UpstreamError::Timeout {
            host: "127.0.0.1:9".to_owned(),
            after: Duration::from_millis(250),
        };
        assert!(short.to_string().ends_with("within 250 ms"));
        assert_eq!(short.kind(), "timeout");
    }

    #[test]
    fn provider_text_is_one_short_line() {
        let error =
            UpstreamError::denied("access_denied", Some(&format!("a\nb{}", "x".repeat(500))));
        let UpstreamError::Denied { description, .. } = &error else {
            panic!("denied")
        };
        let description = description.as_deref().unwrap();
        assert!(description.starts_with("ab"));
        assert_eq!(description.chars().count(), PROVIDER_TEXT_MAX_CHARS);
        assert!(!error.to_string().contains('\n'));
        assert_eq!(
            UpstreamError::denied("access_denied", None).to_string(),
            "the provider did not sign the user in: access_denied"
        );
    }
}
