//! The rules of an account's credentials, one definition for every surface that takes them
//! (the sign-up and sign-in pages, the management API, the command line): what a password must
//! be and what an email address must look like.

/// A new password has at least this many characters (NIST SP 800-63B §3.1.1.2).
pub const PASSWORD_MIN_CHARS: usize = 8;
/// And at most this many (NIST SP 800-63B asks for at least 64; the bound keeps Argon2's input
/// and the request small).
pub const PASSWORD_MAX_CHARS: usize = 1024;
/// The longest email address accepted (RFC 5321's path limit less the angle brackets).
pub const EMAIL_MAX_BYTES: usize = 254;

/// Why a password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    /// Nothing was entered.
    #[error("a password is required")]
    Missing,
    /// Fewer than [`PASSWORD_MIN_CHARS`] characters.
    #[error("use at least {PASSWORD_MIN_CHARS} characters")]
    TooShort,
    /// More than [`PASSWORD_MAX_CHARS`] characters.
    #[error("use at most {PASSWORD_MAX_CHARS} characters")]
    TooLong,
}

/// Checks a password being set (sign-up, the API, a reset): its length in characters.
pub fn check_new_password(password: &str) -> Result<(), PasswordProblem> {
    match password.chars().count() {
        0 => Err(PasswordProblem::Missing),
        n if n < PASSWORD_MIN_CHARS => Err(PasswordProblem::TooShort),
        n if n > PASSWORD_MAX_CHARS => Err(PasswordProblem::TooLong),
        _ => Ok(()),
    }
}

/// Checks a password presented to sign in: any password that could have been set is accepted
/// (so no minimum: older rules may have allowed shorter ones); a longer one is refused before
/// it costs a hash.
pub fn check_presented_password(password: &str) -> Result<(), PasswordProblem> {
    match password.chars().count() {
        0 => Err(PasswordProblem::Missing),
        n if n > PASSWORD_MAX_CHARS => Err(PasswordProblem::TooLong),
        _ => Ok(()),
    }
}

/// Why an email address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailProblem {
    /// Nothing was entered.
    #[error("an email address is required")]
    Missing,
    /// Not an address (RFC 5322 `addr-spec`), or longer than [`EMAIL_MAX_BYTES`].
    #[error("not a valid email address")]
    Invalid,
}

/// Checks an account's email address (already trimmed).
pub fn check_email(email: &str) -> Result<(), EmailProblem> {
    if email.is_empty() {
        Err(EmailProblem::Missing)
    } else if email.len() > EMAIL_MAX_BYTES || !email_address::EmailAddress::is_valid(email) {
        Err(EmailProblem::Invalid)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_is_counted_in_characters() {
        assert_eq!(check_new_password(""), Err(PasswordProblem::Missing));
        assert_eq!(
            check_new_password("1234567"),
            Err(PasswordProblem::TooShort)
        );
        assert_eq!(check_new_password("12345678"), Ok(()));
        // 1024 characters of two bytes each: allowed, as on every surface.
        assert_eq!(check_new_password(&"é".repeat(1024)), Ok(()));
        assert_eq!(
            check_new_password(&"a".repeat(1025)),
            Err(PasswordProblem::TooLong)
        );
    }

    #[test]
    fn every_password_that_could_be_set_can_be_presented() {
        assert_eq!(check_presented_password(&"é".repeat(1024)), Ok(()));
        assert_eq!(check_presented_password("short"), Ok(()));
        assert_eq!(check_presented_password(""), Err(PasswordProblem::Missing));
        assert_eq!(
            check_presented_password(&"é".repeat(1025)),
            Err(PasswordProblem::TooLong)
        );
    }

    #[test]
    fn emails_are_checked_for_shape_and_length() {
        assert_eq!(check_email(""), Err(EmailProblem::Missing));
        assert_eq!(check_email("not-an-email"), Err(EmailProblem::Invalid));
        assert_eq!(check_email("ann@example.com"), Ok(()));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(check_email(&long), Err(EmailProblem::Invalid));
    }
}
