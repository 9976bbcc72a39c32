//! Date bounds of a date field: a fixed date (`"2000-01-01"`), the day of the check
//! (`"today"`), or a distance from it (`"-120y"`, `"+30d"`). The engine has no clock: the day
//! a bound is resolved against is always an argument.

use time::{Date, Duration, Month};

/// Parses `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    if text.len() != 10 {
        return None;
    }
    Date::parse(text, &format).ok()
}

/// Longest distance from today a bound may state, in years (and the same in other units).
const MAX_YEARS: i64 = 1000;

/// A lower or upper bound of a date field, ready to resolve against the day of the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DateBound {
    /// A fixed date.
    Fixed(Date),
    /// Today moved by whole months (years are twelve) and then days; `0, 0` is today.
    Relative { months: i64, days: i64 },
}

impl DateBound {
    /// Reads `YYYY-MM-DD`, `today`, or a signed distance `[+-]<n><unit>` with unit `d` (days),
    /// `w` (weeks), `m` (months) or `y` (years).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if let Some(date) = parse_date(text) {
            return Some(DateBound::Fixed(date));
        }
        if text == "today" {
            return Some(DateBound::Relative { months: 0, days: 0 });
        }
        let (sign, rest) = match text.as_bytes().first()? {
            b'+' => (1, &text[1..]),
            b'-' => (-1, &text[1..]),
            _ => return None,
        };
        let unit = rest.chars().last()?;
        let digits = &rest[..rest.len() - unit.len_utf8()];
        if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i64 = digits.parse().ok()?;
        let (months, days, limit) = match unit {
            'y' => (n.checked_mul(12)?, 0, MAX_YEARS),
            'm' => (n, 0, MAX_YEARS * 12),
            'w' => (0, n.checked_mul(7)?, MAX_YEARS * 366),
            'd' => (0, n, MAX_YEARS * 366),
            _ => return None,
        };
        if n > limit {
            return None;
        }
        Some(DateBound::Relative {
            months: sign * months,
            days: sign * days,
        })
    }

    /// The bound on `today`; `None` when it falls outside the dates the engine represents.
    pub(crate) fn on(self, today: Date) -> Option<Date> {
        match self {
            DateBound::Fixed(date) => Some(date),
            DateBound::Relative { months, days } => {
                let index = i64::from(today.year()) * 12 + i64::from(u8::from(today.month())) - 1;
                let index = index.checked_add(months)?;
                let year = i32::try_from(index.div_euclid(12)).ok()?;
                let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
                // 29 February minus a year is 28 February.
                let day = today.day().min(time::util::days_in_month(month, year));
                Date::from_calendar_date(year, month, day)
                    .ok()?
                    .checked_add(Duration::days(days))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn relative_bounds_move_from_the_day_of_the_check() {
        let today = date!(2026 - 03 - 01);
        let on = |text: &str| DateBound::parse(text).and_then(|b| b.on(today));
        assert_eq!(on("today"), Some(today));
        assert_eq!(on("-120y"), Some(date!(1906 - 03 - 01)));
        assert_eq!(on("+30d"), Some(date!(2026 - 03 - 31)));
        assert_eq!(on("-2w"), Some(date!(2026 - 02 - 15)));
        assert_eq!(on("-1m"), Some(date!(2026 - 02 - 01)));
        assert_eq!(on("1999-12-31"), Some(date!(1999 - 12 - 31)));
    }

    #[test]
    fn a_leap_day_minus_a_year_is_the_last_day_of_february() {
        let bound = DateBound::parse("-1y").unwrap();
        assert_eq!(bound.on(date!(2024 - 02 - 29)), Some(date!(2023 - 02 - 28)));
    }

    #[test]
    fn nonsense_and_absurd_distances_are_not_bounds() {
        for text in [
            "",
            "now",
            "-",
            "-y",
            "120y",
            "-12x",
            "- 3d",
            "-1001y",
            "+9999999d",
            "-1.5y",
        ] {
            assert_eq!(DateBound::parse(text), None, "{text}");
        }
    }
}
