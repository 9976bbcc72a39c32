//! Signing keys: generation (RSA 2048, P-256, Ed25519), public JWKs, the published key set with
//! its rotation schedule, and encryption of private keys at rest.
//!
//! Lifecycle of a key: it is published in the JWKS as soon as it exists, signs only from its
//! `active_from` (so relying parties have fetched it before they see tokens signed with it), and
//! stays published until its `retired_at` (set to "last token it signed has expired"). Among the
//! keys of one algorithm that may sign, the one that became active last is used.

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use crate::kek::{KeyEncryptionKey, SealError};
use crate::provider::{self, ParsedKey};

/// A JWS algorithm this provider signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over a 2048-bit key: the OpenID Connect default.
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

impl Alg {
    /// Every supported algorithm, default first.
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    /// The JOSE name (`RS256`, `ES256`, `EdDSA`).
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name; `None` for anything else (including `none` and HMAC algorithms).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    /// The matching `jsonwebtoken` algorithm.
    pub fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Alg::RS256 => jsonwebtoken::Algorithm::RS256,
            Alg::ES256 => jsonwebtoken::Algorithm::ES256,
            Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    pub(crate) fn from_jwt(alg: jsonwebtoken::Algorithm) -> Option<Self> {
        Self::ALL.into_iter().find(|ours| ours.jwt() == alg)
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The errors of key generation and loading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The crypto library could not generate a key.
    #[error("could not generate a {0} key")]
    Generation(Alg),
    /// The stored private key is not a PKCS#8 key of the stated algorithm.
    #[error("stored {0} private key is invalid")]
    InvalidPrivateKey(Alg),
}

/// When a key signs and when it stops being published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchedule {
    /// From this instant the key may sign (before it, it is only published).
    #[serde(with = "time::serde::rfc3339")]
    pub active_from: OffsetDateTime,
    /// From this instant the key is neither used nor published; `None` while in service.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
}

impl KeySchedule {
    /// A key that signs at once and is never retired (the first key on first start).
    pub fn immediately(now: OffsetDateTime) -> Self {
        Self {
            active_from: now,
            retired_at: None,
        }
    }

    /// Whether the key is in the JWKS at `now`.
    pub fn is_published(&self, now: OffsetDateTime) -> bool {
        self.retired_at.is_none_or(|retired| now < retired)
    }

    /// Whether the key may sign at `now`.
    pub fn may_sign(&self, now: OffsetDateTime) -> bool {
        self.active_from <= now && self.is_published(now)
    }
}

/// A public key as a JSON Web Key (RFC 7517/7518/8037), as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
    /// The algorithm this key is used with.
    pub alg: Alg,
    /// The key id, sent in the `kid` header of every token it signs.
    pub kid: String,
    /// Curve: `P-256` or `Ed25519`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// RSA modulus, base64url.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
    /// EC x coordinate or Ed25519 public key, base64url.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// EC y coordinate, base64url.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
}

/// The JWKS document (`{"keys": [...]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// Published keys, newest first.
    pub keys: Vec<PublicJwk>,
}

