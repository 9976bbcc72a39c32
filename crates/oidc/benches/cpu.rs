//! CPU time per operation (user + system time of the measuring thread, from
//! `/proc/thread-self/stat`), which unlike criterion's wall-clock figures is not inflated when
//! other processes compete for the cores. Resolution is one clock tick (10 ms), so each operation
//! runs for at least two seconds of CPU. Run: `cargo bench -p accrete-oidc --bench cpu`.
#![expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: a failure ends the run"
)]

use std::hint::black_box;
use std::time::Instant;

use accrete_oidc::jwt::{
    AccessTokenClaims, Audience, ExpiryCheck, IdTokenClaims, sign_access_token, sign_id_token,
    verify_access_token, verify_id_token,
};
use accrete_oidc::keys::{Alg, KeySchedule, KeySet, SigningKey};
use accrete_oidc::password::{PasswordCheck, hash_password, verify_password};
use accrete_oidc::secrets::TokenHasher;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};

const ISSUER: &str = "https://id.example.com";
/// Clock ticks per second on Linux (`getconf CLK_TCK`).
const TICKS_PER_SECOND: f64 = 100.0;

fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let utime: f64 = fields[11].parse().unwrap();
    let stime: f64 = fields[12].parse().unwrap();
    (utime + stime) / TICKS_PER_SECOND
}

fn measure(name: &str, min_cpu_seconds: f64, batch: u64, mut operation: impl FnMut()) {
    for _ in 0..3 {
        operation();
    }
    let start_cpu = thread_cpu_seconds();
    let start_wall = Instant::now();
    let mut runs = 0u64;
    while thread_cpu_seconds() - start_cpu < min_cpu_seconds {
        for _ in 0..batch {
            operation();
        }
        runs += batch;
    }
    let cpu = thread_cpu_seconds() - start_cpu;
    let wall = start_wall.elapsed().as_secs_f64();
    let per_op = |seconds: f64| seconds / runs as f64 * 1e6;
    println!(
        "{name:<40} {:>10.2} µs CPU/op {:>10.2} µs wall/op ({runs} runs)",
        per_op(cpu),
        per_op(wall)
    );
}

fn main() {
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
    let es256 = keys.signing_key(Alg::ES256, now).unwrap();
    let rs256 = keys.signing_key(Alg::RS256, now).unwrap();
    let eddsa = keys.signing_key(Alg::EdDSA, now).unwrap();
    let es_token = sign_access_token(es256, &access).unwrap();
    let rs_token = sign_id_token(rs256, &id).unwrap();
    let hasher = TokenHasher::new(&[1; 32]).unwrap();
    let stored_password = hash_password("correct horse battery staple").unwrap();

    measure("sign ES256 access token", 2.0, 50, || {
        black_box(sign_access_token(es256, black_box(&access)).unwrap());
    });
    measure("sign EdDSA access token", 2.0, 50, || {
        black_box(sign_access_token(eddsa, black_box(&access)).unwrap());
    });
    measure("sign RS256 ID token", 2.0, 50, || {
        black_box(sign_id_token(rs256, black_box(&id)).unwrap());
    });
    measure("verify ES256 access token", 2.0, 50, || {
        black_box(verify_access_token(&keys, ISSUER, black_box(&es_token), now).unwrap());
    });
    measure("verify RS256 ID token", 2.0, 50, || {
        black_box(
            verify_id_token(
                &keys,
                ISSUER,
                black_box(&rs_token),
                now,
                ExpiryCheck::Enforce,
            )
            .unwrap(),
        );
    });
    // The signature check alone, without JOSE parsing, for comparison.
    let (message, signature) = es_token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let jwk = es256.public_jwk();
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(jwk.x.as_ref().unwrap()).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(jwk.y.as_ref().unwrap()).unwrap());
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
    measure("raw P-256 signature check (aws-lc-rs)", 2.0, 50, || {
        public
            .verify(black_box(message.as_bytes()), &signature)
            .unwrap();
    });
    measure("keyed hash", 1.0, 10_000, || {
        black_box(hasher.hash(black_box("an opaque value of forty-three characters..")));
    });
    measure("Argon2id verify (m=19456, t=2, p=1)", 3.0, 1, || {
        black_box(verify_password("correct horse battery staple", &stored_password).unwrap());
    });
    imported_password_verifications();
}

/// The first sign-in of an imported user verifies the source system's hash (then replaces it).
fn imported_password_verifications() {
    // Made by Python's `bcrypt.hashpw(..., bcrypt.gensalt(rounds=10))` and
    // `hashlib.pbkdf2_hmac("sha256", ..., salt, 27500, 64)` (Keycloak up to 23).
    const BCRYPT_10: &str = "$2b$10$dhUPGMvKvEiD4V3f/5/NIOU.9sP2p0r8hKQ4DM00Knvm59iT8yNsK";
    const KEYCLOAK_PBKDF2_SHA256: &str = "$pbkdf2-sha256$i=27500,l=64$Ca1RTB2MMIcok59NjH1c7A$o8Z8LlxMaa9xqCpbNJhzC4YwIbLeDGNLY/4RjQLYKEYDHRZ2JZccmVLgKaIDdTLCJeuMsq02QIwKu0rVJIAm2Q";
    for (name, stored) in [
        ("bcrypt verify (cost 10)", BCRYPT_10),
        (
            "PBKDF2-SHA256 verify (27500, 64 bytes)",
            KEYCLOAK_PBKDF2_SHA256,
        ),
    ] {
        assert_eq!(
            verify_password("correct horse battery staple", stored).unwrap(),
            PasswordCheck::Verified { needs_rehash: true }
        );
        measure(name, 3.0, 1, || {
            black_box(verify_password("correct horse battery staple", black_box(stored)).unwrap());
        });
    }
}
