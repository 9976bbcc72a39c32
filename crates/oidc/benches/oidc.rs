//! Costs of the protocol's hot paths: signing and verifying tokens, hashing opaque values, and one
//! Argon2id verification (the unit the password sign-in target is measured against).
#![expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: a failure ends the run"
)]

use std::hint::black_box;

use accrete_oidc::jwt::{
    AccessTokenClaims, Audience, ExpiryCheck, IdTokenClaims, sign_access_token, sign_id_token,
    verify_access_token, verify_id_token,
};
use accrete_oidc::keys::{Alg, KeySchedule, KeySet, SigningKey};
use accrete_oidc::password::{hash_password, verify_password};
use accrete_oidc::secrets::{TokenHasher, random_opaque};
use criterion::{Criterion, criterion_group, criterion_main};
use time::{Duration, OffsetDateTime};

const ISSUER: &str = "https://id.example.com";

fn bench_tokens(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let keys = KeySet::new(
        Alg::ALL
            .iter()
            .map(|alg| SigningKey::generate(*alg, KeySchedule::immediately(now)).unwrap())
            .collect(),
    );
    let access = AccessTokenClaims::new(
        ISSUER,
        "service-client",
        "service-client",
        Audience::One("https://api.example.com".into()),
        &["read".into(), "write".into()],
        now,
        Duration::minutes(5),
    );
    let mut id = IdTokenClaims::new(ISSUER, "user-1", "web", now, Duration::minutes(5));
    id.nonce = Some("n-0S6_WzA2Mj".into());
    id.auth_time = Some(now.unix_timestamp());
    id.profile.insert("email".into(), "ada@example.com".into());
    id.profile.insert("email_verified".into(), true.into());

    let es256 = keys.signing_key(Alg::ES256, now).unwrap();
    let rs256 = keys.signing_key(Alg::RS256, now).unwrap();
    let eddsa = keys.signing_key(Alg::EdDSA, now).unwrap();

    c.bench_function("sign ES256 access token", |b| {
        b.iter(|| sign_access_token(es256, black_box(&access)).unwrap())
    });
    c.bench_function("sign EdDSA access token", |b| {
        b.iter(|| sign_access_token(eddsa, black_box(&access)).unwrap())
    });
    c.bench_function("sign RS256 ID token", |b| {
        b.iter(|| sign_id_token(rs256, black_box(&id)).unwrap())
    });
    c.bench_function("build claims + sign ES256 access token", |b| {
        b.iter(|| {
            let claims = AccessTokenClaims::new(
                ISSUER,
                "service-client",
                "service-client",
                Audience::One("https://api.example.com".into()),
                &["read".into()],
                now,
                Duration::minutes(5),
            );
            sign_access_token(es256, &claims).unwrap()
        })
    });

    let es_token = sign_access_token(es256, &access).unwrap();
    let rs_token = sign_id_token(rs256, &id).unwrap();
    let ed_token = sign_access_token(eddsa, &access).unwrap();
    c.bench_function("verify ES256 access token", |b| {
        b.iter(|| verify_access_token(&keys, ISSUER, black_box(&es_token), now).unwrap())
    });
    c.bench_function("verify EdDSA access token", |b| {
        b.iter(|| verify_access_token(&keys, ISSUER, black_box(&ed_token), now).unwrap())
    });
    c.bench_function("verify RS256 ID token", |b| {
        b.iter(|| {
            verify_id_token(
                &keys,
                ISSUER,
                black_box(&rs_token),
                now,
                ExpiryCheck::Enforce,
            )
            .unwrap()
        })
    });
}

fn bench_secrets(c: &mut Criterion) {
    let hasher = TokenHasher::new(&[42; 32]).unwrap();
    let value = random_opaque();
    let stored = hasher.hash(&value);
    c.bench_function("keyed hash of an opaque value", |b| {
        b.iter(|| hasher.hash(black_box(&value)))
    });
    c.bench_function("verify keyed hash", |b| {
        b.iter(|| hasher.verify(black_box(&value), black_box(&stored)))
    });
    c.bench_function("random opaque value", |b| b.iter(random_opaque));
}

fn bench_password(c: &mut Criterion) {
    let stored = hash_password("correct horse battery staple").unwrap();
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(10);
    group.bench_function("verify password (m=19456, t=2, p=1)", |b| {
        b.iter(|| verify_password(black_box("correct horse battery staple"), &stored).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_tokens, bench_secrets, bench_password);
criterion_main!(benches);
