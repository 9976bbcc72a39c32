//! Webhooks as stored: endpoints, the outbox of events, deliveries and their attempts.

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// An event to report, written in the transaction of the change it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhookEvent {
    /// `user.created`, `user.deleted`, `policy.published`, ...
    pub kind: &'static str,
    /// What happened (the `data` of the delivered body).
    pub payload: Value,
    /// When.
    pub at: OffsetDateTime,
}

/// An event of the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// `msg_<uuid>`: the Standard Webhooks message id, the same on every attempt.
    pub id: String,
    /// Its type.
    pub kind: String,
    /// Its data.
    pub payload: Value,
    /// When the change happened.
    pub occurred_at: OffsetDateTime,
}

/// An endpoint to store (its id is made by the store).
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhookEndpoint {
    pub url: String,
    /// Event types it receives; empty: every type.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// Its signing secrets, sealed by the caller.
    pub sealed_secrets: Vec<u8>,
    /// Whether deliveries carry the values of `user.updated` changes.
    pub include_values: bool,
    pub now: OffsetDateTime,
}

/// A stored endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub url: String,
    /// Event types it receives; empty: every type.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// Its signing secrets, sealed by the caller (never shown).
    pub sealed_secrets: Vec<u8>,
    /// Whether deliveries carry the values of `user.updated` changes.
    pub include_values: bool,
    pub enabled: bool,
    /// Why Accrete disabled it (after three days of failed deliveries), if it did.
    pub disabled_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl WebhookEndpoint {
    /// Whether it receives events of type `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|wanted| wanted == kind)
    }
}

/// A change of an endpoint: every value replaced, the sealed secrets when given.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpointUpdate {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub include_values: bool,
    pub sealed_secrets: Option<Vec<u8>>,
    pub now: OffsetDateTime,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// To be attempted (again) at `next_attempt_at`.
    Pending,
    /// The endpoint answered `2xx`.
    Delivered,
    /// Given up (after three days of failures).
    Failed,
}

impl DeliveryStatus {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> DeliveryStatus {
        match text {
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// One event to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_id: Uuid,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: OffsetDateTime,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// A delivery leased by one worker, with what it needs to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedDelivery {
    pub delivery_id: Uuid,
    /// This lease: who holds the delivery, for recording its attempt.
    pub lease: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// When the delivery was made (retries stop three days later).
    pub created_at: OffsetDateTime,
    pub event: WebhookEvent,
    pub endpoint_id: Uuid,
    pub url: String,
    pub sealed_secrets: Vec<u8>,
    /// Whether the body carries the values of `user.updated` changes.
    pub include_values: bool,
}

/// One attempt, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    /// 1 for the first.
    pub attempt: i64,
    pub at: OffsetDateTime,
    /// The answer's status; `None` when there was no answer.
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What an attempt leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// Delivered.
    Delivered,
    /// Try again at this time.
    Retry(OffsetDateTime),
    /// Give up: the delivery fails and its endpoint is disabled, for this reason.
    GiveUp(String),
}

/// The result of an attempt, recorded by the worker holding the lease.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub delivery_id: Uuid,
    /// The lease it was attempted under ([`LeasedDelivery::lease`]): a lease taken over since
    /// is not overwritten.
    pub owner: String,
    pub attempt: WebhookAttempt,
    pub outcome: AttemptOutcome,
}
