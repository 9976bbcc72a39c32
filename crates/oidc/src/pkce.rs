//! Proof Key for Code Exchange (RFC 7636), S256 only: `plain` offers no protection against a code
//! intercepted together with the authorization request, so it is refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use crate::error::OAuthError;
use crate::secrets::constant_time_eq;

/// The only supported `code_challenge_method`.
pub const S256: &str = "S256";

/// A validated `code_challenge` (S256), stored with the authorization transaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Validates the `code_challenge` and `code_challenge_method` parameters of an authorization
    /// request. A missing method means `plain` (RFC 7636 §4.3), which is refused.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, OAuthError> {
        match method {
            Some(S256) => {}
            Some("plain") | None => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method must be S256 (plain is not supported)",
                ));
            }
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "unsupported code_challenge_method",
                ));
            }
        }
        // The base64url of a SHA-256 digest: exactly 43 characters of the unpadded alphabet.
        if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
            return Err(OAuthError::invalid_request(
                "code_challenge is not a valid S256 challenge",
            ));
        }
        Ok(Self(challenge.to_owned()))
    }

    /// The challenge as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a `code_verifier` from the token request against this challenge, in constant time.
    /// A malformed verifier or a mismatch is `invalid_grant`.
    pub fn verify(&self, verifier: &str) -> Result<(), OAuthError> {
        if !is_valid_verifier(verifier) {
            return Err(OAuthError::invalid_grant("code_verifier is malformed"));
        }
        if constant_time_eq(s256(verifier).as_bytes(), self.0.as_bytes()) {
            Ok(())
        } else {
            Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ))
        }
    }
}

/// RFC 7636 §4.1: 43 to 128 characters from `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~'))
}

/// `BASE64URL(SHA256(ASCII(verifier)))`.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    // The example of RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_example_verifies() {
        assert_eq!(s256(VERIFIER), CHALLENGE);
        let challenge = CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap();
        assert!(challenge.verify(VERIFIER).is_ok());
    }

    #[test]
    fn pkce_mismatch_is_invalid_grant() {
        let challenge = CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap();
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj";
        assert_eq!(
            challenge.verify(other).unwrap_err().kind,
            ErrorCode::InvalidGrant
        );
    }

    #[test]
    fn plain_method_is_refused() {
        let error = CodeChallenge::parse(VERIFIER, Some("plain")).unwrap_err();
        assert_eq!(error.kind, ErrorCode::InvalidRequest);
    }

    #[test]
    fn missing_method_means_plain_and_is_refused() {
        assert!(CodeChallenge::parse(CHALLENGE, None).is_err());
    }

    #[test]
    fn unknown_method_is_refused() {
        assert!(CodeChallenge::parse(CHALLENGE, Some("S512")).is_err());
    }

    #[test]
    fn challenge_of_the_wrong_length_is_refused() {
        assert!(CodeChallenge::parse("abc", Some("S256")).is_err());
        assert!(CodeChallenge::parse(&format!("{CHALLENGE}A"), Some("S256")).is_err());
    }

    #[test]
    fn verifier_syntax_follows_rfc7636() {
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"~._-".repeat(32)));
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
        assert!(!is_valid_verifier(&format!("{} ", "a".repeat(43))));
    }

    #[test]
    fn malformed_verifier_is_invalid_grant_even_if_short() {
        let challenge = CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap();
        assert_eq!(
            challenge.verify("short").unwrap_err().kind,
            ErrorCode::InvalidGrant
        );
    }
}
