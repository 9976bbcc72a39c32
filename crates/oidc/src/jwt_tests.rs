use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use time::macros::datetime;

use super::*;
use crate::keys::KeySchedule;

const ISSUER: &str = "https://id.example.com";
const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let schedule = KeySchedule::immediately(NOW - Duration::days(1));
        KeySet::new(
            Alg::ALL
                .iter()
                .map(|alg| SigningKey::generate(*alg, schedule).unwrap())
                .collect(),
        )
    })
}

fn key(alg: Alg) -> &'static SigningKey {
    keys().signing_key(alg, NOW).unwrap()
}

fn id_claims() -> IdTokenClaims {
    IdTokenClaims::new(ISSUER, "user-1", "client-1", NOW, Duration::minutes(5))
}

fn access_claims() -> AccessTokenClaims {
    AccessTokenClaims::new(
        ISSUER,
        "user-1",
        "client-1",
        Audience::One("https://api.example.com".into()),
        &["openid".into(), "profile".into()],
        NOW,
        Duration::minutes(5),
    )
}

fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[test]
fn id_token_signed_with_each_algorithm_verifies() {
    for alg in Alg::ALL {
        let token = sign_id_token(key(alg), &id_claims()).unwrap();
        let claims = verify_id_token(keys(), ISSUER, &token, NOW, ExpiryCheck::Enforce).unwrap();
        assert_eq!(claims, id_claims(), "{alg}");
    }
}

#[test]
fn id_token_header_names_alg_kid_and_jwt_type() {
    let token = sign_id_token(key(Alg::RS256), &id_claims()).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(key(Alg::RS256).kid()));
    assert_eq!(header.typ.as_deref(), Some("JWT"));
}

#[test]
fn access_token_has_rfc9068_header_and_claims() {
    let token = sign_access_token(key(Alg::ES256), &access_claims()).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&segments(&token)[1]).unwrap()).unwrap();
    for claim in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "client_id",
        "scope",
    ] {
        assert!(payload.get(claim).is_some(), "missing {claim}");
    }
    assert_eq!(payload["scope"], "openid profile");
    let claims = verify_access_token(keys(), ISSUER, &token, NOW).unwrap();
    assert!(claims.has_scope("profile") && !claims.has_scope("email"));
}

#[test]
fn an_access_token_carries_added_claims_but_never_over_its_own() {
    let extra: Map<String, Value> = serde_json::from_value(serde_json::json!({
        "https://crm.example/segment": "enterprise",
        "sub": "forged",
        "scope": "admin",
        "client_id": "other",
    }))
    .unwrap();
    let claims = access_claims();
    let token = sign_access_token_with(key(Alg::ES256), &claims, &extra).unwrap();
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&segments(&token)[1]).unwrap()).unwrap();
    assert_eq!(payload["https://crm.example/segment"], "enterprise");
    assert_eq!(payload["sub"], claims.sub.as_str());
    assert_eq!(payload["scope"], "openid profile");
    assert_eq!(payload["client_id"], claims.client_id.as_str());
    // It verifies as any access token.
    assert!(verify_access_token(keys(), ISSUER, &token, NOW).is_ok());
}

#[test]
fn access_tokens_get_distinct_jti() {
    assert_ne!(access_claims().jti, access_claims().jti);
}

#[test]
fn access_token_is_not_accepted_as_id_token_and_the_reverse() {
    let access = sign_access_token(key(Alg::ES256), &access_claims()).unwrap();
    assert_eq!(
        verify_id_token(keys(), ISSUER, &access, NOW, ExpiryCheck::Enforce).unwrap_err(),
        TokenError::WrongType
    );
    let id = sign_id_token(key(Alg::ES256), &id_claims()).unwrap();
    assert_eq!(
        verify_access_token(keys(), ISSUER, &id, NOW).unwrap_err(),
        TokenError::WrongType
    );
}

#[test]
fn tampered_signature_is_rejected() {
    for alg in Alg::ALL {
        let token = sign_id_token(key(alg), &id_claims()).unwrap();
        let parts = segments(&token);
        let mut signature = URL_SAFE_NO_PAD.decode(&parts[2]).unwrap();
        signature[5] ^= 0x01;
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(signature)
        );
        assert_eq!(
            verify_id_token(keys(), ISSUER, &forged, NOW, ExpiryCheck::Enforce).unwrap_err(),
            TokenError::BadSignature,
            "{alg}"
        );
    }
}

