//! `/api/v1/webhooks`: the endpoints events are delivered to (docs/webhooks.md), their signing
//! secrets (shown once, when made), their deliveries and the log of attempts, and replaying a
//! delivery. The rules live in `accrete_app::webhooks`.

use accrete_app::webhooks::{self, NewWebhook, WebhookChange, WebhookView, WithSecret};
use accrete_store::{WebhookAttempt, WebhookDelivery};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::problem::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// An endpoint (never its secrets).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    /// Where events are POSTed.
    pub url: String,
    /// The event types it receives; empty: every type.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// Whether deliveries are made to it.
    pub enabled: bool,
    /// Why Accrete disabled it (deliveries failed for three days).
    pub disabled_reason: Option<String>,
    /// Whether `user.updated` deliveries carry the new values (otherwise only which fields
    /// changed, and from what source).
    pub include_values: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<WebhookView> for Webhook {
    fn from(view: WebhookView) -> Self {
        Webhook {
            id: view.id,
            url: view.url,
            events: view.events,
            description: view.description,
            enabled: view.enabled,
            disabled_reason: view.disabled_reason,
            include_values: view.include_values,
            created_at: view.created_at,
            updated_at: view.updated_at,
        }
    }
}

/// An endpoint with its new signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_...`: the key of the `webhook-signature` HMAC. Keep it now: it is never shown
    /// again.
    pub secret: String,
}

impl From<WithSecret> for WebhookWithSecret {
    fn from(made: WithSecret) -> Self {
        WebhookWithSecret {
            webhook: made.webhook.into(),
            secret: made.secret,
        }
    }
}

/// Every endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub items: Vec<Webhook>,
}

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// `https://...` (plain `http` only when the server allows it); not on a loopback, private
    /// or link-local address unless the server allows it.
    #[schema(max_length = 2048)]
    pub url: String,
    /// Event types to receive (`user.created`, `user.updated`, `signin.failed`, ...: the list
    /// in docs/webhooks.md); left out or empty: every type.
    #[serde(default)]
    pub events: Vec<String>,
    /// What it is for, one line.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// Whether `user.updated` deliveries carry the new values; left out: no.
    #[serde(default)]
    pub include_values: bool,
}

/// A change of an endpoint: what is given is replaced.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// An empty string removes it.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// `true` enables it again (its pending deliveries resume), `false` pauses it.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Whether `user.updated` deliveries carry the new values.
    #[serde(default)]
    pub include_values: Option<bool>,
}

/// One attempt of a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attempt {
    /// 1 for the first.
    pub attempt: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The answer's HTTP status; absent when there was no answer.
    pub status_code: Option<i64>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// One event to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    /// The event's id: the `webhook-id` header.
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// When the next attempt is due (pending deliveries).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Every attempt, first first.
    pub log: Vec<Attempt>,
}

fn delivery(delivery: WebhookDelivery, attempts: Vec<WebhookAttempt>) -> Delivery {
    Delivery {
        id: delivery.id,
        event_id: delivery.event_id,
        event_type: delivery.event_type,
        status: delivery.status.as_str().to_owned(),
        attempts: delivery.attempts,
        next_attempt_at: delivery.next_attempt_at,
        delivered_at: delivery.delivered_at,
        created_at: delivery.created_at,
        log: attempts
            .into_iter()
            .map(|a| Attempt {
                attempt: a.attempt,
                at: a.at,
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect(),
    }
}

/// An endpoint's newest deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub items: Vec<Delivery>,
}

/// `?limit=` of the deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// At most this many (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

fn audit_view(webhook: &Webhook) -> Option<serde_json::Value> {
    super::audit::snapshot(webhook)
}

/// Registers an endpoint; its signing secret is in the answer, and never shown again.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", operation_id = "create_webhook",
    request_body = NewWebhookBody,
    responses(
        (status = 201, body = WebhookWithSecret, description = "Created",
            headers(("Location" = String, description = "The endpoint's URL"))),
        ErrorResponses),
    security(("bearer" = ["webhooks:write"])))]
pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewWebhookBody>,
) -> Result<Response, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let new = NewWebhook {
        url: body.url,
        events: body.events,
        description: body.description,
        include_values: body.include_values,
    };
    let made: WebhookWithSecret = webhooks::create(&state.app, new, OffsetDateTime::now_utc())
        .await?
        .into();
    let target = format!("webhook:{}", made.webhook.id);
    let after = audit_view(&made.webhook);
    super::audit::record(&state, &caller, "webhook.created", target, (None, after)).await;
    let location = format!("/api/v1/webhooks/{}", made.webhook.id);
    let mut response = (StatusCode::CREATED, axum::Json(made)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Every endpoint, oldest first.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    responses((status = 200, body = WebhookList), ErrorResponses),
    security(("bearer" = ["webhooks:read"])))]
pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<axum::Json<WebhookList>, ApiError> {
    caller.require(Scope::WebhooksRead)?;
    let items = webhooks::list(&state.app).await?;
    Ok(axum::Json(WebhookList {
        items: items.into_iter().map(Webhook::from).collect(),
    }))
}

/// One endpoint.
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 200, body = Webhook), ErrorResponses),
    security(("bearer" = ["webhooks:read"])))]
pub async fn get(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<Webhook>, ApiError> {
    caller.require(Scope::WebhooksRead)?;
    Ok(axum::Json(webhooks::get(&state.app, id).await?.into()))
}

/// Changes an endpoint: its URL, event types, description, or whether it is enabled.
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", operation_id = "update_webhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = WebhookPatch,
    responses((status = 200, body = Webhook), ErrorResponses),
    security(("bearer" = ["webhooks:write"])))]
