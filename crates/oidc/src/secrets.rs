//! Opaque random values (client secrets, authorization codes, refresh tokens, session ids, CSRF
//! tokens) and the keyed hash under which they are stored at rest.
//!
//! These values carry 256 bits of entropy, so a fast keyed hash (HMAC-SHA256 with a server secret)
//! is enough to make a stolen database useless: no password-style stretching is needed, and client
//! authentication stays cheap.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// Bytes of entropy in every opaque value.
pub const OPAQUE_BYTES: usize = 32;

/// Returns a fresh random value: 256 bits from the operating system's CSPRNG, base64url without
/// padding (43 characters). Use for client secrets, codes, refresh tokens, session ids, CSRF tokens.
pub fn random_opaque() -> String {
    let mut bytes = [0u8; OPAQUE_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Returns a code of `digits` decimal digits (at most 18), uniformly drawn from the CSPRNG, for a
/// person to type (a mailed verification code). Its few bits are guarded by a limit on attempts
/// and a short lifetime, not by entropy; stored under the keyed hash like the opaque values.
pub fn random_digits(digits: u32) -> String {
    use rand::Rng as _;
    let digits = digits.clamp(1, 18);
    let bound = 10u64.pow(digits);
    let n = rand::rng().random_range(0..bound);
    format!("{n:0width$}", width = digits as usize)
}

/// Compares two byte strings in constant time (for equal lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The errors of [`TokenHasher::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HasherError {
    /// The server secret is too short to key the hash.
    #[error("the token hashing secret must be at least 32 bytes, got {0}")]
    SecretTooShort(usize),
}

/// HMAC-SHA256 keyed with a server secret: the at-rest form of opaque values.
#[derive(Clone)]
pub struct TokenHasher {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHasher([redacted])")
    }
}

impl TokenHasher {
    /// A hasher keyed with `secret` (at least 32 bytes).
    pub fn new(secret: &[u8]) -> Result<Self, HasherError> {
        if secret.len() < 32 {
            return Err(HasherError::SecretTooShort(secret.len()));
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|_| HasherError::SecretTooShort(secret.len()))?;
        Ok(Self { mac })
    }

    /// The keyed hash of `value`, base64url (43 characters): store this, never the value.
    pub fn hash(&self, value: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.digest(value))
    }

    /// Whether `value` hashes to `stored` (the output of [`TokenHasher::hash`]), in constant time.
    pub fn verify(&self, value: &str, stored: &str) -> bool {
        let Ok(expected) = URL_SAFE_NO_PAD.decode(stored) else {
            return false;
        };
        constant_time_eq(&self.digest(value), &expected)
    }

    fn digest(&self, value: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod digits_tests {
    use super::random_digits;

    #[test]
    fn a_code_has_the_digits_asked_and_keeps_its_leading_zeros() {
        for _ in 0..200 {
            let code = random_digits(6);
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        let codes: std::collections::HashSet<String> = (0..50).map(|_| random_digits(6)).collect();
        assert!(codes.len() > 40, "codes are drawn at random: {codes:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn opaque_values_are_256_bit_base64url_and_distinct() {
        let a = random_opaque();
        let b = random_opaque();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_deterministic_per_key_and_verifies() {
        let hasher = TokenHasher::new(KEY).unwrap();
        let stored = hasher.hash("secret-value");
        assert_eq!(stored, hasher.hash("secret-value"));
        assert!(hasher.verify("secret-value", &stored));
        assert!(!hasher.verify("secret-valuf", &stored));
    }

    #[test]
    fn hash_depends_on_the_server_key() {
        let one = TokenHasher::new(KEY).unwrap();
        let other = TokenHasher::new(b"another key that is long enough!!").unwrap();
        assert_ne!(one.hash("v"), other.hash("v"));
        assert!(!other.verify("v", &one.hash("v")));
    }

    #[test]
    fn short_server_keys_are_refused() {
        assert_eq!(
            TokenHasher::new(b"short").unwrap_err(),
            HasherError::SecretTooShort(5)
        );
    }

    #[test]
    fn malformed_stored_hash_never_verifies() {
        let hasher = TokenHasher::new(KEY).unwrap();
        assert!(!hasher.verify("v", "not base64 !!"));
        assert!(!hasher.verify("v", ""));
    }

    #[test]
    fn debug_output_hides_the_key() {
        let hasher = TokenHasher::new(KEY).unwrap();
        assert!(!format!("{hasher:?}").contains("0123"));
    }
}
