//! Webhooks: endpoints, the outbox of events (written by the other aggregates in the
//! transaction of the change each reports, through [`sql::insert_event`]), deliveries leased by
//! one worker at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer) and the
//! log of their attempts.

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::backend::{Backend, Conn, on_postgres, pick, query, query_as};
use crate::model::{from_millis, from_millis_opt, new_id, parse_id, to_millis};
use crate::outbox_signal::OutboxSignal;
use crate::webhook::{
    AttemptOutcome, AttemptRecord, DeliveryStatus, LeasedDelivery, NewWebhookEndpoint,
    NewWebhookEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEndpointUpdate,
    WebhookEvent,
};

/// A column for the `RETURNING` of a statement that a change's event follows: whether an
/// endpoint is enabled, read in the change's own statement, so that with none the event costs
/// no statement at all (then [`sql::insert_wanted_event`] when it is true).
macro_rules! outbox_wanted {
    () => {
        "EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) AS outbox_wanted"
    };
}
pub(crate) use outbox_wanted;

/// Webhook endpoints, the outbox and deliveries.
#[async_trait]
pub trait Webhooks: Send + Sync {
    /// Stores a new endpoint, enabled.
    async fn create_webhook_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, StoreError>;

    /// The endpoint with this id, if any.
    async fn get_webhook_endpoint(&self, id: Uuid) -> Result<Option<WebhookEndpoint>, StoreError>;

    /// Every endpoint, oldest first.
    async fn list_webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError>;

    /// Replaces an endpoint's values (and its sealed secrets when given); enabling it clears the
    /// reason it was disabled. [`StoreError::NotFound`] when there is none.
    async fn update_webhook_endpoint(
        &self,
        update: WebhookEndpointUpdate,
    ) -> Result<WebhookEndpoint, StoreError>;

    /// Deletes an endpoint and its deliveries; `false` when there was none.
    async fn delete_webhook_endpoint(&self, id: Uuid) -> Result<bool, StoreError>;

    /// Records an event on its own (the changes of other aggregates record theirs in their own
    /// transaction).
    async fn record_webhook_event(&self, event: NewWebhookEvent) -> Result<String, StoreError>;

    /// The newest events of the outbox, newest first.
    async fn recent_webhook_events(&self, limit: i64) -> Result<Vec<WebhookEvent>, StoreError>;

