//! Helpers shared by the suite's modules.

use time::OffsetDateTime;
use time::macros::datetime;

/// A fixed instant: tests pass time in rather than reading a clock.
pub fn t0() -> OffsetDateTime {
    datetime!(2026-01-01 00:00:00 UTC)
}
