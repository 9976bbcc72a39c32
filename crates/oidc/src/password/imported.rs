//! Password hashes imported from other systems, as they stored them: bcrypt (Auth0), PBKDF2 (Auth0's
//! custom password hashes, Keycloak up to 24) and Argon2 other than Accrete's own (Keycloak 25 and
//! later), and the PHC strings an import builds from the salt and hash a realm export gives.
//! Each verifies with `needs_rehash`: the first sign-in replaces it with Accrete's Argon2id.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use pbkdf2::pbkdf2_hmac;
use pbkdf2::sha2::{Sha256, Sha512};
use sha1::Sha1;
use subtle::ConstantTimeEq as _;

use argon2::password_hash::phc::{Output, Salt};

use super::phc::{PasswordCheck, PasswordError, at_most, parse_phc};

/// The highest bcrypt cost that is verified (2^16 rounds: a few seconds).
const MAX_BCRYPT_COST: u32 = 16;
/// The fewest PBKDF2 iterations that are verified.
const MIN_PBKDF2_ITERATIONS: u32 = 1_000;
/// The most PBKDF2 iterations that are verified.
const MAX_PBKDF2_ITERATIONS: u32 = 5_000_000;

/// The hash function of a PBKDF2 hash (its HMAC's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbkdf2Digest {
    /// HMAC-SHA-1: `$pbkdf2$`.
    Sha1,
    /// HMAC-SHA-256: `$pbkdf2-sha256$`.
    Sha256,
    /// HMAC-SHA-512: `$pbkdf2-sha512$`.
    Sha512,
}

impl Pbkdf2Digest {
    /// The PHC identifier.
    fn ident(self) -> &'static str {
        match self {
            Self::Sha1 => "pbkdf2",
            Self::Sha256 => "pbkdf2-sha256",
            Self::Sha512 => "pbkdf2-sha512",
        }
    }

    pub(super) fn from_ident(ident: &str) -> Option<Self> {
        [Self::Sha1, Self::Sha256, Self::Sha512]
            .into_iter()
            .find(|digest| digest.ident() == ident)
    }
}

/// Builds the stored form of a PBKDF2 hash from its parts:
/// `$pbkdf2-sha256$i=<iterations>,l=<hash length>$<salt>$<hash>` (`$pbkdf2$` for SHA-1,
/// `$pbkdf2-sha512$` for SHA-512), salt and hash in the PHC format's B64 (standard Base64 without
/// padding). Whether [`verify_password`](super::verify_password) takes it (iterations, salt and
/// hash lengths) is [`check_stored_hash`]'s to say.
pub fn pbkdf2_phc(digest: Pbkdf2Digest, iterations: u32, salt: &[u8], hash: &[u8]) -> String {
    format!(
        "${}$i={iterations},l={}${}${}",
        digest.ident(),
        hash.len(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    )
}

/// Checks a bcrypt string (`$2a$`, `$2b$` or `$2y$`, told by the caller) and its cost.
pub(super) fn parse_bcrypt(stored: &str) -> Result<&str, PasswordError> {
    let parts: bcrypt::HashParts = stored.parse().map_err(|_| PasswordError::MalformedHash)?;
    let cost = parts.get_cost();
    // bcrypt's own least cost; below it the crate refuses to run.
    if cost < 4 {
        return Err(PasswordError::MalformedHash);
    }
    at_most("bcrypt cost", cost, MAX_BCRYPT_COST)?;
    Ok(stored)
}

/// Verifies a bcrypt string that [`parse_bcrypt`] took.
/// The bytes of a password that bcrypt reads.
const BCRYPT_MAX_BYTES: usize = 72;

pub(super) fn verify_bcrypt(password: &str, stored: &str) -> Result<PasswordCheck, PasswordError> {
    // Reads the first 72 bytes of the password, as the systems that made these hashes did, and
    // compares in constant time.
    // A password longer than that stays under its bcrypt hash: replaced by a hash of what was
    // typed, it would lock out the password the person has always used, which differs from
    // this one only past the 72nd byte (a typo, another device's copy).
    match bcrypt::verify(password, stored) {
        Ok(true) => Ok(PasswordCheck::Verified {
            needs_rehash: password.len() <= BCRYPT_MAX_BYTES,
        }),
        Ok(false) => Ok(PasswordCheck::Mismatch),
        Err(_) => Err(PasswordError::MalformedHash),
    }
}

/// A PBKDF2 PHC string within bounds.
pub(super) struct Pbkdf2Hash {
    pub(super) digest: Pbkdf2Digest,
    pub(super) iterations: u32,
    pub(super) salt: Salt,
    pub(super) hash: Output,
}

impl Pbkdf2Hash {
    /// Parses `stored`, whose identifier names `digest`.
    pub(super) fn parse(digest: Pbkdf2Digest, stored: &str) -> Result<Self, PasswordError> {
        // `$<id>$<params>$<salt>$<hash>`: the PHC parser would read passlib's own format,
        // `$pbkdf2-sha256$<rounds>$<salt>$<hash>`, as a salt, a hash and a field too many.
        let fields: Vec<&str> = stored.split('$').collect();
        if !matches!(fields.as_slice(), [_, _, params, _, _] if params.contains('=')) {
            return Err(PasswordError::MalformedHash);
        }
        let parsed = parse_phc(stored, "PBKDF2")?;
        // `i`, and optionally `l`: nothing else.
        let iterations = parsed
            .params
            .get_decimal("i")
            .ok_or(PasswordError::MalformedHash)?;
        let length = parsed
            .params
            .get("l")
            .map(|length| length.decimal())
            .transpose()
            .map_err(|_| PasswordError::MalformedHash)?;
        if parsed.params.iter().count() != 1 + usize::from(length.is_some()) {
            return Err(PasswordError::MalformedHash);
        }
        if iterations < MIN_PBKDF2_ITERATIONS {
            return Err(PasswordError::OutOfBounds(format!(
                "PBKDF2 iteration count {iterations} is below {MIN_PBKDF2_ITERATIONS}, \
                 the least Accrete verifies"
            )));
        }
        at_most("PBKDF2 iteration count", iterations, MAX_PBKDF2_ITERATIONS)?;
        let (Some(salt), Some(hash)) = (parsed.salt, parsed.hash) else {
            return Err(PasswordError::MalformedHash);
        };
        // The key length is the stored hash's; `l`, when given, must agree.
        if length.is_some_and(|length| usize::try_from(length).ok() != Some(hash.len())) {
            return Err(PasswordError::MalformedHash);
        }
        Ok(Self {
            digest,
            iterations,
            salt,
            hash,
        })
    }

    pub(super) fn verify(&self, password: &str) -> PasswordCheck {
        let mut computed = vec![0_u8; self.hash.len()];
        let (password, salt) = (password.as_bytes(), &self.salt);
        match self.digest {
            Pbkdf2Digest::Sha1 => {
                pbkdf2_hmac::<Sha1>(password, salt, self.iterations, &mut computed);
            }
            Pbkdf2Digest::Sha256 => {
                pbkdf2_hmac::<Sha256>(password, salt, self.iterations, &mut computed);
            }
            Pbkdf2Digest::Sha512 => {
                pbkdf2_hmac::<Sha512>(password, salt, self.iterations, &mut computed);
            }
        }
        if bool::from(computed.ct_eq(self.hash.as_bytes())) {
            PasswordCheck::Verified { needs_rehash: true }
        } else {
            PasswordCheck::Mismatch
        }
    }
}
