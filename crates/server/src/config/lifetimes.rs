//! The `[lifetimes]` table: how long tokens, sessions and authorization transactions last,
//! written as human durations (`"15m"`, `"1h"`, `"30d"`), with bounds that keep them sensible.
//!
//! Access and ID tokens may last at most [`MAX_TOKEN_LIFETIME`]: it is how long a signing key
//! stays published after a rotation (`accrete keys rotate` writes the retired key's date into
//! the store), so a longer token could outlive the key that verifies it. The bound is refused,
//! not derived from the configuration: the rotation is a command of its own, possibly run with
//! another configuration than the nodes', and keys already retired keep their dates.

use std::fmt;

use accrete_app::settings::Lifetimes;
use accrete_core::HumanDuration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::keys::MAX_TOKEN_LIFETIME;

/// An idle limit: a duration, or `"off"` (only the absolute lifetime counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idle(pub Option<HumanDuration>);

impl fmt::Display for Idle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(duration) => duration.fmt(f),
            None => f.write_str("off"),
        }
    }
}

impl Serialize for Idle {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Idle {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.trim() {
            "off" | "" => Ok(Idle(None)),
            other => other
                .parse()
                .map(|duration| Idle(Some(duration)))
                .map_err(serde::de::Error::custom),
        }
    }
}

/// The `[lifetimes]` settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LifetimesSettings {
    pub access_token: HumanDuration,
    pub id_token: HumanDuration,
    /// Counted from the grant's first refresh token; rotation does not extend it.
    pub refresh_token: HumanDuration,
    /// A refresh token unused this long is refused.
    pub refresh_token_idle: Idle,
    /// Counted from the sign-in.
    pub sso_session: HumanDuration,
    /// A session unused this long asks to sign in again.
    pub sso_session_idle: Idle,
    /// The time a person has to sign in and answer prompts.
    pub transaction: HumanDuration,
}

fn human(duration: time::Duration) -> HumanDuration {
    HumanDuration(duration.unsigned_abs())
}

/// A bounded duration as `time` counts it (the bounds keep it far inside the range).
fn span(duration: HumanDuration) -> time::Duration {
    time::Duration::try_from(duration.as_std()).unwrap_or(time::Duration::MAX)
}

impl Default for LifetimesSettings {
    fn default() -> Self {
        let defaults = Lifetimes::default();
        LifetimesSettings {
            access_token: human(defaults.access_token),
            id_token: human(defaults.id_token),
            refresh_token: human(defaults.refresh_token),
            refresh_token_idle: Idle(defaults.refresh_token_idle.map(human)),
            sso_session: human(defaults.sso_session),
            sso_session_idle: Idle(defaults.sso_session_idle.map(human)),
            transaction: human(defaults.transaction),
        }
    }
}

impl LifetimesSettings {
    /// The lifetimes as the use-cases take them.
    pub fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            access_token: span(self.access_token),
            id_token: span(self.id_token),
            refresh_token: span(self.refresh_token),
            refresh_token_idle: self.refresh_token_idle.0.map(span),
            sso_session: span(self.sso_session),
            sso_session_idle: self.sso_session_idle.0.map(span),
            transaction: span(self.transaction),
        }
    }

    /// Every value out of its bounds, each naming its key.
    pub(super) fn problems(&self) -> Vec<String> {
        let minute = HumanDuration(std::time::Duration::from_secs(60));
        let hours = |n: u64| HumanDuration(std::time::Duration::from_secs(n * 3600));
        let key_bound = human(MAX_TOKEN_LIFETIME);
        let token_max = key_bound.min(hours(24));
        let year = HumanDuration::days(365);
        let mut problems = Vec::new();
        let mut within = |key: &str, value: HumanDuration, max: HumanDuration, why: &str| {
            if value < minute || value > max {
                problems.push(format!(
                    "lifetimes.{key} must be between {minute} and {max}{why} (it is {value})"
                ));
            }
        };
        let outlives_key = format!(
            ": a signing key stays published {key_bound} after a rotation, and a token must not \
             outlive the key that verifies it"
        );
        within("access_token", self.access_token, token_max, &outlives_key);
        within("id_token", self.id_token, token_max, &outlives_key);
        within("refresh_token", self.refresh_token, year, "");
        within("sso_session", self.sso_session, year, "");
        within("transaction", self.transaction, hours(24), "");
        for (key, idle, absolute_key, absolute) in [
            (
                "refresh_token_idle",
                self.refresh_token_idle,
                "refresh_token",
                self.refresh_token,
            ),
            (
                "sso_session_idle",
                self.sso_session_idle,
                "sso_session",
                self.sso_session,
            ),
        ] {
            let Some(idle) = idle.0 else {
                continue;
            };
            if idle < minute {
                problems.push(format!(
                    "lifetimes.{key} must be at least {minute}, or \"off\" (it is {idle})"
                ));
            } else if idle >= absolute {
                problems.push(format!(
                    "lifetimes.{key} ({idle}) must be shorter than lifetimes.{absolute_key} \
                     ({absolute}); set it to \"off\" for no idle limit"
                ));
            }
        }
        problems
    }
}

