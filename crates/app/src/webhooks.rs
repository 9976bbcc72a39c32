//! Webhooks (docs/webhooks.md): the endpoints administrators register (CLI, management API),
//! their signing secrets, and the worker that delivers the events of the outbox to them.
//!
//! The events themselves are written by the store in the transaction of the change each
//! reports (`user.created`, `user.deleted`, `policy.published`); nothing here writes them.

pub mod delivery;
pub mod settings;
pub mod signing;

use std::sync::Arc;

use accrete_oidc::keys::SealError;
use accrete_store::{
    NewWebhookEndpoint, StoreError, WebhookAttempt, WebhookDelivery, WebhookEndpoint,
    WebhookEndpointUpdate,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;
use uuid::Uuid;

use crate::app::App;
use crate::problems::Problem;

use settings::check_transport;
pub use settings::{WebhookKeys, WebhookSettings};

/// The event types an endpoint may ask for (docs/webhooks.md lists what each carries). The
/// account, prompt and second-factor types are those of [`accrete_store::EventKind`], written
/// with the change they report.
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deleted",
    "signin.succeeded",
    "signin.failed",
    "prompt.shown",
    "prompt.answered",
    "prompt.skipped",
    "prompt.abandoned",
    "email.verified",
    "email.changed",
    "password.changed",
    "password.reset",
    "session.revoked",
    "mfa.enrolled",
    "mfa.removed",
    "mfa.failed",
    "mfa.recovery_code_used",
    "mfa.recovery_codes_renewed",
    "mfa.reset",
    "phone.verified",
    "phone.code_failed",
    "passkey.added",
    "passkey.removed",
    "passkey.failed",
    "client.created",
    "client.updated",
    "client.deleted",
    "policy.published",
    "webhook.endpoint_disabled",
];

/// The longest URL accepted.
const MAX_URL: usize = 2048;
/// The longest description accepted.
const MAX_DESCRIPTION: usize = 200;

/// Why a webhook use-case did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No such endpoint (or delivery).
    #[error("webhook not found")]
    NotFound,
    /// Values refused, every problem at once.
    #[error("values refused")]
    Invalid(Vec<Problem>),
    /// The secrets could not be sealed or opened.
    #[error("the webhook's secrets could not be sealed or opened")]
    Seal,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for WebhookError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => WebhookError::NotFound,
            other => WebhookError::Store(other),
        }
    }
}

impl From<SealError> for WebhookError {
    fn from(_: SealError) -> Self {
        WebhookError::Seal
    }
}

/// An endpoint as administrators see it (never its secrets).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    /// Event types it receives; empty: every type.
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Whether deliveries carry the values of `user.updated` changes.
    pub include_values: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl From<WebhookEndpoint> for WebhookView {
    fn from(endpoint: WebhookEndpoint) -> Self {
        WebhookView {
            id: endpoint.id,
            url: endpoint.url,
            events: endpoint.events,
            description: endpoint.description,
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason,
            include_values: endpoint.include_values,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// A new endpoint.
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    pub url: String,
    /// Event types; empty: every type.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// Whether deliveries carry the values of `user.updated` changes.
    pub include_values: bool,
}

/// A change of an endpoint: what is `Some` is replaced.
#[derive(Debug, Clone, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub include_values: Option<bool>,
}

/// An endpoint with the secret to show once (created, or rotated).
#[derive(Debug, Clone)]
pub struct WithSecret {
    pub webhook: WebhookView,
    /// `whsec_...`: shown now, never again.
    pub secret: String,
}

/// The URL as stored, or why it is refused.
fn checked_url(text: &str, settings: &WebhookSettings, problems: &mut Vec<Problem>) -> String {
    let text = text.trim();
    if text.len() > MAX_URL {
        problems.push(Problem::new(
            "url",
            "too_long",
            format!("the URL is longer than {MAX_URL} characters"),
        ));
        return String::new();
    }
    match Url::parse(text) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            problems.push(Problem::new(
                "url",
                "invalid_url",
                "the URL may not hold a user name or password",
            ));
        }
        Ok(url) => match check_transport(&url, settings) {
            Ok(()) => return url.to_string(),
            Err(problem) => problems.push(problem),
        },
        Err(_) => problems.push(Problem::new(
            "url",
            "invalid_url",
            "this is not a URL (https://hooks.example.com/accrete)",
        )),
    }
    String::new()
}

fn checked_events(events: &[String], problems: &mut Vec<Problem>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, event) in events.iter().enumerate() {
        if !EVENT_TYPES.contains(&event.as_str()) {
            problems.push(Problem::new(
                format!("events[{i}]"),
                "unknown_event",
                format!(
                    "unknown event type {event:?}: use one of {}",
                    EVENT_TYPES.join(", ")
                ),
            ));
        } else if !out.contains(event) {
            out.push(event.clone());
        }
    }
    out
}

