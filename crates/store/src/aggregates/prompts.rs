//! Prompt state and events: what was shown, answered and skipped, the events behind the
//! completion figures, and the unit of work of one step of profiling.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::aggregates::prompt_state_row::{PromptStateRow, parse_declined};
use crate::backend::{Backend, Conn, query, query_as};
use crate::model::{from_millis, parse_id};
use crate::{
    Event, EventKind, NewEvent, ProfilingWrite, ProfilingWritten, PromptState, StepStats,
    StoreError,
};

/// Prompt state and events.
#[async_trait]
pub trait Prompts: Send + Sync {
    /// Records an event and, for `prompt.shown` / `prompt.answered` / `prompt.skipped`, moves
    /// the user's prompt state for the step, in one transaction; returns the new state.
    /// [`StoreError::NotFound`] for an unknown user.
    async fn record_prompt_event(&self, event: NewEvent)
    -> Result<Option<PromptState>, StoreError>;

    /// What one step of profiling writes, in one database transaction: the authorization
    /// transaction's update (as [`AuthTransactions::update_transaction`]), the user's value
    /// changes with history and provenance (as [`Users::apply_profile_changes`]) and the event
    /// with the prompt state it moves (as [`Self::record_prompt_event`]), each only if given.
    /// Fails as they do ([`StoreError::VersionMismatch`], [`StoreError::Conflict`],
    /// [`StoreError::NotFound`], ...), and then nothing at all is written.
    ///
    /// [`AuthTransactions::update_transaction`]: crate::AuthTransactions::update_transaction
    /// [`Users::apply_profile_changes`]: crate::Users::apply_profile_changes
    async fn write_profiling(&self, write: ProfilingWrite) -> Result<ProfilingWritten, StoreError>;

    /// The user's prompt state for every step ever shown, by step.
    async fn prompt_states(&self, user_id: Uuid) -> Result<Vec<PromptState>, StoreError>;

    /// Events after a sequence number, oldest first (for delivery to webhooks).
    async fn list_events(&self, after_seq: i64, limit: u32) -> Result<Vec<Event>, StoreError>;

    /// Deletes the events that occurred before `before` (retention); how many.
    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// A user's events, oldest first, at most `limit` (the newest ones when there are more).
    async fn user_events(&self, user_id: Uuid, limit: u32) -> Result<Vec<Event>, StoreError>;

    /// Per step, counts of shown / answered / skipped / abandoned events in `[from, to)`.
    async fn prompt_stats(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<StepStats>, StoreError>;
}

#[async_trait]
impl<B: Backend> Prompts for B {
    async fn record_prompt_event(
        &self,
        event: NewEvent,
    ) -> Result<Option<PromptState>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::record_prompt_event(&mut *c, event).await;
        self.settle(&mut c, result)
    }

    async fn write_profiling(&self, write: ProfilingWrite) -> Result<ProfilingWritten, StoreError> {
        let mut c = self.write().await?;
        let result = sql::write_profiling(&mut *c, write).await;
        self.settle(&mut c, result)
    }

