//! Writing answers through Auth0's Management API (docs/companion.md, "Writing root attributes
//! through Auth0's Management API"). The Action writes `user_metadata` and `app_metadata`; the
//! root attributes (`given_name`, `family_name`, `name`, `nickname`, `picture`) only the
//! Management API can. A visit that answered some records a write (keys, never values) with its
//! completion; this writer leases the due writes, reads the values from the user, gets a token
//! with the companion's machine-to-machine credentials (`POST /oauth/token`, kept until shortly
//! before it expires) and sends `PATCH /api/v2/users/{id}`.
//!
//! A 401 fetches a fresh token once; a 429 waits for `X-RateLimit-Reset` (the companion's other
//! writes of the pass wait too); any other 4xx is refused for good; a 5xx, a timeout or a
//! connection failure is tried again with exponential backoff for up to a day, then given up.
//! Each outcome is logged (no values, no secrets) and counted
//! (`accrete_companion_writes_total{companion, outcome}`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use accrete_store::{CompanionWrite, CompanionWriteOutcome, Store, StoreError};
use reqwest::Method;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::management_spec::ManagementSpec;
use super::outbound::{Answer, Outbound, OutboundError};
use super::spec::{Companion, Companions};
use crate::app::App;

/// How long a write is tried after it was recorded.
pub const RETRY_WINDOW: time::Duration = time::Duration::days(1);
/// The first wait before a retry; doubled at each attempt.
pub const FIRST_RETRY: time::Duration = time::Duration::seconds(30);
/// The longest wait between two attempts (and for a rate limit to reset).
pub const MAX_DELAY: time::Duration = time::Duration::hours(1);
/// Writes leased per look.
const BATCH: i64 = 10;
/// How long a look holds its writes: a node that died leaves them to the others after this
/// long (longer than a batch may take: four calls of at most the timeout each per write).
const LEASE: time::Duration = time::Duration::minutes(5);
/// How often an idle writer looks for due writes (a write recorded on this node wakes it).
const POLL: Duration = Duration::from_secs(5);

/// When to try again after the `attempts`-th failed attempt of a write recorded at `created`,
/// the last one at `now`: [`FIRST_RETRY`] doubled at each attempt, at most [`MAX_DELAY`] apart,
/// scaled by `jitter` (drawn in `0.8..1.2`), never past [`RETRY_WINDOW`] after `created`;
/// `None` (give up) once that has passed.
pub fn next_attempt(
    attempts: i64,
    created: OffsetDateTime,
    now: OffsetDateTime,
    jitter: f64,
) -> Option<OffsetDateTime> {
    let deadline = created + RETRY_WINDOW;
    if now >= deadline {
        return None;
    }
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let delay = FIRST_RETRY
        .checked_mul(2_i32.saturating_pow(exponent))
        .unwrap_or(MAX_DELAY)
        .min(MAX_DELAY)
        * jitter.clamp(0.5, 1.5);
    Some((now + delay).min(deadline))
}

/// When a rate limit answered at `now` resets: Auth0's `X-RateLimit-Reset` (Unix seconds),
/// within one second and [`MAX_DELAY`] of `now`; [`FIRST_RETRY`] without it.
pub fn rate_limit_reset(reset: Option<&str>, now: OffsetDateTime) -> OffsetDateTime {
    reset
        .and_then(|value| value.trim().parse::<i64>().ok())
        .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
        .unwrap_or(now + FIRST_RETRY)
        .clamp(now + time::Duration::seconds(1), now + MAX_DELAY)
}

/// What one pass of [`ManagementWriter::deliver_due`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Writes leased.
    pub leased: usize,
    /// Written.
    pub written: usize,
    /// To be tried again later.
    pub retried: usize,
    /// Nothing left to write (the user deleted, no value, the companion no longer writes).
    pub dropped: usize,
    /// Refused for good or given up after [`RETRY_WINDOW`], each with why (the status and the
    /// provider's message, as logged; no values).
    pub given_up: Vec<String>,
}

/// Why a write did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// Worth trying again later (5xx, no answer, credentials refused).
    Transient(String),
    /// Auth0's rate limit: not before `until`.
    RateLimited { until: OffsetDateTime },
    /// Refused for good (a 4xx other than 401 and 429).
    Permanent(String),
}

