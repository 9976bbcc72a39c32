//! [`FactorKeys`]: what the `App` holds to protect second factors at rest (it imports nothing of
//! the `App`, which holds it).

use accrete_oidc::keys::{KeyEncryptionKey, SealError};
use accrete_oidc::secrets::{TokenHasher, random_opaque};
use uuid::Uuid;

/// The key that seals authenticator-app secrets and the keyed hash of recovery codes.
pub struct FactorKeys {
    kek: KeyEncryptionKey,
    hasher: TokenHasher,
}

impl FactorKeys {
    /// Secrets sealed with `key_encryption_key`, recovery codes hashed with `hasher`.
    pub fn new(
        key_encryption_key: &[u8; 32],
        hasher: TokenHasher,
    ) -> Result<FactorKeys, SealError> {
        Ok(FactorKeys {
            kek: KeyEncryptionKey::from_bytes(key_encryption_key)?,
            hasher,
        })
    }

    /// Keys of this process only (use-cases in tests that never restart): secrets sealed with
    /// them cannot be opened by another process.
    pub fn ephemeral() -> FactorKeys {
        let random = random_opaque();
        let mut key = [0u8; 32];
        key.copy_from_slice(&random.as_bytes()[..32]);
        FactorKeys::new(
            &key,
            TokenHasher::new(random_opaque().as_bytes())
                .unwrap_or_else(|_| unreachable!("43 random characters make a key")),
        )
        .unwrap_or_else(|_| unreachable!("32 bytes make a key"))
    }

    /// Seals the TOTP secret of factor `id` (bound to it: a sealed secret copied to another
    /// factor's row does not open).
    pub(crate) fn seal(&self, id: Uuid, secret: &[u8]) -> Result<Vec<u8>, SealError> {
        self.kek.seal(&aad(id), secret)
    }

    /// Opens the TOTP secret of factor `id`.
    pub(crate) fn open(&self, id: Uuid, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.kek.open(&aad(id), sealed)
    }

    /// The keyed hash of a normalized recovery code, as stored.
    pub(crate) fn hash_recovery_code(&self, code: &str) -> String {
        self.hasher.hash(code)
    }
}

fn aad(id: Uuid) -> String {
    format!("totp:{id}")
}