#[test]
fn tampered_payload_is_rejected() {
    let token = sign_id_token(key(Alg::RS256), &id_claims()).unwrap();
    let parts = segments(&token);
    let mut claims = id_claims();
    claims.sub = "admin".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        encode_json(&serde_json::to_value(claims).unwrap()),
        parts[2]
    );
    assert_eq!(
        verify_id_token(keys(), ISSUER, &forged, NOW, ExpiryCheck::Enforce).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn alg_none_is_never_accepted() {
    let payload = encode_json(&serde_json::to_value(id_claims()).unwrap());
    for alg in ["none", "None", "NONE"] {
        let header = encode_json(&json!({"alg": alg, "kid": key(Alg::RS256).kid(), "typ": "JWT"}));
        for signature in ["", "AAAA"] {
            let forged = format!("{header}.{payload}.{signature}");
            assert!(
                verify_id_token(keys(), ISSUER, &forged, NOW, ExpiryCheck::Ignore).is_err(),
                "alg {alg} accepted"
            );
        }
    }
}

#[test]
fn hmac_signed_with_the_public_key_is_rejected() {
    // The classic algorithm confusion: HS256 keyed with the published RSA modulus.
    let rsa = key(Alg::RS256);
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(rsa.kid().to_owned());
    let secret = rsa.public_jwk().n.clone().unwrap();
    let forged = jsonwebtoken::encode(
        &header,
        &id_claims(),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        verify_id_token(keys(), ISSUER, &forged, NOW, ExpiryCheck::Enforce).unwrap_err(),
        TokenError::UnsupportedAlgorithm
    );
}

#[test]
fn token_naming_an_unknown_kid_is_rejected() {
    let other = SigningKey::generate(Alg::ES256, KeySchedule::immediately(NOW)).unwrap();
    let token = sign_id_token(&other, &id_claims()).unwrap();
    assert_eq!(
        verify_id_token(keys(), ISSUER, &token, NOW, ExpiryCheck::Enforce).unwrap_err(),
        TokenError::UnknownKey
    );
}

#[test]
fn token_without_kid_is_rejected() {
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = None;
    let token =
        jsonwebtoken::encode(&header, &id_claims(), key(Alg::ES256).encoding_key()).unwrap();
    assert_eq!(
        verify_id_token(keys(), ISSUER, &token, NOW, ExpiryCheck::Enforce).unwrap_err(),
        TokenError::UnknownKey
    );
}

#[test]
fn token_whose_kid_names_a_key_of_another_algorithm_is_rejected() {
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key(Alg::RS256).kid().to_owned());
    let token =
        jsonwebtoken::encode(&header, &id_claims(), key(Alg::ES256).encoding_key()).unwrap();
    assert_eq!(
        verify_id_token(keys(), ISSUER, &token, NOW, ExpiryCheck::Enforce).unwrap_err(),
        TokenError::AlgorithmMismatch
    );
}

