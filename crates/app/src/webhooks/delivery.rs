//! The delivery worker: fans new events of the outbox out to the endpoints that want them,
//! leases due deliveries (one worker at a time per delivery, a dead node's leases expire), POSTs
//! each in the Standard Webhooks format and logs the attempt: delivered on a `2xx`, otherwise
//! retried with exponential backoff and jitter for up to three days, after which the delivery
//! fails and its endpoint is disabled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accrete_store::{
    AttemptOutcome, AttemptRecord, LeasedDelivery, OutboxSignal, Store, StoreError, WebhookAttempt,
};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::task::JoinSet;
use url::Url;

use super::settings::{WebhookKeys, WebhookSettings, check_transport};
use super::signing::signature;

/// How long retries go on after the first attempt.
pub const RETRY_WINDOW: time::Duration = time::Duration::days(3);
/// The longest wait between two attempts.
const MAX_DELAY: time::Duration = time::Duration::hours(6);
/// Deliveries leased at most per look, when the number of free slots cannot be said.
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

/// The body of a delivery: `{"type", "timestamp", "data"}`; the values of `user.updated`
/// changes only when the endpoint asked for them (`include_values`).
pub fn body_of(event: &accrete_store::WebhookEvent, include_values: bool) -> Vec<u8> {
    let timestamp = event
        .occurred_at
        .format(&Rfc3339)
        .unwrap_or_else(|_| event.occurred_at.unix_timestamp().to_string());
    let mut data = event.payload.clone();
    if !include_values && let Some(changes) = data.get_mut("changes").and_then(|c| c.as_array_mut())
    {
        for change in changes.iter_mut().filter_map(|c| c.as_object_mut()) {
            change.remove("value");
        }
    }
    serde_json::to_vec(&json!({
        "type": event.kind,
        "timestamp": timestamp,
        "data": data,
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
        let client = guarded_client(&settings, Some(settings.timeout), "webhooks'")?;
        Ok(Worker {
            owner: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            store,
            keys,
            settings,
            client,
        })
    }

    /// Delivers until the task is dropped, up to `settings.concurrency` attempts in flight at
    /// once. It looks for work when events are committed (the store's outbox signal: this
    /// process's writes on SQLite, every node's on PostgreSQL), when a batch of attempts
    /// finished while more may be waiting, and at least every poll interval (due retries, a
    /// missed signal). Finished attempts are recorded together, in one transaction.
    pub async fn run(self) {
        let worker = Arc::new(self);
        let mut signal = match worker.store.webhook_outbox_signal().await {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::warn!(%error, "webhook deliveries will only poll: no outbox signal");
                None
            }
        };
        let mut in_flight: JoinSet<AttemptRecord> = JoinSet::new();
        let mut finished: Vec<AttemptRecord> = Vec::new();
        // Whether to look for work now; `more`: the last look filled every free slot.
        let mut look = true;
        let mut more = false;
        let limit = worker.settings.concurrency.max(1);
        loop {
            while let Some(done) = in_flight.try_join_next() {
                finished.extend(done.ok());
            }
            if !finished.is_empty() {
                let records = std::mem::take(&mut finished);
                if let Err(error) = worker.store.record_webhook_attempts(records.clone()).await {
                    tracing::warn!(%error, "webhook attempts not recorded; retrying");
                    finished = records;
                    tokio::time::sleep(worker.settings.poll_interval).await;
                    continue;
                }
            }
            let free = limit.saturating_sub(in_flight.len());
            // Leases are taken in batches of at least a quarter of the slots, unless idle.
            if look && free > 0 && (in_flight.is_empty() || free >= (limit / 4).max(1)) {
                look = false;
                match worker.claim(OffsetDateTime::now_utc(), free).await {
                    Ok((fanned, leased)) => {
                        // More may be waiting: deliveries, or events not fanned out yet (some
                        // wanted by no endpoint, which lease nothing).
                        more = leased.len() == free || fanned == FAN_OUT.unsigned_abs();
                        for delivery in leased {
                            let worker = Arc::clone(&worker);
                            in_flight.spawn(async move { worker.attempted(delivery).await });
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "webhook deliveries paused after a store error");
                        more = false;
                    }
                }
                // Events are still waiting and a batch of slots is free: look again now.
                if more && limit - in_flight.len() >= (limit / 4).max(1) {
                    look = true;
                    continue;
                }
            }
            tokio::select! {
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    finished.extend(done.ok());
                    look = look || more;
                }
                woken = committed(&mut signal) => {
                    if woken.is_err() {
                        // Polling until listening again, at the next poll.
                        signal = None;
                    }
                    look = true;
                }
                () = tokio::time::sleep(worker.settings.poll_interval) => {
                    if signal.is_none() {
                        // Listening again (PostgreSQL: its connection was lost).
                        worker.resubscribe(&mut signal).await;
                    }
                    look = true;
                }
            }
        }
    }

    /// A new outbox signal after the previous one failed (none: polling only).
    async fn resubscribe(&self, signal: &mut Option<OutboxSignal>) {
        *signal = self.store.webhook_outbox_signal().await.ok();
    }

    /// Fans out new events and leases up to `limit` due deliveries, in one call: how many
    /// events were fanned out, and the leased deliveries.
    async fn claim(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<(u64, Vec<LeasedDelivery>), StoreError> {
        let until = now + self.settings.lease;
        let limit = i64::try_from(limit).unwrap_or(BATCH);
        self.store
            .claim_webhook_deliveries(&self.owner, now, until, FAN_OUT, limit)
            .await
    }

    /// One round at `now`, all at once: fans out new events, then attempts the due deliveries
    /// it could lease (at most `settings.concurrency`) and records them; how many attempts.
    pub async fn round(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let (_, leased) = self.claim(now, self.settings.concurrency.max(1)).await?;
        let attempted = leased.len() as u64;
        let attempts = leased.into_iter().map(|delivery| self.attempted(delivery));
        let records = futures_join_all(attempts).await;
        if !records.is_empty() {
            self.store.record_webhook_attempts(records).await?;
        }
        Ok(attempted)
    }

    /// Sends one delivery; what to record of it.
    async fn attempted(&self, delivery: LeasedDelivery) -> AttemptRecord {
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
        AttemptRecord {
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
        }
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
        let body = body_of(&delivery.event, delivery.include_values);
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

/// The next commit of events, or never without a signal.
async fn committed(signal: &mut Option<OutboxSignal>) -> Result<(), StoreError> {
    match signal {
        Some(signal) => signal.committed().await,
        None => std::future::pending().await,
    }
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

/// The HTTP client of Accrete's calls to other systems (webhook deliveries, hooks, a
/// companion's provider), under `[webhooks]`'s rules: no redirect followed, names resolved to
/// public addresses only unless `allow_private`, and `timeout` for the connection and the whole
/// exchange when given (hooks bound each call with their own). `what` names it in the error.
pub(crate) fn guarded_client(
    settings: &WebhookSettings,
    timeout: Option<std::time::Duration>,
    what: &str,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(accrete_federation::USER_AGENT);
    if let Some(timeout) = timeout {
        builder = builder.connect_timeout(timeout).timeout(timeout);
    }
    if !settings.allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder
        .build()
        .map_err(|_| format!("the {what} HTTP client cannot be built"))
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
