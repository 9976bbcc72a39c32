//! The hashes imported from other systems. The vectors were made by independent
//! implementations (Python 3 in a throwaway venv), not by this module: `bcrypt` 5.0.0 (`bcrypt.hashpw` with `gensalt(rounds, prefix)`), passlib 1.7.4's
//! pure-Python bcrypt (`$2y$`), `hashlib.pbkdf2_hmac` (the PHC strings put together from its
//! salt and hash in standard Base64 with the padding removed) and argon2-cffi 25.1.0
//! (`PasswordHasher` and `low_level.hash_secret`/`hash_secret_raw`).

use base64::engine::general_purpose::STANDARD;

use super::imported::*;
use super::*;

const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "correct horse battery stapler";

/// `bcrypt.hashpw(PASSWORD, bcrypt.gensalt(rounds=4))`.
const BCRYPT_2B: &str = "$2b$04$NpNtTdwpGwJEdmi7BHvCEeMoHcY5c8Cl.7oj0RZhQuRNsj8ucVHqG";
/// `bcrypt.hashpw(PASSWORD, bcrypt.gensalt(rounds=4, prefix=b"2a"))`.
const BCRYPT_2A: &str = "$2a$04$IV5HeMFbsrDuYHZV1X9daeCqcAApquEUC1sNHZBF7lFqTSmZ5aGJ6";
/// passlib `bcrypt.using(ident="2y", rounds=4)` with its builtin backend.
const BCRYPT_2Y: &str = "$2y$04$h7Mg5.wp6qcw.fVeTIhLbuh6yHu1k3f1Iko0Vi9yfk5gTvZBSP5Oy";
/// `bcrypt.hashpw("pässwörd ✓".encode(), bcrypt.gensalt(rounds=5))`.
const BCRYPT_NON_ASCII: &str = "$2b$05$HCsEBqG6W/JjwqzjWcUdhuALXaCkeZwla0vLKWx7VeR.BaXyVT/HS";

/// `hashlib.pbkdf2_hmac("sha1", PASSWORD, salt, 10000, 20)`.
const PBKDF2_SHA1: &str = "$pbkdf2$i=10000,l=20$o40mXr9RhQ24BnSXosnNOw$upf0dgjPW5Y6xgBx72ItKjZSN84";
/// The same without `l`.
const PBKDF2_SHA1_WITHOUT_LENGTH: &str =
    "$pbkdf2$i=10000$o40mXr9RhQ24BnSXosnNOw$upf0dgjPW5Y6xgBx72ItKjZSN84";
/// `hashlib.pbkdf2_hmac("sha256", PASSWORD, salt, 10000, 32)`.
const PBKDF2_SHA256: &str = "$pbkdf2-sha256$i=10000,l=32$1JmiZtU4PEFDJuYffFc/Tg$prVkaax9oUbDyVML8UMJ4oY8OdAP8TWMe1WsMIFhBxg";
/// `hashlib.pbkdf2_hmac("sha512", PASSWORD, salt, 10000, 64)`.
const PBKDF2_SHA512: &str = "$pbkdf2-sha512$i=10000,l=64$2gkIRchXx760+xZk4Rn4BQ$GUm313CQJBFRoKNGYFzMVAa5aIphxkicqfM7aQfhftCt8MQDtACJmyOlyrbNk6zXzRVV/mteBzehi55oBsDAkA";
/// Keycloak up to 23 (pbkdf2-sha256, 27,500 iterations, 512-bit key): the salt and hash as
/// a realm export gives them (standard Base64), from
/// `hashlib.pbkdf2_hmac("sha256", PASSWORD, salt, 27500, 64)`...
const KEYCLOAK_SHA256_SALT: &str = "Ca1RTB2MMIcok59NjH1c7A==";
const KEYCLOAK_SHA256_HASH: &str =
    "o8Z8LlxMaa9xqCpbNJhzC4YwIbLeDGNLY/4RjQLYKEYDHRZ2JZccmVLgKaIDdTLCJeuMsq02QIwKu0rVJIAm2Q==";
/// ... and as a PHC string.
const KEYCLOAK_SHA256: &str = "$pbkdf2-sha256$i=27500,l=64$Ca1RTB2MMIcok59NjH1c7A$o8Z8LlxMaa9xqCpbNJhzC4YwIbLeDGNLY/4RjQLYKEYDHRZ2JZccmVLgKaIDdTLCJeuMsq02QIwKu0rVJIAm2Q";
/// Keycloak 24 (pbkdf2-sha512, 210,000 iterations, 512-bit key):
/// `hashlib.pbkdf2_hmac("sha512", PASSWORD, salt, 210000, 64)`.
const KEYCLOAK_SHA512: &str = "$pbkdf2-sha512$i=210000,l=64$nO0osKJ0uxkulXg6QaIFbw$LOk9HZxQaBI7Y0QhhjGsr5236zC+ohkhcT+oEBX0dW2afAmCShNJU+/7FMTp67sePHYLojV5nEDiGwyiSYqatg";

