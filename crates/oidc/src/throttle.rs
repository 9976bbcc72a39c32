//! The sign-in throttle's rule: whether a password attempt on an account from a source address
//! is accepted now, from the failed-attempt counters kept in the store. Pure: time is an
//! argument.
//!
//! Failures are counted per (account, source address) and per account. A source gets a few free
//! failures on an account, then waits between attempts, doubling each time (capped). The
//! account-wide count never refuses a source on its own: once it passes a ceiling (the account
//! is under attack from many addresses), every source gets one free attempt instead of a few.
//! So an attacker cannot lock a user out: from their own address the user still has an
//! attempt, and a correct password signs them in.

use time::{Duration, OffsetDateTime};

/// A failed-attempt counter: how many failures, and when the last one was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Failures since the counter last started.
    pub count: u32,
    /// The last failure.
    pub last_at: OffsetDateTime,
}

/// The throttle's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInThrottle {
    /// Failures a source may make on an account before it has to wait.
    pub free_per_source: u32,
    /// Account-wide failures beyond which each source gets only one free failure.
    pub account_ceiling: u32,
    /// The first wait; each further failure doubles it.
    pub first_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
    /// A counter whose last failure is this old is forgotten.
    pub forget_after: Duration,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        SignInThrottle {
            free_per_source: 5,
            account_ceiling: 50,
            first_wait: Duration::seconds(30),
            max_wait: Duration::minutes(15),
            forget_after: Duration::hours(1),
        }
    }
}

impl SignInThrottle {
    /// Counters whose last failure is before this instant are forgotten.
    pub fn forget_before(&self, now: OffsetDateTime) -> OffsetDateTime {
        now - self.forget_after
    }

    fn live(&self, counter: Option<Failures>, now: OffsetDateTime) -> Option<Failures> {
        counter.filter(|c| c.last_at >= self.forget_before(now))
    }

    /// Whether an attempt is accepted at `now`; `Err(wait)` says how long until it would be.
    pub fn check(
        &self,
        from_source: Option<Failures>,
        on_account: Option<Failures>,
        now: OffsetDateTime,
    ) -> Result<(), std::time::Duration> {
        let Some(source) = self.live(from_source, now) else {
            return Ok(());
        };
        let account = self.live(on_account, now).map_or(0, |c| c.count);
        let free = if account >= self.account_ceiling {
            1
        } else {
            self.free_per_source.max(1)
        };
        if source.count < free {
            return Ok(());
        }
        let doublings = (source.count - free).min(30);
        let wait = self
            .first_wait
            .checked_mul(1 << doublings)
            .map_or(self.max_wait, |w| w.min(self.max_wait));
        let until = source.last_at + wait;
        if now >= until {
            Ok(())
        } else {
            Err(std::time::Duration::try_from(until - now).unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

    fn failures(count: u32, last_at: OffsetDateTime) -> Option<Failures> {
        Some(Failures { count, last_at })
    }

    #[test]
    fn a_source_has_a_few_free_failures_then_waits_doubling_up_to_the_cap() {
        let t = SignInThrottle::default();
        assert!(t.check(None, None, T0).is_ok());
        assert!(t.check(failures(4, T0), failures(4, T0), T0).is_ok());
        assert_eq!(
            t.check(failures(5, T0), failures(5, T0), T0),
            Err(std::time::Duration::from_secs(30))
        );
        assert!(
            t.check(failures(5, T0), failures(5, T0), T0 + Duration::seconds(30))
                .is_ok()
        );
        assert_eq!(
            t.check(failures(6, T0), failures(6, T0), T0 + Duration::seconds(10)),
            Err(std::time::Duration::from_secs(50))
        );
        assert_eq!(
            t.check(failures(40, T0), failures(40, T0), T0),
            Err(std::time::Duration::from_secs(15 * 60))
        );
    }

    #[test]
    fn a_wait_is_exact_to_the_millisecond_so_callers_can_round_it_up() {
        let t = SignInThrottle::default();
        let now = T0 + Duration::milliseconds(400);
        assert_eq!(
            t.check(failures(5, T0), failures(5, T0), now),
            Err(std::time::Duration::from_millis(29_600))
        );
    }

    #[test]
    fn an_account_under_attack_does_not_refuse_a_source_with_no_failures() {
        let t = SignInThrottle::default();
        let siege = failures(10_000, T0);
        assert!(t.check(None, siege, T0).is_ok());
        assert!(
            t.check(failures(1, T0), siege, T0).is_err(),
            "but only one free failure"
        );
        assert!(t.check(failures(1, T0), failures(10, T0), T0).is_ok());
    }

    #[test]
    fn counters_are_forgotten_an_hour_after_their_last_failure() {
        let t = SignInThrottle::default();
        let later = T0 + Duration::hours(1) + Duration::milliseconds(1);
        assert!(t.check(failures(40, T0), failures(40, T0), later).is_ok());
        assert!(
            t.check(failures(1, later), failures(10_000, T0), later)
                .is_ok(),
            "an old siege no longer counts"
        );
    }
}
