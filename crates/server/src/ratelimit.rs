//! Rate limits on credential endpoints: per client IP and per client id, in memory on each node
//! (GCRA via `governor`); and the sign-in throttle, per (account, source address) with backoff,
//! over failed-attempt counters kept in the store so that every node sees them (its rule is
//! `accrete_oidc::throttle`, applied by `accrete_app::accounts::sign_in`).

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use accrete_oidc::throttle::SignInThrottle;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// A refused attempt and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for a `Retry-After` header, rounded up (at least one): rounded down, the
    /// header would name a moment at which attempts are still refused.
    pub fn seconds(self) -> u64 {
        let whole = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        whole.max(1)
    }
}

/// The credential-endpoint limiters of one node.
#[derive(Clone)]
pub struct RateLimits {
    per_ip: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    per_account: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    /// The sign-in throttle (`None`: disabled, with the per-account limit).
    sign_in: Option<SignInThrottle>,
}

fn limiter<K: Hash + Eq + Clone>(per_minute: u32) -> Option<Arc<DefaultKeyedRateLimiter<K>>> {
    let n = NonZeroU32::new(per_minute)?;
    Some(Arc::new(RateLimiter::keyed(Quota::per_minute(n))))
}

impl RateLimits {
    /// Limits of `per_ip` and `per_account` attempts a minute (bursts of the same size);
    /// zero disables a limit.
    pub fn new(per_ip: u32, per_account: u32) -> RateLimits {
        RateLimits {
            per_ip: limiter(per_ip),
            per_account: limiter(per_account),
            sign_in: (per_account > 0).then(SignInThrottle::default),
        }
    }

    /// The sign-in throttle, unless per-account limits are disabled.
    pub fn sign_in_throttle(&self) -> Option<&SignInThrottle> {
        self.sign_in.as_ref()
    }

    /// Counts an attempt from `ip`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        check(self.per_ip.as_deref(), &ip)
    }

    /// Counts an attempt on `account` (a normalised email or a client id).
    pub fn check_account(&self, account: &str) -> Result<(), RetryAfter> {
        check(self.per_account.as_deref(), &account.to_lowercase())
    }
}

/// A keyed limiter on any clock (tests use a fake one).
type KeyedLimiter<K, C> =
    RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

fn check<K: Hash + Eq + Clone, C: Clock>(
    limiter: Option<&KeyedLimiter<K, C>>,
    key: &K,
) -> Result<(), RetryAfter> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter
        .check_key(key)
        .map_err(|not_until| RetryAfter(not_until.wait_time_from(limiter.clock().now())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_beyond_the_burst_are_refused_per_ip() {
        let limits = RateLimits::new(3, 0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limits.check_ip(ip).is_ok());
        }
        let refused = limits.check_ip(ip).unwrap_err();
        assert!(refused.0 >= Duration::from_secs(1));
        assert!(
            limits.check_ip("192.0.2.2".parse().unwrap()).is_ok(),
            "other addresses are not affected"
        );
    }

    #[test]
    fn account_limits_ignore_case() {
        let limits = RateLimits::new(0, 2);
        assert!(limits.check_account("Ann@Example.com").is_ok());
        assert!(limits.check_account("ann@example.com").is_ok());
        assert!(limits.check_account("ANN@EXAMPLE.COM").is_err());
    }

    #[test]
    fn retry_after_names_a_moment_when_attempts_are_accepted_again() {
        let clock = governor::clock::FakeRelativeClock::default();
        let limiter: KeyedLimiter<&str, _> = RateLimiter::dashmap_with_clock(
            Quota::per_minute(NonZeroU32::new(1).unwrap()),
            clock.clone(),
        );
        assert!(check(Some(&limiter), &"k").is_ok());
        clock.advance(Duration::from_millis(400));
        let refused = check(Some(&limiter), &"k").unwrap_err();
        assert_eq!(refused.seconds(), 60, "59.6 s of refusal left: 60, not 59");
        clock.advance(Duration::from_secs(refused.seconds() - 1));
        assert!(
            check(Some(&limiter), &"k").is_err(),
            "one second before the named moment, still refused"
        );
        clock.advance(Duration::from_secs(1));
        assert!(
            check(Some(&limiter), &"k").is_ok(),
            "accepted at the named moment"
        );
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        assert_eq!(RetryAfter(Duration::from_millis(59_001)).seconds(), 60);
        assert_eq!(RetryAfter(Duration::from_secs(7)).seconds(), 7);
        assert_eq!(RetryAfter(Duration::from_millis(1)).seconds(), 1);
        assert_eq!(RetryAfter(Duration::ZERO).seconds(), 1);
    }

    #[test]
    fn zero_disables_a_limit() {
        let limits = RateLimits::new(0, 0);
        for _ in 0..1000 {
            assert!(limits.check_ip("192.0.2.1".parse().unwrap()).is_ok());
        }
    }
}
