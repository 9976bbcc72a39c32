//! Password hashing: Accrete hashes with Argon2id (m = 19456 KiB, t = 2, p = 1: the OWASP
//! baseline), and verifies its own hashes as well as those imported from other systems (Auth0,
//! Keycloak) as they stored them: bcrypt (`$2a$`, `$2b$`, `$2y$`), PBKDF2 PHC strings (`$pbkdf2$`
//! for HMAC-SHA-1, `$pbkdf2-sha256$`, `$pbkdf2-sha512$`) and Argon2 PHC strings of any variant,
//! version and parameters. Every hash but Argon2id with the current parameters verifies with
//! `needs_rehash`, so the first sign-in replaces an imported hash with Accrete's own. Costs are
//! bounded ([`check_stored_hash`]): a hostile or broken import cannot make one sign-in run for
//! minutes or take gigabytes.
//!
//! These functions are synchronous and deliberately slow; the server runs them in its bounded
//! blocking pool. Unknown accounts are checked against [`verify_dummy`] so that they cost the same
//! as a wrong password.
//!
//! Verification works in a per-thread Argon2 memory that is kept between calls (about 19 MiB per
//! thread that ever verifies a password): the server's few hashing threads then hold their
//! working memory for good instead of asking the allocator for 19 MiB, and faulting it in, on
//! every sign-in. Call these functions only from a small, fixed set of threads.

use std::cell::RefCell;

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::{Output, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

mod imported;
#[cfg(test)]
mod imported_tests;
mod phc;

pub use imported::{Pbkdf2Digest, pbkdf2_phc};
pub use phc::{PasswordCheck, PasswordError};
use phc::{at_most, parse_phc};

/// Memory cost in KiB.
pub const M_COST_KIB: u32 = 19_456;
/// Number of passes.
pub const T_COST: u32 = 2;
/// Lanes.
pub const P_COST: u32 = 1;

/// The most memory, in KiB, of an Argon2 hash that is verified (256 MiB).
const MAX_M_COST_KIB: u32 = 262_144;
/// The most passes of an Argon2 hash that is verified.
const MAX_T_COST: u32 = 20;
/// The most lanes of an Argon2 hash that is verified.
const MAX_P_COST: u32 = 8;

/// A hash of a random password made with the current parameters, verified for unknown accounts.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$YWNjcmV0ZS1kdW1teS1zYWx0$2kH3gqi0ZaB0eLGm2oC2/vcOe8V7YqgzMEqfCzM6Xbs";

fn current_params() -> Result<Params, PasswordError> {
    Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| PasswordError::Hashing(e.to_string()))
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        current_params()?,
    ))
}

/// Hashes `password` with a fresh random salt; returns the PHC string to store.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    hasher()?
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

thread_local! {
    /// The Argon2 working memory of this thread, at most the current memory cost.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `hash` in `blocks` blocks of memory: this thread's kept memory when the cost is at most
/// the current one, otherwise memory allocated for this call only (refused, not aborted, when the
/// allocator cannot give it).
fn with_memory<T>(
    blocks: usize,
    hash: impl FnOnce(&mut [Block]) -> Result<T, PasswordError>,
) -> Result<T, PasswordError> {
    if blocks > M_COST_KIB as usize {
        let mut memory = Vec::new();
        memory
            .try_reserve_exact(blocks)
            .map_err(|_| PasswordError::Hashing("not enough memory for this hash".into()))?;
        memory.resize(blocks, Block::default());
        return hash(&mut memory);
    }
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        hash(&mut memory[..blocks])
    })
}

/// A stored hash, parsed and within the bounds of [`check_stored_hash`].
enum StoredHash<'a> {
    Argon2(Argon2Hash),
    Bcrypt(&'a str),
    Pbkdf2(imported::Pbkdf2Hash),
}

impl<'a> StoredHash<'a> {
    fn parse(stored: &'a str) -> Result<Self, PasswordError> {
        // The identifier between the first two `$` says the format.
        let ident = stored
            .strip_prefix('$')
            .and_then(|rest| rest.split('$').next())
            .ok_or(PasswordError::MalformedHash)?;
        match ident {
            "argon2id" | "argon2i" | "argon2d" => Argon2Hash::parse(stored).map(Self::Argon2),
            "2a" | "2b" | "2y" => imported::parse_bcrypt(stored).map(Self::Bcrypt),
            _ => match Pbkdf2Digest::from_ident(ident) {
                Some(digest) => imported::Pbkdf2Hash::parse(digest, stored).map(Self::Pbkdf2),
                None => Err(PasswordError::MalformedHash),
            },
        }
    }
}

/// An Argon2 PHC string within bounds.
struct Argon2Hash {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Salt,
    hash: Output,
}

