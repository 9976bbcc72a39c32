//! Keys made for the tests (aws-lc-rs), once per run: a P-256 key for Sign in with Apple.

use std::sync::LazyLock;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::DecodingKey;

/// A P-256 key of an Apple developer account.
pub struct EcKey {
    /// PKCS#8 PEM, as Apple's .p8 files are.
    pub pem: String,
    #[expect(
        dead_code,
        reason = "the Apple stand-in verifies client secrets with it"
    )]
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

/// Apple's developer key.
pub static APPLE: LazyLock<EcKey> = LazyLock::new(|| {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = pair.to_pkcs8v1().unwrap();
    let point = pair.public_key().as_ref();
    let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
    let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
    EcKey {
        pem: pem("PRIVATE KEY", der.as_ref()),
        decoding: DecodingKey::from_ec_components(&x, &y).unwrap(),
    }
});
