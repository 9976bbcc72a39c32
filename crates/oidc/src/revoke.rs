//! Token revocation (RFC 7009). The request has the same shape as an introspection request. The
//! endpoint answers 200 whether or not the token was known, and only revokes tokens issued to the
//! calling client, so it can neither probe for tokens nor revoke other clients' tokens.

use crate::error::OAuthError;
pub use crate::introspect::{TokenLookupRequest, TokenTypeHint};

/// Parses a revocation request from the `Authorization` header value and the form body.
pub fn parse_revocation_request(
    authorization: Option<&str>,
    body: &[(String, String)],
) -> Result<TokenLookupRequest, OAuthError> {
    crate::introspect::parse_token_lookup(authorization, body)
}

/// What to do with a revocation request once the token has been looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Revoke it (a refresh token revokes its whole family and the access tokens issued from it).
    Revoke,
    /// Answer 200 and do nothing: the token is unknown, already invalid, or not the caller's.
    Ignore,
}

/// Decides a revocation: `token_client_id` is the client the token was issued to, `None` when the
/// token is unknown.
pub fn decide_revocation(caller_client_id: &str, token_client_id: Option<&str>) -> Revocation {
    match token_client_id {
        Some(owner)
            if crate::secrets::constant_time_eq(caller_client_id.as_bytes(), owner.as_bytes()) =>
        {
            Revocation::Revoke
        }
        _ => Revocation::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::pairs;

    #[test]
    fn clients_revoke_only_their_own_tokens() {
        assert_eq!(decide_revocation("web", Some("web")), Revocation::Revoke);
        assert_eq!(decide_revocation("web", Some("other")), Revocation::Ignore);
        assert_eq!(decide_revocation("web", None), Revocation::Ignore);
    }

    #[test]
    fn revocation_request_needs_a_token() {
        assert!(parse_revocation_request(None, &pairs(&[("client_id", "spa")])).is_err());
        let request =
            parse_revocation_request(None, &pairs(&[("client_id", "spa"), ("token", "t")]))
                .unwrap();
        assert_eq!(request.token, "t");
    }
}
