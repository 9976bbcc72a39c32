//! The `[email]` settings: where mails go, who they are from, and how long a delivery may take.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::AsyncSmtpTransport;
use lettre::Tokio1Executor;
use serde::{Deserialize, Deserializer};

use crate::error::MailError;

/// How mails are sent. Without `smtp_url` they are written to `outbox_dir` (development needs
/// no mail server).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// The SMTP server, in lettre's URL form: `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (TLS from the first byte), `smtp://host:25`
    /// (no TLS: tests and local relays, never with a password). A path names the host this
    /// server says it is (`EHLO`), as in `smtp://host:25/mail.example.com`. `None` (or empty):
    /// mails go to `outbox_dir`.
    pub smtp_url: Option<String>,
    /// The sender's address (`From`, and the envelope's sender).
    pub from_address: String,
    /// The sender's name shown beside the address; the product's name when a letter's brand
    /// has none.
    pub from_name: String,
    /// Where mails are written when there is no `smtp_url`: a server sets `<data>/outbox`
    /// ([`MailSettings::outbox_in`]). Created when missing. Not a key of `[email]`.
    #[serde(skip)]
    pub outbox_dir: PathBuf,
    /// The longest one delivery attempt may take (connecting, TLS, every command). A number
    /// of seconds or a duration such as `"10s"`.
    #[serde(deserialize_with = "deserialize_duration")]
    pub timeout: Duration,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            smtp_url: None,
            from_address: "accrete@localhost".to_owned(),
            from_name: "Accrete".to_owned(),
            outbox_dir: PathBuf::from("outbox"),
            timeout: Duration::from_secs(10),
        }
    }
}

impl MailSettings {
    /// These settings with the outbox in the data folder: `<data_dir>/outbox`.
    #[must_use]
    pub fn outbox_in(mut self, data_dir: &Path) -> Self {
        self.outbox_dir = data_dir.join("outbox");
        self
    }

    /// The SMTP URL as it may be shown (`config show`, logs): the password replaced by
    /// `********`. `None` when there is no SMTP server.
    pub fn smtp_url_masked(&self) -> Option<String> {
        self.smtp_url().map(mask_url)
    }

    /// `smtp_url` unless empty or blank (as from an empty environment variable).
    pub(crate) fn smtp_url(&self) -> Option<&str> {
        self.smtp_url
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
    }
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_url", &self.smtp_url_masked())
            .field("from_address", &self.from_address)
            .field("from_name", &self.from_name)
            .field("outbox_dir", &self.outbox_dir)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `url` with the password of its user part replaced by `********`; the rest as written.
pub(crate) fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    match authority[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:********{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// Checks `url` and builds the transport for it. Messages name `email.smtp_url` and never
/// repeat the URL (it may hold a password).
pub(crate) fn smtp_transport(
    url: &str,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let invalid = |message: String| MailError::Settings {
        setting: "email.smtp_url",
        message,
    };
    let parsed = url::Url::parse(url).map_err(|error| {
        invalid(format!(
            "not a URL ({error}); write smtp://host:port or smtps://host:port"
        ))
    })?;
    let tls = parsed
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    let encrypted = match (parsed.scheme(), tls.as_deref()) {
        ("smtps", None) | ("smtp", Some("required")) => true,
        ("smtp", None | Some("opportunistic")) => false,
        ("smtps", Some(_)) => {
            return Err(invalid(
                "smtps:// is TLS from the first byte: drop the `tls` parameter".to_owned(),
            ));
        }
        ("smtp", Some(other)) => {
            return Err(invalid(format!(
                "tls={other} is not known: write tls=required (STARTTLS) or tls=opportunistic"
            )));
        }
        (other, _) => {
            return Err(invalid(format!(
                "the scheme must be smtp or smtps, not {other}"
            )));
        }
    };
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("names no host".to_owned()));
    }
    if !encrypted && (!parsed.username().is_empty() || parsed.password().is_some()) {
        return Err(invalid(
            "a user name and password are only sent over TLS: use smtps:// or ?tls=required"
                .to_owned(),
        ));
    }
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|error| invalid(error.to_string()))?;
    Ok(builder.timeout(Some(timeout)).build())
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

    use super::{MailSettings, mask_url};

    #[test]
    fn debug_of_the_settings_never_shows_the_smtp_password() {
        let settings = MailSettings {
            smtp_url: Some("smtps://mailer:hunter2-secret@smtp.example.com:465".to_owned()),
            ..MailSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(
            shown.contains("smtps://mailer:********@smtp.example.com:465"),
            "{shown}"
        );
        let pretty = format!("{settings:#?}");
        assert!(!pretty.contains("hunter2-secret"), "{pretty}");
    }

    #[test]
    fn a_urls_password_is_masked_and_nothing_else() {
        for (url, shown) in [
            (
                "smtp://u:p@host:587?tls=required",
                "smtp://u:********@host:587?tls=required",
            ),
            ("smtps://u:p@ss@host", "smtps://u:********@host"),
            ("smtp://u@host:25", "smtp://u@host:25"),
            ("smtp://host:25?x=a@b", "smtp://host:25?x=a@b"),
            ("smtp://host:25?x=a:b@c", "smtp://host:25?x=a:b@c"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(mask_url(url), shown, "{url}");
        }
    }

    #[test]
    fn settings_read_from_toml_take_defaults_and_durations_in_words_or_seconds() {
        let settings: MailSettings =
            toml::from_str("smtp_url = \"smtp://relay:25\"\ntimeout = \"30s\"\n").unwrap();
        assert_eq!(settings.smtp_url.as_deref(), Some("smtp://relay:25"));
        assert_eq!(settings.from_address, "accrete@localhost");
        assert_eq!(settings.from_name, "Accrete");
        assert_eq!(settings.timeout, Duration::from_secs(30));
        let settings: MailSettings = toml::from_str("timeout = 5").unwrap();
        assert_eq!(settings.timeout, Duration::from_secs(5));
        assert_eq!(settings.smtp_url, None);
        assert!(toml::from_str::<MailSettings>("timeout = \"soon\"").is_err());
        assert_eq!(settings.outbox_dir, std::path::PathBuf::from("outbox"));
        assert!(toml::from_str::<MailSettings>("smtp = \"x\"").is_err());
        assert!(toml::from_str::<MailSettings>("outbox_dir = \"/tmp\"").is_err());
    }

    #[test]
    fn an_empty_smtp_url_means_no_smtp_server() {
        let settings = MailSettings {
            smtp_url: Some("  ".to_owned()),
            ..MailSettings::default()
        };
        assert_eq!(settings.smtp_url(), None);
        assert_eq!(settings.smtp_url_masked(), None);
    }
}