pub async fn update(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<WebhookPatch>,
) -> Result<axum::Json<Webhook>, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let before: Webhook = webhooks::get(&state.app, id).await?.into();
    let change = WebhookChange {
        url: body.url,
        events: body.events,
        description: body
            .description
            .map(|d| Some(d).filter(|d| !d.trim().is_empty())),
        enabled: body.enabled,
        include_values: body.include_values,
    };
    let after: Webhook = webhooks::update(&state.app, id, change, OffsetDateTime::now_utc())
        .await?
        .into();
    super::audit::record(
        &state,
        &caller,
        "webhook.updated",
        format!("webhook:{id}"),
        (audit_view(&before), audit_view(&after)),
    )
    .await;
    Ok(axum::Json(after))
}

/// Deletes an endpoint and its deliveries.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 204, description = "Deleted"), ErrorResponses),
    security(("bearer" = ["webhooks:write"])))]
pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let before: Webhook = webhooks::get(&state.app, id).await?.into();
    webhooks::delete(&state.app, id).await?;
    super::audit::record(
        &state,
        &caller,
        "webhook.deleted",
        format!("webhook:{id}"),
        (audit_view(&before), None),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives an endpoint a new signing secret, shown this once. The previous secret stays valid
/// beside it (deliveries carry a signature for each) until the next rotation.
#[utoipa::path(post, path = "/webhooks/{id}/secret", tag = "webhooks", operation_id = "rotate_webhook_secret",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 200, body = WebhookWithSecret), ErrorResponses),
    security(("bearer" = ["webhooks:write"])))]
pub async fn rotate(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<WebhookWithSecret>, ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let made: WebhookWithSecret =
        webhooks::rotate_secret(&state.app, id, OffsetDateTime::now_utc())
            .await?
            .into();
    // The secret itself is never written to the log.
    super::audit::record(
        &state,
        &caller,
        "webhook.secret_rotated",
        format!("webhook:{id}"),
        (None, None),
    )
    .await;
    Ok(axum::Json(made))
}

/// An endpoint's newest deliveries, each with the log of its attempts.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "list_webhook_deliveries",
    params(("id" = Uuid, Path, description = "The endpoint's id"), DeliveryQuery),
    responses((status = 200, body = DeliveryList), ErrorResponses),
    security(("bearer" = ["webhooks:read"])))]
pub async fn deliveries(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<axum::Json<DeliveryList>, ApiError> {
    caller.require(Scope::WebhooksRead)?;
    let limit = i64::from(query.limit.unwrap_or(50));
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "out_of_range",
            "between 1 and 200",
        ));
    }
    let items = webhooks::deliveries(&state.app, id, limit).await?;
    Ok(axum::Json(DeliveryList {
        items: items
            .into_iter()
            .map(|(d, attempts)| delivery(d, attempts))
            .collect(),
    }))
}

/// Sends a delivery again, as soon as a worker gets to it (its earlier attempts stay in the
/// log).
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery_id}/replay", tag = "webhooks",
    operation_id = "replay_webhook_delivery",
    params(("id" = Uuid, Path, description = "The endpoint's id"),
        ("delivery_id" = Uuid, Path, description = "The delivery's id")),
    responses((status = 202, body = Delivery, description = "Pending again"), ErrorResponses),
    security(("bearer" = ["webhooks:write"])))]
pub async fn replay(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((id, delivery_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<(StatusCode, axum::Json<Delivery>), ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let replayed = webhooks::replay(&state.app, id, delivery_id, OffsetDateTime::now_utc()).await?;
    super::audit::record(
        &state,
        &caller,
        "webhook.delivery_replayed",
        format!("webhook:{id}"),
        (None, Some(serde_json::json!({ "delivery": delivery_id }))),
    )
    .await;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(delivery(replayed, Vec::new())),
    ))
}

/// A time range of events whose deliveries to send again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRange {
    /// The start of the range (included): an RFC 3339 time.
    #[schema(format = DateTime)]
    pub from: String,
    /// The end of the range (excluded): an RFC 3339 time after `from`.
    #[schema(format = DateTime)]
    pub to: String,
}

/// How many deliveries were made pending again.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    pub replayed: u64,
}

/// Sends again every delivery of the endpoint whose event occurred in `[from, to)`, as soon as
/// a worker gets to them (their earlier attempts stay in the log).
#[utoipa::path(post, path = "/webhooks/{id}/replay", tag = "webhooks",
    operation_id = "replay_webhook_range",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = ReplayRange,
    responses((status = 202, body = Replayed, description = "Pending again"), ErrorResponses),
    security(("bearer" = ["webhooks:write"])))]
pub async fn replay_range(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ReplayRange>,
) -> Result<(StatusCode, axum::Json<Replayed>), ApiError> {
    caller.require(Scope::WebhooksWrite)?;
    let now = OffsetDateTime::now_utc();
    let replayed = webhooks::replay_range(&state.app, id, &body.from, &body.to, now).await?;
    super::audit::record(
        &state,
        &caller,
        "webhook.deliveries_replayed",
        format!("webhook:{id}"),
        (
            None,
            Some(serde_json::json!({ "from": body.from, "to": body.to, "replayed": replayed })),
        ),
    )
    .await;
    Ok((StatusCode::ACCEPTED, axum::Json(Replayed { replayed })))
}
