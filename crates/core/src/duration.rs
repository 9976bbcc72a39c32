//! Durations written the way people write them in a policy ("180d", "12h", "2weeks").

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// A duration that reads and writes as a human string (`humantime` syntax).
///
/// Whole days are written as `"<n>d"`, whole hours as `"<n>h"` and so on, so that a document
/// written back reads like the one that was parsed, and parsing what was written gives the same
/// value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The longest duration a policy may hold: 100 years (`"100y"`, written `"36525d"`).
    /// Anything longer cannot be added to a date the engine can represent, so it would read as
    /// "already over" instead of "never".
    pub const MAX: HumanDuration = HumanDuration(Duration::from_secs(36_525 * DAY));

    /// A duration of whole days.
    pub fn days(days: u64) -> Self {
        Self(Duration::from_secs(days.saturating_mul(DAY)))
    }

    /// The problem with a duration longer than [`HumanDuration::MAX`], if it is.
    pub(crate) fn too_long(self) -> Option<String> {
        (self > Self::MAX).then(|| {
            format!(
                "must be at most 100y ({}): a longer duration never ends",
                Self::MAX
            )
        })
    }

    /// The duration as `std::time::Duration`.
    pub fn as_std(self) -> Duration {
        self.0
    }

    /// `start + self`, or `None` when the result is out of the representable range.
    pub fn after(self, start: OffsetDateTime) -> Option<OffsetDateTime> {
        let span = time::Duration::try_from(self.0).ok()?;
        start.checked_add(span)
    }
}

/// A duration string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (examples: \"180d\", \"12h\", \"30m\")")]
pub struct DurationError {
    input: String,
    reason: String,
}

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(input.trim())
            .map(Self)
            .map_err(|error| DurationError {
                input: input.chars().take(64).collect(),
                reason: error.to_string(),
            })
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        if self.0.subsec_nanos() != 0 {
            return write!(f, "{}", humantime::format_duration(self.0));
        }
        match secs {
            0 => f.write_str("0s"),
            s if s % DAY == 0 => write!(f, "{}d", s / DAY),
            s if s % HOUR == 0 => write!(f, "{}h", s / HOUR),
            s if s % MINUTE == 0 => write!(f, "{}m", s / MINUTE),
            s => write!(f, "{s}s"),
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_days_are_written_in_days_and_read_back_identically() {
        let d: HumanDuration = "180d".parse().unwrap();
        assert_eq!(d.to_string(), "180d");
        assert_eq!(d.to_string().parse::<HumanDuration>().unwrap(), d);
    }

    #[test]
    fn mixed_units_round_trip() {
        for text in ["2weeks", "1h 30m", "90s", "1s 500ms", "0s", "36h"] {
            let d: HumanDuration = text.parse().unwrap();
            assert_eq!(d.to_string().parse::<HumanDuration>().unwrap(), d, "{text}");
        }
    }

    #[test]
    fn nonsense_is_an_error_not_a_panic() {
        assert!("soon".parse::<HumanDuration>().is_err());
        assert!("".parse::<HumanDuration>().is_err());
    }
}