/// A private signing key with its id, algorithm and schedule. The private key is kept as PKCS#8 v1
/// DER, which is what [`KeyEncryptionKey::seal`] encrypts for storage.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    alg: Alg,
    schedule: KeySchedule,
    private_pkcs8: Vec<u8>,
    public: PublicJwk,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new key (RSA 2048, P-256 or Ed25519) with a random `kid`.
    pub fn generate(alg: Alg, schedule: KeySchedule) -> Result<Self, KeyError> {
        let der = match alg {
            Alg::RS256 => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .and_then(|pair| pair.as_der())
                .map(|der| der.as_ref().to_vec()),
            Alg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1())
                .map(|doc| doc.as_ref().to_vec()),
            // jsonwebtoken and most JOSE libraries expect PKCS#8 v1 (no embedded public key).
            Alg::EdDSA => Ed25519KeyPair::generate()
                .and_then(|pair| pair.to_pkcs8v1())
                .map(|doc| doc.as_ref().to_vec()),
        }
        .map_err(|_| KeyError::Generation(alg))?;
        Self::from_pkcs8(new_kid(), alg, &der, schedule)
    }

    /// Loads a stored key from its PKCS#8 DER (after [`KeyEncryptionKey::open`]).
    pub fn from_pkcs8(
        kid: String,
        alg: Alg,
        der: &[u8],
        schedule: KeySchedule,
    ) -> Result<Self, KeyError> {
        crate::provider::install();
        let invalid = |_| KeyError::InvalidPrivateKey(alg);
        let mut public = PublicJwk {
            kty: String::new(),
            key_use: "sig".to_owned(),
            alg,
            kid: kid.clone(),
            crv: None,
            n: None,
            e: None,
            x: None,
            y: None,
        };
        let (encoding, decoding) = match alg {
            Alg::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(invalid)?;
                let n = URL_SAFE_NO_PAD.encode(
                    pair.public_key()
                        .modulus()
                        .big_endian_without_leading_zero(),
                );
                let e = URL_SAFE_NO_PAD.encode(
                    pair.public_key()
                        .exponent()
                        .big_endian_without_leading_zero(),
                );
                // jsonwebtoken signs RSA from PKCS#1; its PEM reader unwraps PKCS#8 to PKCS#1.
                let encoding = EncodingKey::from_rsa_pem(pkcs8_pem(der).as_bytes())
                    .map_err(|_| KeyError::InvalidPrivateKey(alg))?;
                let decoding = DecodingKey::from_rsa_components(&n, &e)
                    .map_err(|_| KeyError::InvalidPrivateKey(alg))?;
                public.kty = "RSA".to_owned();
                public.n = Some(n);
                public.e = Some(e);
                provider::remember(alg.jwt(), &encoding, ParsedKey::Rsa(pair));
                (encoding, decoding)
            }
            Alg::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(invalid)?;
                // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = pair.public_key().as_ref();
                let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
                    return Err(KeyError::InvalidPrivateKey(alg));
                };
                let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
                let decoding = DecodingKey::from_ec_components(&x, &y)
                    .map_err(|_| KeyError::InvalidPrivateKey(alg))?;
                public.kty = "EC".to_owned();
                public.crv = Some("P-256".to_owned());
                public.x = Some(x);
                public.y = Some(y);
                let encoding = EncodingKey::from_ec_der(der);
                provider::remember(alg.jwt(), &encoding, ParsedKey::Ec(pair));
                (encoding, decoding)
            }
            Alg::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(der).map_err(invalid)?;
                let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
                let decoding = DecodingKey::from_ed_components(&x)
                    .map_err(|_| KeyError::InvalidPrivateKey(alg))?;
                public.kty = "OKP".to_owned();
                public.crv = Some("Ed25519".to_owned());
                public.x = Some(x);
                let encoding = EncodingKey::from_ed_der(der);
                provider::remember(alg.jwt(), &encoding, ParsedKey::Ed(pair));
                (encoding, decoding)
            }
        };
        Ok(Self {
            kid,
            alg,
            schedule,
            private_pkcs8: der.to_vec(),
            public,
            encoding,
            decoding,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// When the key signs and when it is retired.
    pub fn schedule(&self) -> KeySchedule {
        self.schedule
    }

    /// Returns the key with another schedule (for example once it has been retired).
    #[must_use]
    pub fn with_schedule(mut self, schedule: KeySchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// The private key as PKCS#8 v1 DER: seal it before storing it.
    pub fn private_pkcs8(&self) -> &[u8] {
        &self.private_pkcs8
    }

    /// The public JWK.
    pub fn public_jwk(&self) -> &PublicJwk {
        &self.public
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

fn new_kid() -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Wraps PKCS#8 DER in a PEM envelope (RFC 7468), the form jsonwebtoken reads RSA keys from.
fn pkcs8_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// All the keys the provider knows, with their schedules: what the JWKS publishes, which key signs
/// for each algorithm, and which key verifies a token given its `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

impl KeySet {
    /// A key set over these keys (any order).
    pub fn new(mut keys: Vec<SigningKey>) -> Self {
        // Newest activation first, so lookups find the current key first.
        keys.sort_by_key(|key| std::cmp::Reverse(key.schedule.active_from));
        Self { keys }
    }

    /// Every key, retired or not.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The JWKS document at `now`: every key not yet retired, including keys not active yet.
    pub fn jwks(&self, now: OffsetDateTime) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|key| key.schedule.is_published(now))
                .map(|key| key.public.clone())
                .collect(),
        }
    }

    /// The key that signs for `alg` at `now`: among those that may sign, the last to become active.
    pub fn signing_key(&self, alg: Alg, now: OffsetDateTime) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|key| key.alg == alg && key.schedule.may_sign(now))
    }

    /// The published key named `kid` (to verify a token we issued).
    pub fn verification_key(&self, kid: &str, now: OffsetDateTime) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|key| key.kid == kid && key.schedule.is_published(now))
    }

    /// The algorithms some key can sign with at `now` (for discovery).
    pub fn signing_algorithms(&self, now: OffsetDateTime) -> Vec<Alg> {
        let mut algs: Vec<Alg> = Alg::ALL
            .into_iter()
            .filter(|alg| self.signing_key(*alg, now).is_some())
            .collect();
        algs.sort();
        algs
    }

    /// The algorithms that lack a key which may sign at `now` (generate one for each on start-up).
    pub fn missing_algorithms(&self, now: OffsetDateTime) -> Vec<Alg> {
        Alg::ALL
            .into_iter()
            .filter(|alg| self.signing_key(*alg, now).is_none())
            .collect()
    }
}

/// The schedule of a rotation at `now`: the new key is published at once and signs after
/// `activation_delay`; the key it replaces stops signing then and stays published for
/// `max_token_lifetime` more, until every token it signed has expired.
pub fn rotation(
    now: OffsetDateTime,
    activation_delay: time::Duration,
    max_token_lifetime: time::Duration,
) -> (KeySchedule, OffsetDateTime) {
    let active_from = now + activation_delay;
    let new_key = KeySchedule {
        active_from,
        retired_at: None,
    };
    (new_key, active_from + max_token_lifetime)
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
