//! The keys an ES256 companion's provider publishes at its `jwks_uri`: fetched when first needed
//! (through the guarded client), kept for the provider's `Cache-Control: max-age` within
//! [`MIN_TTL`]..[`MAX_TTL`] ([`DEFAULT_TTL`] without one), fetched once however many starts ask
//! at the same moment. A start token naming a `kid` the keys lack fetches them again (the
//! provider rotated its keys), at most once per [`REFETCH_INTERVAL`], so that tokens with made-up
//! `kid`s cannot make Accrete hammer the provider; a failed fetch is not tried again for as
//! long. When the provider cannot be reached, the keys last fetched go on verifying; with none,
//! the start fails as `jwks_unavailable`. Verification itself is `accrete_oidc`'s (pure).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use accrete_oidc::companion::{ProviderKeys, StartError};

use super::outbound::Outbound;

/// How long keys are kept when the provider says nothing (`Cache-Control`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);
/// The shortest time keys are kept, whatever the provider says.
pub const MIN_TTL: Duration = Duration::from_secs(5 * 60);
/// The longest time keys are kept, whatever the provider says.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// How often an unknown `kid`, or a failed fetch, may fetch the keys again.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// Why a start token could not be verified with the provider's published keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyFailure {
    /// The token is refused.
    Token(StartError),
    /// The provider's keys cannot be fetched, and none were before (the reason, for developers).
    KeysUnavailable(String),
}

impl From<StartError> for VerifyFailure {
    fn from(error: StartError) -> Self {
        VerifyFailure::Token(error)
    }
}

/// What is known of the provider's keys.
#[derive(Debug, Default)]
struct State {
    /// The keys last fetched, when, and for how long they are fresh.
    keys: Option<(Arc<ProviderKeys>, Instant, Duration)>,
    /// When an unknown `kid` last fetched them again.
    refetched: Option<Instant>,
    /// When a fetch last failed.
    failed: Option<Instant>,
}

/// What to do for a token naming `kid`.
#[derive(Debug, Clone)]
enum Plan {
    /// Verify with these keys.
    Use(Arc<ProviderKeys>),
    /// Fetch the keys (`refetch`: for a `kid` fresh keys lack).
    Fetch { refetch: bool },
    /// None can be had now.
    Unavailable,
}

impl PartialEq for Plan {
    fn eq(&self, other: &Plan) -> bool {
        match (self, other) {
            (Plan::Use(a), Plan::Use(b)) => Arc::ptr_eq(a, b),
            (Plan::Fetch { refetch: a }, Plan::Fetch { refetch: b }) => a == b,
            (Plan::Unavailable, Plan::Unavailable) => true,
            _ => false,
        }
    }
}

impl State {
    /// The plan for a token naming `kid` at `now`.
    fn plan(&self, kid: Option<&str>, now: Instant) -> Plan {
        let recent = |at: Option<Instant>| {
            at.is_some_and(|at| now.saturating_duration_since(at) < REFETCH_INTERVAL)
        };
        match &self.keys {
            Some((keys, fetched, ttl)) if now.saturating_duration_since(*fetched) < *ttl => {
                if kid.is_none_or(|kid| keys.has(kid)) || recent(self.refetched) {
                    Plan::Use(keys.clone())
                } else {
                    Plan::Fetch { refetch: true }
                }
            }
            stale => {
                if !recent(self.failed) {
                    Plan::Fetch { refetch: false }
                } else if let Some((keys, _, _)) = stale {
                    Plan::Use(keys.clone())
                } else {
                    Plan::Unavailable
                }
            }
        }
    }
}

/// The published keys of one provider.
#[derive(Debug)]
pub(crate) struct RemoteKeys {
    url: String,
    outbound: Outbound,
    state: Mutex<State>,
    /// Held while fetching, so that concurrent starts wait for one fetch.
    fetching: tokio::sync::Mutex<()>,
    /// The reason of the last failed fetch.
    last_error: Mutex<String>,
}

