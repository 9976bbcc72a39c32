//! The `[webhooks]` settings: how webhooks are called (docs/webhooks.md).

use std::time::Duration;

use accrete_app::webhooks::WebhookSettings;
use serde::{Deserialize, Serialize};

/// The `[webhooks]` settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhooksConfig {
    /// Whether endpoints may be on loopback, private or link-local addresses (checked when
    /// saved, and on the resolved address when called): development, tests, internal networks.
    pub allow_private: bool,
    /// Whether plain `http://` endpoint URLs are accepted (otherwise `https://` only).
    pub allow_http: bool,
    /// Milliseconds before the first retry of a failed delivery; doubled at each attempt (at
    /// most six hours apart), for up to three days.
    pub first_retry_ms: u64,
    /// Milliseconds between two looks for new events when idle.
    pub poll_interval_ms: u64,
    /// Seconds an attempt may take.
    pub timeout_seconds: u64,
    /// Whether this node delivers (a node that does not still writes events).
    pub deliver: bool,
    /// How many attempts this node's worker has in flight at most.
    pub concurrency: usize,
    /// Seconds a worker holds the deliveries it leased; another node takes over the leased
    /// deliveries of a node that died after this long. More than `timeout_seconds`.
    pub lease_seconds: u64,
}

impl WebhooksConfig {
    /// As the use-cases take them.
    pub fn settings(&self) -> WebhookSettings {
        WebhookSettings {
            allow_private: self.allow_private,
            allow_http: self.allow_http,
            first_retry: Duration::from_millis(self.first_retry_ms),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            timeout: Duration::from_secs(self.timeout_seconds),
            deliver: self.deliver,
            concurrency: self.concurrency,
            lease: time::Duration::seconds(i64::try_from(self.lease_seconds).unwrap_or(60)),
            ..WebhookSettings::default()
        }
    }

    /// What is wrong with them, if anything.
    pub(super) fn problem(&self) -> Option<&'static str> {
        if !(1..=60).contains(&self.timeout_seconds) {
            return Some("webhooks.timeout_seconds must be between 1 and 60");
        }
        if !(1..=60_000).contains(&self.poll_interval_ms) {
            return Some("webhooks.poll_interval_ms must be between 1 and 60000");
        }
        if !(1..=3_600_000).contains(&self.first_retry_ms) {
            return Some("webhooks.first_retry_ms must be between 1 and 3600000");
        }
        if !(1..=1024).contains(&self.concurrency) {
            return Some("webhooks.concurrency must be between 1 and 1024");
        }
        if !(1..=3600).contains(&self.lease_seconds) {
            return Some("webhooks.lease_seconds must be between 1 and 3600");
        }
        if self.lease_seconds <= self.timeout_seconds {
            return Some("webhooks.lease_seconds must be more than webhooks.timeout_seconds");
        }
        None
    }
}

/// The `[webhooks]` table of a layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksLayer {
    pub allow_private: Option<bool>,
    pub allow_http: Option<bool>,
    pub first_retry_ms: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub timeout_seconds: Option<u64>,
    pub deliver: Option<bool>,
    pub concurrency: Option<usize>,
    pub lease_seconds: Option<u64>,
}

impl WebhooksLayer {
    /// Returns `self` with unset keys taken from `lower`.
    pub(super) fn over(self, lower: WebhooksLayer) -> WebhooksLayer {
        WebhooksLayer {
            allow_private: self.allow_private.or(lower.allow_private),
            allow_http: self.allow_http.or(lower.allow_http),
            first_retry_ms: self.first_retry_ms.or(lower.first_retry_ms),
            poll_interval_ms: self.poll_interval_ms.or(lower.poll_interval_ms),
            timeout_seconds: self.timeout_seconds.or(lower.timeout_seconds),
            deliver: self.deliver.or(lower.deliver),
            concurrency: self.concurrency.or(lower.concurrency),
            lease_seconds: self.lease_seconds.or(lower.lease_seconds),
        }
    }

    /// The settings, defaults filled in.
    pub(super) fn config(self) -> WebhooksConfig {
        let defaults = WebhookSettings::default();
        WebhooksConfig {
            allow_private: self.allow_private.unwrap_or(false),
            allow_http: self.allow_http.unwrap_or(false),
            first_retry_ms: self
                .first_retry_ms
                .unwrap_or(defaults.first_retry.as_millis() as u64),
            poll_interval_ms: self
                .poll_interval_ms
                .unwrap_or(defaults.poll_interval.as_millis() as u64),
            timeout_seconds: self.timeout_seconds.unwrap_or(defaults.timeout.as_secs()),
            deliver: self.deliver.unwrap_or(true),
            concurrency: self.concurrency.unwrap_or(defaults.concurrency),
            lease_seconds: self
                .lease_seconds
                .unwrap_or(defaults.lease.whole_seconds().unsigned_abs()),
        }
    }
}