    async fn prompt_states(&self, user_id: Uuid) -> Result<Vec<PromptState>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::prompt_states(&mut *c, user_id).await;
        self.settle(&mut c, result)
    }

    async fn user_events(&self, user_id: Uuid, limit: u32) -> Result<Vec<Event>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::user_events(&mut *c, user_id, limit).await;
        self.settle(&mut c, result)
    }

    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::purge_events(&mut *c, before).await;
        self.settle(&mut c, result)
    }

    async fn list_events(&self, after_seq: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_events(&mut *c, after_seq, limit).await;
        self.settle(&mut c, result)
    }

    async fn prompt_stats(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<StepStats>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::prompt_stats(&mut *c, from, to).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;
    use crate::aggregates::{transactions, users, webhooks};

    pub(crate) async fn record_prompt_event<C: Conn>(
        c: &mut C,
        event: NewEvent,
    ) -> Result<Option<PromptState>, StoreError> {
        let mut tx = c.begin_write().await?;
        let state = record_prompt_event_in(&mut *tx, event).await?;
        C::commit(tx).await?;
        Ok(state)
    }

    /// One step of profiling in one transaction: the transaction update, the value changes
    /// and the event, each written by the function its own store method uses.
    pub(crate) async fn write_profiling<C: Conn>(
        c: &mut C,
        write: ProfilingWrite,
    ) -> Result<ProfilingWritten, StoreError> {
        if let Some(event) = &write.event
            && event.user_id != write.user_id
        {
            return Err(StoreError::Invalid {
                message: "the event is about another user than the changes".into(),
            });
        }
        let mut tx = c.begin_write().await?;
        let transaction = match write.transaction {
            Some(transaction) => {
                Some(transactions::sql::update_transaction(&mut *tx, transaction).await?)
            }
            None => None,
        };
        let user = if write.changes.is_empty() {
            None
        } else {
            let update = crate::UserUpdate {
                changes: write.changes,
                ..Default::default()
            };
            Some(
                users::sql::update_user_in(
                    &mut *tx,
                    write.user_id,
                    None,
                    &update,
                    &write.source,
                    write.now,
                )
                .await?,
            )
        };
        let prompt = match write.event {
            Some(event) => record_prompt_event_in(&mut *tx, event).await?,
            None => None,
        };
        C::commit(tx).await?;
        Ok(ProfilingWritten {
            transaction,
            user,
            prompt,
        })
    }

    /// [`record_prompt_event`] inside the caller's write transaction.
    pub(crate) async fn record_prompt_event_in<C: Conn>(
        tx: &mut C,
        event: NewEvent,
    ) -> Result<Option<PromptState>, StoreError> {
        use EventKind;
        let data = crate::model::json_object(event.data, "event data")?;
        // Fields left blank by an answer join those left blank before (`data.declined`).
        let declined: Vec<String> = data
            .get("declined")
            .and_then(|v| v.as_array())
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        // Which counter the event moves; abandonment and profile updates move none.
        let upsert = match event.kind {
            EventKind::PromptShown => Some(
                "INSERT INTO prompt_state (user_id, step, shown, last_shown_at)
                 VALUES ($1, $2, 1, $3)
                 ON CONFLICT (user_id, step) DO UPDATE
                 SET shown = prompt_state.shown + 1, last_shown_at = excluded.last_shown_at
                 RETURNING *",
            ),
            EventKind::PromptAnswered => Some(
                "INSERT INTO prompt_state (user_id, step, answered, last_answered_at, declined)
                 VALUES ($1, $2, 1, $3, $4)
                 ON CONFLICT (user_id, step) DO UPDATE
                 SET answered = prompt_state.answered + 1,
                     last_answered_at = excluded.last_answered_at,
                     declined = excluded.declined
                 RETURNING *",
            ),
            EventKind::PromptSkipped => Some(
                "INSERT INTO prompt_state
                     (user_id, step, skipped, last_skipped_at, logins_at_last_skip)
                 VALUES ($1, $2, 1, $3, $4)
                 ON CONFLICT (user_id, step) DO UPDATE
                 SET skipped = prompt_state.skipped + 1,
                     last_skipped_at = excluded.last_skipped_at,
                     logins_at_last_skip = excluded.logins_at_last_skip
                 RETURNING *",
            ),
            _ => None,
        };
        if upsert.is_some() && event.step.is_none() {
            return Err(StoreError::Invalid {
                message: format!("a {} event needs a step", event.kind.as_str()),
            });
        }
        let at = crate::model::to_millis(event.at);
        query(
            "INSERT INTO prompt_events (kind, user_id, step, client_id, at, data)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event.kind.as_str())
        .bind(event.user_id.to_string())
        .bind(event.step.clone())
        .bind(event.client_id.clone())
        .bind(at)
        .bind(Json(data.clone()))
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            StoreError::Invalid { .. } => StoreError::NotFound,
            other => other,
        })?;
        // Delivered to webhooks: written with the event, so neither exists without the other.
        if let Some(kind) = event.kind.webhook_type() {
            let payload = serde_json::json!({
                "user": { "id": event.user_id },
                "step": event.step,
                "client_id": event.client_id,
                "data": data,
            });
            let outbox = crate::NewWebhookEvent {
                kind,
                payload,
                at: event.at,
            };
            webhooks::sql::insert_event(&mut *tx, outbox).await?;
        }
        let state = match (upsert, event.step) {
            (Some(sql), Some(step)) => {
                let declined = if event.kind == EventKind::PromptAnswered {
                    // Read inside the write transaction: the union is not lost to a
                    // concurrent answer.
                    let before = query_as::<(String,)>(
                        "SELECT declined FROM prompt_state WHERE user_id = $1 AND step = $2",
                    )
                    .bind(event.user_id.to_string())
                    .bind(step.clone())
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|(declined,)| declined);
                    let mut all = parse_declined(before.as_deref().unwrap_or("[]"))?;
                    for key in declined {
                        if !all.contains(&key) {
                            all.push(key);
                        }
                    }
                    Some(serde_json::to_string(&all).map_err(StoreError::unexpected)?)
                } else {
                    None
                };
                let query = query_as::<PromptStateRow>(sql)
                    .bind(event.user_id.to_string())
                    .bind(step)
                    .bind(at);
                let query = match event.kind {
                    EventKind::PromptSkipped => query.bind(event.logins),
                    EventKind::PromptAnswered => query.bind(declined),
                    _ => query,
                };
                Some(query.fetch_one(&mut *tx).await?.try_into()?)
            }
            _ => None,
        };
        Ok(state)
    }

    pub(crate) async fn prompt_states<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<Vec<PromptState>, StoreError> {
        query_as::<PromptStateRow>("SELECT * FROM prompt_state WHERE user_id = $1 ORDER BY step")
            .bind(user_id.to_string())
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(PromptState::try_from)
            .collect()
    }

    pub(crate) async fn user_events<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        let mut events = query_as::<EventRow>(
            "SELECT * FROM prompt_events WHERE user_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(user_id.to_string())
        .bind(i64::from(limit.clamp(1, 100_000)))
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(Event::try_from)
        .collect::<Result<Vec<_>, _>>()?;
        events.reverse();
        Ok(events)
    }

    pub(crate) async fn purge_events<C: Conn>(
        c: &mut C,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        query("DELETE FROM prompt_events WHERE at < $1")
            .bind(crate::model::to_millis(before))
            .execute(&mut *c)
            .await
    }

    pub(crate) async fn list_events<C: Conn>(
        c: &mut C,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        query_as::<EventRow>("SELECT * FROM prompt_events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(i64::from(limit.clamp(1, 10_000)))
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(Event::try_from)
            .collect()
    }

    pub(crate) async fn prompt_stats<C: Conn>(
        c: &mut C,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<StepStats>, StoreError> {
        Ok(query_as::<StatsRow>(
            "SELECT step,
                    COUNT(*) FILTER (WHERE kind = 'prompt.shown') AS shown,
                    COUNT(*) FILTER (WHERE kind = 'prompt.answered') AS answered,
                    COUNT(*) FILTER (WHERE kind = 'prompt.skipped') AS skipped,
                    COUNT(*) FILTER (WHERE kind = 'prompt.abandoned') AS abandoned
             FROM prompt_events
             WHERE step IS NOT NULL AND at >= $1 AND at < $2
             GROUP BY step ORDER BY step",
        )
        .bind(crate::model::to_millis(from))
        .bind(crate::model::to_millis(to))
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(StepStats::from)
        .collect())
    }
}

/// A `prompt_events` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub step: Option<String>,
    pub client_id: Option<String>,
    pub at: i64,
    pub data: Json<Value>,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(Event {
            seq: row.seq,
            kind: EventKind::parse(&row.kind).ok_or_else(|| {
                StoreError::unexpected(format!("unknown event kind {:?} in the database", row.kind))
            })?,
            user_id: row.user_id.as_deref().map(parse_id).transpose()?,
            step: row.step,
            client_id: row.client_id,
            at: from_millis(row.at)?,
            data: row.data.0,
        })
    }
}

/// One line of the per-step figures.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StatsRow {
    pub step: String,
    pub shown: i64,
    pub answered: i64,
    pub skipped: i64,
    pub abandoned: i64,
}

impl From<StatsRow> for StepStats {
    fn from(row: StatsRow) -> Self {
        StepStats {
            step: row.step,
            shown: row.shown,
            answered: row.answered,
            skipped: row.skipped,
            abandoned: row.abandoned,
        }
    }
}
