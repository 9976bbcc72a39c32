//! Second factors as rules: authenticator-app codes (TOTP, RFC 6238, computed and checked by the
//! `totp-rs` crate), recovery codes, and the vocabulary of `amr` (RFC 8176) and `acr` values a
//! relying party reads or asks for. Pure: time is an argument, randomness comes from the
//! operating system's CSPRNG.

use rand::RngCore as _;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Bytes of a new authenticator-app secret (160 bits, RFC 4226's recommendation).
pub const TOTP_SECRET_BYTES: usize = 20;
/// Seconds per TOTP step.
pub const TOTP_STEP: u64 = 30;
/// Digits of a TOTP code.
pub const TOTP_DIGITS: u8 = 6;
/// Steps accepted before and after the current one (clock drift of the phone): one, as RFC 6238
/// recommends, so a code works for about a minute and a half.
pub const TOTP_SKEW: u16 = 1;

/// How many recovery codes a user gets at once.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (without its dash): 10 of a 32-letter alphabet, 50 bits.
const RECOVERY_CODE_LEN: usize = 10;
/// The alphabet of recovery codes: lower-case letters and digits without `0`, `1`, `l`, `o`
/// (read back from paper without confusion).
const RECOVERY_ALPHABET: &[u8; 32] = b"23456789abcdefghijkmnpqrstuvwxyz";

/// `amr` of a password (RFC 8176).
pub const AMR_PASSWORD: &str = "pwd";
/// `amr` of a one-time password: an authenticator-app code or a recovery code.
pub const AMR_OTP: &str = "otp";
/// `amr` of a code sent by text message.
pub const AMR_SMS: &str = "sms";
/// `amr` of a hardware-bound key (a device-bound passkey).
pub const AMR_HARDWARE_KEY: &str = "hwk";
/// `amr` of a software-secured key (a synced passkey).
pub const AMR_SOFTWARE_KEY: &str = "swk";
/// `amr` of more than one factor.
pub const AMR_MFA: &str = "mfa";

/// The `acr` of a sign-in that passed a second factor: what Accrete puts in ID tokens, and what
/// a relying party may ask for with `acr_values`.
pub const ACR_MFA: &str = "urn:accrete:acr:mfa";
/// The multi-factor policy URI of OpenID Provider Authentication Policy Extension 1.0, which
/// several providers (Auth0 among them) accept in `acr_values`; asking for it means the same as
/// [`ACR_MFA`] and it comes back as given.
pub const ACR_PAPE_MFA: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";
/// The `acr` of a sign-in with one factor.
pub const ACR_SINGLE_FACTOR: &str = "urn:accrete:acr:pwd";

/// The `acr` values this server knows (discovery's `acr_values_supported`).
pub const ACR_VALUES_SUPPORTED: [&str; 3] = [ACR_SINGLE_FACTOR, ACR_MFA, ACR_PAPE_MFA];

/// Whether the `acr_values` of a request ask for a second factor; `Some` with the value to put
/// in the ID token when they do.
pub fn mfa_requested(acr_values: &[String]) -> Option<&'static str> {
    acr_values.iter().find_map(|value| match value.as_str() {
        ACR_MFA => Some(ACR_MFA),
        ACR_PAPE_MFA => Some(ACR_PAPE_MFA),
        _ => None,
    })
}

/// Whether `amr` says more than one factor was used.
pub fn has_mfa(amr: &[String]) -> bool {
    amr.iter().any(|value| value == AMR_MFA)
}

/// `amr` after a second factor `factor` (one of the constants above): the first factor's values,
/// then `factor` and `mfa`, each once.
pub fn with_second_factor(amr: &[String], factor: &str) -> Vec<String> {
    let mut out = amr.to_vec();
    for value in [factor, AMR_MFA] {
        if !out.iter().any(|v| v == value) {
            out.push(value.to_owned());
        }
    }
    out
}

/// A fresh authenticator-app secret.
pub fn new_totp_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; TOTP_SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// The errors of [`totp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The secret or the names do not make an RFC 6238 generator.
    #[error("not a valid authenticator-app secret: {0}")]
    Invalid(String),
}

/// The generator of `secret` for `account` (the user's email) at `issuer` (the product's name):
/// SHA-1, 6 digits, 30 seconds, what every authenticator app reads.
pub fn totp(secret: &[u8], issuer: &str, account: &str) -> Result<Totp, TotpError> {
    // `:` separates the issuer from the account in the otpauth label: neither may hold one.
    let clean = |s: &str| s.replace(':', " ");
    let issuer = clean(issuer);
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(TOTP_DIGITS)
        .with_skew(TOTP_SKEW)
        .with_step_duration(TOTP_STEP)
        .with_secret(Secret::from(secret.to_vec()))
        .with_issuer((!issuer.is_empty()).then_some(issuer))
        .with_account_name(clean(account))
        .build()
        .map_err(|e| TotpError::Invalid(e.to_string()))
}

