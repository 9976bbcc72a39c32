//! Our JWKS and ID tokens verified by an independent implementation: the `openidconnect` crate's
//! relying-party verifier, as a real client library would.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

use std::str::FromStr as _;

use accrete_oidc::jwt::{IdTokenClaims, at_hash, sign_id_token};
use accrete_oidc::keys::{Alg, KeySchedule, KeySet, SigningKey};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{AccessToken, AccessTokenHash, ClientId, IssuerUrl, Nonce};
use time::{Duration, OffsetDateTime};

const ISSUER: &str = "https://id.example.com";
const CLIENT: &str = "client-1";

fn key_set(now: OffsetDateTime) -> KeySet {
    let schedule = KeySchedule::immediately(now - Duration::minutes(1));
    KeySet::new(
        Alg::ALL
            .iter()
            .map(|alg| SigningKey::generate(*alg, schedule).unwrap())
            .collect(),
    )
}

fn verifier(keys: &KeySet, now: OffsetDateTime) -> CoreIdTokenVerifier<'static> {
    let jwks_json = serde_json::to_string(&keys.jwks(now)).unwrap();
    let jwks: CoreJsonWebKeySet = serde_json::from_str(&jwks_json).unwrap();
    CoreIdTokenVerifier::new_public_client(
        ClientId::new(CLIENT.to_owned()),
        IssuerUrl::new(ISSUER.to_owned()).unwrap(),
        jwks,
    )
    .set_allowed_algs(vec![
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EdDsa,
    ])
}

#[test]
fn id_tokens_of_every_algorithm_verify_with_openidconnect() {
    let now = OffsetDateTime::now_utc();
    let keys = key_set(now);
    let verifier = verifier(&keys, now);
    for alg in Alg::ALL {
        let key = keys.signing_key(alg, now).unwrap();
        let access_token = "opaque-or-jwt-access-token";
        let mut claims = IdTokenClaims::new(ISSUER, "user-1", CLIENT, now, Duration::minutes(5));
        claims.nonce = Some("nonce-123".to_owned());
        claims.auth_time = Some(now.unix_timestamp());
        claims.at_hash = Some(at_hash(alg, access_token));
        claims
            .profile
            .insert("email".into(), "ada@example.com".into());
        claims.profile.insert("email_verified".into(), true.into());
        let token = sign_id_token(key, &claims).unwrap();

        let id_token = CoreIdToken::from_str(&token).unwrap();
        let verified = id_token
            .claims(&verifier, &Nonce::new("nonce-123".to_owned()))
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified.subject().as_str(), "user-1");
        assert_eq!(
            verified.email().map(|e| e.as_str()),
            Some("ada@example.com")
        );
        assert_eq!(verified.email_verified(), Some(true));

        // at_hash computed the way the relying party computes it.
        let expected = AccessTokenHash::from_token(
            &AccessToken::new(access_token.to_owned()),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(verified.access_token_hash(), Some(&expected), "{alg}");
    }
}

#[test]
fn openidconnect_rejects_our_token_with_the_wrong_nonce() {
    let now = OffsetDateTime::now_utc();
    let keys = key_set(now);
    let mut claims = IdTokenClaims::new(ISSUER, "user-1", CLIENT, now, Duration::minutes(5));
    claims.nonce = Some("expected".to_owned());
    let token = sign_id_token(keys.signing_key(Alg::RS256, now).unwrap(), &claims).unwrap();
    let id_token = CoreIdToken::from_str(&token).unwrap();
    assert!(
        id_token
            .claims(&verifier(&keys, now), &Nonce::new("other".to_owned()))
            .is_err()
    );
}

#[test]
fn openidconnect_rejects_a_token_signed_by_a_key_missing_from_the_jwks() {
    let now = OffsetDateTime::now_utc();
    let keys = key_set(now);
    let stranger = SigningKey::generate(Alg::ES256, KeySchedule::immediately(now)).unwrap();
    let claims = IdTokenClaims::new(ISSUER, "user-1", CLIENT, now, Duration::minutes(5));
    let token = sign_id_token(&stranger, &claims).unwrap();
    let id_token = CoreIdToken::from_str(&token).unwrap();
    assert!(
        id_token
            .claims(&verifier(&keys, now), |_: Option<&Nonce>| Ok(()))
            .is_err()
    );
}
