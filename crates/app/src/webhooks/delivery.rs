//! The delivery worker: fans new events of the outbox out to the endpoints that want them,
//! leases due deliveries (one worker at a time per delivery, a dead node's leases expire), POSTs
//! each in the Standard Webhooks format and logs the attempt: delivered on a `2xx`, otherwise
//! retried with exponential backoff and jitter for up to three days, after which the delivery
//! fails and its endpoint is disabled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accrete_store::{
    AttemptOutcome, AttemptRecord, LeasedDelivery, Store, StoreError, WebhookAttempt,
};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use super::settings::{WebhookKeys, WebhookSettings, check_transport};
use super::signing::signature;

/// How long retries go on after the first attempt.
pub const RETRY_WINDOW: time::Duration = time::Duration::days(3);
/// The longest wait between two attempts.
const MAX_DELAY: time::Duration = time::Duration::hours(6);
/// How long a worker holds the deliveries it leased (longer than a batch of attempts takes).
const LEASE: time::Duration = time::Duration::seconds(60);
/// Deliveries leased (and sent at once) per round.
const BATCH: i64 = 32;
/// Events fanned out per round.
const FAN_OUT: i64 = 256;

/// When to try again after `attempts` failed attempts of a delivery made at `created`, the last
/// one at `now`: `first_retry` doubled at each attempt (at most six hours apart), scaled by
/// `jitter` (drawn in `0.8..1.2`), never past three days after `created`; giving up once three
/// days have passed.
pub fn after_failure(
    attempts: i64,
    created: OffsetDateTime,
    now: OffsetDateTime,
    first_retry: Duration,
    jitter: f64,
) -> AttemptOutcome {
    let deadline = created + RETRY_WINDOW;
    if now >= deadline {
        return AttemptOutcome::GiveUp(format!(
            "deliveries failed for {} days",
            RETRY_WINDOW.whole_days()
        ));
    }
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base = time::Duration::try_from(first_retry).unwrap_or(MAX_DELAY);
    let delay = base
        .checked_mul(2_i32.saturating_pow(exponent))
        .unwrap_or(MAX_DELAY)
        .min(MAX_DELAY)
        * jitter.clamp(0.5, 1.5);
    AttemptOutcome::Retry((now + delay).min(deadline))
}

/// The body of a delivery: `{"type", "timestamp", "data"}`.
pub fn body_of(event: &accrete_store::WebhookEvent) -> Vec<u8> {
    let timestamp = event
        .occurred_at
        .format(&Rfc3339)
        .unwrap_or_else(|_| event.occurred_at.unix_timestamp().to_string());
    serde_json::to_vec(&json!({
        "type": event.kind,
        "timestamp": timestamp,
        "data": event.payload,
    }))
    .unwrap_or_default()
}

/// One worker: its name in leases, the store, the keys opening secrets, and its HTTP client.
pub struct Worker {
    owner: String,
    store: Arc<dyn Store>,
    keys: Arc<WebhookKeys>,
    settings: WebhookSettings,
    client: reqwest::Client,
}

/// What one attempt found.
struct Answer {
    status: Option<u16>,
    error: Option<String>,
}

