//! The password credential of a Keycloak user, from either generation of Keycloak's
//! credentials, as the hash Accrete stores; and notes for the credentials left out.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::hashes::{decode_base64, is_bcrypt, leave_out_password};
use crate::import::ImportRecord;
use accrete_oidc::password::{Argon2Variant, Pbkdf2Digest, argon2_phc, pbkdf2_phc};

/// A credential of a user, of either generation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Credential {
    #[serde(rename = "type")]
    kind: Option<String>,
    priority: Option<i64>,
    /// Recent versions: JSON documents inside strings.
    secret_data: Option<String>,
    credential_data: Option<String>,
    /// Older versions: the hash on the credential itself.
    hashed_salted_value: Option<String>,
    salt: Option<String>,
    hash_iterations: Option<i64>,
    algorithm: Option<String>,
    /// A plain-text password, in files written by hand for Keycloak's import.
    value: Option<String>,
}

#[derive(Deserialize)]
struct SecretData {
    value: Option<String>,
    salt: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CredentialData {
    hash_iterations: Option<i64>,
    algorithm: Option<String>,
    additional_parameters: Option<Map<String, Value>>,
}

/// The password credential Keycloak checks (the lowest priority, then the first), as a hash
/// Accrete stores; the other credentials are noted.
pub(super) fn credentials(record: &mut ImportRecord, credentials: &[Credential]) {
    let mut passwords = 0;
    let mut chosen: Option<&Credential> = None;
    for credential in credentials {
        match credential.kind.as_deref() {
            Some("password") => {
                passwords += 1;
                let rank = |c: &Credential| c.priority.unwrap_or(i64::MAX);
                // Keycloak sorts by priority, stably: the first of equals wins.
                if chosen.is_none_or(|best| rank(credential) < rank(best)) {
                    chosen = Some(credential);
                }
            }
            Some(kind) => record.notes.push(format!(
                "the `{kind}` credential is not imported: the user enrolls it again"
            )),
            None => record
                .notes
                .push("a credential without a type is not imported".to_owned()),
        }
    }
    let Some(chosen) = chosen else {
        return;
    };
    if passwords > 1 {
        record.notes.push(format!(
            "{passwords} password credentials: the one Keycloak checks first is kept"
        ));
    }
    match password(chosen) {
        Ok(hash) => record.password_hash = Some(hash),
        Err(why) => leave_out_password(record, why),
    }
}

/// A password credential's hash, salt, algorithm and parameters, from either generation of
/// Keycloak's credentials.
struct Stored {
    algorithm: String,
    /// Base64, or a bcrypt string for `bcrypt`.
    value: String,
    salt: Option<String>,
    iterations: Option<i64>,
    /// `additionalParameters`: each a list of strings.
    parameters: Map<String, Value>,
}

impl Stored {
    fn read(credential: &Credential) -> Result<Stored, String> {
        if let Some(secret) = &credential.secret_data {
            let secret: SecretData = serde_json::from_str(secret)
                .map_err(|e| format!("the credential's secretData cannot be read ({e})"))?;
            let data: CredentialData = match &credential.credential_data {
                Some(data) => serde_json::from_str(data)
                    .map_err(|e| format!("the credential's credentialData cannot be read ({e})"))?,
                None => CredentialData::default(),
            };
            return Ok(Stored {
                algorithm: data.algorithm.unwrap_or_default(),
                value: secret
                    .value
                    .ok_or("the credential's secretData has no value")?,
                salt: secret.salt,
                iterations: data.hash_iterations,
                parameters: data.additional_parameters.unwrap_or_default(),
            });
        }
        if let Some(value) = &credential.hashed_salted_value {
            return Ok(Stored {
                algorithm: credential.algorithm.clone().unwrap_or_default(),
                value: value.clone(),
                salt: credential.salt.clone(),
                iterations: credential.hash_iterations,
                parameters: Map::new(),
            });
        }
        if credential.value.is_some() {
            return Err("the password is given in plain text, which is never imported".to_owned());
        }
        Err("the password credential holds no hash".to_owned())
    }

    fn salt_and_hash(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let salt = self
            .salt
            .as_deref()
            .and_then(decode_base64)
            .ok_or("the password's salt is missing or not base64")?;
        let hash = decode_base64(&self.value).ok_or("the password hash is not base64")?;
        Ok((salt, hash))
    }

    fn iterations(&self) -> Option<u32> {
        self.iterations
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
    }

    fn parameter(&self, key: &str) -> Option<&str> {
        match self.parameters.get(key) {
            Some(Value::Array(values)) => values.first().and_then(Value::as_str),
            Some(Value::String(value)) => Some(value),
            _ => None,
        }
    }

    fn number(&self, key: &str) -> Result<u32, String> {
        let text = self
            .parameter(key)
            .ok_or_else(|| format!("the argon2 credential has no `{key}`"))?;
        text.parse()
            .map_err(|_| format!("the argon2 `{key}` `{text}` is not a number"))
    }
}

fn password(credential: &Credential) -> Result<String, String> {
    let stored = Stored::read(credential)?;
    let digest = match stored.algorithm.as_str() {
        // The community bcrypt provider keeps the bcrypt string itself.
        "bcrypt" if is_bcrypt(&stored.value) => return Ok(stored.value),
        "bcrypt" => return Err("the bcrypt hash is malformed".to_owned()),
        "argon2" => return argon2(&stored),
        "pbkdf2" => Pbkdf2Digest::Sha1,
        "pbkdf2-sha256" => Pbkdf2Digest::Sha256,
        "pbkdf2-sha512" => Pbkdf2Digest::Sha512,
        "" => return Err("the password credential names no algorithm".to_owned()),
        other => return Err(format!("the password algorithm `{other}` is not supported")),
    };
    let (salt, hash) = stored.salt_and_hash()?;
    let iterations = stored
        .iterations()
        .ok_or("the pbkdf2 credential has no hashIterations")?;
    // Keycloak pads passwords shorter than 14 characters with NULs before PBKDF2; HMAC pads its
    // key with zeros anyway, so the hash is the one of the password itself.
    Ok(pbkdf2_phc(digest, iterations, &salt, &hash))
}

/// Keycloak's Argon2 (Bouncy Castle's): variant, version, memory and lanes in
/// `additionalParameters`, passes in `hashIterations`; the key length is the hash's.
fn argon2(stored: &Stored) -> Result<String, String> {
    let variant = match stored.parameter("type") {
        Some("id") => Argon2Variant::Argon2id,
        Some("i") => Argon2Variant::Argon2i,
        Some("d") => Argon2Variant::Argon2d,
        other => {
            return Err(format!(
                "the argon2 type `{}` is unknown",
                other.unwrap_or_default()
            ));
        }
    };
    let version = match stored.parameter("version") {
        Some("1.3") => 0x13,
        Some("1.0") => 0x10,
        other => {
            return Err(format!(
                "the argon2 version `{}` is unknown",
                other.unwrap_or_default()
            ));
        }
    };
    // Keycloak reads the passes from `hashIterations`; `iterations` only as a fallback.
    let iterations = match stored.iterations() {
        Some(n) => n,
        None => stored.number("iterations")?,
    };
    let (salt, hash) = stored.salt_and_hash()?;
    argon2_phc(
        variant,
        version,
        stored.number("memory")?,
        iterations,
        stored.number("parallelism")?,
        &salt,
        &hash,
    )
    .map_err(|e| format!("the argon2 hash is refused ({e})"))
}