/// Keycloak 25 and later: argon2-cffi `PasswordHasher(time_cost=5, memory_cost=7168,
/// parallelism=1, hash_len=32, salt_len=16, type=Type.ID)`.
const KEYCLOAK_ARGON2ID: &str = "$argon2id$v=19$m=7168,t=5,p=1$dcXvkgsgZ0Q51YC2X0ruRw$6JGEYTWTkxOx3WCl5UHkCFdvvERC+UmLNYbFUjSVflc";
/// argon2-cffi with Accrete's parameters (m=19456, t=2, p=1, 32-byte hash).
const CURRENT_ARGON2ID: &str = "$argon2id$v=19$m=19456,t=2,p=1$7Mc76VcthQXcYGnrnhF4/g$2OqnOzaKzxx2O8+7fubRa6cnqBpHIJfmIccnxZdGtr4";
/// argon2-cffi with Accrete's parameters but a 16-byte hash.
const CURRENT_ARGON2ID_SHORT: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$YBFWgEM+AqM50MBuo/PTxQ$ox+d102D59wT1+R6QzQYHw";
/// argon2-cffi `type=Type.I`, m=4096, t=3, p=1.
const ARGON2I: &str = "$argon2i$v=19$m=4096,t=3,p=1$wMLLKFn+0CEvbxPmd+6EgQ$zLG84E21hlrVEgs+tXUOL8jC1/tsBxafacMjG951VO8";
/// argon2-cffi `low_level.hash_secret(type=Type.D, version=16)`, m=4096, t=2, p=2.
const ARGON2D_V16: &str = "$argon2d$v=16$m=4096,t=2,p=2$lfVPRXCa71h7GNCKGnOGRQ$7PdCrVlBirz3cscCzfg7qKH3/Wf6HNqUCK99X6L8tjo";
/// argon2-cffi `hash_secret(type=Type.I, version=16)` with `$v=16` removed; argon2-cffi's
/// `verify_secret` accepts it (it reads a missing version as 0x10).
const ARGON2I_WITHOUT_VERSION: &str =
    "$argon2i$m=4096,t=2,p=1$AeinHxGme+Tv77ciY2nIiw$rY/x9iuciDVUtTFyEm2ckLDDYFa958y4dB+de5Z0Vcs";

fn verified(needs_rehash: bool) -> PasswordCheck {
    PasswordCheck::Verified { needs_rehash }
}

fn out_of_bounds(message: &str) -> PasswordError {
    PasswordError::OutOfBounds(message.into())
}

#[test]
fn bcrypt_hash_verifies_and_asks_for_rehash() {
    assert_eq!(
        verify_password(PASSWORD, BCRYPT_2B).unwrap(),
        verified(true)
    );
    assert_eq!(
        verify_password(WRONG, BCRYPT_2B).unwrap(),
        PasswordCheck::Mismatch
    );
}

#[test]
fn bcrypt_2a_and_2y_hashes_verify() {
    for stored in [BCRYPT_2A, BCRYPT_2Y] {
        assert_eq!(
            verify_password(PASSWORD, stored).unwrap(),
            verified(true),
            "{stored}"
        );
        assert_eq!(
            verify_password(WRONG, stored).unwrap(),
            PasswordCheck::Mismatch,
            "{stored}"
        );
    }
}

#[test]
fn bcrypt_hash_of_a_non_ascii_password_verifies_its_utf8_bytes() {
    assert_eq!(
        verify_password("pässwörd ✓", BCRYPT_NON_ASCII).unwrap(),
        verified(true)
    );
    assert_eq!(
        verify_password("passwoerd ✓", BCRYPT_NON_ASCII).unwrap(),
        PasswordCheck::Mismatch
    );
}

#[test]
fn bcrypt_2x_with_its_sign_extension_bug_is_not_taken() {
    let stored = BCRYPT_2A.replacen("$2a$", "$2x$", 1);
    assert_eq!(
        check_stored_hash(&stored).unwrap_err(),
        PasswordError::MalformedHash
    );
}