/// The `[lifetimes]` table of a layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimesLayer {
    pub access_token: Option<HumanDuration>,
    pub id_token: Option<HumanDuration>,
    pub refresh_token: Option<HumanDuration>,
    pub refresh_token_idle: Option<Idle>,
    pub sso_session: Option<HumanDuration>,
    pub sso_session_idle: Option<Idle>,
    pub transaction: Option<HumanDuration>,
}

impl LifetimesLayer {
    /// Returns `self` with unset keys taken from `lower`.
    pub(super) fn over(self, lower: LifetimesLayer) -> LifetimesLayer {
        LifetimesLayer {
            access_token: self.access_token.or(lower.access_token),
            id_token: self.id_token.or(lower.id_token),
            refresh_token: self.refresh_token.or(lower.refresh_token),
            refresh_token_idle: self.refresh_token_idle.or(lower.refresh_token_idle),
            sso_session: self.sso_session.or(lower.sso_session),
            sso_session_idle: self.sso_session_idle.or(lower.sso_session_idle),
            transaction: self.transaction.or(lower.transaction),
        }
    }

    /// The resolved settings, defaults where unset.
    pub(super) fn settings(self) -> LifetimesSettings {
        let d = LifetimesSettings::default();
        LifetimesSettings {
            access_token: self.access_token.unwrap_or(d.access_token),
            id_token: self.id_token.unwrap_or(d.id_token),
            refresh_token: self.refresh_token.unwrap_or(d.refresh_token),
            refresh_token_idle: self.refresh_token_idle.unwrap_or(d.refresh_token_idle),
            sso_session: self.sso_session.unwrap_or(d.sso_session),
            sso_session_idle: self.sso_session_idle.unwrap_or(d.sso_session_idle),
            transaction: self.transaction.unwrap_or(d.transaction),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use accrete_app::settings::{EmailVerification, Settings};

    use crate::config::{Config, ConfigError, Layer};

    fn resolve(file: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let file = Layer::from_toml(Path::new("accrete.toml"), file)?;
        let env = Layer::from_env(
            env.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>(),
        )?;
        Config::resolve(Layer::default(), env, file)
    }

    fn refused(file: &str) -> String {
        resolve(file, &[]).unwrap_err().to_string()
    }

    #[test]
    fn without_accounts_or_lifetimes_the_settings_are_todays() {
        let config = resolve("", &[]).unwrap();
        assert_eq!(config.settings(), Settings::default());
        let shown = config.to_masked_toml();
        assert!(
            shown.contains("[accounts]\nself_signup = true\nemail_verification = \"optional\""),
            "{shown}"
        );
        assert!(shown.contains("access_token = \"15m\""), "{shown}");
        assert!(shown.contains("refresh_token_idle = \"off\""), "{shown}");
        assert!(shown.contains("sso_session = \"14d\""), "{shown}");
    }

    #[test]
    fn accounts_and_lifetimes_are_read_from_the_file_and_the_environment_key_by_key() {
        let config = resolve(
            "[accounts]\nself_signup = false\nemail_verification = \"required\"\n\
             [lifetimes]\naccess_token = \"5m\"\nid_token = \"30m\"\nrefresh_token = \"14d\"\n\
             refresh_token_idle = \"2d\"\nsso_session = \"7d\"\nsso_session_idle = \"8h\"\n\
             transaction = \"1h\"\n",
            &[
                ("ACCRETE_ACCOUNTS__EMAIL_VERIFICATION", "off"),
                ("ACCRETE_LIFETIMES__ACCESS_TOKEN", "10m"),
            ],
        )
        .unwrap();
        let settings = config.settings();
        assert!(!settings.self_signup, "from the file");
        assert_eq!(
            settings.email_verification,
            EmailVerification::Off,
            "the environment wins"
        );
        let l = settings.lifetimes;
        assert_eq!(l.access_token, time::Duration::minutes(10));
        assert_eq!(l.id_token, time::Duration::minutes(30));
        assert_eq!(l.refresh_token, time::Duration::days(14));
        assert_eq!(l.refresh_token_idle, Some(time::Duration::days(2)));
        assert_eq!(l.sso_session, time::Duration::days(7));
        assert_eq!(l.sso_session_idle, Some(time::Duration::hours(8)));
        assert_eq!(l.transaction, time::Duration::hours(1));
        // What `config show` writes reads back as the same settings.
        let shown = config.to_masked_toml();
        let again = Layer::from_toml(Path::new("shown.toml"), &shown).unwrap();
        let again = Config::resolve(Layer::default(), Layer::default(), again).unwrap();
        assert_eq!(again.settings(), settings);
    }

    #[test]
    fn an_idle_limit_set_in_the_file_is_turned_off_with_off() {
        let config = resolve(
            "[lifetimes]\nsso_session_idle = \"1h\"\n",
            &[("ACCRETE_LIFETIMES__SSO_SESSION_IDLE", "off")],
        )
        .unwrap();
        assert_eq!(config.settings().lifetimes.sso_session_idle, None);
    }

    #[test]
    fn out_of_bounds_lifetimes_are_refused_naming_their_key() {
        let message = refused("[lifetimes]\naccess_token = \"30s\"\n");
        assert!(
            message.contains("lifetimes.access_token must be between 1m and 1h"),
            "{message}"
        );
        let message = refused("[lifetimes]\nid_token = \"2h\"\n");
        assert!(
            message.contains("lifetimes.id_token must be between 1m and 1h"),
            "{message}"
        );
        assert!(
            message.contains("signing key stays published 1h after a rotation"),
            "{message}"
        );
        let message = refused("[lifetimes]\nrefresh_token = \"400d\"\n");
        assert!(
            message.contains("lifetimes.refresh_token must be between 1m and 365d"),
            "{message}"
        );
        let message = refused("[lifetimes]\ntransaction = \"2d\"\n");
        assert!(
            message.contains("lifetimes.transaction must be between 1m and 1d"),
            "{message}"
        );
        let message = refused("[lifetimes]\nsso_session = \"0s\"\n");
        assert!(
            message.contains("lifetimes.sso_session must be between"),
            "{message}"
        );
    }

    #[test]
    fn an_idle_limit_must_be_shorter_than_its_absolute_lifetime() {
        let message = refused("[lifetimes]\nrefresh_token = \"7d\"\nrefresh_token_idle = \"7d\"\n");
        assert!(
            message.contains(
                "lifetimes.refresh_token_idle (7d) must be shorter than lifetimes.refresh_token (7d)"
            ),
            "{message}"
        );
        let message = refused("[lifetimes]\nsso_session_idle = \"30d\"\n");
        assert!(
            message.contains(
                "lifetimes.sso_session_idle (30d) must be shorter than lifetimes.sso_session (14d)"
            ),
            "{message}"
        );
        let message = refused("[lifetimes]\nsso_session_idle = \"10s\"\n");
        assert!(
            message.contains("lifetimes.sso_session_idle must be at least 1m"),
            "{message}"
        );
    }

    #[test]
    fn unreadable_values_are_refused_with_their_line_or_variable() {
        let message = refused("[lifetimes]\naccess_token = \"soon\"\n");
        assert!(message.starts_with("accrete.toml: line 2:"), "{message}");
        assert!(message.contains("invalid duration \"soon\""), "{message}");
        let message = refused("[accounts]\nemail_verification = \"maybe\"\n");
        assert!(message.contains("line 2"), "{message}");
        assert!(
            message.contains("off") && message.contains("required"),
            "{message}"
        );
        let message = resolve("", &[("ACCRETE_ACCOUNTS__SELF_SIGNUP", "perhaps")])
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("environment variable ACCRETE_ACCOUNTS__SELF_SIGNUP"),
            "{message}"
        );
        let message = refused("[lifetimes]\naccess_tokn = \"5m\"\n");
        assert!(message.contains("access_tokn"), "{message}");
    }
}
