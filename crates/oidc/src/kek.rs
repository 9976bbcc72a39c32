//! Encryption of private signing keys at rest: AES-256-GCM under a key-encryption key from the
//! configuration or the data folder, a random 96-bit nonce per seal, and the key id as associated
//! data (so a sealed key cannot be swapped onto another key's row).
//!
//! Sealed format: `version (1 byte, = 1) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore as _;

const FORMAT_VERSION: u8 = 1;

/// Length of a key-encryption key in bytes.
pub const KEK_LEN: usize = 32;

/// The errors of sealing and opening private keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key-encryption key is not 32 bytes (or not valid base64).
    #[error("the key-encryption key must be 32 bytes (base64 or raw), got {0} bytes")]
    KeyLength(usize),
    /// The sealed bytes were made with another key-encryption key, for another kid, or altered.
    #[error("sealed private key cannot be opened (wrong key-encryption key, wrong kid or altered)")]
    Open,
    /// The sealed bytes are not in a known format.
    #[error("sealed private key has an unknown format")]
    Format,
    /// The crypto library failed.
    #[error("encryption failed")]
    Seal,
}

/// A 256-bit AES-GCM key that encrypts private signing keys for storage.
pub struct KeyEncryptionKey {
    key: LessSafeKey,
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

impl KeyEncryptionKey {
    /// A fresh random key, returned as its 32 bytes (write them to the data folder, then load with
    /// [`KeyEncryptionKey::from_bytes`]).
    pub fn generate_bytes() -> [u8; KEK_LEN] {
        let mut bytes = [0u8; KEK_LEN];
        rand::rng().fill_bytes(&mut bytes);
        bytes
    }

    /// A key from exactly 32 raw bytes (a key file).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() != KEK_LEN {
            return Err(SealError::KeyLength(bytes.len()));
        }
        let unbound =
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::KeyLength(bytes.len()))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// A key from its base64 text (standard or URL-safe alphabet, padding optional), as found in
    /// configuration.
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| SealError::KeyLength(0))?;
        Self::from_bytes(&bytes)
    }

    /// Encrypts a private key (PKCS#8 DER) bound to its `kid`.
    pub fn seal(&self, kid: &str, private_der: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce_bytes = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce_bytes);
        let nonce = Nonce::assume_unique_for_key(nonce_bytes);
        let mut in_out = private_der.to_vec();
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(kid.as_bytes()), &mut in_out)
            .map_err(|_| SealError::Seal)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        sealed.push(FORMAT_VERSION);
        sealed.extend_from_slice(&nonce_bytes);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Decrypts what [`KeyEncryptionKey::seal`] produced for the same `kid`.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Format)?;
        if version != FORMAT_VERSION || rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Format);
        }
        let (nonce_bytes, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| SealError::Format)?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut in_out)
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek() -> KeyEncryptionKey {
        KeyEncryptionKey::from_bytes(&KeyEncryptionKey::generate_bytes()).unwrap()
    }

    #[test]
    fn sealed_key_opens_with_the_same_kek_and_kid() {
        let kek = kek();
        let sealed = kek.seal("kid-1", b"private der").unwrap();
        assert_eq!(kek.open("kid-1", &sealed).unwrap(), b"private der");
    }

    #[test]
    fn sealing_twice_uses_fresh_nonces() {
        let kek = kek();
        assert_ne!(
            kek.seal("k", b"same").unwrap(),
            kek.seal("k", b"same").unwrap()
        );
    }

    #[test]
    fn sealed_key_does_not_contain_the_plaintext() {
        let sealed = kek().seal("k", b"very secret private key bytes").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn sealed_key_cannot_be_opened_under_another_kid() {
        let kek = kek();
        let sealed = kek.seal("kid-1", b"private der").unwrap();
        assert_eq!(kek.open("kid-2", &sealed).unwrap_err(), SealError::Open);
    }

    #[test]
    fn sealed_key_cannot_be_opened_with_another_kek() {
        let sealed = kek().seal("kid-1", b"private der").unwrap();
        assert_eq!(kek().open("kid-1", &sealed).unwrap_err(), SealError::Open);
    }

    #[test]
    fn altered_ciphertext_is_refused() {
        let kek = kek();
        let mut sealed = kek.seal("kid-1", b"private der").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(kek.open("kid-1", &sealed).unwrap_err(), SealError::Open);
    }

    #[test]
    fn truncated_or_unknown_format_is_refused() {
        let kek = kek();
        assert_eq!(kek.open("k", &[]).unwrap_err(), SealError::Format);
        assert_eq!(kek.open("k", &[1, 2, 3]).unwrap_err(), SealError::Format);
        let mut sealed = kek.seal("k", b"x").unwrap();
        sealed[0] = 9;
        assert_eq!(kek.open("k", &sealed).unwrap_err(), SealError::Format);
    }

    #[test]
    fn kek_must_be_32_bytes() {
        assert_eq!(
            KeyEncryptionKey::from_bytes(&[0; 16]).unwrap_err(),
            SealError::KeyLength(16)
        );
    }

    #[test]
    fn kek_loads_from_base64_configuration() {
        let bytes = KeyEncryptionKey::generate_bytes();
        let from_standard = KeyEncryptionKey::from_base64(&STANDARD.encode(bytes)).unwrap();
        let from_url = KeyEncryptionKey::from_base64(&URL_SAFE_NO_PAD.encode(bytes)).unwrap();
        let sealed = from_standard.seal("k", b"x").unwrap();
        assert_eq!(from_url.open("k", &sealed).unwrap(), b"x");
        assert!(KeyEncryptionKey::from_base64("not base64!").is_err());
    }
}