impl Argon2Hash {
    fn parse(stored: &str) -> Result<Self, PasswordError> {
        let parsed = parse_phc(stored, "Argon2")?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str())
            .map_err(|_| PasswordError::MalformedHash)?;
        // As the reference implementation, read a string without a version as version 0x10.
        let version = match parsed.version {
            Some(version) => {
                Version::try_from(version).map_err(|_| PasswordError::MalformedHash)?
            }
            None => Version::V0x10,
        };
        // Exactly m, t and p: no `keyid` (a secret Accrete does not have) nor `data`.
        let cost = |name: &str| {
            parsed
                .params
                .get_decimal(name)
                .ok_or(PasswordError::MalformedHash)
        };
        let (m_cost, t_cost, p_cost) = (cost("m")?, cost("t")?, cost("p")?);
        if parsed.params.iter().count() != 3 {
            return Err(PasswordError::MalformedHash);
        }
        at_most("Argon2 memory in KiB (m)", m_cost, MAX_M_COST_KIB)?;
        at_most("Argon2 passes (t)", t_cost, MAX_T_COST)?;
        at_most("Argon2 lanes (p)", p_cost, MAX_P_COST)?;
        let (Some(salt), Some(hash)) = (parsed.salt, parsed.hash) else {
            return Err(PasswordError::MalformedHash);
        };
        let params = Params::new(m_cost, t_cost, p_cost, Some(hash.len()))
            .map_err(|_| PasswordError::MalformedHash)?;
        Ok(Self {
            algorithm,
            version,
            params,
            salt,
            hash,
        })
    }

    fn verify(&self, password: &str) -> Result<PasswordCheck, PasswordError> {
        let argon = Argon2::new(self.algorithm, self.version, self.params.clone());
        let mut computed = vec![0_u8; self.hash.len()];
        with_memory(self.params.block_count(), |memory| {
            argon
                .hash_password_into_with_memory(
                    password.as_bytes(),
                    &self.salt,
                    &mut computed,
                    memory,
                )
                .map_err(|e| match e {
                    argon2::Error::PwdTooLong => PasswordError::Hashing(e.to_string()),
                    _ => PasswordError::MalformedHash,
                })
        })?;
        // `Output` compares in constant time.
        let computed = Output::new(&computed).map_err(|_| PasswordError::MalformedHash)?;
        if computed == self.hash {
            Ok(PasswordCheck::Verified {
                needs_rehash: self.needs_rehash(),
            })
        } else {
            Ok(PasswordCheck::Mismatch)
        }
    }

    /// Whether this is anything but what [`hash_password`] makes.
    fn needs_rehash(&self) -> bool {
        self.algorithm != Algorithm::Argon2id
            || self.version != Version::V0x13
            || self.params.m_cost() != M_COST_KIB
            || self.params.t_cost() != T_COST
            || self.params.p_cost() != P_COST
            || self.hash.len() != Params::DEFAULT_OUTPUT_LEN
    }
}

/// Checks `password` against a stored hash: Accrete's own Argon2id PHC string, or one imported
/// from another system (the formats of [`check_stored_hash`]), with the parameters recorded in it.
/// Anything but Argon2id with the current parameters verifies with `needs_rehash`.
///
/// # Errors
/// [`PasswordError::MalformedHash`] for a hash it cannot read, [`PasswordError::OutOfBounds`]
/// (without running it) for one beyond the bounds of [`check_stored_hash`],
/// [`PasswordError::Hashing`] when Argon2 refuses the password.
pub fn verify_password(password: &str, stored: &str) -> Result<PasswordCheck, PasswordError> {
    match StoredHash::parse(stored)? {
        StoredHash::Argon2(hash) => hash.verify(password),
        StoredHash::Bcrypt(hash) => imported::verify_bcrypt(password, hash),
        StoredHash::Pbkdf2(hash) => Ok(hash.verify(password)),
    }
}

/// Checks that `stored`, a password hash to import, is one [`verify_password`] verifies, at a cost
/// bounded so that a hostile or broken file cannot make one sign-in burn minutes of CPU or
/// gigabytes of memory:
/// - bcrypt `$2a$`, `$2b$`, `$2y$`: cost at most 16;
/// - PBKDF2 PHC strings `$pbkdf2$` (HMAC-SHA-1), `$pbkdf2-sha256$`, `$pbkdf2-sha512$`
///   (`i=<iterations>`, optionally `l=<hash length>`): 1,000 to 5,000,000 iterations;
/// - Argon2 PHC strings `$argon2id$`, `$argon2i$`, `$argon2d$`, version 0x10 or 0x13: memory
///   (m) at most 262,144 KiB, passes (t) at most 20, lanes (p) at most 8;
///
/// each PHC string with a salt of 8 to 48 bytes and a hash of 10 to 64 bytes.
///
/// # Errors
/// [`PasswordError::OutOfBounds`] for a cost or length beyond these bounds (the message says
/// which, and the bound; it is meant for the administrator's import report),
/// [`PasswordError::MalformedHash`] for anything else it cannot verify.
pub fn check_stored_hash(stored: &str) -> Result<(), PasswordError> {
    StoredHash::parse(stored).map(|_| ())
}

/// Spends the same work as [`verify_password`] on a dummy hash; call it for unknown accounts and
/// answer as for a wrong password.
pub fn verify_dummy(password: &str) {
    // The outcome is irrelevant: only the cost matters.
    let _ = verify_password(password, DUMMY_HASH);
}