#[test]
fn token_signed_by_one_key_but_naming_another_of_the_same_alg_is_rejected() {
    let other = SigningKey::generate(Alg::ES256, KeySchedule::immediately(NOW)).unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key(Alg::ES256).kid().to_owned());
    let token = jsonwebtoken::encode(&header, &id_claims(), other.encoding_key()).unwrap();
    assert_eq!(
        verify_id_token(keys(), ISSUER, &token, NOW, ExpiryCheck::Enforce).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn token_from_another_issuer_is_rejected() {
    let mut claims = id_claims();
    claims.iss = "https://evil.example.com".into();
    let token = sign_id_token(key(Alg::EdDSA), &claims).unwrap();
    assert_eq!(
        verify_id_token(keys(), ISSUER, &token, NOW, ExpiryCheck::Ignore).unwrap_err(),
        TokenError::WrongIssuer
    );
}

#[test]
fn expiry_is_enforced_with_a_small_leeway() {
    let token = sign_id_token(key(Alg::ES256), &id_claims()).unwrap();
    let exp = NOW + Duration::minutes(5);
    assert!(verify_id_token(keys(), ISSUER, &token, exp, ExpiryCheck::Enforce).is_ok());
    assert!(
        verify_id_token(
            keys(),
            ISSUER,
            &token,
            exp + LEEWAY - Duration::seconds(1),
            ExpiryCheck::Enforce
        )
        .is_ok()
    );
    assert_eq!(
        verify_id_token(keys(), ISSUER, &token, exp + LEEWAY, ExpiryCheck::Enforce).unwrap_err(),
        TokenError::Expired
    );
}

#[test]
fn expired_id_token_passes_when_expiry_is_ignored() {
    let token = sign_id_token(key(Alg::ES256), &id_claims()).unwrap();
    let later = NOW + Duration::hours(12);
    assert!(verify_id_token(keys(), ISSUER, &token, later, ExpiryCheck::Ignore).is_ok());
}

#[test]
fn expired_access_token_is_rejected() {
    let token = sign_access_token(key(Alg::ES256), &access_claims()).unwrap();
    assert_eq!(
        verify_access_token(keys(), ISSUER, &token, NOW + Duration::hours(1)).unwrap_err(),
        TokenError::Expired
    );
}

#[test]
fn garbage_is_malformed() {
    for token in ["", "a.b", "a.b.c", "not a token at all"] {
        assert!(
            verify_id_token(keys(), ISSUER, token, NOW, ExpiryCheck::Ignore).is_err(),
            "{token}"
        );
    }
}

#[test]
fn profile_claims_keep_their_types_and_cannot_override_protocol_claims() {
    let profile = json!({
        "name": "Ada", "email_verified": true, "updated_at": 1700000000,
        "address": {"country": "FR"}, "sub": "someone-else", "iss": "evil"
    });
    let claims = id_claims().with_profile(profile.as_object().unwrap().clone());
    let token = sign_id_token(key(Alg::RS256), &claims).unwrap();
    let back = verify_id_token(keys(), ISSUER, &token, NOW, ExpiryCheck::Enforce).unwrap();
    assert_eq!(back.sub, "user-1");
    assert_eq!(back.profile["email_verified"], json!(true));
    assert_eq!(back.profile["updated_at"], json!(1700000000));
    assert_eq!(back.profile["address"], json!({"country": "FR"}));
    assert!(!back.profile.contains_key("iss"));
}

#[test]
fn nonce_is_optional_and_round_trips_when_sent() {
    let token = sign_id_token(key(Alg::RS256), &id_claims()).unwrap();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(&segments(&token)[1]).unwrap()).unwrap();
    assert!(!payload.contains("nonce"));
    let mut claims = id_claims();
    claims.nonce = Some("n-0S6_WzA2Mj".into());
    let token = sign_id_token(key(Alg::RS256), &claims).unwrap();
    let back = verify_id_token(keys(), ISSUER, &token, NOW, ExpiryCheck::Enforce).unwrap();
    assert_eq!(back.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
}

#[test]
fn at_hash_is_the_left_half_of_the_algorithm_digest() {
    assert_eq!(at_hash(Alg::RS256, "token").len(), 22);
    assert_eq!(at_hash(Alg::RS256, "token"), at_hash(Alg::ES256, "token"));
    assert_eq!(at_hash(Alg::EdDSA, "token").len(), 43);
}

#[test]
fn audience_serializes_as_string_for_one_and_array_for_many() {
    assert_eq!(
        serde_json::to_value(Audience::from_list(vec!["a".into()])).unwrap(),
        json!("a")
    );
    let many = Audience::from_list(vec!["a".into(), "b".into()]);
    assert_eq!(serde_json::to_value(&many).unwrap(), json!(["a", "b"]));
    assert!(many.contains("b") && !many.contains("c"));
}

#[test]
fn token_errors_map_to_invalid_token_with_a_bearer_challenge() {
    let error: OAuthError = TokenError::Expired.into();
    assert_eq!(error.kind, crate::error::ErrorCode::InvalidToken);
    assert!(error.www_authenticate().unwrap().starts_with("Bearer"));
}

#[test]
fn id_token_for_an_authorization_copies_nonce_auth_time_and_at_hash() {
    let pairs = crate::params::pairs(&[
        ("client_id", "web"),
        ("redirect_uri", "https://app.example.com/callback"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("nonce", "n-1"),
    ]);
    let request = crate::authorize::AuthorizeParams::from_pairs(&pairs)
        .validate(&crate::client::tests::web_client())
        .unwrap();
    let claims = IdTokenClaims::for_authorization(
        ISSUER,
        "user-1",
        &request,
        NOW.unix_timestamp() - 30,
        Some("access"),
        Alg::ES256,
        NOW,
        Duration::minutes(5),
    );
    assert_eq!(claims.aud, "web");
    assert_eq!(claims.azp.as_deref(), Some("web"));
    assert_eq!(claims.nonce.as_deref(), Some("n-1"));
    assert_eq!(claims.auth_time, Some(NOW.unix_timestamp() - 30));
    assert_eq!(claims.at_hash, Some(at_hash(Alg::ES256, "access")));
}

#[test]
fn token_whose_nbf_is_in_the_future_beyond_the_leeway_is_rejected() {
    let mut access = serde_json::to_value(access_claims()).unwrap();
    access["nbf"] = json!((NOW + LEEWAY + Duration::seconds(1)).unix_timestamp());
    let token = sign(key(Alg::ES256), &access, ACCESS_TOKEN_TYP).unwrap();
    assert_eq!(
        verify_access_token(keys(), ISSUER, &token, NOW).unwrap_err(),
        TokenError::NotYetValid
    );

    let mut id = serde_json::to_value(id_claims()).unwrap();
    id["nbf"] = json!((NOW + Duration::minutes(1)).unix_timestamp());
    let token = sign(key(Alg::RS256), &id, "JWT").unwrap();
    for expiry in [ExpiryCheck::Enforce, ExpiryCheck::Ignore] {
        assert_eq!(
            verify_id_token(keys(), ISSUER, &token, NOW, expiry).unwrap_err(),
            TokenError::NotYetValid,
            "{expiry:?}"
        );
    }
}

#[test]
fn token_whose_nbf_is_within_the_leeway_is_accepted() {
    let mut access = serde_json::to_value(access_claims()).unwrap();
    access["nbf"] = json!((NOW + LEEWAY).unix_timestamp());
    let token = sign(key(Alg::EdDSA), &access, ACCESS_TOKEN_TYP).unwrap();
    assert!(verify_access_token(keys(), ISSUER, &token, NOW).is_ok());
}