    /// Makes a pending delivery, due at once, of up to `limit` events not yet fanned out, to
    /// every enabled endpoint that wants each; returns how many events were fanned out.
    async fn fan_out_webhook_events(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<u64, StoreError>;

    /// Leases up to `limit` pending deliveries due at `now` to enabled endpoints, whose lease
    /// (if any) has expired, to worker `owner` until `until`; each comes with the name of this
    /// lease, to record its attempt with.
    async fn lease_webhook_deliveries(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<LeasedDelivery>, StoreError>;

    /// Logs an attempt and applies its outcome (giving up disables the endpoint and records
    /// `webhook.endpoint_disabled`), in one transaction, if `owner` still holds the lease;
    /// whether it did.
    async fn record_webhook_attempt(&self, record: AttemptRecord) -> Result<bool, StoreError>;

    /// An endpoint's newest deliveries, newest first.
    async fn list_webhook_deliveries(
        &self,
        endpoint_id: Uuid,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// One delivery.
    async fn get_webhook_delivery(&self, id: Uuid) -> Result<Option<WebhookDelivery>, StoreError>;

    /// A delivery's attempts, first first.
    async fn webhook_attempts(&self, delivery_id: Uuid) -> Result<Vec<WebhookAttempt>, StoreError>;

    /// Makes a delivery pending again, due at `now` (its attempts stay in the log).
    /// [`StoreError::NotFound`] when there is none.
    async fn replay_webhook_delivery(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<WebhookDelivery, StoreError>;

    /// Deletes the events older than `before` that have no pending delivery left; how many.
    async fn purge_webhook_events(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// What wakes a delivery worker when events are committed to the outbox (this process's
    /// writes on SQLite; every node's on PostgreSQL).
    async fn webhook_outbox_signal(&self) -> Result<OutboxSignal, StoreError>;

    /// [`Webhooks::fan_out_webhook_events`] (up to `fan_out` events) then
    /// [`Webhooks::lease_webhook_deliveries`] (up to `limit`), on one connection: a worker's
    /// whole look for work. How many events were fanned out, and the leased deliveries.
    async fn claim_webhook_deliveries(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        fan_out: i64,
        limit: i64,
    ) -> Result<(u64, Vec<LeasedDelivery>), StoreError>;

    /// [`Webhooks::record_webhook_attempt`] for several attempts, in one transaction; for each,
    /// whether its lease was still held.
    async fn record_webhook_attempts(
        &self,
        records: Vec<AttemptRecord>,
    ) -> Result<Vec<bool>, StoreError>;

    /// Makes every delivery of endpoint `endpoint_id` whose event occurred in `[from, to)`
    /// pending again, due at `now` (their attempts stay in the log); how many.
    async fn replay_webhook_deliveries(
        &self,
        endpoint_id: Uuid,
        from: OffsetDateTime,
        to: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
impl<B: Backend> Webhooks for B {
    async fn create_webhook_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_endpoint(&mut *c, endpoint).await;
        self.settle(&mut c, result)
    }

    async fn get_webhook_endpoint(&self, id: Uuid) -> Result<Option<WebhookEndpoint>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::get_endpoint(&mut *c, id).await;
        self.settle(&mut c, result)
    }

    async fn list_webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_endpoints(&mut *c, false).await;
        self.settle(&mut c, result)
    }

    async fn update_webhook_endpoint(
        &self,
        update: WebhookEndpointUpdate,
    ) -> Result<WebhookEndpoint, StoreError> {
        let mut c = self.write().await?;
        let result = sql::update_endpoint(&mut *c, update).await;
        self.settle(&mut c, result)
    }

    async fn delete_webhook_endpoint(&self, id: Uuid) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_endpoint(&mut *c, id).await;
        self.settle(&mut c, result)
    }

    async fn record_webhook_event(&self, event: NewWebhookEvent) -> Result<String, StoreError> {
        let mut c = self.write().await?;
        let result = sql::insert_event(&mut *c, event).await;
        self.settle(&mut c, result)
    }

    async fn recent_webhook_events(&self, limit: i64) -> Result<Vec<WebhookEvent>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::recent_events(&mut *c, limit).await;
        self.settle(&mut c, result)
    }

    async fn fan_out_webhook_events(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::fan_out(&mut *c, now, limit).await;
        self.settle(&mut c, result)
    }

    async fn lease_webhook_deliveries(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<LeasedDelivery>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::lease(&mut *c, owner, now, until, limit).await;
        self.settle(&mut c, result)
    }

    async fn record_webhook_attempt(&self, record: AttemptRecord) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::record_attempt(&mut *c, record).await;
        self.settle(&mut c, result)
    }

    async fn list_webhook_deliveries(
        &self,
        endpoint_id: Uuid,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_deliveries(&mut *c, endpoint_id, limit).await;
        self.settle(&mut c, result)
    }

    async fn get_webhook_delivery(&self, id: Uuid) -> Result<Option<WebhookDelivery>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::get_delivery(&mut *c, id).await;
        self.settle(&mut c, result)
    }

