//! Password hashes as other systems store them, turned into the strings Accrete stores (what
//! `accrete_oidc::password::verify_password` reads), or into the reason why not, for a note.
//! Nothing here hashes a password: the bytes of a hash are only re-encoded.

use std::fmt::Display;

use accrete_oidc::password::{
    Argon2Variant, Pbkdf2Digest, argon2_phc, check_stored_hash, pbkdf2_phc,
};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::import::ImportRecord;

/// Standard base64, padded or not: Keycloak pads, PHC strings do not.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(super) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text.trim()).ok()
}

/// Says why `record`'s password hash is not kept.
pub(super) fn leave_out_password(record: &mut ImportRecord, why: impl Display) {
    record.password_hash = None;
    record.password_left_out = Some(format!(
        "{why}: the password was not imported and the user will have to reset it"
    ));
}

/// Keeps a record's password hash only if Accrete verifies it, at a bounded cost
/// (`check_stored_hash`); otherwise drops it and says why ([`leave_out_password`]).
pub(super) fn vetted(mut record: ImportRecord) -> ImportRecord {
    if let Some(hash) = &record.password_hash
        && let Err(e) = check_stored_hash(hash)
    {
        leave_out_password(
            &mut record,
            format!("the password hash is not one Accrete verifies ({e})"),
        );
    }
    record
}

/// Whether `hash` is a bcrypt string: `$2a$`, `$2b$` or `$2y$`, a two-digit cost, `$`, then 53
/// characters of bcrypt's base64 (22 of salt, 31 of hash).
pub(super) fn is_bcrypt(hash: &str) -> bool {
    let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|prefix| hash.strip_prefix(prefix))
    else {
        return false;
    };
    let bytes = rest.as_bytes();
    bytes.len() == 56
        && bytes[..2].iter().all(u8::is_ascii_digit)
        && bytes[2] == b'$'
        && bytes[3..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/')
}

/// The PBKDF2 digests Accrete verifies, by the names Keycloak and Auth0 (Node's crypto) give them.
pub(super) fn pbkdf2_digest(name: &str) -> Option<Pbkdf2Digest> {
    match name.to_ascii_lowercase().as_str() {
        "sha1" | "rsa-sha1" | "sha1withrsaencryption" => Some(Pbkdf2Digest::Sha1),
        "sha256" | "rsa-sha256" | "sha256withrsaencryption" => Some(Pbkdf2Digest::Sha256),
        "sha512" | "rsa-sha512" | "sha512withrsaencryption" => Some(Pbkdf2Digest::Sha512),
        _ => None,
    }
}

/// A PHC string, `$<id>[$v=<version>][$<param>=<value>(,<param>=<value>)*]$<salt>$<hash>`, with
/// both salt and hash (a PHC string may leave them out; a stored password hash may not).
#[derive(Debug, PartialEq, Eq)]
struct Phc<'a> {
    id: &'a str,
    version: Option<&'a str>,
    params: Vec<(&'a str, &'a str)>,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl<'a> Phc<'a> {
    fn parse(text: &'a str) -> Option<Phc<'a>> {
        let mut parts: Vec<&str> = text.strip_prefix('$')?.split('$').collect();
        if !(3..=5).contains(&parts.len()) {
            return None;
        }
        let hash = decode_base64(parts.pop()?)?;
        let salt = decode_base64(parts.pop()?)?;
        let id = parts.first().copied().filter(|id| !id.is_empty())?;
        let mut version = None;
        let mut params = Vec::new();
        for (i, part) in parts.iter().enumerate().skip(1) {
            match part.strip_prefix("v=") {
                Some(v) if i == 1 && !v.contains(',') => version = Some(v),
                _ => {
                    for pair in part.split(',') {
                        params.push(pair.split_once('=')?);
                    }
                }
            }
        }
        Some(Phc {
            id,
            version,
            params,
            salt,
            hash,
        })
    }

    fn param(&self, name: &str) -> Option<&'a str> {
        self.params
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| *value)
    }

    fn number(&self, name: &str) -> Result<Option<u32>, String> {
        self.param(name)
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| format!("`{name}={value}` of the hash is not a number"))
            })
            .transpose()
    }
}

/// An Argon2 PHC string (`$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>`), rewritten the way
/// Accrete writes it. A string without `v=` is Argon2 1.0, as the reference implementation
/// reads it.
pub(super) fn argon2_from_phc(text: &str) -> Result<String, String> {
    let malformed = || "the argon2 hash is not a PHC string".to_owned();
    let phc = Phc::parse(text.trim()).ok_or_else(malformed)?;
    let variant = match phc.id {
        "argon2id" => Argon2Variant::Argon2id,
        "argon2i" => Argon2Variant::Argon2i,
        "argon2d" => Argon2Variant::Argon2d,
        other => return Err(format!("`{other}` is not an argon2 variant")),
    };
    let version = match phc.version {
        None | Some("16") => 0x10,
        Some("19") => 0x13,
        Some(other) => return Err(format!("argon2 version `{other}` is not supported")),
    };
    if let Some((key, _)) = phc
        .params
        .iter()
        .find(|(k, _)| !["m", "t", "p"].contains(k))
    {
        return Err(format!("the argon2 parameter `{key}` is not supported"));
    }
    let (Some(memory), Some(iterations), Some(parallelism)) =
        (phc.number("m")?, phc.number("t")?, phc.number("p")?)
    else {
        return Err("the argon2 hash lacks one of its parameters m, t and p".to_owned());
    };
    argon2_phc(
        variant,
        version,
        memory,
        iterations,
        parallelism,
        &phc.salt,
        &phc.hash,
    )
    .map_err(|e| format!("the argon2 hash is refused ({e})"))
}

