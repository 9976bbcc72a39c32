//! The `[retention]` settings: how long the history of values and the events are kept
//! (docs/data-rights.md).

use accrete_app::settings::Retention;
use serde::{Deserialize, Serialize};

/// The most days a retention may be (a hundred years).
const MAX_DAYS: u32 = 36_500;

/// The `[retention]` settings; `0` keeps for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RetentionConfig {
    /// Days an entry of a value's history is kept (the current value and its source stay).
    pub history_days: u32,
    /// Days an event (prompt, account) is kept.
    pub events_days: u32,
}

impl RetentionConfig {
    /// As the use-cases take them.
    pub fn retention(&self) -> Retention {
        let days = |n: u32| (n > 0).then(|| time::Duration::days(i64::from(n)));
        Retention {
            history: days(self.history_days),
            events: days(self.events_days),
        }
    }

    /// What is wrong with them, if anything.
    pub(super) fn problem(&self) -> Option<&'static str> {
        if self.history_days > MAX_DAYS {
            return Some("retention.history_days must be at most 36500 (0 keeps for good)");
        }
        if self.events_days > MAX_DAYS {
            return Some("retention.events_days must be at most 36500 (0 keeps for good)");
        }
        None
    }
}

/// The `[retention]` table of a layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionLayer {
    pub history_days: Option<u32>,
    pub events_days: Option<u32>,
}

impl RetentionLayer {
    /// Returns `self` with unset keys taken from `lower`.
    pub(super) fn over(self, lower: RetentionLayer) -> RetentionLayer {
        RetentionLayer {
            history_days: self.history_days.or(lower.history_days),
            events_days: self.events_days.or(lower.events_days),
        }
    }

    /// The settings, defaults filled in (kept for good).
    pub(super) fn config(self) -> RetentionConfig {
        RetentionConfig {
            history_days: self.history_days.unwrap_or(0),
            events_days: self.events_days.unwrap_or(0),
        }
    }
}
