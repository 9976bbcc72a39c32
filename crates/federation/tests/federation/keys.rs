//! Keys made for the tests (aws-lc-rs), once per run: RSA keys for the stand-ins' ID tokens and
//! P-256 keys for Sign in with Apple.

use std::sync::LazyLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Value, json};

/// An RSA key of a stand-in provider.
pub struct RsaKey {
    pub kid: String,
    pub encoding: EncodingKey,
    /// The public JWK, as a JWKS lists it.
    pub jwk: Value,
}

/// A P-256 key of an Apple developer account.
pub struct EcKey {
    /// PKCS#8 PEM, as Apple's .p8 files are.
    pub pem: String,
    pub decoding: DecodingKey,
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn rsa(kid: &str) -> RsaKey {
    let pair = RsaPair::generate(KeySize::Rsa2048).unwrap();
    let der = pair.as_der().unwrap();
    let encoding = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", der.as_ref()).as_bytes()).unwrap();
    let public = pair.public_key();
    let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
    let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
    RsaKey {
        kid: kid.to_owned(),
        encoding,
        jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}),
    }
}

/// The stand-ins' first signing key.
pub static RSA_1: LazyLock<RsaKey> = LazyLock::new(|| rsa("key-1"));
/// The key a stand-in rotates to.
pub static RSA_2: LazyLock<RsaKey> = LazyLock::new(|| rsa("key-2"));
/// A key no provider publishes, with the kid of the first one.
pub static RSA_FORGED: LazyLock<RsaKey> = LazyLock::new(|| rsa("key-1"));

fn ec() -> EcKey {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = pair.to_pkcs8v1().unwrap();
    let point = pair.public_key().as_ref();
    let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
    let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
    EcKey {
        pem: pem("PRIVATE KEY", der.as_ref()),
        decoding: DecodingKey::from_ec_components(&x, &y).unwrap(),
    }
}

/// Apple's developer key.
pub static APPLE: LazyLock<EcKey> = LazyLock::new(ec);

/// A third key the stand-ins rotate to.
pub static RSA_3: LazyLock<RsaKey> = LazyLock::new(|| rsa("key-3"));

/// Another Apple developer key (the team's is [`APPLE`]).
pub static APPLE_OTHER: LazyLock<EcKey> = LazyLock::new(ec);
