//! A jsonwebtoken crypto provider that signs with parsed key pairs kept in memory.
//!
//! jsonwebtoken's own aws-lc-rs provider re-parses the private key on every signature, which
//! doubles the cost of an ES256 or EdDSA signature and adds ~0.4 ms to every RS256 one (RSA key
//! parsing validates the key). This provider keeps the same aws-lc-rs signing code but looks the
//! key pair up in a process-wide cache filled when a [`crate::keys::SigningKey`] is loaded; it
//! delegates everything else (verification, HMAC, JWK utilities) to jsonwebtoken's aws-lc-rs
//! provider. If another provider was installed first, signing still works through it, only slower.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Once, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use jsonwebtoken::signature::{Error as SignatureError, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};

/// A parsed private key, ready to sign.
pub(crate) enum ParsedKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

type Cache = RwLock<HashMap<(Algorithm, Vec<u8>), Arc<ParsedKey>>>;

static CACHE: LazyLock<Cache> = LazyLock::new(|| RwLock::new(HashMap::new()));

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: cached_signer,
    verifier_factory: jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.verifier_factory,
    key_utils: jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
        .key_utils
        .clone(),
});

/// Installs the caching provider as jsonwebtoken's process default, once. Called before any key is
/// loaded, hence before any token is signed or verified through this crate.
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another provider was installed first: it is used instead, correctly.
        let _ = PROVIDER.install_default();
    });
}

/// Remembers the parsed key pair behind `encoding` for `alg`.
pub(crate) fn remember(alg: Algorithm, encoding: &EncodingKey, key: ParsedKey) {
    if let Ok(mut cache) = CACHE.write() {
        cache
            .entry((alg, encoding.as_bytes().to_vec()))
            .or_insert_with(|| Arc::new(key));
    }
}

fn cached_key(alg: &Algorithm, encoding: &EncodingKey) -> Option<Arc<ParsedKey>> {
    CACHE
        .read()
        .ok()
        .and_then(|cache| cache.get(&(*alg, encoding.as_bytes().to_vec())).cloned())
}

/// Whether the key pair behind `encoding` was remembered (for the tests of `keys.rs`).
#[cfg(test)]
pub(crate) fn is_cached(alg: &Algorithm, encoding: &EncodingKey) -> bool {
    cached_key(alg, encoding).is_some()
}

pub(crate) fn cached_signer(
    alg: &Algorithm,
    encoding: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    match cached_key(alg, encoding) {
        Some(key) => Ok(Box::new(CachedSigner { alg: *alg, key })),
        None => (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, encoding),
    }
}

struct CachedSigner {
    alg: Algorithm,
    key: Arc<ParsedKey>,
}

impl Signer<Vec<u8>> for CachedSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let rng = SystemRandom::new();
        match self.key.as_ref() {
            ParsedKey::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(SignatureError::from_source)?;
                Ok(signature)
            }
            ParsedKey::Ec(pair) => pair
                .sign(&rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(SignatureError::from_source),
            ParsedKey::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for CachedSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // That loaded keys sign through the cache is tested with the keys, in `keys_tests.rs`.

    #[test]
    fn unknown_keys_fall_back_to_the_default_signer() {
        let key = EncodingKey::from_secret(b"an hmac secret of reasonable size!");
        let signer = cached_signer(&Algorithm::HS256, &key).unwrap();
        assert_eq!(signer.algorithm(), Algorithm::HS256);
    }
}
