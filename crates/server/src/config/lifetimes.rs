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