impl From<OutboundError> for Failure {
    fn from(error: OutboundError) -> Self {
        match error.transient() {
            true => Failure::Transient(error.to_string()),
            false => Failure::Permanent(error.to_string()),
        }
    }
}

/// What became of one write.
enum Attempted {
    Written(u16),
    Dropped(&'static str),
    Retry {
        at: OffsetDateTime,
        attempted: bool,
        reason: String,
    },
    GaveUp(String),
}

/// A Management API token, and until when it is used.
struct Token {
    value: String,
    good_until: Instant,
}

/// The writer of one node.
pub struct ManagementWriter {
    store: Arc<dyn Store>,
    companions: Arc<Companions>,
    /// Its name in leases.
    owner: String,
    /// The tokens of each companion.
    tokens: Mutex<HashMap<String, Token>>,
}

/// This node's writer, running until the task is dropped: only when a companion writes through
/// a Management API and this node delivers (`[webhooks] deliver`).
pub fn spawn(app: &App) -> Option<tokio::task::JoinHandle<()>> {
    if !app.webhook_settings().deliver || !app.companions.write_back() {
        return None;
    }
    let writer = ManagementWriter::new(app.store.clone(), Arc::clone(&app.companions));
    Some(tokio::spawn(writer.run()))
}

impl ManagementWriter {
    /// A writer of the `companions`' writes kept in `store`, named uniquely.
    pub fn new(store: Arc<dyn Store>, companions: Arc<Companions>) -> ManagementWriter {
        ManagementWriter {
            store,
            companions,
            owner: format!("writer-{}", uuid::Uuid::new_v4().simple()),
            tokens: Mutex::default(),
        }
    }