/// A PBKDF2 PHC string as Auth0 reads it (`$pbkdf2-sha256$i=27500,l=32$<salt>$<hash>`; `i`
/// defaults to 100000 and `l` to 64), rewritten the way Accrete writes it. `$pbkdf2$` without a
/// digest is PBKDF2 with HMAC-SHA-1, as the PHC strings of passlib and RustCrypto name it (and
/// as Accrete verifies it, docs/oidc.md).
pub(super) fn pbkdf2_from_phc(text: &str) -> Result<String, String> {
    let phc =
        Phc::parse(text.trim()).ok_or_else(|| "the pbkdf2 hash is not a PHC string".to_owned())?;
    let digest_name = match phc.id.strip_prefix("pbkdf2-") {
        Some(name) => name,
        None if phc.id == "pbkdf2" => "sha1",
        None => return Err(format!("`{}` is not pbkdf2-<digest>", phc.id)),
    };
    let digest = pbkdf2_digest(digest_name)
        .ok_or_else(|| format!("pbkdf2 with the digest `{digest_name}` is not supported"))?;
    let iterations = phc.number("i")?.unwrap_or(100_000);
    let length = phc.number("l")?.unwrap_or(64);
    if usize::try_from(length).ok() != Some(phc.hash.len()) {
        return Err(format!(
            "the pbkdf2 hash has {} bytes where `l` says {length}",
            phc.hash.len()
        ));
    }
    Ok(pbkdf2_phc(digest, iterations, &phc.salt, &phc.hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_strings_are_recognised_by_prefix_cost_and_length() {
        assert!(is_bcrypt(
            "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"
        ));
        assert!(is_bcrypt(
            "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
        ));
        assert!(!is_bcrypt(
            "$2x$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"
        ));
        assert!(!is_bcrypt("$2b$10$short"));
        assert!(!is_bcrypt("5f4dcc3b5aa765d61d8327deb882cf99"));
    }

    #[test]
    fn a_phc_string_gives_its_parts() {
        let phc = Phc::parse("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap();
        assert_eq!(phc.id, "argon2id");
        assert_eq!(phc.version, Some("19"));
        assert_eq!(phc.params, vec![("m", "65536"), ("t", "3"), ("p", "4")]);
        assert_eq!(phc.salt, b"saltsalt");
        assert_eq!(phc.hash, b"hashhash");
        let phc = Phc::parse("$pbkdf2-sha1$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap();
        assert!(phc.params.is_empty());
        assert_eq!(Phc::parse("$argon2id$v=19$m=1,t=1,p=1$c2FsdA"), None);
        assert_eq!(Phc::parse("argon2id$c2FsdA$aGFzaA"), None);
        assert_eq!(Phc::parse("$argon2id$m=1$c2FsdA$not base64!"), None);
    }

    #[test]
    fn pbkdf2_hashes_need_a_known_digest_and_a_consistent_length() {
        let hash = "$pbkdf2-sha256$i=1000,l=8$c2FsdHNhbHQ$aGFzaGhhc2g";
        assert!(
            pbkdf2_from_phc(hash)
                .unwrap()
                .starts_with("$pbkdf2-sha256$")
        );
        // Without a digest: SHA-1, as `$pbkdf2-sha1$`.
        assert_eq!(
            pbkdf2_from_phc("$pbkdf2$i=1000,l=8$c2FsdHNhbHQ$aGFzaGhhc2g"),
            pbkdf2_from_phc("$pbkdf2-sha1$i=1000,l=8$c2FsdHNhbHQ$aGFzaGhhc2g")
        );
        assert!(
            pbkdf2_from_phc("$pbkdf2$i=1000,l=8$c2FsdHNhbHQ$aGFzaGhhc2g").is_ok(),
            "{:?}",
            pbkdf2_from_phc("$pbkdf2$i=1000,l=8$c2FsdHNhbHQ$aGFzaGhhc2g")
        );
        let error = pbkdf2_from_phc("$pbkdf2-md5$i=1000,l=8$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap_err();
        assert!(error.contains("md5"), "{error}");
        // Without `l`, Auth0 reads 64 bytes: an 8-byte hash cannot be one of its hashes.
        let error = pbkdf2_from_phc("$pbkdf2-sha1$i=1000$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap_err();
        assert!(error.contains("64"), "{error}");
    }

    #[test]
    fn argon2_hashes_need_their_three_parameters() {
        let error =
            argon2_from_phc("$argon2id$v=19$m=65536,t=3$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap_err();
        assert!(error.contains("m, t and p"), "{error}");
        let error = argon2_from_phc("$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap_err();
        assert!(error.contains("scrypt"), "{error}");
    }
}