/// The variant of an Argon2 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argon2Variant {
    /// `$argon2id$`, what Accrete and Keycloak make.
    Argon2id,
    /// `$argon2i$`.
    Argon2i,
    /// `$argon2d$`.
    Argon2d,
}

impl Argon2Variant {
    /// The PHC identifier.
    fn ident(self) -> &'static str {
        match self {
            Self::Argon2id => "argon2id",
            Self::Argon2i => "argon2i",
            Self::Argon2d => "argon2d",
        }
    }
}

/// Builds the stored form of an Argon2 hash from its parts: a PHC string
/// `$argon2id$v=<version>$m=<memory_kib>,t=<iterations>,p=<parallelism>$<salt>$<hash>` that
/// [`verify_password`](verify_password) verifies. `version` is 16 (0x10) or 19 (0x13).
///
/// # Errors
/// What [`check_stored_hash`] says of that string: [`PasswordError::OutOfBounds`] for a cost,
/// salt or hash beyond its bounds, [`PasswordError::MalformedHash`] for another version or
/// parameters Argon2 does not take.
pub fn argon2_phc(
    variant: Argon2Variant,
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: &[u8],
    hash: &[u8],
) -> Result<String, PasswordError> {
    let stored = format!(
        "${}$v={version}$m={memory_kib},t={iterations},p={parallelism}${}${}",
        variant.ident(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    );
    check_stored_hash(&stored)?;
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_password_verifies_and_needs_no_rehash() {
        let stored = hash_password("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            verify_password("correct horse", &stored).unwrap(),
            PasswordCheck::Verified {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn wrong_password_is_a_mismatch_not_an_error() {
        let stored = hash_password("correct horse").unwrap();
        assert_eq!(
            verify_password("battery staple", &stored).unwrap(),
            PasswordCheck::Mismatch
        );
    }

    #[test]
    fn a_bcrypt_password_past_72_bytes_keeps_its_hash() {
        // bcrypt reads 72 bytes: every password that shares them verifies, so the one typed
        // first must not become the only one (39 accented letters are 78 bytes).
        let long = "é".repeat(39);
        let stored = bcrypt::hash(&long, 4).unwrap();
        for typed in [long.clone(), format!("{long}x")] {
            assert_eq!(
                verify_password(&typed, &stored).unwrap(),
                PasswordCheck::Verified {
                    needs_rehash: false
                },
                "{typed}"
            );
        }
        let short = bcrypt::hash("correct horse", 4).unwrap();
        assert_eq!(
            verify_password("correct horse", &short).unwrap(),
            PasswordCheck::Verified { needs_rehash: true }
        );
    }

    #[test]
    fn same_password_gets_a_different_salt_each_time() {
        assert_ne!(hash_password("pw").unwrap(), hash_password("pw").unwrap());
    }

    #[test]
    fn hash_with_older_parameters_verifies_and_asks_for_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let stored = weak.hash_password(b"pw").unwrap().to_string();
        assert_eq!(
            verify_password("pw", &stored).unwrap(),
            PasswordCheck::Verified { needs_rehash: true }
        );
    }

    #[test]
    fn argon2i_hash_verifies_and_asks_for_rehash() {
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            current_params().unwrap(),
        );
        let stored = other.hash_password(b"pw").unwrap().to_string();
        assert_eq!(
            verify_password("pw", &stored).unwrap(),
            PasswordCheck::Verified { needs_rehash: true }
        );
    }

    #[test]
    fn a_hash_costlier_than_the_current_parameters_still_verifies() {
        let costly = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(M_COST_KIB + 1024, 1, 1, None).unwrap(),
        );
        let stored = costly.hash_password(b"pw").unwrap().to_string();
        assert_eq!(
            verify_password("pw", &stored).unwrap(),
            PasswordCheck::Verified { needs_rehash: true }
        );
        assert_eq!(
            verify_password("other", &stored).unwrap(),
            PasswordCheck::Mismatch
        );
        // The kept memory is never grown past the current cost.
        MEMORY.with_borrow(|memory| assert!(memory.len() <= M_COST_KIB as usize));
    }

    #[test]
    fn a_hash_without_salt_or_output_is_malformed() {
        for stored in [
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$YWNjcmV0ZS1kdW1teS1zYWx0",
            "$scrypt$ln=15,r=8,p=1$YWNjcmV0ZS1kdW1teS1zYWx0$2kH3gqi0ZaB0eLGm2oC2/vcOe8V7YqgzMEqfCzM6Xbs",
        ] {
            assert_eq!(
                verify_password("pw", stored).unwrap_err(),
                PasswordError::MalformedHash,
                "{stored}"
            );
        }
    }

    #[test]
    fn malformed_stored_hash_is_an_error() {
        assert_eq!(
            verify_password("pw", "plaintext").unwrap_err(),
            PasswordError::MalformedHash
        );
    }

    #[test]
    fn dummy_hash_uses_the_current_parameters() {
        assert!(!Argon2Hash::parse(DUMMY_HASH).unwrap().needs_rehash());
        assert_eq!(
            verify_password("anything", DUMMY_HASH).unwrap(),
            PasswordCheck::Mismatch
        );
        verify_dummy("anything");
    }
}
