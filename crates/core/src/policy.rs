//! The policy document: fields, steps and global settings, as TOML or JSON. Validating it
//! ([`Policy::compile`]) lives in `compile.rs`.

use serde::{Deserialize, Serialize};

use crate::field::Field;
use crate::step::Step;

/// The only document version this engine reads.
pub const POLICY_VERSION: u32 = 1;

/// Largest policy document accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// A progressive profiling policy: which fields exist and when each is asked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Document version; must be 1.
    pub version: u32,
    /// Global settings.
    #[serde(default)]
    pub settings: Settings,
    /// Field definitions.
    #[serde(default)]
    pub fields: Vec<Field>,
    /// Steps, each asking some fields when its trigger matches.
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// Global settings of a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The locale every label must exist in, and the fallback for other locales.
    #[serde(default = "default_locale")]
    pub default_locale: String,
    /// At most this many optional steps are asked per sign-in (default 1).
    #[serde(default = "one")]
    pub max_optional_steps_per_signin: u32,
    /// Region (ISO 3166-1 alpha-2) assumed for phone numbers written without `+country`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_default_region: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_locale: default_locale(),
            max_optional_steps_per_signin: 1,
            phone_default_region: None,
        }
    }
}

fn default_locale() -> String {
    "en".to_owned()
}

fn one() -> u32 {
    1
}

/// A policy document that could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is larger than [`MAX_POLICY_BYTES`].
    #[error("policy document is larger than {MAX_POLICY_BYTES} bytes")]
    TooLarge,
    /// Not a valid TOML policy.
    #[error("invalid TOML policy: {0}")]
    Toml(String),
    /// Not a valid JSON policy.
    #[error("invalid JSON policy: {0}")]
    Json(String),
    /// The policy could not be written.
    #[error("policy could not be written: {0}")]
    Write(String),
}

impl Policy {
    /// An empty version-1 policy with default settings.
    pub fn new() -> Self {
        Self {
            version: POLICY_VERSION,
            settings: Settings::default(),
            fields: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// Reads a TOML document (structure only: call [`Policy::compile`] to validate it).
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge);
        }
        toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))
    }

    /// Writes the policy as TOML.
    pub fn to_toml_string(&self) -> Result<String, PolicyError> {
        toml::to_string(self).map_err(|e| PolicyError::Write(e.to_string()))
    }

    /// Reads a JSON document (structure only: call [`Policy::compile`] to validate it).
    pub fn from_json_str(text: &str) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge);
        }
        serde_json::from_str(text).map_err(|e| PolicyError::Json(e.to_string()))
    }

    /// Writes the policy as pretty-printed JSON.
    pub fn to_json_string(&self) -> Result<String, PolicyError> {
        serde_json::to_string_pretty(self).map_err(|e| PolicyError::Write(e.to_string()))
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}
