//! The overview's counters (migration 0018): how many users have a value per key of each place
//! values are kept, and per UTC day how many sign-ups and sign-ins there were. Each is changed
//! by the SQL of `users` inside the transaction of the write it counts, so the figures are
//! exact and read in a few rows whatever the number of users.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::types::Json;
use time::{Date, OffsetDateTime};

use crate::backend::{Conn, pick, query, query_as};
use crate::profile::AppliedChange;
use crate::{DayCounts, Location, SignInKind, StoreError};

/// What a day's counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Daily {
    SignUp,
    SignIn(SignInKind),
}

impl Daily {
    fn as_str(self) -> &'static str {
        match self {
            Daily::SignUp => "sign_up",
            Daily::SignIn(SignInKind::Credentialed) => "sign_in.credentialed",
            Daily::SignIn(SignInKind::Sso) => "sign_in.sso",
        }
    }
}

/// The stored form of a day: `YYYY-MM-DD` (ordered as text, the same in both backends).
fn day_text(day: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

fn parse_day(text: &str) -> Result<Date, StoreError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format)
        .map_err(|_| StoreError::unexpected(format!("unknown day {text:?} in the database")))
}

/// Per (place, key), how many users gain (+) or lose (−) a value: what a set of changes does to
/// [`value_counts`](sql::value_counts).
#[derive(Debug, Default)]
pub(crate) struct ValueDeltas(BTreeMap<(&'static str, String), i64>);

impl ValueDeltas {
    /// A value of `bag` (a JSON object) counts when it is not `null`.
    pub(crate) fn bag(&mut self, location: Location, bag: &Value, sign: i64) {
        if let Some(map) = bag.as_object() {
            for (key, value) in map {
                if !value.is_null() {
                    *self.0.entry((location.as_str(), key.clone())).or_default() += sign;
                }
            }
        }
    }

    /// A changed value: counted when it appears, taken back when it goes.
    pub(crate) fn change(&mut self, change: &AppliedChange) {
        let known = |v: &Option<Value>| v.as_ref().is_some_and(|v| !v.is_null());
        let delta = i64::from(known(&change.new_value)) - i64::from(known(&change.old_value));
        if delta != 0 {
            *self
                .0
                .entry((change.location.as_str(), change.key.clone()))
                .or_default() += delta;
        }
    }
}

pub(crate) mod sql {
    use super::*;

    /// Applies the deltas, in key order: two transactions that change the same counters lock
    /// them in the same order (no deadlock on PostgreSQL).
    pub(crate) async fn count_values<C: Conn>(
        tx: &mut C,
        deltas: ValueDeltas,
    ) -> Result<(), StoreError> {
        let rows: Vec<Value> = deltas
            .0
            .into_iter()
            .filter(|(_, delta)| *delta != 0)
            .map(|((location, key), delta)| json!([location, key, delta]))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        // One statement for every key (a batch of imported users has a dozen).
        query(pick::<C>(
            "INSERT INTO value_counts (location, key, users)
             SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2 FROM json_each($1) j
             WHERE true ORDER BY j.key
             ON CONFLICT (location, key)
             DO UPDATE SET users = value_counts.users + excluded.users",
            "INSERT INTO value_counts (location, key, users)
             SELECT j ->> 0, j ->> 1, (j ->> 2)::bigint
             FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(j, n) ORDER BY n
             ON CONFLICT (location, key)
             DO UPDATE SET users = value_counts.users + excluded.users",
        ))
        .bind(Json(Value::Array(rows)))
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// One more sign-up or sign-in on the UTC day of `at`.
    pub(crate) async fn count_day<C: Conn>(
        tx: &mut C,
        what: Daily,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        count_days(tx, what, at.to_offset(time::UtcOffset::UTC).date(), 1).await
    }

    /// `n` more sign-ups or sign-ins on `day`.
    pub(crate) async fn count_days<C: Conn>(
        tx: &mut C,
        what: Daily,
        day: Date,
        n: i64,
    ) -> Result<(), StoreError> {
        query(
            "INSERT INTO daily_counts (day, what, count) VALUES ($1, $2, $3)
             ON CONFLICT (day, what) DO UPDATE SET count = daily_counts.count + excluded.count",
        )
        .bind(day_text(day))
        .bind(what.as_str())
        .bind(n)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// So many more sign-ups or sign-ins on each day of `days`, in one statement (a batch of
    /// imported users was created on hundreds of days), in day order.
    pub(crate) async fn count_many_days<C: Conn>(
        tx: &mut C,
        what: Daily,
        days: BTreeMap<Date, i64>,
    ) -> Result<(), StoreError> {
        let rows: Vec<Value> = days
            .into_iter()
            .map(|(day, n)| json!([day_text(day), n]))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        query(pick::<C>(
            "INSERT INTO daily_counts (day, what, count)
             SELECT j.value ->> 0, $1, j.value ->> 1 FROM json_each($2) j WHERE true ORDER BY j.key
             ON CONFLICT (day, what) DO UPDATE SET count = daily_counts.count + excluded.count",
            "INSERT INTO daily_counts (day, what, count)
             SELECT j ->> 0, $1, (j ->> 1)::bigint
             FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(j, n) ORDER BY n
             ON CONFLICT (day, what) DO UPDATE SET count = daily_counts.count + excluded.count",
        ))
        .bind(what.as_str())
        .bind(Json(Value::Array(rows)))
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// Per key of `location`, how many users have a value (keys nobody has left out).
    pub(crate) async fn value_counts<C: Conn>(
        c: &mut C,
        location: Location,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        query_as::<(String, i64)>(
            "SELECT key, users FROM value_counts WHERE location = $1 AND users > 0 ORDER BY key",
        )
        .bind(location.as_str())
        .fetch_all(&mut *c)
        .await
    }

    /// The days of `[first, last]` that had a sign-up or a sign-in, in order (a range of the
    /// primary key).
    pub(crate) async fn daily_counts<C: Conn>(
        c: &mut C,
        first: Date,
        last: Date,
    ) -> Result<Vec<DayCounts>, StoreError> {
        let rows = query_as::<(String, String, i64)>(
            "SELECT day, what, count FROM daily_counts WHERE day >= $1 AND day <= $2
             ORDER BY day",
        )
        .bind(day_text(first))
        .bind(day_text(last))
        .fetch_all(&mut *c)
        .await?;
        let mut days: Vec<DayCounts> = Vec::new();
        for (day, what, count) in rows {
            let day = parse_day(&day)?;
            if days.last().is_none_or(|d| d.day != day) {
                days.push(DayCounts {
                    day,
                    sign_ups: 0,
                    credentialed_sign_ins: 0,
                    sso_sign_ins: 0,
                });
            }
            let Some(counts) = days.last_mut() else {
                continue;
            };
            match what.as_str() {
                "sign_up" => counts.sign_ups += count,
                "sign_in.credentialed" => counts.credentialed_sign_ins += count,
                "sign_in.sso" => counts.sso_sign_ins += count,
                // A kind a later version counts: not one of these figures.
                _ => {}
            }
        }
        Ok(days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_stored_as_iso_dates() {
        let day = time::macros::date!(2026 - 03 - 04);
        assert_eq!(day_text(day), "2026-03-04");
        assert_eq!(parse_day("2026-03-04").ok(), Some(day));
    }
}
