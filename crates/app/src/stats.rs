//! Completion figures: per step, the prompt events over a time range; per UTC day of the
//! range, sign-ups and sign-ins; per field of the published policy, how many users have it.
//! Every figure is read from an index or from counters the store keeps with each write, so the
//! cost does not grow with the number of users.

use accrete_store::{DayCounts, StepStats, StoreError};
use time::{Date, Duration, OffsetDateTime, Time};

use crate::app::App;
use crate::policy_admin::published_or_empty;
use crate::problems::Problem;

/// How many users have a field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFigures {
    /// The field key.
    pub field: String,
    /// Users with a value.
    pub known: i64,
    /// `known / users` (0 when there are no users).
    pub share: f64,
}

/// Completion figures over `[from, to)`.
#[derive(Debug, Clone)]
pub struct Figures {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// Users in total.
    pub users: i64,
    /// Per step, over the range.
    pub steps: Vec<StepStats>,
    /// Per UTC day the range touches, in order, days with none included (as zeros).
    pub days: Vec<DayCounts>,
    /// Per field of the published policy, now.
    pub fields: Vec<FieldFigures>,
}

/// Why figures could not be given.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The range is refused (`from` after `to`).
    #[error("{}: {}", .0.path, .0.message)]
    Refused(Problem),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The longest range figures are given for.
pub const MAX_DAYS: i64 = 366;

/// A period of whole UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Today and the days before it: `Last(7)` is a week ending today.
    Last(u16),
    /// From the first day to the last, both included.
    Days { first: Date, last: Date },
}

impl Period {
    /// The period as `[from, to)`: from the first day's midnight to the midnight after the
    /// last (UTC). Refused when the last day is before the first (on `to`) or when the period
    /// is longer than [`MAX_DAYS`] or empty (on `from`).
    pub fn range(self, now: OffsetDateTime) -> Result<(OffsetDateTime, OffsetDateTime), Problem> {
        let today = now.to_offset(time::UtcOffset::UTC).date();
        let (first, last) = match self {
            Period::Last(days) => {
                let days = i64::from(days);
                if !(1..=MAX_DAYS).contains(&days) {
                    return Err(too_long());
                }
                (today - Duration::days(days - 1), today)
            }
            Period::Days { first, last } => (first, last),
        };
        if last < first {
            return Err(Problem::new(
                "to",
                "out_of_range",
                "the last day is before the first",
            ));
        }
        if (last - first).whole_days() + 1 > MAX_DAYS {
            return Err(too_long());
        }
        let Some(after) = last.next_day() else {
            return Err(too_long());
        };
        let midnight = |day: Date| day.with_time(Time::MIDNIGHT).assume_utc();
        Ok((midnight(first), midnight(after)))
    }
}

fn too_long() -> Problem {
    Problem::new(
        "from",
        "out_of_range",
        format!("a period is at most {MAX_DAYS} days"),
    )
}

/// Every UTC day `[from, to)` touches, with its counts (zeros for days without any).
fn every_day(from: OffsetDateTime, to: OffsetDateTime, counted: Vec<DayCounts>) -> Vec<DayCounts> {
    let (first, last) = day_span(from, to);
    let mut counted = counted.into_iter().peekable();
    let mut days = Vec::new();
    let mut day = first;
    while day <= last {
        let counts = match counted.next_if(|c| c.day == day) {
            Some(counts) => counts,
            None => DayCounts {
                day,
                sign_ups: 0,
                credentialed_sign_ins: 0,
                sso_sign_ins: 0,
            },
        };
        days.push(counts);
        match day.next_day() {
            Some(next) => day = next,
            None => break,
        }
    }
    days
}

/// The first and last UTC day of `[from, to)` (`to` itself is not in the range).
fn day_span(from: OffsetDateTime, to: OffsetDateTime) -> (Date, Date) {
    let utc = |at: OffsetDateTime| at.to_offset(time::UtcOffset::UTC);
    let first = utc(from).date();
    let last = utc(to - Duration::milliseconds(1)).date().max(first);
    (first, last)
}