#[test]
fn pbkdf2_hashes_of_each_digest_verify_and_ask_for_rehash() {
    for stored in [
        PBKDF2_SHA1,
        PBKDF2_SHA1_WITHOUT_LENGTH,
        PBKDF2_SHA256,
        PBKDF2_SHA512,
    ] {
        assert_eq!(
            verify_password(PASSWORD, stored).unwrap(),
            verified(true),
            "{stored}"
        );
        assert_eq!(
            verify_password(WRONG, stored).unwrap(),
            PasswordCheck::Mismatch,
            "{stored}"
        );
    }
}

#[test]
fn keycloak_pbkdf2_hashes_verify() {
    for stored in [KEYCLOAK_SHA256, KEYCLOAK_SHA512] {
        assert_eq!(
            verify_password(PASSWORD, stored).unwrap(),
            verified(true),
            "{stored}"
        );
    }
    assert_eq!(
        verify_password(WRONG, KEYCLOAK_SHA256).unwrap(),
        PasswordCheck::Mismatch
    );
}

#[test]
fn pbkdf2_phc_builds_from_a_keycloak_export_what_verifies() {
    let salt = STANDARD.decode(KEYCLOAK_SHA256_SALT).unwrap();
    let hash = STANDARD.decode(KEYCLOAK_SHA256_HASH).unwrap();
    let stored = pbkdf2_phc(Pbkdf2Digest::Sha256, 27_500, &salt, &hash);
    assert_eq!(stored, KEYCLOAK_SHA256);
    assert_eq!(verify_password(PASSWORD, &stored).unwrap(), verified(true));
    assert_eq!(
        verify_password(WRONG, &stored).unwrap(),
        PasswordCheck::Mismatch
    );
}

#[test]
fn pbkdf2_phc_names_each_digest() {
    for (digest, stored) in [
        (Pbkdf2Digest::Sha1, PBKDF2_SHA1),
        (Pbkdf2Digest::Sha256, PBKDF2_SHA256),
        (Pbkdf2Digest::Sha512, PBKDF2_SHA512),
    ] {
        let Pbkdf2Hash {
            iterations,
            salt,
            hash,
            ..
        } = Pbkdf2Hash::parse(digest, stored).unwrap();
        assert_eq!(
            pbkdf2_phc(digest, iterations, &salt, hash.as_bytes()),
            stored
        );
    }
}

#[test]
fn pbkdf2_length_that_disagrees_with_the_hash_is_malformed() {
    let stored = PBKDF2_SHA1.replacen("l=20", "l=32", 1);
    assert_eq!(
        verify_password(PASSWORD, &stored).unwrap_err(),
        PasswordError::MalformedHash
    );
}

#[test]
fn pbkdf2_with_a_digest_other_than_its_identifier_does_not_verify() {
    // The SHA-256 hash read as SHA-1 or SHA-512.
    for ident in ["$pbkdf2$", "$pbkdf2-sha512$"] {
        let stored = PBKDF2_SHA256.replacen("$pbkdf2-sha256$", ident, 1);
        assert_eq!(
            verify_password(PASSWORD, &stored).unwrap(),
            PasswordCheck::Mismatch,
            "{stored}"
        );
    }
}

#[test]
fn keycloak_argon2id_hash_verifies_and_asks_for_rehash() {
    assert_eq!(
        verify_password(PASSWORD, KEYCLOAK_ARGON2ID).unwrap(),
        verified(true)
    );
    assert_eq!(
        verify_password(WRONG, KEYCLOAK_ARGON2ID).unwrap(),
        PasswordCheck::Mismatch
    );
}

#[test]
fn argon2i_and_argon2d_version_16_hashes_verify_and_ask_for_rehash() {
    for stored in [ARGON2I, ARGON2D_V16] {
        assert_eq!(
            verify_password(PASSWORD, stored).unwrap(),
            verified(true),
            "{stored}"
        );
        assert_eq!(
            verify_password(WRONG, stored).unwrap(),
            PasswordCheck::Mismatch,
            "{stored}"
        );
    }
}

#[test]
fn argon2_hash_without_a_version_is_read_as_version_16() {
    assert_eq!(
        verify_password(PASSWORD, ARGON2I_WITHOUT_VERSION).unwrap(),
        verified(true)
    );
}

#[test]
fn argon2id_with_the_current_parameters_from_another_implementation_needs_no_rehash() {
    assert_eq!((M_COST_KIB, T_COST, P_COST), (19_456, 2, 1));
    assert_eq!(
        verify_password(PASSWORD, CURRENT_ARGON2ID).unwrap(),
        verified(false)
    );
    assert_eq!(
        verify_password(WRONG, CURRENT_ARGON2ID).unwrap(),
        PasswordCheck::Mismatch
    );
    // The same parameters with a shorter hash are not quite Accrete's.
    assert_eq!(
        verify_password(PASSWORD, CURRENT_ARGON2ID_SHORT).unwrap(),
        verified(true)
    );
}

