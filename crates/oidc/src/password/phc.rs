//! What every stored form of a password shares: the errors and outcome of a check, reading a
//! PHC string with messages that name the format, and the bound of a cost. Imports nothing of
//! the rest of `password`, which imports it.

use argon2::password_hash::phc::{self, Output, PasswordHash, Salt};

/// The errors of password hashing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The stored hash is not one this module verifies: an unknown format, or a known one with
    /// parts missing or unreadable.
    #[error("stored password hash is malformed")]
    MalformedHash,
    /// Argon2 refused the input (for example a password longer than it accepts).
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The stored hash is of a format this module verifies, but a cost or length in it is beyond
    /// what Accrete verifies; the message says which, and the bound.
    #[error("{0}")]
    OutOfBounds(String),
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

/// Parses a PHC string of the format named `format` (for messages).
pub(super) fn parse_phc(stored: &str, format: &str) -> Result<PasswordHash, PasswordError> {
    PasswordHash::new(stored).map_err(|error| match error {
        phc::Error::SaltTooShort => PasswordError::OutOfBounds(format!(
            "{format} salt is shorter than {} bytes, the least Accrete verifies",
            Salt::MIN_LENGTH
        )),
        phc::Error::SaltTooLong => PasswordError::OutOfBounds(format!(
            "{format} salt is longer than {} bytes, the most Accrete verifies",
            Salt::MAX_LENGTH
        )),
        phc::Error::OutputSize { .. } => PasswordError::OutOfBounds(format!(
            "{format} hash is not {} to {} bytes long, the lengths Accrete verifies",
            Output::MIN_LENGTH,
            Output::MAX_LENGTH
        )),
        _ => PasswordError::MalformedHash,
    })
}

/// Refuses `value` of `what` when it is above `most`.
pub(super) fn at_most(what: &str, value: u32, most: u32) -> Result<(), PasswordError> {
    if value > most {
        return Err(PasswordError::OutOfBounds(format!(
            "{what} {value} is above {most}, the most Accrete verifies"
        )));
    }
    Ok(())
}
