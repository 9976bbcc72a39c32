//! Sign in with Apple's differences, as plain functions: the client secret is an ES256 JWT the
//! client signs itself, and the user's name arrives once, as the `user` form field of the first
//! callback.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

/// How long a client secret is valid (Apple accepts up to six months; it is made per exchange).
pub const CLIENT_SECRET_LIFETIME_SECS: u64 = 300;

/// The longest name part taken from the `user` field, in characters.
const NAME_MAX_CHARS: usize = 200;

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

/// The `user` form field Apple posts on the first sign-in.
#[derive(Deserialize)]
struct UserParam {
    #[serde(default)]
    name: Option<UserName>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserName {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

/// The name in Apple's `user` field, as `(given_name, family_name)`. The field is not signed and
/// only names the user to themselves, so a malformed one is ignored rather than failing the
/// sign-in; its `email` is ignored too (the ID token's is the one Apple vouches for).
pub(crate) fn user_name(user: &str) -> (Option<String>, Option<String>) {
    let Ok(UserParam { name: Some(name) }) = serde_json::from_str::<UserParam>(user) else {
        return (None, None);
    };
    (name_part(name.first_name), name_part(name.last_name))
}

fn name_part(part: Option<String>) -> Option<String> {
    part.map(|part| part.trim().to_owned()).filter(|part| {
        !part.is_empty()
            && part.chars().count() <= NAME_MAX_CHARS
            && !part.chars().any(char::is_control)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_field_names_the_user() {
        let user =
            r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"ada@example.com"}"#;
        assert_eq!(
            user_name(user),
            (Some("Ada".to_owned()), Some("Lovelace".to_owned()))
        );
    }

    #[test]
    fn a_malformed_user_field_names_no_one() {
        assert_eq!(user_name("{"), (None, None));
        assert_eq!(user_name(r#"{"email":"a@b.c"}"#), (None, None));
        assert_eq!(
            user_name(r#"{"name":{"firstName":" ","lastName":"L\u0000"}}"#),
            (None, None)
        );
    }

    #[test]
    fn a_key_that_is_not_pem_cannot_sign() {
        assert_eq!(
            client_secret("T", "K", "not a key", "c", "https://appleid.apple.com", 0),
            Err(AppleKeyError)
        );
    }
}