    async fn webhook_attempts(&self, delivery_id: Uuid) -> Result<Vec<WebhookAttempt>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::attempts(&mut *c, delivery_id).await;
        self.settle(&mut c, result)
    }

    async fn replay_webhook_delivery(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<WebhookDelivery, StoreError> {
        let mut c = self.write().await?;
        let result = sql::replay(&mut *c, id, now).await;
        self.settle(&mut c, result)
    }

    async fn purge_webhook_events(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::purge(&mut *c, before).await;
        self.settle(&mut c, result)
    }

    async fn webhook_outbox_signal(&self) -> Result<OutboxSignal, StoreError> {
        self.outbox_signal().await
    }

    async fn claim_webhook_deliveries(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        fan_out: i64,
        limit: i64,
    ) -> Result<(u64, Vec<LeasedDelivery>), StoreError> {
        let mut c = self.write().await?;
        let result = match sql::fan_out(&mut *c, now, fan_out).await {
            Ok(fanned) => sql::lease(&mut *c, owner, now, until, limit)
                .await
                .map(|leased| (fanned, leased)),
            Err(error) => Err(error),
        };
        self.settle(&mut c, result)
    }

    async fn record_webhook_attempts(
        &self,
        records: Vec<AttemptRecord>,
    ) -> Result<Vec<bool>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::record_attempts(&mut *c, records).await;
        self.settle(&mut c, result)
    }

    async fn replay_webhook_deliveries(
        &self,
        endpoint_id: Uuid,
        from: OffsetDateTime,
        to: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::replay_range(&mut *c, endpoint_id, from, to, now).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    /// Events not yet fanned out, oldest first; PostgreSQL skips those another node is fanning
    /// out.
    const PENDING_EVENTS_PG: &str =
        "SELECT id, type AS kind, payload, occurred_at FROM webhook_events
         WHERE fanned_out = FALSE ORDER BY occurred_at, id LIMIT $1
         FOR UPDATE SKIP LOCKED";
    const PENDING_EVENTS_SQLITE: &str =
        "SELECT id, type AS kind, payload, occurred_at FROM webhook_events
         WHERE fanned_out = FALSE ORDER BY occurred_at, id LIMIT $1";

    /// Leases due deliveries; PostgreSQL skips rows another node is leasing.
    const LEASE_PG: &str = "UPDATE webhook_deliveries SET lease_owner = $1, lease_expires_at = $2
         WHERE id IN (
             SELECT id FROM webhook_deliveries
             WHERE status = 'pending' AND next_attempt_at <= $3
               AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
               AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled)
             ORDER BY next_attempt_at LIMIT $4
             FOR UPDATE SKIP LOCKED)";
    const LEASE_SQLITE: &str =
        "UPDATE webhook_deliveries SET lease_owner = $1, lease_expires_at = $2
         WHERE id IN (
             SELECT id FROM webhook_deliveries
             WHERE status = 'pending' AND next_attempt_at <= $3
               AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
               AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled)
             ORDER BY next_attempt_at LIMIT $4)";

    /// Attempts that deliver or retry (a JSON array of records), applied where their lease is
    /// still held and logged, in one statement; the ids of those recorded.
    const RECORD_ATTEMPTS_PG: &str = "
        WITH r AS (
            SELECT * FROM jsonb_to_recordset($1) AS r(
                id TEXT, owner TEXT, status TEXT, next BIGINT, delivered BIGINT,
                status_code BIGINT, error TEXT, at BIGINT, duration_ms BIGINT)
        ), done AS (
            UPDATE webhook_deliveries d
            SET status = r.status, attempts = d.attempts + 1, next_attempt_at = r.next,
                delivered_at = r.delivered, last_status = r.status_code, last_error = r.error,
                lease_owner = NULL, lease_expires_at = NULL
            FROM r
            -- The ids as an array first: joined with the function's rows alone, the planner
            -- scans every delivery.
            WHERE d.id = ANY(ARRAY(SELECT id FROM r))
              AND d.id = r.id AND d.lease_owner = r.owner AND d.status = 'pending'
            RETURNING d.id, d.attempts
        )
        INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
        SELECT done.id, done.attempts, r.at, r.status_code, r.error, r.duration_ms
        FROM done JOIN r ON r.id = done.id
        RETURNING delivery_id";

    /// Writes `event` to the outbox on `c` (inside the caller's transaction when it reports a
    /// change); its id.
    pub(crate) async fn insert_event<C: Conn>(
        c: &mut C,
        event: NewWebhookEvent,
    ) -> Result<String, StoreError> {
        // Only while an endpoint is enabled: with none (most servers), a sign-in or a page view
        // writes nothing more; an endpoint receives the changes committed after it exists.
        insert(
            c,
            event,
            "INSERT INTO webhook_events (id, type, payload, occurred_at, fanned_out, user_id)
             SELECT $1, $2, $3, $4, FALSE, $5
             WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled)",
        )
        .await
    }

    /// [`insert_event`] when a statement of the same transaction found an enabled endpoint
    /// (its `RETURNING` held `outbox_wanted!()`, true).
    pub(crate) async fn insert_wanted_event<C: Conn>(
        c: &mut C,
        event: NewWebhookEvent,
    ) -> Result<String, StoreError> {
        insert(
            c,
            event,
            "INSERT INTO webhook_events (id, type, payload, occurred_at, fanned_out, user_id)
             VALUES ($1, $2, $3, $4, FALSE, $5)",
        )
        .await
    }

    async fn insert<C: Conn>(
        c: &mut C,
        event: NewWebhookEvent,
        sql: &'static str,
    ) -> Result<String, StoreError> {
        let id = format!("msg_{}", new_id(event.at).simple());
        // The user it is about (`user.id` of the payload), whose deletion erases it.
        let user_id = event
            .payload
            .pointer("/user/id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        query(sql)
            .bind(id.clone())
            .bind(event.kind)
            .bind(Json(event.payload))
            .bind(to_millis(event.at))
            .bind(user_id)
            .execute(&mut *c)
            .await?;
        Ok(id)
    }

    /// Erases what the outbox keeps of a deleted user: each event about them keeps its type,
    /// time and the user's id, and loses everything else (their address, their values); a
    /// delivery still pending sends that.
    pub(crate) async fn erase_user_events<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<(), StoreError> {
        query("UPDATE webhook_events SET payload = $2 WHERE user_id = $1")
            .bind(user_id.to_string())
            .bind(Json(json!({ "user": { "id": user_id }, "erased": true })))
            .execute(&mut *c)
            .await?;
        Ok(())
    }

    pub(crate) async fn recent_events<C: Conn>(
        c: &mut C,
        limit: i64,
    ) -> Result<Vec<WebhookEvent>, StoreError> {
        query_as::<EventRow>(
            "SELECT id, type AS kind, payload, occurred_at FROM webhook_events
             ORDER BY occurred_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(WebhookEvent::try_from)
        .collect()
    }

    pub(crate) async fn create_endpoint<C: Conn>(
        c: &mut C,
        endpoint: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, StoreError> {
        let now = to_millis(endpoint.now);
        query_as::<EndpointRow>(
            "INSERT INTO webhook_endpoints (id, url, events, description, sealed_secrets, enabled,
                                            created_at, updated_at, include_values)
             VALUES ($1, $2, $3, $4, $5, TRUE, $6, $6, $7)
             RETURNING *",
        )
        .bind(new_id(endpoint.now).to_string())
        .bind(endpoint.url)
        .bind(Json(endpoint.events))
        .bind(endpoint.description)
        .bind(endpoint.sealed_secrets)
        .bind(now)
        .bind(endpoint.include_values)
        .fetch_one(&mut *c)
        .await?
        .try_into()
    }

    pub(crate) async fn get_endpoint<C: Conn>(
        c: &mut C,
        id: Uuid,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        query_as::<EndpointRow>("SELECT * FROM webhook_endpoints WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *c)
            .await?
            .map(WebhookEndpoint::try_from)
            .transpose()
    }

    pub(crate) async fn list_endpoints<C: Conn>(
        c: &mut C,
        enabled_only: bool,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        query_as::<EndpointRow>(
            "SELECT * FROM webhook_endpoints WHERE ($1 = FALSE OR enabled)
             ORDER BY created_at, id",
        )
        .bind(enabled_only)
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(WebhookEndpoint::try_from)
        .collect()
    }

    pub(crate) async fn update_endpoint<C: Conn>(
        c: &mut C,
        update: WebhookEndpointUpdate,
    ) -> Result<WebhookEndpoint, StoreError> {
        query_as::<EndpointRow>(
            "UPDATE webhook_endpoints
             SET url = $2, events = $3, description = $4, enabled = $5,
                 sealed_secrets = COALESCE($6, sealed_secrets), updated_at = $7,
                 disabled_reason = CASE WHEN $5 THEN NULL ELSE disabled_reason END,
                 include_values = $8
             WHERE id = $1
             RETURNING *",
        )
        .bind(update.id.to_string())
        .bind(update.url)
        .bind(Json(update.events))
        .bind(update.description)
        .bind(update.enabled)
        .bind(update.sealed_secrets)
        .bind(to_millis(update.now))
        .bind(update.include_values)
        .fetch_one(&mut *c)
        .await?
        .try_into()
    }

    pub(crate) async fn delete_endpoint<C: Conn>(c: &mut C, id: Uuid) -> Result<bool, StoreError> {
        // Its deliveries reference it with ON DELETE CASCADE.
        let done = query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *c)
            .await?;
        Ok(done > 0)
    }

    pub(crate) async fn fan_out<C: Conn>(
        c: &mut C,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = c.begin_write().await?;
        let pending = pick::<C>(PENDING_EVENTS_SQLITE, PENDING_EVENTS_PG);
        let events = query_as::<EventRow>(pending)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        if events.is_empty() {
            // Ended now: a transaction dropped open would keep its connection idle in it.
            C::commit(tx).await?;
            return Ok(0);
        }
        let endpoints = list_endpoints(&mut *tx, true).await?;
        let at = to_millis(now);
        // The whole batch in three statements (rows as JSON arrays): one round trip per
        // delivery and per event was most of a fan-out's time on PostgreSQL.
        let (mut deliveries, mut wanted, mut unwanted) = (Vec::new(), Vec::new(), Vec::new());
        for event in &events {
            let before = deliveries.len();
            for endpoint in endpoints.iter().filter(|e| e.wants(&event.kind)) {
                deliveries.push(json!({
                    "i": new_id(now).to_string(),
                    "e": event.id,
                    "p": endpoint.id.to_string(),
                }));
            }
            // An event no endpoint wants is owed to nobody (an endpoint registered later
            // receives what happens after): it leaves the outbox at once, so that sign-ins and
            // page views with no webhook listening do not pile up for 30 days.
            match deliveries.len() > before {
                true => wanted.push(Value::String(event.id.clone())),
                false => unwanted.push(Value::String(event.id.clone())),
            }
        }
        if !deliveries.is_empty() {
            let insert = pick::<C>(
                "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, attempts,
                                                 next_attempt_at, created_at)
                 SELECT j.value ->> 'i', j.value ->> 'e', j.value ->> 'p', 'pending', 0, $2, $2
                 FROM json_each($1) j WHERE TRUE
                 ON CONFLICT (event_id, endpoint_id) DO NOTHING",
                "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, attempts,
                                                 next_attempt_at, created_at)
                 SELECT j ->> 'i', j ->> 'e', j ->> 'p', 'pending', 0, $2, $2
                 FROM jsonb_array_elements($1::jsonb) AS t(j)
                 ON CONFLICT (event_id, endpoint_id) DO NOTHING",
            );
            query(insert)
                .bind(Json(Value::Array(deliveries)))
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        for (ids, postgres_sql, sqlite_sql) in [
            (
                wanted,
                "UPDATE webhook_events SET fanned_out = TRUE
                 WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
                "UPDATE webhook_events SET fanned_out = TRUE
                 WHERE id IN (SELECT value FROM json_each($1))",
            ),
            (
                unwanted,
                "DELETE FROM webhook_events
                 WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
                "DELETE FROM webhook_events WHERE id IN (SELECT value FROM json_each($1))",
            ),
        ] {
            if ids.is_empty() {
                continue;
            }
            let sql = pick::<C>(sqlite_sql, postgres_sql);
            query(sql)
                .bind(Json(Value::Array(ids)))
                .execute(&mut *tx)
                .await?;
        }
        C::commit(tx).await?;
        Ok(events.len() as u64)
    }

    pub(crate) async fn lease<C: Conn>(
        c: &mut C,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<LeasedDelivery>, StoreError> {
        let mut tx = c.begin_write().await?;
        // This call's own name, so that the rows read back are exactly those it leased.
        let token = format!("{owner}/{}", new_id(now).simple());
        let lease = pick::<C>(LEASE_SQLITE, LEASE_PG);
        let leased = query(lease)
            .bind(token.clone())
            .bind(to_millis(until))
            .bind(to_millis(now))
            .bind(limit)
            .execute(&mut *tx)
            .await?;
        if leased == 0 {
            C::commit(tx).await?;
            return Ok(Vec::new());
        }
        let rows = query_as::<LeaseRow>(
            "SELECT d.id AS delivery_id, d.attempts, d.created_at, e.id AS event_id,
                    e.type AS event_type, e.payload, e.occurred_at, p.id AS endpoint_id, p.url,
                    p.sealed_secrets, p.include_values
             FROM webhook_deliveries d
             JOIN webhook_events e ON e.id = d.event_id
             JOIN webhook_endpoints p ON p.id = d.endpoint_id
             WHERE d.lease_owner = $1 AND d.lease_expires_at = $2 AND d.status = 'pending'
             ORDER BY d.next_attempt_at",
        )
        .bind(token.clone())
        .bind(to_millis(until))
        .fetch_all(&mut *tx)
        .await?;
        C::commit(tx).await?;
        rows.into_iter()
            .map(|row| {
                let mut leased = LeasedDelivery::try_from(row)?;
                leased.lease = token.clone();
                Ok(leased)
            })
            .collect()
    }

    pub(crate) async fn record_attempt<C: Conn>(
        c: &mut C,
        record: AttemptRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = c.begin_write().await?;
        let held = record_attempt_in(&mut *tx, record).await?;
        C::commit(tx).await?;
        Ok(held)
    }

    /// Several attempts in one transaction (a worker records what finished together). On
    /// PostgreSQL the attempts that deliver or retry are recorded in one statement (a round trip
    /// per attempt was most of a delivery's time there); giving up, which also disables the
    /// endpoint, one by one.
    pub(crate) async fn record_attempts<C: Conn>(
        c: &mut C,
        records: Vec<AttemptRecord>,
    ) -> Result<Vec<bool>, StoreError> {
        let mut tx = c.begin_write().await?;
        let mut held = vec![false; records.len()];
        let mut one_by_one = Vec::new();
        let mut together = Vec::new();
        for (i, record) in records.into_iter().enumerate() {
            if on_postgres::<C>() && !matches!(record.outcome, AttemptOutcome::GiveUp(_)) {
                together.push((i, record));
            } else {
                one_by_one.push((i, record));
            }
        }
        if !together.is_empty() {
            let rows: Vec<Value> = together
                .iter()
                .map(|(_, record)| {
                    let attempt = &record.attempt;
                    let at = to_millis(attempt.at);
                    let (status, next, delivered) = match &record.outcome {
                        AttemptOutcome::Retry(next) => ("pending", to_millis(*next), None),
                        _ => ("delivered", at, Some(at)),
                    };
                    json!({
                        "id": record.delivery_id.to_string(),
                        "owner": record.owner,
                        "status": status,
                        "next": next,
                        "delivered": delivered,
                        "status_code": attempt.status_code,
                        "error": attempt.error,
                        "at": at,
                        "duration_ms": attempt.duration_ms,
                    })
                })
                .collect();
            let recorded = query_as::<(String,)>(RECORD_ATTEMPTS_PG)
                .bind(Json(Value::Array(rows)))
                .fetch_all(&mut *tx)
                .await?;
            for (i, record) in &together {
                let id = record.delivery_id.to_string();
                held[*i] = recorded.iter().any(|(done,)| *done == id);
            }
        }
        for (i, record) in one_by_one {
            held[i] = record_attempt_in(&mut *tx, record).await?;
        }
        C::commit(tx).await?;
        Ok(held)
    }

    /// One attempt, inside the caller's transaction: applied only if `record.owner` still
    /// holds the lease.
    async fn record_attempt_in<C: Conn>(
        tx: &mut C,
        record: AttemptRecord,
    ) -> Result<bool, StoreError> {
        let attempt = &record.attempt;
        let at = to_millis(attempt.at);
        let (status, next, delivered) = match &record.outcome {
            AttemptOutcome::Delivered => (DeliveryStatus::Delivered, at, Some(at)),
            AttemptOutcome::Retry(next) => (DeliveryStatus::Pending, to_millis(*next), None),
            AttemptOutcome::GiveUp(_) => (DeliveryStatus::Failed, at, None),
        };
        // The lease is checked and the outcome applied in one statement.
        let held = query_as::<(i64, String)>(
            "UPDATE webhook_deliveries
             SET status = $3, attempts = attempts + 1, next_attempt_at = $4, delivered_at = $5,
                 last_status = $6, last_error = $7, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2 AND status = 'pending'
             RETURNING attempts, endpoint_id",
        )
        .bind(record.delivery_id.to_string())
        .bind(record.owner.clone())
        .bind(status.as_str())
        .bind(next)
        .bind(delivered)
        .bind(attempt.status_code)
        .bind(attempt.error.clone())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((number, endpoint_id)) = held else {
            return Ok(false);
        };
        query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.delivery_id.to_string())
        .bind(number)
        .bind(at)
        .bind(attempt.status_code)
        .bind(attempt.error.clone())
        .bind(attempt.duration_ms)
        .execute(&mut *tx)
        .await?;
        if let AttemptOutcome::GiveUp(reason) = &record.outcome {
            let disabled = query(
                "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $2, updated_at = $3
                 WHERE id = $1 AND enabled",
            )
            .bind(endpoint_id.clone())
            .bind(reason.clone())
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if disabled > 0 {
                let event = NewWebhookEvent {
                    kind: "webhook.endpoint_disabled",
                    payload: json!({ "endpoint": { "id": endpoint_id, "reason": reason } }),
                    at: attempt.at,
                };
                insert_event(&mut *tx, event).await?;
            }
        }
        Ok(true)
    }

    pub(crate) async fn list_deliveries<C: Conn>(
        c: &mut C,
        endpoint_id: Uuid,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        query_as::<DeliveryRow>(
            "SELECT d.id, d.event_id, e.type AS event_type, d.endpoint_id, d.status, d.attempts,
                    d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, d.created_at
             FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
             WHERE d.endpoint_id = $1
             ORDER BY d.created_at DESC, d.id DESC LIMIT $2",
        )
        .bind(endpoint_id.to_string())
        .bind(limit)
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(WebhookDelivery::try_from)
        .collect()
    }

    pub(crate) async fn get_delivery<C: Conn>(
        c: &mut C,
        id: Uuid,
    ) -> Result<Option<WebhookDelivery>, StoreError> {
        query_as::<DeliveryRow>(
            "SELECT d.id, d.event_id, e.type AS event_type, d.endpoint_id, d.status, d.attempts,
                    d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, d.created_at
             FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
             WHERE d.id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await?
        .map(WebhookDelivery::try_from)
        .transpose()
    }

    pub(crate) async fn attempts<C: Conn>(
        c: &mut C,
        delivery_id: Uuid,
    ) -> Result<Vec<WebhookAttempt>, StoreError> {
        let rows = query_as::<AttemptRow>(
            "SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts
             WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(delivery_id.to_string())
        .fetch_all(&mut *c)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(WebhookAttempt {
                    attempt: row.attempt,
                    at: from_millis(row.at)?,
                    status_code: row.status_code,
                    error: row.error,
                    duration_ms: row.duration_ms,
                })
            })
            .collect()
    }

    pub(crate) async fn replay<C: Conn>(
        c: &mut C,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<WebhookDelivery, StoreError> {
        let mut tx = c.begin_write().await?;
        let done = query(
            "UPDATE webhook_deliveries
             SET status = 'pending', next_attempt_at = $2, delivered_at = NULL,
                 lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        let delivery = get_delivery(&mut *tx, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        C::commit(tx).await?;
        Ok(delivery)
    }

    pub(crate) async fn replay_range<C: Conn>(
        c: &mut C,
        endpoint_id: Uuid,
        from: OffsetDateTime,
        to: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        query(
            "UPDATE webhook_deliveries
             SET status = 'pending', next_attempt_at = $4, delivered_at = NULL,
                 lease_owner = NULL, lease_expires_at = NULL
             WHERE endpoint_id = $1
               AND event_id IN (SELECT id FROM webhook_events
                                WHERE occurred_at >= $2 AND occurred_at < $3)",
        )
        .bind(endpoint_id.to_string())
        .bind(to_millis(from))
        .bind(to_millis(to))
        .bind(to_millis(now))
        .execute(&mut *c)
        .await
    }

    pub(crate) async fn purge<C: Conn>(
        c: &mut C,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        query(
            "DELETE FROM webhook_events
             WHERE fanned_out AND occurred_at < $1
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                               WHERE d.event_id = webhook_events.id AND d.status = 'pending')",
        )
        .bind(to_millis(before))
        .execute(&mut *c)
        .await
    }
}

/// A `webhook_endpoints` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EndpointRow {
    pub id: String,
    pub url: String,
    pub events: Json<Vec<String>>,
    pub description: Option<String>,
    pub sealed_secrets: Vec<u8>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub include_values: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;

    fn try_from(row: EndpointRow) -> Result<Self, StoreError> {
        Ok(WebhookEndpoint {
            id: parse_id(&row.id)?,
            url: row.url,
            events: row.events.0,
            description: row.description,
            sealed_secrets: row.sealed_secrets,
            include_values: row.include_values,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            created_at: from_millis(row.created_at)?,
            updated_at: from_millis(row.updated_at)?,
        })
    }
}

/// A `webhook_events` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    pub id: String,
    pub kind: String,
    pub payload: Json<Value>,
    pub occurred_at: i64,
}

