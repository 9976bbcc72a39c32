use time::Duration;
use time::macros::datetime;

use super::*;
use crate::provider;

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

fn key(alg: Alg, schedule: KeySchedule) -> SigningKey {
    SigningKey::generate(alg, schedule).unwrap()
}

#[test]
fn loaded_keys_sign_through_the_provider_cache() {
    for alg in Alg::ALL {
        let key = key(alg, KeySchedule::immediately(T0));
        assert!(provider::is_cached(&alg.jwt(), key.encoding_key()), "{alg}");
        let signer = provider::cached_signer(&alg.jwt(), key.encoding_key()).unwrap();
        assert_eq!(signer.algorithm(), alg.jwt());
        assert!(!signer.try_sign(b"message").unwrap().is_empty());
    }
}

#[test]
fn generated_rsa_key_publishes_n_and_e() {
    let key = key(Alg::RS256, KeySchedule::immediately(T0));
    let jwk = serde_json::to_value(key.public_jwk()).unwrap();
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["kid"], key.kid());
    assert_eq!(jwk["e"], "AQAB");
    // 2048-bit modulus: 256 bytes, 342 base64url characters.
    assert_eq!(jwk["n"].as_str().unwrap().len(), 342);
    assert!(jwk.get("x").is_none() && jwk.get("crv").is_none());
}

#[test]
fn generated_p256_key_publishes_x_and_y() {
    let key = key(Alg::ES256, KeySchedule::immediately(T0));
    let jwk = serde_json::to_value(key.public_jwk()).unwrap();
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    assert_eq!(jwk["alg"], "ES256");
    assert_eq!(jwk["x"].as_str().unwrap().len(), 43);
    assert_eq!(jwk["y"].as_str().unwrap().len(), 43);
    assert!(jwk.get("n").is_none());
}

#[test]
fn generated_ed25519_key_publishes_x_only() {
    let key = key(Alg::EdDSA, KeySchedule::immediately(T0));
    let jwk = serde_json::to_value(key.public_jwk()).unwrap();
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["x"].as_str().unwrap().len(), 43);
    assert!(jwk.get("y").is_none());
}

#[test]
fn ed25519_private_key_is_pkcs8_v1() {
    let key = key(Alg::EdDSA, KeySchedule::immediately(T0));
    // PKCS#8 v1 for Ed25519 is 48 bytes: SEQUENCE { INTEGER 0, AlgorithmIdentifier, OCTET STRING }.
    let der = key.private_pkcs8();
    assert_eq!(der.len(), 48);
    assert_eq!(der[4], 0, "version field must be 0 (v1)");
}

#[test]
fn stored_key_reloads_with_the_same_public_jwk() {
    for alg in Alg::ALL {
        let original = key(alg, KeySchedule::immediately(T0));
        let reloaded = SigningKey::from_pkcs8(
            original.kid().to_owned(),
            alg,
            original.private_pkcs8(),
            original.schedule(),
        )
        .unwrap();
        assert_eq!(reloaded.public_jwk(), original.public_jwk(), "{alg}");
    }
}

#[test]
fn sealed_key_survives_storage_round_trip() {
    let kek = KeyEncryptionKey::from_bytes(&KeyEncryptionKey::generate_bytes()).unwrap();
    let original = key(Alg::ES256, KeySchedule::immediately(T0));
    let sealed = kek.seal(original.kid(), original.private_pkcs8()).unwrap();
    let der = kek.open(original.kid(), &sealed).unwrap();
    let reloaded = SigningKey::from_pkcs8(
        original.kid().to_owned(),
        Alg::ES256,
        &der,
        original.schedule(),
    )
    .unwrap();
    assert_eq!(reloaded.public_jwk(), original.public_jwk());
}

#[test]
fn key_of_another_algorithm_is_refused() {
    let ec = key(Alg::ES256, KeySchedule::immediately(T0));
    let error = SigningKey::from_pkcs8("k".into(), Alg::EdDSA, ec.private_pkcs8(), ec.schedule())
        .unwrap_err();
    assert_eq!(error, KeyError::InvalidPrivateKey(Alg::EdDSA));
    assert!(SigningKey::from_pkcs8("k".into(), Alg::RS256, b"junk", ec.schedule()).is_err());
}

