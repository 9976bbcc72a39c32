//! The server's master secret and the keys derived from it.
//!
//! One 256-bit master key, from configuration (`master_key`, base64) or generated once into
//! `<data_dir>/master.key` (mode 0600). Purpose-specific keys are derived from it with HKDF-SHA256,
//! so rotating or sharing it between nodes is one value. Nodes of one deployment must share it.

use std::path::Path;

use accrete_oidc::secrets::TokenHasher;
use aws_lc_rs::hkdf;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Why the master key is unusable. One line each.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "master_key must be base64 of at least 32 bytes (generate one with `openssl rand -base64 32`)"
    )]
    BadMasterKey,
    #[error("cannot read or create the master key file {path}: {message}")]
    File { path: String, message: String },
}

/// Keys derived from the master key.
#[derive(Clone)]
pub struct ServerSecrets {
    /// Keyed hash of client secrets, codes, refresh tokens and session ids at rest.
    pub token_hasher: TokenHasher,
    /// Key that encrypts signing keys and connection secrets at rest.
    pub key_encryption_key: [u8; 32],
    /// Keyed hash of federation states, and what the nonce and PKCE verifier of a round trip
    /// to an upstream provider are derived with.
    pub federation_hasher: TokenHasher,
    /// Keyed hash of the codes and links mailed to prove an address or reset a password.
    pub account_hasher: TokenHasher,
}

impl std::fmt::Debug for ServerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecrets(..)")
    }
}

impl ServerSecrets {
    /// Derives the server's keys from `master`.
    pub fn derive(master: &[u8]) -> Result<ServerSecrets, SecretsError> {
        if master.len() < 32 {
            return Err(SecretsError::BadMasterKey);
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"accrete.v1").extract(master);
        let expand = |label: &[u8]| -> Result<[u8; 32], SecretsError> {
            let mut out = [0u8; 32];
            let info = [label];
            prk.expand(&info, hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(&mut out))
                .map_err(|_| SecretsError::BadMasterKey)?;
            Ok(out)
        };
        let hashing = expand(b"token-hashing")?;
        let token_hasher = TokenHasher::new(&hashing).map_err(|_| SecretsError::BadMasterKey)?;
        let federation = expand(b"federation")?;
        let account = expand(b"account-proofs")?;
        Ok(ServerSecrets {
            token_hasher,
            key_encryption_key: expand(b"key-encryption")?,
            federation_hasher: TokenHasher::new(&federation)
                .map_err(|_| SecretsError::BadMasterKey)?,
            account_hasher: TokenHasher::new(&account).map_err(|_| SecretsError::BadMasterKey)?,
        })
    }

    /// The configured master key, or the one in `data_dir/master.key` (created if missing).
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<ServerSecrets, SecretsError> {
        let master = match configured {
            Some(text) => STANDARD
                .decode(text.trim())
                .map_err(|_| SecretsError::BadMasterKey)?,
            None => read_or_create(&data_dir.join("master.key"))?,
        };
        ServerSecrets::derive(&master)
    }
}

fn read_or_create(path: &Path) -> Result<Vec<u8>, SecretsError> {
    let file_error = |e: std::io::Error| SecretsError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    match std::fs::read_to_string(path) {
        Ok(text) => STANDARD
            .decode(text.trim())
            .map_err(|_| SecretsError::BadMasterKey),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            aws_lc_rs::rand::fill(&mut key).map_err(|_| SecretsError::BadMasterKey)?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(file_error)?;
            }
            // Written aside, then linked into place: a concurrent start either wins or reads the
            // complete file of the winner, never a half-written one.
            let aside = path.with_extension(format!("key.{}", std::process::id()));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&aside).map_err(file_error)?;
            std::io::Write::write_all(&mut file, STANDARD.encode(key).as_bytes())
                .map_err(file_error)?;
            file.sync_all().map_err(file_error)?;
            let linked = std::fs::hard_link(&aside, path);
            let _ = std::fs::remove_file(&aside);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return read_or_create(path);
                }
                Err(e) => return Err(file_error(e)),
            }
            Ok(key.to_vec())
        }
        Err(e) => Err(file_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_master_key_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServerSecrets::load(None, dir.path()).unwrap();
        let second = ServerSecrets::load(None, dir.path()).unwrap();
        assert_eq!(first.key_encryption_key, second.key_encryption_key);
        assert_eq!(first.token_hasher.hash("x"), second.token_hasher.hash("x"));
        assert_ne!(
            first.key_encryption_key.to_vec(),
            STANDARD
                .decode(std::fs::read_to_string(dir.path().join("master.key")).unwrap())
                .unwrap()
        );
    }

    #[test]
    fn a_short_master_key_is_refused() {
        let err = ServerSecrets::load(Some("c2hvcnQ="), Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(err, SecretsError::BadMasterKey));
    }
}
