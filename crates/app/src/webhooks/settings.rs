//! How webhooks are called (the `[webhooks]` settings), the key sealing their secrets, and
//! the rule on the URLs they may reach (it imports nothing of the `App`, which holds them).

use std::time::Duration;

use accrete_federation::is_restricted_host;
use accrete_oidc::keys::{KeyEncryptionKey, SealError};
use url::Url;

use crate::problems::Problem;

/// How webhooks are called: the `[webhooks]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// Whether endpoints may be on loopback, private or link-local addresses (tests,
    /// development, an internal network); checked when saved and on the resolved address when
    /// called.
    pub allow_private: bool,
    /// Whether plain `http://` URLs are accepted (otherwise `https://` only).
    pub allow_http: bool,
    /// The first wait before a retry; doubled at each attempt.
    pub first_retry: Duration,
    /// How often an idle worker looks for new events.
    pub poll_interval: Duration,
    /// How long an attempt may take.
    pub timeout: Duration,
    /// The most of an answer read.
    pub max_body: usize,
    /// Whether this node runs a delivery worker.
    pub deliver: bool,
    /// How many attempts a worker has in flight at most.
    pub concurrency: usize,
    /// How long a worker holds the deliveries it leased: a node that died leaves its leased
    /// deliveries to the others after this long (longer than an attempt may take).
    pub lease: time::Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private: false,
            allow_http: false,
            first_retry: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            max_body: 64 * 1024,
            deliver: true,
            concurrency: 64,
            lease: time::Duration::seconds(60),
        }
    }
}

/// The key sealing the endpoints' signing secrets at rest.
pub struct WebhookKeys {
    kek: KeyEncryptionKey,
}

/// What sealed secrets are bound to.
const AAD: &str = "webhook-secrets";

impl WebhookKeys {
    /// Secrets sealed with `key_encryption_key`.
    pub fn new(key_encryption_key: &[u8; 32]) -> Result<WebhookKeys, SealError> {
        Ok(WebhookKeys {
            kek: KeyEncryptionKey::from_bytes(key_encryption_key)?,
        })
    }

    /// Keys of this process only (tests that never restart).
    pub fn ephemeral() -> WebhookKeys {
        WebhookKeys::new(&KeyEncryptionKey::generate_bytes())
            .unwrap_or_else(|_| unreachable!("32 bytes make a key"))
    }

    /// Seals an endpoint's secrets (newest first).
    pub(crate) fn seal(&self, secrets: &[String]) -> Result<Vec<u8>, SealError> {
        let plain = serde_json::to_vec(secrets).map_err(|_| SealError::Seal)?;
        self.kek.seal(AAD, &plain)
    }

    /// Opens an endpoint's secrets (newest first).
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<String>, SealError> {
        let plain = self.kek.open(AAD, sealed)?;
        serde_json::from_slice(&plain).map_err(|_| SealError::Open)
    }
}

/// Whether `url` is reached over `https` (plain `http` when allowed), and not at a loopback,
/// private or link-local address named by itself (unless allowed); names are judged again on
/// their resolved addresses when called.
pub(crate) fn check_transport(url: &Url, settings: &WebhookSettings) -> Result<(), Problem> {
    match url.scheme() {
        "https" => {}
        "http" if settings.allow_http => {}
        "http" => {
            return Err(Problem::new(
                "url",
                "https_required",
                "the URL must start with https://",
            ));
        }
        _ => {
            return Err(Problem::new(
                "url",
                "invalid_url",
                "the URL must start with https://",
            ));
        }
    }
    let Some(host) = url.host() else {
        return Err(Problem::new("url", "invalid_url", "the URL has no host"));
    };
    if !settings.allow_private && is_restricted_host(&host) {
        return Err(Problem::new(
            "url",
            "private_address",
            "the URL points to this machine or a private network, which webhooks may not reach",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_sealed_and_opened_in_order() {
        let keys = WebhookKeys::ephemeral();
        let sealed = keys.seal(&["whsec_a".into(), "whsec_b".into()]).unwrap();
        assert_eq!(keys.open(&sealed).unwrap(), vec!["whsec_a", "whsec_b"]);
        assert!(WebhookKeys::ephemeral().open(&sealed).is_err());
    }
}