fn checked_description(description: Option<String>, problems: &mut Vec<Problem>) -> Option<String> {
    let description = description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION || d.chars().any(char::is_control))
    {
        problems.push(Problem::new(
            "description",
            "invalid",
            format!("the description is one line of at most {MAX_DESCRIPTION} characters"),
        ));
    }
    description
}

/// Registers an endpoint with a new signing secret (shown once).
pub async fn create(
    app: &App,
    new: NewWebhook,
    now: OffsetDateTime,
) -> Result<WithSecret, WebhookError> {
    let mut problems = Vec::new();
    let url = checked_url(&new.url, &app.webhook_settings, &mut problems);
    let events = checked_events(&new.events, &mut problems);
    let description = checked_description(new.description, &mut problems);
    if !problems.is_empty() {
        return Err(WebhookError::Invalid(problems));
    }
    let secret = signing::new_secret();
    let sealed_secrets = app.webhook_keys.seal(std::slice::from_ref(&secret))?;
    let endpoint = app
        .store
        .create_webhook_endpoint(NewWebhookEndpoint {
            url,
            events,
            description,
            sealed_secrets,
            include_values: new.include_values,
            now,
        })
        .await?;
    Ok(WithSecret {
        webhook: endpoint.into(),
        secret,
    })
}

/// Every endpoint, oldest first.
pub async fn list(app: &App) -> Result<Vec<WebhookView>, WebhookError> {
    Ok(app
        .store
        .list_webhook_endpoints()
        .await?
        .into_iter()
        .map(WebhookView::from)
        .collect())
}

async fn stored(app: &App, id: Uuid) -> Result<WebhookEndpoint, WebhookError> {
    app.store
        .get_webhook_endpoint(id)
        .await?
        .ok_or(WebhookError::NotFound)
}

/// One endpoint.
pub async fn get(app: &App, id: Uuid) -> Result<WebhookView, WebhookError> {
    Ok(stored(app, id).await?.into())
}

/// Changes an endpoint; enabling it again clears the reason it was disabled (its pending
/// deliveries resume).
pub async fn update(
    app: &App,
    id: Uuid,
    change: WebhookChange,
    now: OffsetDateTime,
) -> Result<WebhookView, WebhookError> {
    let current = stored(app, id).await?;
    let mut problems = Vec::new();
    let url = match &change.url {
        Some(url) => checked_url(url, &app.webhook_settings, &mut problems),
        None => current.url.clone(),
    };
    let events = match &change.events {
        Some(events) => checked_events(events, &mut problems),
        None => current.events.clone(),
    };
    let description = match change.description {
        Some(description) => checked_description(description, &mut problems),
        None => current.description.clone(),
    };
    if !problems.is_empty() {
        return Err(WebhookError::Invalid(problems));
    }
    let endpoint = app
        .store
        .update_webhook_endpoint(WebhookEndpointUpdate {
            id,
            url,
            events,
            description,
            enabled: change.enabled.unwrap_or(current.enabled),
            include_values: change.include_values.unwrap_or(current.include_values),
            sealed_secrets: None,
            now,
        })
        .await?;
    Ok(endpoint.into())
}

/// Deletes an endpoint and its deliveries.
pub async fn delete(app: &App, id: Uuid) -> Result<(), WebhookError> {
    if app.store.delete_webhook_endpoint(id).await? {
        Ok(())
    } else {
        Err(WebhookError::NotFound)
    }
}

/// Gives an endpoint a new secret (shown once); the previous one stays valid beside it (every
/// delivery is signed with both) until the next rotation, so that the receiver can switch
/// without losing a delivery.
pub async fn rotate_secret(
    app: &App,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<WithSecret, WebhookError> {
    let current = stored(app, id).await?;
    let previous = app.webhook_keys.open(&current.sealed_secrets)?;
    let secret = signing::new_secret();
    let mut secrets = vec![secret.clone()];
    secrets.extend(previous.into_iter().take(1));
    let sealed = app.webhook_keys.seal(&secrets)?;
    let endpoint = app
        .store
        .update_webhook_endpoint(WebhookEndpointUpdate {
            id,
            url: current.url,
            events: current.events,
            description: current.description,
            enabled: current.enabled,
            include_values: current.include_values,
            sealed_secrets: Some(sealed),
            now,
        })
        .await?;
    Ok(WithSecret {
        webhook: endpoint.into(),
        secret,
    })
}

/// An endpoint's newest deliveries (at most `limit`), each with its attempts.
pub async fn deliveries(
    app: &App,
    id: Uuid,
    limit: i64,
) -> Result<Vec<(WebhookDelivery, Vec<WebhookAttempt>)>, WebhookError> {
    stored(app, id).await?;
    let mut out = Vec::new();
    for delivery in app.store.list_webhook_deliveries(id, limit).await? {
        let attempts = app.store.webhook_attempts(delivery.id).await?;
        out.push((delivery, attempts));
    }
    Ok(out)
}

/// Sends a delivery of endpoint `id` again, as soon as a worker gets to it.
pub async fn replay(
    app: &App,
    id: Uuid,
    delivery_id: Uuid,
    now: OffsetDateTime,
) -> Result<WebhookDelivery, WebhookError> {
    match app.store.get_webhook_delivery(delivery_id).await? {
        Some(delivery) if delivery.endpoint_id == id => {}
        _ => return Err(WebhookError::NotFound),
    }
    Ok(app.store.replay_webhook_delivery(delivery_id, now).await?)
}

/// A time of a replayed range, or why it is refused (problem at `field`).
fn checked_time(field: &str, text: &str, problems: &mut Vec<Problem>) -> Option<OffsetDateTime> {
    let text = text.trim();
    if text.is_empty() {
        problems.push(Problem::new(
            field,
            "required",
            format!("give the {field} time (RFC 3339, 2026-01-01T00:00:00Z)"),
        ));
        return None;
    }
    match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(at) => Some(at),
        Err(_) => {
            problems.push(Problem::new(
                field,
                "invalid_time",
                format!("{text:?} is not an RFC 3339 time (2026-01-01T00:00:00Z)"),
            ));
            None
        }
    }
}

