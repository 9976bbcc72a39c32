//! Password hashing with Argon2id (m = 19456 KiB, t = 2, p = 1: the OWASP baseline).
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
use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Memory cost in KiB.
pub const M_COST_KIB: u32 = 19_456;
/// Number of passes.
pub const T_COST: u32 = 2;
/// Lanes.
pub const P_COST: u32 = 1;

/// A hash of a random password made with the current parameters, verified for unknown accounts.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$YWNjcmV0ZS1kdW1teS1zYWx0$2kH3gqi0ZaB0eLGm2oC2/vcOe8V7YqgzMEqfCzM6Xbs";

/// The errors of password hashing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The stored hash is not a PHC string this module understands.
    #[error("stored password hash is malformed")]
    MalformedHash,
    /// Argon2 refused the input (for example a password longer than it accepts).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password matches. When `needs_rehash` is true the stored hash uses other parameters than
    /// the current ones: hash the password again and store the new hash.
    Verified {
        /// Whether the stored hash should be replaced.
        needs_rehash: bool,
    },
    /// The password does not match.
    Mismatch,
}

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

/// Checks `password` against a stored PHC string, using the parameters recorded in it.
pub fn verify_password(password: &str, stored: &str) -> Result<PasswordCheck, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|_| PasswordError::MalformedHash)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(PasswordError::MalformedHash);
    };
    let algorithm =
        Algorithm::try_from(parsed.algorithm.as_str()).map_err(|_| PasswordError::MalformedHash)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|_| PasswordError::MalformedHash)?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(|_| PasswordError::MalformedHash)?;
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut computed = vec![0_u8; expected.len()];
    with_memory(blocks, |memory| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut computed, memory)
            .map_err(|e| match e {
                argon2::Error::PwdTooLong => PasswordError::Hashing(e.to_string()),
                _ => PasswordError::MalformedHash,
            })
    })?;
    // `Output` compares in constant time.
    let computed = Output::new(&computed).map_err(|_| PasswordError::MalformedHash)?;
    if computed == *expected {
        Ok(PasswordCheck::Verified {
            needs_rehash: needs_rehash(&parsed),
        })
    } else {
        Ok(PasswordCheck::Mismatch)
    }
}

/// Spends the same work as [`verify_password`] on a dummy hash; call it for unknown accounts and
/// answer as for a wrong password.
pub fn verify_dummy(password: &str) {
    // The outcome is irrelevant: only the cost matters.
    let _ = verify_password(password, DUMMY_HASH);
}

fn needs_rehash(parsed: &PasswordHash) -> bool {
    let Ok(current) = current_params() else {
        return true;
    };
    let Ok(stored) = Params::try_from(parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(u32::from(Version::V0x13))
        || stored.m_cost() != current.m_cost()
        || stored.t_cost() != current.t_cost()
        || stored.p_cost() != current.p_cost()
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
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        assert!(!needs_rehash(&parsed));
        assert_eq!(
            verify_password("anything", DUMMY_HASH).unwrap(),
            PasswordCheck::Mismatch
        );
        verify_dummy("anything");
    }
}