/// Per step, counts of shown / answered / skipped / abandoned in `[from, to)`; per UTC day the
/// range touches, sign-ups and sign-ins (whole days); and the share of users for whom each
/// field of the published policy is known. `to` is just after `now` by default, `from` 30 days
/// before `to`; a range longer than [`MAX_DAYS`] is refused.
pub async fn figures(
    app: &App,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<Figures, StatsError> {
    // Without `to` the window includes this very moment: the range is `[from, to)` on
    // millisecond timestamps, so an event recorded in the current millisecond must still count.
    let to = to.unwrap_or_else(|| now + Duration::milliseconds(1));
    let from = from.unwrap_or(to - Duration::days(30));
    if from > to {
        return Err(StatsError::Refused(Problem::new(
            "from",
            "out_of_range",
            "`from` is after `to`",
        )));
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(StatsError::Refused(too_long()));
    }
    let policy = published_or_empty(app).await?;
    let users = app.store().count_users().await?;
    let steps = app.store().prompt_stats(from, to).await?;
    let (first, last) = day_span(from, to);
    let days = every_day(from, to, app.store().daily_counts(first, last).await?);
    // The store's counters per place values are kept, read once whatever the number of fields.
    let mut counts: Vec<(
        accrete_store::Location,
        std::collections::HashMap<String, i64>,
    )> = Vec::new();
    let mut fields = Vec::new();
    for field in policy.fields() {
        let (location, key) = crate::facts::location_of(field);
        if !counts.iter().any(|(l, _)| *l == location) {
            let by_key = app.store().count_users_by_key(location).await?;
            counts.push((location, by_key.into_iter().collect()));
        }
        let known = counts
            .iter()
            .find(|(l, _)| *l == location)
            .and_then(|(_, by_key)| by_key.get(key).copied())
            .unwrap_or(0);
        let share = if users > 0 {
            known as f64 / users as f64
        } else {
            0.0
        };
        fields.push(FieldFigures {
            field: field.key.to_string(),
            known,
            share,
        });
    }
    Ok(Figures {
        from,
        to,
        users,
        steps,
        days,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-12-04 15:30 UTC);

    #[test]
    fn the_last_days_end_with_today_and_start_at_midnight() {
        let (from, to) = Period::Last(7).range(NOW).unwrap();
        assert_eq!(from, datetime!(2026-11-28 00:00 UTC));
        assert_eq!(to, datetime!(2026-12-05 00:00 UTC));
    }

    #[test]
    fn chosen_days_include_the_last_one() {
        let period = Period::Days {
            first: date!(2026 - 02 - 27),
            last: date!(2026 - 03 - 01),
        };
        let (from, to) = period.range(NOW).unwrap();
        assert_eq!(from, datetime!(2026-02-27 00:00 UTC));
        assert_eq!(to, datetime!(2026-03-02 00:00 UTC));
        let one = Period::Days {
            first: date!(2026 - 03 - 01),
            last: date!(2026 - 03 - 01),
        };
        assert!(one.range(NOW).is_ok());
    }

    #[test]
    fn a_period_backwards_or_too_long_is_refused_on_its_input() {
        let backwards = Period::Days {
            first: date!(2026 - 03 - 02),
            last: date!(2026 - 03 - 01),
        };
        assert_eq!(backwards.range(NOW).unwrap_err().path, "to");
        let long = Period::Days {
            first: date!(2025 - 01 - 01),
            last: date!(2026 - 01 - 02),
        };
        assert_eq!(long.range(NOW).unwrap_err().path, "from");
        assert_eq!(Period::Last(0).range(NOW).unwrap_err().path, "from");
        let year = Period::Days {
            first: date!(2025 - 01 - 01),
            last: date!(2026 - 01 - 01),
        };
        assert!(year.range(NOW).is_ok(), "366 days");
    }

    #[test]
    fn every_day_of_the_range_is_there_with_zeros_where_nothing_happened() {
        let counted = vec![DayCounts {
            day: date!(2026 - 12 - 03),
            sign_ups: 2,
            credentialed_sign_ins: 5,
            sso_sign_ins: 1,
        }];
        let days = every_day(
            datetime!(2026-12-01 12:00 UTC),
            datetime!(2026-12-05 00:00 UTC),
            counted,
        );
        let listed: Vec<(Date, i64)> = days.iter().map(|d| (d.day, d.sign_ups)).collect();
        assert_eq!(
            listed,
            vec![
                (date!(2026 - 12 - 01), 0),
                (date!(2026 - 12 - 02), 0),
                (date!(2026 - 12 - 03), 2),
                (date!(2026 - 12 - 04), 0),
            ]
        );
    }
}