/// Sends again every delivery of endpoint `id` whose event occurred in `[from, to)` (RFC 3339
/// times), as soon as a worker gets to them; how many.
pub async fn replay_range(
    app: &App,
    id: Uuid,
    from: &str,
    to: &str,
    now: OffsetDateTime,
) -> Result<u64, WebhookError> {
    let mut problems = Vec::new();
    let from = checked_time("from", from, &mut problems);
    let to = checked_time("to", to, &mut problems);
    if let (Some(from), Some(to)) = (from, to)
        && to <= from
    {
        problems.push(Problem::new(
            "to",
            "empty_range",
            "the end of the range must come after its start",
        ));
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err(WebhookError::Invalid(problems));
    };
    if !problems.is_empty() {
        return Err(WebhookError::Invalid(problems));
    }
    stored(app, id).await?;
    Ok(app
        .store
        .replay_webhook_deliveries(id, from, to, now)
        .await?)
}

/// A delivery worker for this node's store, keys and settings (the server spawns its
/// [`delivery::Worker::run`]).
pub fn worker(app: &App) -> Result<delivery::Worker, String> {
    delivery::Worker::new(
        app.store.clone(),
        Arc::clone(&app.webhook_keys),
        app.webhook_settings.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_problem(url: &str, settings: &WebhookSettings) -> Option<String> {
        let mut problems = Vec::new();
        checked_url(url, settings, &mut problems);
        problems.pop().map(|p| p.code)
    }

    #[test]
    fn urls_are_https_and_public_unless_allowed() {
        let strict = WebhookSettings::default();
        let loose = WebhookSettings {
            allow_private: true,
            allow_http: true,
            ..WebhookSettings::default()
        };
        assert_eq!(url_problem("https://hooks.example.com/x", &strict), None);
        for (url, code) in [
            ("http://hooks.example.com/", "https_required"),
            ("https://127.0.0.1:9000/", "private_address"),
            ("https://localhost/", "private_address"),
            ("https://169.254.169.254/latest", "private_address"),
            ("https://[fd00::1]/", "private_address"),
            ("https://10.0.0.8/", "private_address"),
            ("ftp://hooks.example.com/", "invalid_url"),
            ("hooks.example.com", "invalid_url"),
            ("https://user:pw@hooks.example.com/", "invalid_url"),
        ] {
            assert_eq!(url_problem(url, &strict).as_deref(), Some(code), "{url}");
        }
        assert_eq!(url_problem("http://127.0.0.1:9000/", &loose), None);
    }

    #[test]
    fn every_recorded_event_kind_may_be_asked_for() {
        for kind in accrete_store::EventKind::ALL {
            if let Some(name) = kind.webhook_type() {
                assert!(EVENT_TYPES.contains(&name), "{name} is not in EVENT_TYPES");
            }
        }
    }

    #[test]
    fn replayed_times_are_rfc3339() {
        let mut problems = Vec::new();
        assert!(checked_time("from", "2026-01-01T00:00:00Z", &mut problems).is_some());
        assert!(checked_time("from", "yesterday", &mut problems).is_none());
        assert!(checked_time("to", " ", &mut problems).is_none());
        let codes: Vec<_> = problems
            .iter()
            .map(|p| (p.path.as_str(), p.code.as_str()))
            .collect();
        assert_eq!(codes, [("from", "invalid_time"), ("to", "required")]);
    }

    #[test]
    fn unknown_event_types_are_refused_and_repeats_dropped() {
        let mut problems = Vec::new();
        let events = checked_events(
            &["user.created".into(), "user.created".into(), "nope".into()],
            &mut problems,
        );
        assert_eq!(events, vec!["user.created".to_owned()]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "events[2]");
    }
}