#[test]
fn argon2_phc_builds_what_argon2_cffi_builds_from_the_same_parts() {
    // `low_level.hash_secret_raw` gave the hashes; `hash_secret` with the same parts the PHC
    // strings.
    for (variant, version, m_cost, t_cost, salt, hash, expected) in [
        (
            Argon2Variant::Argon2id,
            19,
            7168,
            5,
            "tdMWrpXkn6L9Nlf/n/UfMw",
            "lkI4rmKpInd3uwBzpnBYWs3IWUOE0s4HrDiVj05DBvk",
            "$argon2id$v=19$m=7168,t=5,p=1$tdMWrpXkn6L9Nlf/n/UfMw$lkI4rmKpInd3uwBzpnBYWs3IWUOE0s4HrDiVj05DBvk",
        ),
        (
            Argon2Variant::Argon2i,
            16,
            4096,
            2,
            "lucCpWNyIX1Us56HDxoqqQ",
            "EWKgCeOWSvGuAvcCPCdYPK6RcBwfrpdNTzlEEDV5D4Y",
            "$argon2i$v=16$m=4096,t=2,p=1$lucCpWNyIX1Us56HDxoqqQ$EWKgCeOWSvGuAvcCPCdYPK6RcBwfrpdNTzlEEDV5D4Y",
        ),
    ] {
        let salt = STANDARD_NO_PAD.decode(salt).unwrap();
        let hash = STANDARD_NO_PAD.decode(hash).unwrap();
        let stored = argon2_phc(variant, version, m_cost, t_cost, 1, &salt, &hash).unwrap();
        assert_eq!(stored, expected);
        assert_eq!(verify_password(PASSWORD, &stored).unwrap(), verified(true));
        assert_eq!(
            verify_password(WRONG, &stored).unwrap(),
            PasswordCheck::Mismatch
        );
    }
}

#[test]
fn argon2_phc_refuses_what_would_not_verify() {
    let (salt, hash) = ([7; 16], [9; 32]);
    let build =
        |version, m_cost| argon2_phc(Argon2Variant::Argon2d, version, m_cost, 2, 1, &salt, &hash);
    assert!(build(19, 4096).is_ok());
    assert_eq!(build(17, 4096).unwrap_err(), PasswordError::MalformedHash);
    assert_eq!(
        build(19, 1_048_576).unwrap_err(),
        out_of_bounds(
            "Argon2 memory in KiB (m) 1048576 is above 262144, the most Accrete verifies"
        )
    );
    assert_eq!(
        argon2_phc(Argon2Variant::Argon2id, 19, 4096, 2, 1, &salt[..4], &hash).unwrap_err(),
        out_of_bounds("Argon2 salt is shorter than 8 bytes, the least Accrete verifies")
    );
}

#[test]
fn every_vector_is_one_to_import() {
    for stored in [
        BCRYPT_2B,
        BCRYPT_2A,
        BCRYPT_2Y,
        PBKDF2_SHA1,
        PBKDF2_SHA1_WITHOUT_LENGTH,
        PBKDF2_SHA256,
        PBKDF2_SHA512,
        KEYCLOAK_SHA256,
        KEYCLOAK_SHA512,
        KEYCLOAK_ARGON2ID,
        CURRENT_ARGON2ID,
        ARGON2I,
        ARGON2D_V16,
        ARGON2I_WITHOUT_VERSION,
        &hash_password(PASSWORD).unwrap(),
    ] {
        assert_eq!(check_stored_hash(stored), Ok(()), "{stored}");
    }
}

#[test]
fn costs_beyond_the_bounds_are_refused_without_running() {
    // Were any of these run, the test would take minutes or end as a mismatch.
    for (stored, message) in [
        (
            BCRYPT_2B.replacen("$04$", "$17$", 1),
            "bcrypt cost 17 is above 16, the most Accrete verifies",
        ),
        (
            PBKDF2_SHA256.replacen("i=10000", "i=10000000", 1),
            "PBKDF2 iteration count 10000000 is above 5000000, the most Accrete verifies",
        ),
        (
            PBKDF2_SHA1.replacen("i=10000", "i=999", 1),
            "PBKDF2 iteration count 999 is below 1000, the least Accrete verifies",
        ),
        (
            KEYCLOAK_ARGON2ID.replacen("m=7168", "m=1048576", 1),
            "Argon2 memory in KiB (m) 1048576 is above 262144, the most Accrete verifies",
        ),
        (
            KEYCLOAK_ARGON2ID.replacen("t=5", "t=21", 1),
            "Argon2 passes (t) 21 is above 20, the most Accrete verifies",
        ),
        (
            ARGON2D_V16.replacen("p=2", "p=9", 1),
            "Argon2 lanes (p) 9 is above 8, the most Accrete verifies",
        ),
    ] {
        assert_eq!(
            check_stored_hash(&stored).unwrap_err(),
            out_of_bounds(message),
            "{stored}"
        );
        assert_eq!(
            verify_password(PASSWORD, &stored).unwrap_err(),
            out_of_bounds(message),
            "{stored}"
        );
    }
}