impl TryFrom<EventRow> for WebhookEvent {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(WebhookEvent {
            id: row.id,
            kind: row.kind,
            payload: row.payload.0,
            occurred_at: from_millis(row.occurred_at)?,
        })
    }
}

/// A leased delivery with its event and endpoint.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct LeaseRow {
    pub delivery_id: String,
    pub attempts: i64,
    pub created_at: i64,
    pub event_id: String,
    pub event_type: String,
    pub payload: Json<Value>,
    pub occurred_at: i64,
    pub endpoint_id: String,
    pub url: String,
    pub sealed_secrets: Vec<u8>,
    pub include_values: bool,
}

impl TryFrom<LeaseRow> for LeasedDelivery {
    type Error = StoreError;

    fn try_from(row: LeaseRow) -> Result<Self, StoreError> {
        Ok(LeasedDelivery {
            delivery_id: parse_id(&row.delivery_id)?,
            lease: String::new(),
            attempts: row.attempts,
            created_at: from_millis(row.created_at)?,
            event: WebhookEvent {
                id: row.event_id,
                kind: row.event_type,
                payload: row.payload.0,
                occurred_at: from_millis(row.occurred_at)?,
            },
            endpoint_id: parse_id(&row.endpoint_id)?,
            url: row.url,
            sealed_secrets: row.sealed_secrets,
            include_values: row.include_values,
        })
    }
}

/// A delivery with its event's type.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_id: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

impl TryFrom<DeliveryRow> for WebhookDelivery {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        Ok(WebhookDelivery {
            id: parse_id(&row.id)?,
            event_id: row.event_id,
            event_type: row.event_type,
            endpoint_id: parse_id(&row.endpoint_id)?,
            status: DeliveryStatus::parse(&row.status),
            attempts: row.attempts,
            next_attempt_at: from_millis(row.next_attempt_at)?,
            last_status: row.last_status,
            last_error: row.last_error,
            delivered_at: from_millis_opt(row.delivered_at)?,
            created_at: from_millis(row.created_at)?,
        })
    }
}

/// A `webhook_attempts` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AttemptRow {
    pub attempt: i64,
    pub at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}