    /// Writes until the task is dropped: at once while full batches come, when a visit of this
    /// node records a write, and at least every few seconds (retries come due, other nodes'
    /// visits).
    pub async fn run(self) {
        loop {
            let full = match self.deliver_due(OffsetDateTime::now_utc()).await {
                Ok(pass) => i64::try_from(pass.leased).is_ok_and(|n| n >= BATCH),
                Err(error) => {
                    tracing::warn!(%error, "writes to the Management API paused after a store error");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                () = self.companions.written.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One pass at `now`: leases the writes due, sends each in turn and records its outcome.
    pub async fn deliver_due(&self, now: OffsetDateTime) -> Result<Pass, StoreError> {
        let leased = self
            .store
            .lease_companion_writes(&self.owner, now, now + LEASE, BATCH)
            .await?;
        let mut pass = Pass {
            leased: leased.len(),
            ..Pass::default()
        };
        // Companions answered 429 in this pass, and until when.
        let mut held: HashMap<String, OffsetDateTime> = HashMap::new();
        for write in leased {
            let result = self.attempt(&write, now, &mut held).await;
            let outcome = match &result {
                Attempted::Retry {
                    at,
                    attempted,
                    reason,
                } => CompanionWriteOutcome::Retry {
                    at: *at,
                    attempted: *attempted,
                    error: reason.clone(),
                },
                _ => CompanionWriteOutcome::Done,
            };
            let label = match result {
                Attempted::Written(_) => {
                    pass.written += 1;
                    "written"
                }
                Attempted::Dropped(_) => {
                    pass.dropped += 1;
                    "dropped"
                }
                Attempted::Retry { .. } => {
                    pass.retried += 1;
                    "retried"
                }
                Attempted::GaveUp(reason) => {
                    pass.given_up.push(reason);
                    "given_up"
                }
            };
            let labels = [
                ("companion", write.companion.clone()),
                ("outcome", label.to_owned()),
            ];
            metrics::counter!("accrete_companion_writes_total", &labels).increment(1);
            self.store
                .settle_companion_write(write.id, &self.owner, outcome)
                .await?;
        }
        Ok(pass)
    }

    /// Sends one write, logging what became of it.
    async fn attempt(
        &self,
        write: &CompanionWrite,
        now: OffsetDateTime,
        held: &mut HashMap<String, OffsetDateTime>,
    ) -> Attempted {
        let fields = write.fields.join(",");
        let result = self.send(write, now, held).await;
        match &result {
            Attempted::Written(status) => tracing::info!(
                companion = %write.companion, user_id = %write.user_id, %fields, status,
                "root attributes written through the Management API"
            ),
            Attempted::Dropped(why) => tracing::info!(
                companion = %write.companion, user_id = %write.user_id, %fields, why,
                "write to the Management API dropped"
            ),
            Attempted::Retry {
                at,
                attempted: true,
                reason,
            } => tracing::warn!(
                companion = %write.companion, user_id = %write.user_id, %fields,
                attempt = write.attempts + 1, %reason, next_attempt_at = %at,
                "write to the Management API failed; it will be tried again"
            ),
            Attempted::Retry { at, reason, .. } => tracing::info!(
                companion = %write.companion, user_id = %write.user_id, %fields, %reason,
                next_attempt_at = %at, "write to the Management API postponed"
            ),
            Attempted::GaveUp(reason) => tracing::error!(
                companion = %write.companion, user_id = %write.user_id, %fields,
                attempts = write.attempts + 1, %reason,
                "write to the Management API given up"
            ),
        }
        result
    }

    async fn send(
        &self,
        write: &CompanionWrite,
        now: OffsetDateTime,
        held: &mut HashMap<String, OffsetDateTime>,
    ) -> Attempted {
        let (Some(companion), Some(outbound)) = (
            self.companions.get(&write.companion),
            self.companions.outbound.as_ref(),
        ) else {
            return Attempted::Dropped("the companion is no longer configured");
        };
        let Some(spec) = companion.management() else {
            return Attempted::Dropped("the companion no longer writes through a Management API");
        };
        if let Some(until) = held.get(&write.companion).filter(|until| **until > now) {
            return Attempted::Retry {
                at: *until,
                attempted: false,
                reason: "held back by the Management API's rate limit".to_owned(),
            };
        }
        let user = match self.store.get_user(write.user_id).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Attempted::Dropped("the user was deleted"),
            Err(error) => {
                return Attempted::Retry {
                    at: now + FIRST_RETRY,
                    attempted: false,
                    reason: format!("the user could not be read: {error}"),
                };
            }
        };
        // The values as they are now (a later change is written as it stands).
        let body: Map<String, Value> = write
            .fields
            .iter()
            .filter_map(|key| {
                let value = user.profile.get(key).filter(|v| !v.is_null())?;
                Some((key.clone(), value.clone()))
            })
            .collect();
        if body.is_empty() {
            return Attempted::Dropped("no value to write");
        }
        let deadline = write.created_at + RETRY_WINDOW;
        match self
            .patch(companion, spec, outbound, &write.subject, &body, now)
            .await
        {
            Ok(status) => Attempted::Written(status),
            Err(Failure::Permanent(reason)) => Attempted::GaveUp(reason),
            Err(Failure::RateLimited { until }) => {
                held.insert(write.companion.clone(), until);
                match now >= deadline {
                    true => Attempted::GaveUp(format!(
                        "rate limited after {} hours of failures",
                        RETRY_WINDOW.whole_hours()
                    )),
                    false => Attempted::Retry {
                        at: until,
                        attempted: true,
                        reason: "answered 429: rate limited".to_owned(),
                    },
                }
            }
            Err(Failure::Transient(reason)) => {
                let jitter = 0.8 + rand::random::<f64>() * 0.4;
                match next_attempt(write.attempts + 1, write.created_at, now, jitter) {
                    Some(at) => Attempted::Retry {
                        at,
                        attempted: true,
                        reason,
                    },
                    None => Attempted::GaveUp(format!(
                        "failed for {} hours, last: {reason}",
                        RETRY_WINDOW.whole_hours()
                    )),
                }
            }
        }
    }

    /// `PATCH /api/v2/users/{subject}` with `body`; a 401 fetches a fresh token once.
    async fn patch(
        &self,
        companion: &Companion,
        spec: &ManagementSpec,
        outbound: &Outbound,
        subject: &str,
        body: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<u16, Failure> {
        let issuer = &companion.spec.issuer;
        let url = format!(
            "{}/api/v2/users/{}",
            spec.base_url(issuer),
            encode_segment(subject)
        );
        let mut fresh = false;
        loop {
            let token = self.token(companion, spec, outbound, fresh, now).await?;
            let request = outbound
                .request(Method::PATCH, &url)?
                .bearer_auth(&token)
                .header("accept", "application/json")
                .json(body);
            let answer = outbound.send(request).await?;
            let status = answer.status;
            let said = || redact(&provider_message(&answer.body), body);
            return match status {
                200..=299 => Ok(status),
                // The token was revoked or the signing key rotated: a fresh one, once.
                401 if !fresh => {
                    self.forget_token(companion.name());
                    fresh = true;
                    continue;
                }
                401 => Err(Failure::Transient(format!(
                    "answered 401 with a fresh token{}",
                    said()
                ))),
                429 => Err(rate_limited(&answer, now)),
                400..=499 => Err(Failure::Permanent(format!("answered {status}{}", said()))),
                300..=399 => Err(Failure::Transient(format!(
                    "answered {status}: redirects are not followed"
                ))),
                _ => Err(Failure::Transient(format!("answered {status}{}", said()))),
            };
        }
    }

    /// A Management API token of `companion`: the one kept (unless `fresh`), else a new one.
    async fn token(
        &self,
        companion: &Companion,
        spec: &ManagementSpec,
        outbound: &Outbound,
        fresh: bool,
        now: OffsetDateTime,
    ) -> Result<String, Failure> {
        if !fresh && let Some(token) = self.kept_token(companion.name()) {
            return Ok(token);
        }
        let issuer = &companion.spec.issuer;
        let url = format!("{}/oauth/token", spec.base_url(issuer));
        let request = outbound
            .request(Method::POST, &url)?
            .header("accept", "application/json")
            .json(&json!({
                "grant_type": "client_credentials",
                "client_id": spec.client_id,
                "client_secret": spec.client_secret,
                "audience": spec.audience(issuer),
            }));
        let answer = outbound.send(request).await?;
        let status = answer.status;
        match status {
            200..=299 => {}
            429 => return Err(rate_limited(&answer, now)),
            400..=499 => {
                let said = provider_message(&answer.body);
                tracing::error!(
                    companion = companion.name(), status, reason = %said,
                    "the Management API credentials of the companion were refused: check its \
                     machine-to-machine application, its grant of the Management API and \
                     `update:users`"
                );
                return Err(Failure::Transient(format!(
                    "the token endpoint answered {status}{said}"
                )));
            }
            _ => {
                return Err(Failure::Transient(format!(
                    "the token endpoint answered {status}"
                )));
            }
        }
        #[derive(serde::Deserialize)]
        struct Granted {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let granted: Granted = serde_json::from_slice(&answer.body).map_err(|_| {
            Failure::Transient("the token endpoint's answer has no access_token".to_owned())
        })?;
        // Kept until shortly before it expires (Auth0's default: a day).
        let lifetime = granted.expires_in.unwrap_or(86_400);
        let kept = lifetime.saturating_sub(60).max(lifetime / 2);
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                companion.name().to_owned(),
                Token {
                    value: granted.access_token.clone(),
                    good_until: Instant::now() + Duration::from_secs(kept),
                },
            );
        Ok(granted.access_token)
    }

    fn kept_token(&self, companion: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens
            .get(companion)
            .filter(|token| token.good_until > Instant::now())
            .map(|token| token.value.clone())
    }

    fn forget_token(&self, companion: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(companion);
    }
}

/// A 429's failure: not before the rate limit resets.
fn rate_limited(answer: &Answer, now: OffsetDateTime) -> Failure {
    let reset = answer
        .headers
        .get("x-ratelimit-reset")
        .and_then(|value| value.to_str().ok());
    Failure::RateLimited {
        until: rate_limit_reset(reset, now),
    }
}

/// What the provider said of a refusal, as `": <message> (<code>)"` (empty when nothing):
/// Auth0's `message` and `errorCode`, or OAuth's `error_description` and `error`.
fn provider_message(body: &[u8]) -> String {
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let text = |key: &str| answer.get(key).and_then(Value::as_str).unwrap_or_default();
    let message = [text("message"), text("error_description")]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or_default();
    let code = [text("errorCode"), text("error")]
        .into_iter()
        .find(|c| !c.is_empty())
        .unwrap_or_default();
    let mut said: String = message.chars().take(300).collect();
    if !code.is_empty() {
        let _ = write!(said, " ({})", code.chars().take(64).collect::<String>());
    }
    match said.trim().is_empty() {
        true => String::new(),
        false => format!(": {}", said.trim()),
    }
}

/// `message` without any of the values sent (a provider may quote a value it refuses).
fn redact(message: &str, sent: &Map<String, Value>) -> String {
    let mut message = message.to_owned();
    for value in sent.values().filter_map(Value::as_str) {
        if !value.is_empty() {
            message = message.replace(value, "[value]");
        }
    }
    message
}

/// `text` as one percent-encoded path segment (`auth0|65f0` → `auth0%7C65f0`): everything
/// but RFC 3986's unreserved characters is encoded.
pub fn encode_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    #[test]
    fn failures_are_retried_later_and_later_for_a_day_then_given_up() {
        let next = |attempts, now| next_attempt(attempts, T0, now, 1.0);
        assert_eq!(next(1, T0), Some(T0 + time::Duration::seconds(30)));
        assert_eq!(next(3, T0), Some(T0 + time::Duration::minutes(2)));
        let late = T0 + time::Duration::hours(20);
        assert_eq!(
            next(40, late),
            Some(late + MAX_DELAY),
            "an hour apart at most"
        );
        let near = T0 + RETRY_WINDOW - time::Duration::minutes(10);
        assert_eq!(
            next(40, near),
            Some(T0 + RETRY_WINDOW),
            "never past the day"
        );
        assert_eq!(next(41, T0 + RETRY_WINDOW), None);
        assert_eq!(
            next_attempt(1, T0, T0, 0.8),
            Some(T0 + time::Duration::seconds(24))
        );
    }

    #[test]
    fn a_rate_limit_waits_for_its_reset_within_bounds() {
        let reset = (T0 + time::Duration::seconds(42))
            .unix_timestamp()
            .to_string();
        assert_eq!(
            rate_limit_reset(Some(&reset), T0),
            T0 + time::Duration::seconds(42)
        );
        assert_eq!(rate_limit_reset(None, T0), T0 + FIRST_RETRY);
        let past = (T0 - time::Duration::hours(1)).unix_timestamp().to_string();
        assert_eq!(
            rate_limit_reset(Some(&past), T0),
            T0 + time::Duration::seconds(1)
        );
        assert_eq!(rate_limit_reset(Some("9999999999"), T0), T0 + MAX_DELAY);
    }

    #[test]
    fn user_ids_are_one_encoded_segment() {
        assert_eq!(encode_segment("auth0|65f0ab"), "auth0%7C65f0ab");
        assert_eq!(
            encode_segment("google-oauth2|1/2 ?#"),
            "google-oauth2%7C1%2F2%20%3F%23"
        );
        assert_eq!(encode_segment("é"), "%C3%A9");
    }

    #[test]
    fn the_providers_message_is_kept_without_the_values_sent() {
        let sent = json!({ "picture": "htp://bad", "name": "Ada" });
        let body = json!({
            "statusCode": 400, "error": "Bad Request", "errorCode": "invalid_body",
            "message": "Payload validation error: 'Object didn't pass validation for format uri: htp://bad' on property picture",
        });
        let said = redact(
            &provider_message(body.to_string().as_bytes()),
            sent.as_object().unwrap(),
        );
        assert!(said.starts_with(": Payload validation error"), "{said}");
        assert!(said.ends_with("(invalid_body)"), "{said}");
        assert!(!said.contains("htp://bad"), "{said}");
        let oauth = json!({ "error": "access_denied", "error_description": "Unauthorized" });
        assert_eq!(
            provider_message(oauth.to_string().as_bytes()),
            ": Unauthorized (access_denied)"
        );
        assert_eq!(provider_message(b"<html>"), "");
    }
}