#[test]
fn bounds_are_inclusive() {
    for stored in [
        PBKDF2_SHA1.replacen("i=10000", "i=1000", 1),
        PBKDF2_SHA1.replacen("i=10000", "i=5000000", 1),
        BCRYPT_2B.replacen("$04$", "$16$", 1),
        ARGON2D_V16.replacen("m=4096,t=2,p=2", "m=262144,t=20,p=8", 1),
    ] {
        assert_eq!(check_stored_hash(&stored), Ok(()), "{stored}");
    }
}

#[test]
fn salt_shorter_than_eight_bytes_is_out_of_bounds() {
    // `hashlib.pbkdf2_hmac("sha256", PASSWORD, salt, 1000, 32)` with a 4-byte salt.
    let stored = "$pbkdf2-sha256$i=1000,l=32$PSYWUw$oJBQIozttn+QWlfUNMrlXPAHZD666sMKVYaV2TCCSug";
    assert_eq!(
        check_stored_hash(stored).unwrap_err(),
        out_of_bounds("PBKDF2 salt is shorter than 8 bytes, the least Accrete verifies")
    );
}

#[test]
fn phc_strings_without_salt_or_hash_are_malformed() {
    for stored in [
        "$pbkdf2-sha256$i=10000,l=32",
        "$pbkdf2-sha256$i=10000,l=32$1JmiZtU4PEFDJuYffFc/Tg",
        "$argon2id$v=19$m=7168,t=5,p=1",
        "$argon2id$v=19$m=7168,t=5,p=1$dcXvkgsgZ0Q51YC2X0ruRw",
    ] {
        assert_eq!(
            check_stored_hash(stored).unwrap_err(),
            PasswordError::MalformedHash,
            "{stored}"
        );
    }
}

#[test]
fn unknown_or_garbled_formats_are_malformed() {
    for stored in [
        "",
        "garbage",
        "$",
        "correct horse battery staple",
        // passlib's own PBKDF2 format (MCF, adapted Base64), not a PHC string.
        "$pbkdf2-sha256$1000$0Drn3PsfY0xJaQ3hfG.N0Q$oRzW2n8ulD15HFwbi1lb4yPNi8qU0g0jR8vw/DEDkSk",
        "$pbkdf2-sha1$i=10000$o40mXr9RhQ24BnSXosnNOw$upf0dgjPW5Y6xgBx72ItKjZSN84",
        "$pbkdf2$v=1$i=10000$o40mXr9RhQ24BnSXosnNOw$upf0dgjPW5Y6xgBx72ItKjZSN84",
        "$pbkdf2$i=10000,r=8$o40mXr9RhQ24BnSXosnNOw$upf0dgjPW5Y6xgBx72ItKjZSN84",
        "$2b$04$NpNtTdwpGwJEdmi7BHvCEeMoHcY5c8Cl.7oj0RZhQuRNsj8ucVH",
        "$2b$03$NpNtTdwpGwJEdmi7BHvCEeMoHcY5c8Cl.7oj0RZhQuRNsj8ucVHqG",
        "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
        "$argon2id$v=19$m=7168,t=5,p=1,keyid=AAAA$dcXvkgsgZ0Q51YC2X0ruRw$6JGEYTWTkxOx3WCl5UHkCFdvvERC+UmLNYbFUjSVflc",
        "$argon2id$v=19$t=5,p=1$dcXvkgsgZ0Q51YC2X0ruRw$6JGEYTWTkxOx3WCl5UHkCFdvvERC+UmLNYbFUjSVflc",
    ] {
        assert_eq!(
            check_stored_hash(stored).unwrap_err(),
            PasswordError::MalformedHash,
            "{stored}"
        );
        assert_eq!(
            verify_password(PASSWORD, stored).unwrap_err(),
            PasswordError::MalformedHash,
            "{stored}"
        );
    }
}