/// The secret as a person types it into an app: base32, in groups of four.
pub fn secret_for_typing(totp: &Totp) -> String {
    let base32 = totp.secret().to_base32();
    base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The secret back from its typed form (for tests and the load harness, which act as the
/// user's app); `None` when it is not base32.
pub fn secret_from_typing(typed: &str) -> Option<Vec<u8>> {
    let compact: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    Secret::try_from_base32(compact)
        .ok()
        .map(|secret| secret.as_bytes().to_vec())
}

/// The `otpauth://totp/…` URI that a QR code carries to the app.
pub fn otpauth_uri(totp: &Totp) -> Result<String, TotpError> {
    totp.to_url().map_err(|e| TotpError::Invalid(e.to_string()))
}

/// Checks a typed code at `now_unix` (seconds): the time step it matches within the drift window,
/// if any. Spaces and dashes are ignored. The caller refuses a step at or before the last one
/// accepted for the factor (a code works once).
pub fn check_totp(totp: &Totp, typed: &str, now_unix: i64) -> Option<u64> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if code.len() != usize::from(TOTP_DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = u64::try_from(now_unix).ok()?;
    totp.check(&code, now)
}

/// The code of the step containing `now_unix` (for tests and the load harness, which act as the
/// user's app).
pub fn totp_code(totp: &Totp, now_unix: i64) -> String {
    totp.generate(u64::try_from(now_unix).unwrap_or(0))
        .to_string()
}

/// Ten fresh recovery codes, as shown to the user (`xxxxx-xxxxx`).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect()
}

fn new_recovery_code() -> String {
    let mut bytes = [0u8; RECOVERY_CODE_LEN];
    rand::rng().fill_bytes(&mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A typed recovery code in the form it is hashed in (lower case, no spaces or dashes); `None`
/// when it cannot be one (wrong length or letters), so nothing is counted for a typo of shape.
pub fn normalize_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == RECOVERY_CODE_LEN && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)))
        .then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238's SHA-1 test secret (appendix B), 20 bytes.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    fn rfc() -> Totp {
        totp(RFC_SECRET, "Accrete", "ann@example.com").unwrap()
    }

    #[test]
    fn codes_of_rfc_6238_appendix_b() {
        // The appendix gives 8 digits; the last six are the 6-digit code.
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(totp_code(&rfc(), time), eight[2..], "at {time}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_one_step_of_drift_each_way() {
        let t = rfc();
        let now = 1_234_567_890;
        let step = (now / 30) as u64;
        let code = totp_code(&t, now);
        assert_eq!(check_totp(&t, &code, now), Some(step));
        assert_eq!(check_totp(&t, &code, now + 30), Some(step));
        assert_eq!(check_totp(&t, &code, now - 30), Some(step));
        assert_eq!(check_totp(&t, &code, now + 60), None);
        assert_eq!(check_totp(&t, &code, now - 60), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(check_totp(&t, &spaced, now), Some(step));
    }

    #[test]
    fn malformed_codes_match_nothing() {
        let t = rfc();
        for typed in ["", "12345", "1234567", "abcdef", "12345a", "１２３４５６"] {
            assert_eq!(check_totp(&t, typed, 1_234_567_890), None, "{typed:?}");
        }
        assert_eq!(check_totp(&t, "123456", -5), None);
    }

    #[test]
    fn the_secret_is_shown_in_groups_and_carried_by_an_otpauth_uri() {
        let t = rfc();
        let typed = secret_for_typing(&t);
        assert_eq!(typed.replace(' ', ""), t.secret().to_base32());
        assert_eq!(secret_from_typing(&typed).as_deref(), Some(RFC_SECRET));
        assert!(typed.split(' ').all(|g| g.len() <= 4));
        let uri = otpauth_uri(&t).unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Accrete:ann%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains("issuer=Accrete"), "{uri}");
        // A colon in a name would end the label early: it is replaced.
        let odd = totp(RFC_SECRET, "A:B", "x:y@example.com").unwrap();
        assert!(otpauth_uri(&odd).unwrap().contains("A%20B"));
    }

    #[test]
    fn secrets_are_random_and_long_enough() {
        let (a, b) = (new_totp_secret(), new_totp_secret());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(totp(&a, "Accrete", "a@example.com").is_ok());
        assert!(totp(b"short", "Accrete", "a@example.com").is_err());
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_read_back_loosely() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 11);
            let plain = code.replace('-', "");
            assert_eq!(
                normalize_recovery_code(code).as_deref(),
                Some(plain.as_str())
            );
            let shouted = format!(" {} ", code.to_uppercase().replace('-', " "));
            assert_eq!(
                normalize_recovery_code(&shouted).as_deref(),
                Some(plain.as_str())
            );
        }
        assert_eq!(normalize_recovery_code("abcde-fghi"), None);
        assert_eq!(normalize_recovery_code("abcde-fgh10"), None);
    }

    #[test]
    fn acr_values_and_amr() {
        let asked =
            |v: &[&str]| mfa_requested(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(asked(&["urn:x", ACR_MFA]), Some(ACR_MFA));
        assert_eq!(asked(&[ACR_PAPE_MFA]), Some(ACR_PAPE_MFA));
        assert_eq!(asked(&[ACR_SINGLE_FACTOR]), None);
        let amr = with_second_factor(&["pwd".to_owned()], AMR_OTP);
        assert_eq!(amr, ["pwd", "otp", "mfa"]);
        assert!(has_mfa(&amr));
        assert_eq!(with_second_factor(&amr, AMR_OTP), amr);
        assert!(!has_mfa(&["pwd".to_owned()]));
    }
}
