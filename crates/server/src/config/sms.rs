//! The `[sms]` table: where text messages with a code go (a relay that any SMS provider can sit
//! behind, see docs/phone.md), the secret that signs them, and how long a delivery may take.
//! Without `url`, messages are appended to `<data_dir>/outbox/sms.jsonl` and their code logged.

use accrete_core::HumanDuration;
use accrete_sms::{SmsSender, SmsSettings};
use serde::{Deserialize, Serialize};

/// The `[sms]` settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmsConfig {
    /// The relay's `https://` (or `http://`) URL; `None`: the outbox file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `whsec_<base64>`, required with `url`; shown as `********`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The longest one delivery attempt may take.
    pub timeout: HumanDuration,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            url: None,
            secret: None,
            timeout: "10s"
                .parse()
                .unwrap_or_else(|_| unreachable!("10s is a duration")),
        }
    }
}

/// The `[sms]` table of a layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsLayer {
    pub url: Option<String>,
    pub secret: Option<String>,
    pub timeout: Option<HumanDuration>,
}

impl SmsLayer {
    /// Returns `self` with unset keys taken from `lower`.
    pub(super) fn over(self, lower: SmsLayer) -> SmsLayer {
        SmsLayer {
            url: self.url.or(lower.url),
            secret: self.secret.or(lower.secret),
            timeout: self.timeout.or(lower.timeout),
        }
    }

    /// The resolved settings, defaults where unset (an empty value is unset).
    pub(super) fn settings(self) -> SmsConfig {
        let set = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        SmsConfig {
            url: set(self.url),
            secret: set(self.secret),
            timeout: self.timeout.unwrap_or(SmsConfig::default().timeout),
        }
    }
}

impl SmsConfig {
    /// The sender's settings, with the outbox in `data_dir`.
    pub fn sender_settings(&self, data_dir: &std::path::Path) -> SmsSettings {
        SmsSettings {
            url: self.url.clone(),
            secret: self.secret.clone(),
            timeout: self.timeout.as_std(),
            ..SmsSettings::default()
        }
        .outbox_in(data_dir)
    }

    /// What is wrong, each as `sms.<key>: message` (the secret never repeated): checked by
    /// building a sender without using it.
    pub(super) fn problems(&self) -> Option<String> {
        let settings = SmsSettings {
            // The outbox folder is made at start, not when the configuration is read.
            url: self.url.clone(),
            secret: self.secret.clone(),
            timeout: self.timeout.as_std(),
            ..SmsSettings::default()
        };
        if settings.relay_url().is_none() {
            return (self.timeout.as_std().is_zero())
                .then(|| "sms.timeout: must be more than zero".to_owned());
        }
        SmsSender::new(&settings, "Accrete")
            .err()
            .map(|error| error.to_string())
    }

    /// These settings as `config show` prints them: the secret masked.
    pub(super) fn masked(&self) -> SmsConfig {
        SmsConfig {
            secret: self.secret.as_ref().map(|_| "********".to_owned()),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{SmsConfig, SmsLayer};

    #[test]
    fn a_relay_needs_a_whsec_secret_and_the_secret_is_never_shown() {
        let layer = |url: &str, secret: Option<&str>| SmsLayer {
            url: Some(url.to_owned()),
            secret: secret.map(str::to_owned),
            timeout: None,
        };
        let missing = layer("https://relay.example.com/sms", None).settings();
        assert!(
            missing
                .problems()
                .unwrap()
                .starts_with("sms.secret: is required")
        );
        let plain = layer(
            "https://relay.example.com/sms",
            Some("hunter2-hunter2-hunter2"),
        );
        let problem = plain.settings().problems().unwrap();
        assert!(
            problem.starts_with("sms.secret:") && !problem.contains("hunter2"),
            "{problem}"
        );
        let good = layer(
            "https://relay.example.com/sms",
            Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        )
        .settings();
        assert_eq!(good.problems(), None);
        let shown = toml::to_string(&good.masked()).unwrap();
        assert!(shown.contains("secret = \"********\""), "{shown}");
        assert!(!shown.contains("MfKQ9r8"), "{shown}");
        assert_eq!(SmsLayer::default().settings(), SmsConfig::default());
        assert_eq!(layer(" ", None).settings().problems(), None);
    }
}
