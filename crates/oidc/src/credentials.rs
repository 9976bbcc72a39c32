//! The rules of an account's credentials, one definition for every surface that takes them
//! (the sign-up and sign-in pages, the management API, the command line): what a password must
//! be (long enough, not too long, and not easily guessed) and what an email address must look
//! like.

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
    /// Easily guessed: a common word or password, a keyboard pattern, a date, or built on the
    /// account's own email address or name (zxcvbn scores it below [`PASSWORD_MIN_SCORE`]).
    #[error("too easy to guess: add words or characters that are not about you")]
    TooWeak,
}

impl PasswordProblem {
    /// A stable code for the API's problem documents.
    pub fn code(self) -> &'static str {
        match self {
            PasswordProblem::Missing | PasswordProblem::TooShort | PasswordProblem::TooLong => {
                "invalid_length"
            }
            PasswordProblem::TooWeak => "too_weak",
        }
    }
}

/// The lowest zxcvbn score (0–4) a new password may have: 3 is "safely unguessable: moderate
/// protection from offline slow-hash scenarios" (about 10^10 guesses), which Argon2id makes
/// costly.
pub const PASSWORD_MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Checks a password being set (sign-up, the API, a change or a reset): its length in
/// characters, then its strength as zxcvbn estimates it, with `hints` (the account's email
/// address, its name) counted as known to an attacker. zxcvbn reads the first 100 characters
/// only, so the check costs little whatever the length.
pub fn check_new_password(password: &str, hints: &[&str]) -> Result<(), PasswordProblem> {
    match password.chars().count() {
        0 => return Err(PasswordProblem::Missing),
        n if n < PASSWORD_MIN_CHARS => return Err(PasswordProblem::TooShort),
        n if n > PASSWORD_MAX_CHARS => return Err(PasswordProblem::TooLong),
        _ => {}
    }
    let mut known: Vec<&str> = Vec::with_capacity(hints.len() * 2);
    for hint in hints.iter().map(|h| h.trim()).filter(|h| !h.is_empty()) {
        known.push(hint);
        // An address's local part and domain are guessed apart too ("ada" of ada@example.com).
        if let Some((local, domain)) = hint.split_once('@') {
            known.push(local);
            known.push(domain);
        }
        known.extend(hint.split_whitespace().filter(|w| w.len() > 1));
    }
    if zxcvbn::zxcvbn(password, &known).score() < PASSWORD_MIN_SCORE {
        return Err(PasswordProblem::TooWeak);
    }
    Ok(())
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

    const STRONG: &str = "correct horse battery staple";

    #[test]
    fn a_new_password_is_counted_in_characters() {
        assert_eq!(check_new_password("", &[]), Err(PasswordProblem::Missing));
        assert_eq!(
            check_new_password("Zq8#vK2", &[]),
            Err(PasswordProblem::TooShort)
        );
        // Eight characters are allowed, though only few such are hard enough to guess.
        assert_ne!(
            check_new_password("Zq8#vK2!", &[]),
            Err(PasswordProblem::TooShort)
        );
        // 1024 characters of two bytes each: allowed, as on every surface.
        let long: String = STRONG.chars().cycle().take(1023).chain(['é']).collect();
        assert_eq!(check_new_password(&long, &[]), Ok(()));
        assert_eq!(
            check_new_password(&"a".repeat(1025), &[]),
            Err(PasswordProblem::TooLong)
        );
    }

    #[test]
    fn common_and_patterned_passwords_are_too_weak() {
        for weak in [
            "password1",
            "12345678",
            "qwertyuiop",
            "iloveyou2",
            "aaaaaaaaaaaa",
        ] {
            assert_eq!(
                check_new_password(weak, &[]),
                Err(PasswordProblem::TooWeak),
                "{weak}"
            );
        }
        assert_eq!(check_new_password(STRONG, &[]), Ok(()));
    }

    #[test]
    fn a_password_built_on_the_account_is_too_weak() {
        let hints = ["ada@example.com", "Ada Lovelace"];
        assert_eq!(
            check_new_password("ada@example.com1", &hints),
            Err(PasswordProblem::TooWeak)
        );
        assert_eq!(
            check_new_password("lovelace1815", &hints),
            Err(PasswordProblem::TooWeak)
        );
        assert_eq!(check_new_password(STRONG, &hints), Ok(()));
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