#[test]
fn kids_are_unique() {
    let a = key(Alg::ES256, KeySchedule::immediately(T0));
    let b = key(Alg::ES256, KeySchedule::immediately(T0));
    assert_ne!(a.kid(), b.kid());
}

#[test]
fn new_key_is_published_at_once_but_signs_only_after_its_activation() {
    let old = key(Alg::ES256, KeySchedule::immediately(T0));
    let (schedule, old_retired_at) = rotation(
        T0 + Duration::days(30),
        Duration::hours(1),
        Duration::days(1),
    );
    let new = key(Alg::ES256, schedule);
    let old = old.with_schedule(KeySchedule {
        active_from: T0,
        retired_at: Some(old_retired_at),
    });
    let set = KeySet::new(vec![old.clone(), new.clone()]);

    let just_rotated = T0 + Duration::days(30);
    let kids: Vec<_> = set
        .jwks(just_rotated)
        .keys
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert!(kids.contains(&new.kid().to_owned()) && kids.contains(&old.kid().to_owned()));
    assert_eq!(
        set.signing_key(Alg::ES256, just_rotated).unwrap().kid(),
        old.kid()
    );

    let activated = just_rotated + Duration::hours(1);
    assert_eq!(
        set.signing_key(Alg::ES256, activated).unwrap().kid(),
        new.kid()
    );
    assert!(set.verification_key(old.kid(), activated).is_some());
}

#[test]
fn retired_key_stays_published_until_its_retirement_then_disappears() {
    let (schedule, old_retired_at) = rotation(T0, Duration::ZERO, Duration::hours(2));
    let old = key(
        Alg::EdDSA,
        KeySchedule {
            active_from: T0 - Duration::days(1),
            retired_at: Some(old_retired_at),
        },
    );
    let new = key(Alg::EdDSA, schedule);
    let set = KeySet::new(vec![new.clone(), old.clone()]);
    assert!(
        set.verification_key(old.kid(), old_retired_at - Duration::seconds(1))
            .is_some()
    );
    assert!(set.verification_key(old.kid(), old_retired_at).is_none());
    assert_eq!(set.jwks(old_retired_at).keys.len(), 1);
    assert_eq!(set.jwks(old_retired_at).keys[0].kid, new.kid());
}

#[test]
fn each_algorithm_has_its_own_signing_key() {
    let set = KeySet::new(vec![
        key(Alg::RS256, KeySchedule::immediately(T0)),
        key(Alg::ES256, KeySchedule::immediately(T0)),
    ]);
    assert_eq!(set.signing_key(Alg::RS256, T0).unwrap().alg(), Alg::RS256);
    assert_eq!(set.signing_key(Alg::ES256, T0).unwrap().alg(), Alg::ES256);
    assert!(set.signing_key(Alg::EdDSA, T0).is_none());
    assert_eq!(set.signing_algorithms(T0), vec![Alg::RS256, Alg::ES256]);
    assert_eq!(set.missing_algorithms(T0), vec![Alg::EdDSA]);
}

#[test]
fn key_not_yet_active_cannot_sign_before_its_time() {
    let set = KeySet::new(vec![key(
        Alg::ES256,
        KeySchedule {
            active_from: T0,
            retired_at: None,
        },
    )]);
    assert!(
        set.signing_key(Alg::ES256, T0 - Duration::seconds(1))
            .is_none()
    );
    assert_eq!(set.jwks(T0 - Duration::seconds(1)).keys.len(), 1);
}

#[test]
fn algorithm_names_round_trip_and_none_is_not_one() {
    for alg in Alg::ALL {
        assert_eq!(Alg::parse(alg.as_str()), Some(alg));
        assert_eq!(serde_json::to_value(alg).unwrap(), alg.as_str());
    }
    assert_eq!(Alg::parse("none"), None);
    assert_eq!(Alg::parse("HS256"), None);
}

#[test]
fn debug_output_hides_private_material() {
    let key = key(Alg::ES256, KeySchedule::immediately(T0));
    let text = format!("{key:?}");
    assert!(text.contains(key.kid()));
    assert!(!text.contains("private"));
}
