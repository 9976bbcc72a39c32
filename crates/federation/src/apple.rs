//! Sign in with Apple's client secret: an ES256 JWT the client signs itself.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// How long a client secret is valid (Apple accepts up to six months; it is made per exchange).
pub const CLIENT_SECRET_LIFETIME_SECS: u64 = 300;

/// Why no client secret could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Apple private key cannot sign: it is not an EC P-256 key in PEM (PKCS#8)")]
pub struct AppleKeyError;

#[derive(Serialize)]
struct ClientSecretClaims<'a> {
    iss: &'a str,
    iat: u64,
    exp: u64,
    aud: &'a str,
    sub: &'a str,
}

/// The client secret of Sign in with Apple: an ES256 JWT `{iss: team_id, iat, exp, aud:
/// issuer, sub: client_id}` with `kid` = `key_id` in its header, valid for
/// [`CLIENT_SECRET_LIFETIME_SECS`] from `now` (seconds since the epoch). `audience` is Apple's
/// issuer, `https://appleid.apple.com`.
pub fn client_secret(
    team_id: &str,
    key_id: &str,
    private_key_pem: &str,
    client_id: &str,
    audience: &str,
    now: u64,
) -> Result<String, AppleKeyError> {
    let key = EncodingKey::from_ec_pem(private_key_pem.as_bytes()).map_err(|_| AppleKeyError)?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key_id.to_owned());
    let claims = ClientSecretClaims {
        iss: team_id,
        iat: now,
        exp: now + CLIENT_SECRET_LIFETIME_SECS,
        aud: audience,
        sub: client_id,
    };
    jsonwebtoken::encode(&header, &claims, &key).map_err(|_| AppleKeyError)
}

/// Whether the key can sign a client secret (a spec's check).
pub(crate) fn check_private_key(private_key_pem: &str) -> Result<(), AppleKeyError> {
    client_secret(
        "TEAMID0000",
        "KEYID00000",
        private_key_pem,
        "check",
        "https://appleid.apple.com",
        0,
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_pem_cannot_sign() {
        assert_eq!(
            client_secret("T", "K", "not a key", "c", "https://appleid.apple.com", 0),
            Err(AppleKeyError)
        );
    }
}
