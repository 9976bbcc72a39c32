//! The `[sms]` settings: the relay text messages are posted to, the secret that signs them, and
//! how long a delivery may take.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// How text messages are sent. Without `url` they are appended to `outbox_dir/sms.jsonl`
/// (development needs no SMS provider).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSettings {
    /// The relay's URL (`https://`, or `http://` for a relay on the same machine or network):
    /// each message is POSTed there as signed JSON. `None` (or empty): the outbox.
    pub url: Option<String>,
    /// The signing secret, `whsec_<base64>` (Standard Webhooks); required with `url`.
    pub secret: Option<String>,
    /// The longest one delivery attempt may take (connecting, sending, the answer). A number
    /// of seconds or a duration such as `"10s"`.
    #[serde(deserialize_with = "deserialize_duration")]
    pub timeout: Duration,
    /// Where messages are written when there is no `url`: a server sets `<data>/outbox`
    /// ([`SmsSettings::outbox_in`]). Not a key of `[sms]`.
    #[serde(skip)]
    pub outbox_dir: PathBuf,
}

impl Default for SmsSettings {
    fn default() -> Self {
        SmsSettings {
            url: None,
            secret: None,
            timeout: Duration::from_secs(10),
            outbox_dir: PathBuf::from("outbox"),
        }
    }
}

impl SmsSettings {
    /// These settings with the outbox in the data folder: `<data_dir>/outbox`.
    #[must_use]
    pub fn outbox_in(mut self, data_dir: &Path) -> Self {
        self.outbox_dir = data_dir.join("outbox");
        self
    }

    /// `url` unless empty or blank (as from an empty environment variable).
    pub fn relay_url(&self) -> Option<&str> {
        self.url
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
    }

    /// The secret as it may be shown (`config show`): `********` when set.
    pub fn secret_masked(&self) -> Option<&'static str> {
        self.secret
            .as_deref()
            .filter(|secret| !secret.trim().is_empty())
            .map(|_| "********")
    }
}

impl fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsSettings")
            .field("url", &self.url)
            .field("secret", &self.secret_masked())
            .field("timeout", &self.timeout)
            .field("outbox_dir", &self.outbox_dir)
            .finish()
    }
}

/// A duration as a number of seconds (`10`) or in words (`"10s"`, `"1m 30s"`).
fn deserialize_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Seconds(u64),
        Words(String),
    }
    match Written::deserialize(deserializer)? {
        Written::Seconds(seconds) => Ok(Duration::from_secs(seconds)),
        Written::Words(words) => humantime::parse_duration(&words).map_err(|error| {
            serde::de::Error::custom(format!("{words:?} is not a duration ({error})"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::SmsSettings;

    #[test]
    fn settings_read_from_toml_take_defaults_and_never_show_the_secret() {
        let settings: SmsSettings = toml::from_str(
            "url = \"https://relay.example.com/sms\"\nsecret = \"whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0\"\ntimeout = \"5s\"\n",
        )
        .unwrap();
        assert_eq!(settings.relay_url(), Some("https://relay.example.com/sms"));
        assert_eq!(settings.timeout, Duration::from_secs(5));
        let shown = format!("{settings:?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(shown.contains("********"), "{shown}");
        let settings: SmsSettings = toml::from_str("url = \" \"").unwrap();
        assert_eq!(settings.relay_url(), None);
        assert_eq!(settings.timeout, Duration::from_secs(10));
        assert!(toml::from_str::<SmsSettings>("provider = \"x\"").is_err());
        assert!(toml::from_str::<SmsSettings>("outbox_dir = \"/tmp\"").is_err());
        assert!(toml::from_str::<SmsSettings>("timeout = \"soon\"").is_err());
    }
}