impl Worker {
    /// A worker over `store`, named uniquely (its leases are its own).
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<WebhookKeys>,
        settings: WebhookSettings,
    ) -> Result<Worker, String> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.timeout)
            .timeout(settings.timeout)
            .user_agent(accrete_federation::USER_AGENT);
        if !settings.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        let client = builder
            .build()
            .map_err(|_| "the webhooks' HTTP client cannot be built".to_owned())?;
        Ok(Worker {
            owner: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            store,
            keys,
            settings,
            client,
        })
    }

    /// Runs rounds until the task is dropped: after a round that found work, at once; otherwise
    /// after the poll interval.
    pub async fn run(self) {
        loop {
            match self.round(OffsetDateTime::now_utc()).await {
                Ok(0) => tokio::time::sleep(self.settings.poll_interval).await,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "webhook deliveries paused after a store error");
                    tokio::time::sleep(self.settings.poll_interval).await;
                }
            }
        }
    }

    /// One round at `now`: fans out new events, then attempts the due deliveries it could lease;
    /// how many events and attempts it handled.
    pub async fn round(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let fanned = self.store.fan_out_webhook_events(now, FAN_OUT).await?;
        let leased = self
            .store
            .lease_webhook_deliveries(&self.owner, now, now + LEASE, BATCH)
            .await?;
        let attempted = leased.len() as u64;
        let attempts = leased.into_iter().map(|delivery| self.attempt(delivery));
        for result in futures_join_all(attempts).await {
            result?;
        }
        Ok(fanned + attempted)
    }

    async fn attempt(&self, delivery: LeasedDelivery) -> Result<(), StoreError> {
        let started = Instant::now();
        let answer = self.send(&delivery).await;
        let at = OffsetDateTime::now_utc();
        let delivered = answer.status.is_some_and(|s| (200..300).contains(&s));
        let outcome = if delivered {
            AttemptOutcome::Delivered
        } else {
            let jitter = 0.8 + rand::random::<f64>() * 0.4;
            after_failure(
                delivery.attempts + 1,
                delivery.created_at,
                at,
                self.settings.first_retry,
                jitter,
            )
        };
        let record = AttemptRecord {
            delivery_id: delivery.delivery_id,
            owner: delivery.lease.clone(),
            attempt: WebhookAttempt {
                attempt: delivery.attempts + 1,
                at,
                status_code: answer.status.map(i64::from),
                error: answer.error,
                duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            },
            outcome,
        };
        if !self.store.record_webhook_attempt(record).await? {
            tracing::warn!(delivery = %delivery.delivery_id, "a webhook delivery's lease expired before its attempt was recorded");
        }
        Ok(())
    }

    async fn send(&self, delivery: &LeasedDelivery) -> Answer {
        let failed = |error: String| Answer {
            status: None,
            error: Some(error),
        };
        let url = match Url::parse(&delivery.url) {
            Ok(url) => url,
            Err(_) => return failed("the endpoint's URL cannot be read".to_owned()),
        };
        if let Err(problem) = check_transport(&url, &self.settings) {
            return failed(problem.message);
        }
        let secrets = match self.keys.open(&delivery.sealed_secrets) {
            Ok(secrets) => secrets,
            Err(_) => return failed("the endpoint's secrets cannot be opened".to_owned()),
        };
        let body = body_of(&delivery.event);
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let signed = signature(&secrets, &delivery.event.id, timestamp, &body);
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(body);
        let after = self.settings.timeout;
        let mut response = match tokio::time::timeout(after, request.send()).await {
            Err(_) => return failed(format!("no answer within {} s", after.as_secs())),
            Ok(Err(error)) => return failed(transport_error(&error, after)),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        // The answer is read up to a bound (and only to free the connection).
        let mut read = 0usize;
        while read < self.settings.max_body {
            match tokio::time::timeout(after, response.chunk()).await {
                Ok(Ok(Some(chunk))) => read += chunk.len(),
                _ => break,
            }
        }
        let error = match status {
            200..=299 => None,
            300..=399 => Some(format!("answered {status}: redirects are not followed")),
            _ => Some(format!("answered {status}")),
        };
        Answer {
            status: Some(status),
            error,
        }
    }
}

/// The innermost cause of a transport error ("Connection refused", ...): reqwest's own message
/// names the URL, which is not for the log shown to administrators.
fn transport_error(error: &reqwest::Error, after: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", after.as_secs());
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Runs the futures at once and gives their results in order.
pub(crate) async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut results = Vec::with_capacity(pinned.len());
    // Polled together: each attempt waits on the network, not on the others.
    let mut outputs: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.extend(outputs.into_iter().flatten());
    results
}

/// A resolver that leaves out restricted addresses (loopback, private, link-local, ...): a name
/// that resolves only to such addresses is not called, whatever it resolved to when the
/// endpoint was saved.
pub(crate) struct PublicOnly;

/// A name that resolved to restricted addresses only.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to a loopback, private or link-local address, which webhooks may not reach")]
struct Restricted(String);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| !accrete_federation::is_restricted_address(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(Restricted(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    #[test]
    fn failures_are_retried_later_and_later_then_given_up_after_three_days() {
        let first = Duration::from_secs(5);
        let next = |attempts, now| after_failure(attempts, T0, now, first, 1.0);
        assert_eq!(
            next(1, T0),
            AttemptOutcome::Retry(T0 + time::Duration::seconds(5))
        );
        assert_eq!(
            next(3, T0),
            AttemptOutcome::Retry(T0 + time::Duration::seconds(20))
        );
        // Never more than six hours apart.
        let late = T0 + time::Duration::days(1);
        assert_eq!(
            next(40, late),
            AttemptOutcome::Retry(late + time::Duration::hours(6))
        );
        // The last attempt is at the deadline, not past it.
        let near = T0 + RETRY_WINDOW - time::Duration::hours(1);
        assert_eq!(next(40, near), AttemptOutcome::Retry(T0 + RETRY_WINDOW));
        assert!(matches!(
            next(41, T0 + RETRY_WINDOW),
            AttemptOutcome::GiveUp(_)
        ));
    }

    #[test]
    fn jitter_spreads_the_delay() {
        let first = Duration::from_secs(10);
        let low = after_failure(1, T0, T0, first, 0.8);
        let high = after_failure(1, T0, T0, first, 1.2);
        assert_eq!(low, AttemptOutcome::Retry(T0 + time::Duration::seconds(8)));
        assert_eq!(
            high,
            AttemptOutcome::Retry(T0 + time::Duration::seconds(12))
        );
    }

    #[tokio::test]
    async fn names_of_this_machine_do_not_resolve_for_webhooks() {
        let resolved = PublicOnly.resolve("localhost".parse().unwrap()).await;
        let error = resolved.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("loopback, private or link-local"), "{error}");
    }
}