impl RemoteKeys {
    /// The keys published at `url`, fetched through `outbound`.
    pub(crate) fn new(url: String, outbound: Outbound) -> RemoteKeys {
        RemoteKeys {
            url,
            outbound,
            state: Mutex::default(),
            fetching: tokio::sync::Mutex::new(()),
            last_error: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The keys to verify a token naming `kid` with: those kept, or fetched now.
    pub(crate) async fn keys_for(&self, kid: Option<&str>) -> Result<Arc<ProviderKeys>, String> {
        let refetch = match self.state().plan(kid, Instant::now()) {
            Plan::Use(keys) => return Ok(keys),
            Plan::Unavailable => return Err(self.unavailable()),
            Plan::Fetch { refetch } => refetch,
        };
        let _fetching = self.fetching.lock().await;
        // Another start may have fetched (or failed to) while this one waited.
        let now = Instant::now();
        match self.state().plan(kid, now) {
            Plan::Use(keys) => return Ok(keys),
            Plan::Unavailable => return Err(self.unavailable()),
            Plan::Fetch { .. } => {}
        }
        if refetch {
            self.state().refetched = Some(now);
        }
        match self.fetch().await {
            Ok((keys, ttl)) => {
                let keys = Arc::new(keys);
                tracing::info!(
                    jwks_uri = %self.url,
                    keys = keys.len(),
                    refetch,
                    "companion provider keys fetched"
                );
                let mut state = self.state();
                state.keys = Some((keys.clone(), Instant::now(), ttl));
                state.failed = None;
                Ok(keys)
            }
            Err(reason) => {
                tracing::warn!(jwks_uri = %self.url, %reason, "companion provider keys not fetched");
                *self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = reason.clone();
                let mut state = self.state();
                state.failed = Some(Instant::now());
                match &state.keys {
                    // The keys last fetched go on verifying while the provider is away.
                    Some((keys, _, _)) => Ok(keys.clone()),
                    None => Err(reason),
                }
            }
        }
    }

    fn unavailable(&self) -> String {
        let reason = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        format!(
            "{reason} (not tried again for {} s)",
            REFETCH_INTERVAL.as_secs()
        )
    }

    /// Fetches the keys: they, and how long to keep them.
    async fn fetch(&self) -> Result<(ProviderKeys, Duration), String> {
        let request = self
            .outbound
            .request(reqwest::Method::GET, &self.url)
            .map_err(|e| e.to_string())?
            .header("accept", "application/json");
        let answer = self
            .outbound
            .send(request)
            .await
            .map_err(|e| e.to_string())?;
        if !(200..300).contains(&answer.status) {
            return Err(format!("the provider answered {}", answer.status));
        }
        let keys = ProviderKeys::parse(&answer.body)?;
        let ttl = answer
            .headers
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age)
            .map_or(DEFAULT_TTL, |age| age.clamp(MIN_TTL, MAX_TTL));
        Ok((keys, ttl))
    }
}

/// The `max-age` of a `Cache-Control` header (`no-store`, `no-cache`: zero).
fn max_age(header: &str) -> Option<Duration> {
    let mut age = None;
    for directive in header.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            age = seconds
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(kids: &[&str]) -> Arc<ProviderKeys> {
        let key = accrete_oidc::keys::SigningKey::generate(
            accrete_oidc::keys::Alg::ES256,
            accrete_oidc::keys::KeySchedule::immediately(time::OffsetDateTime::now_utc()),
        )
        .unwrap();
        let jwks: Vec<serde_json::Value> = kids
            .iter()
            .map(|kid| {
                let mut jwk = serde_json::to_value(key.public_jwk()).unwrap();
                jwk["kid"] = serde_json::json!(kid);
                jwk
            })
            .collect();
        let document = serde_json::json!({ "keys": jwks }).to_string();
        Arc::new(ProviderKeys::parse(document.as_bytes()).unwrap())
    }

    #[test]
    fn keys_are_fetched_first_then_kept_while_fresh() {
        let t0 = Instant::now();
        let empty = State::default();
        assert_eq!(empty.plan(Some("a"), t0), Plan::Fetch { refetch: false });
        let kept = keys(&["a"]);
        let state = State {
            keys: Some((kept.clone(), t0, DEFAULT_TTL)),
            ..State::default()
        };
        let later = t0 + DEFAULT_TTL - Duration::from_secs(1);
        assert_eq!(state.plan(Some("a"), later), Plan::Use(kept.clone()));
        assert_eq!(state.plan(None, later), Plan::Use(kept));
        // Past their lifetime: fetched again.
        assert_eq!(
            state.plan(Some("a"), t0 + DEFAULT_TTL),
            Plan::Fetch { refetch: false }
        );
    }

    #[test]
    fn an_unknown_kid_fetches_again_at_most_once_per_interval() {
        let t0 = Instant::now();
        let kept = keys(&["a"]);
        let mut state = State {
            keys: Some((kept.clone(), t0, DEFAULT_TTL)),
            ..State::default()
        };
        assert_eq!(state.plan(Some("b"), t0), Plan::Fetch { refetch: true });
        state.refetched = Some(t0);
        let soon = t0 + REFETCH_INTERVAL - Duration::from_secs(1);
        assert_eq!(state.plan(Some("c"), soon), Plan::Use(kept));
        assert_eq!(
            state.plan(Some("c"), t0 + REFETCH_INTERVAL),
            Plan::Fetch { refetch: true }
        );
    }

    #[test]
    fn a_provider_that_failed_is_not_asked_again_at_once() {
        let t0 = Instant::now();
        let down = State {
            failed: Some(t0),
            ..State::default()
        };
        assert_eq!(down.plan(Some("a"), t0), Plan::Unavailable);
        assert_eq!(
            down.plan(Some("a"), t0 + REFETCH_INTERVAL),
            Plan::Fetch { refetch: false }
        );
        // Stale keys go on verifying meanwhile.
        let kept = keys(&["a"]);
        let stale = State {
            keys: Some((kept.clone(), t0 - DEFAULT_TTL, DEFAULT_TTL)),
            failed: Some(t0),
            ..State::default()
        };
        assert_eq!(stale.plan(Some("a"), t0), Plan::Use(kept));
    }

    #[test]
    fn the_lifetime_follows_cache_control_within_bounds() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(
            Duration::ZERO.clamp(MIN_TTL, MAX_TTL),
            MIN_TTL,
            "never fetched at every start"
        );
        assert_eq!(
            max_age("max-age=31536000").map(|a| a.clamp(MIN_TTL, MAX_TTL)),
            Some(MAX_TTL)
        );
    }
}
