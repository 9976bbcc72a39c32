//! Companion mode's write-back (docs/companion.md, "Writing root attributes through Auth0's
//! Management API"): the writes of a visit's answers to the provider still to be made. A write
//! names the companion, the user, the provider's subject and the keys of the attributes, never
//! their values (read from the user when it is sent, so a deletion erases them). It is
//! recorded in the database transaction that completes the visit, leased by one worker at a
//! time (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer), and forgotten once
//! written or given up. The user's deletion deletes its writes (`ON DELETE CASCADE`).

use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::aggregates::transactions;
use crate::backend::{Backend, Conn, pick, query, query_as};
use crate::model::{from_millis, from_millis_opt, new_id, parse_id, to_millis};

/// A write to record with the end of a visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCompanionWrite {
    /// The companion's name.
    pub companion: String,
    /// The Accrete user whose values are written.
    pub user_id: Uuid,
    /// The user's id at the provider.
    pub subject: String,
    /// The keys of the attributes to write (their values are read when it is sent).
    pub fields: Vec<String>,
    /// Now: it is due at once.
    pub now: OffsetDateTime,
}

/// A write still to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionWrite {
    /// Its id.
    pub id: Uuid,
    /// The companion's name.
    pub companion: String,
    /// The Accrete user whose values are written.
    pub user_id: Uuid,
    /// The user's id at the provider.
    pub subject: String,
    /// The keys of the attributes to write.
    pub fields: Vec<String>,
    /// When it was recorded (retries stop a day after).
    pub created_at: OffsetDateTime,
    /// How many attempts were made.
    pub attempts: i64,
    /// When it is due.
    pub next_attempt_at: OffsetDateTime,
    /// Why the last attempt failed (a status and the provider's message; no values).
    pub last_error: Option<String>,
    /// The worker holding it, and until when.
    pub lease: Option<(String, OffsetDateTime)>,
}

/// What became of a leased write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompanionWriteOutcome {
    /// Written, refused for good, or given up: forgotten.
    Done,
    /// To be tried again at `at`; `attempted`: whether a request was made (a write held back
    /// by the provider's rate limit before its own request is not an attempt); `error`: why.
    Retry {
        /// When it is due again.
        at: OffsetDateTime,
        /// Whether this counts as an attempt.
        attempted: bool,
        /// Why it failed (no values).
        error: String,
    },
}

/// The writes of companion visits to their provider.
#[async_trait]
pub trait CompanionWrites: Send + Sync {
    /// Completes the transaction of a companion's visit exactly once (as
    /// [`crate::AuthTransactions::complete_transaction`]) and, when this call completed it,
    /// records `write` (if any) in the same database transaction; whether it completed it (a
    /// second call, or an expired transaction, writes nothing).
    async fn complete_companion_visit(
        &self,
        transaction: Uuid,
        now: OffsetDateTime,
        write: Option<NewCompanionWrite>,
    ) -> Result<bool, StoreError>;

    /// Leases up to `limit` writes due at `now` whose lease (if any) has expired to worker
    /// `owner` until `until`, the longest due first; another node's worker never gets the same
    /// write while the lease holds.
    async fn lease_companion_writes(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<CompanionWrite>, StoreError>;

    /// Applies the outcome of an attempt, if `owner` still holds the write's lease; whether it
    /// did.
    async fn settle_companion_write(
        &self,
        id: Uuid,
        owner: &str,
        outcome: CompanionWriteOutcome,
    ) -> Result<bool, StoreError>;

    /// The writes still to be made, the longest due first, at most `limit`.
    async fn list_companion_writes(&self, limit: i64) -> Result<Vec<CompanionWrite>, StoreError>;
}

#[async_trait]
impl<B: Backend> CompanionWrites for B {
    async fn complete_companion_visit(
        &self,
        transaction: Uuid,
        now: OffsetDateTime,
        write: Option<NewCompanionWrite>,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::complete_visit(&mut *c, transaction, now, write).await;
        self.settle(&mut c, result)
    }

    async fn lease_companion_writes(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<CompanionWrite>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::lease(&mut *c, owner, now, until, limit).await;
        self.settle(&mut c, result)
    }

    async fn settle_companion_write(
        &self,
        id: Uuid,
        owner: &str,
        outcome: CompanionWriteOutcome,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::settle(&mut *c, id, owner, outcome).await;
        self.settle(&mut c, result)
    }

    async fn list_companion_writes(&self, limit: i64) -> Result<Vec<CompanionWrite>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list(&mut *c, limit).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    /// Leases due writes; PostgreSQL skips rows another node is leasing.
    const LEASE_PG: &str = "UPDATE companion_writes SET lease_owner = $1, lease_expires_at = $2
         WHERE id IN (
             SELECT id FROM companion_writes
             WHERE next_attempt_at <= $3
               AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
             ORDER BY next_attempt_at, id LIMIT $4
             FOR UPDATE SKIP LOCKED)
         RETURNING *";
    const LEASE_SQLITE: &str = "UPDATE companion_writes SET lease_owner = $1, lease_expires_at = $2
         WHERE id IN (
             SELECT id FROM companion_writes
             WHERE next_attempt_at <= $3
               AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
             ORDER BY next_attempt_at, id LIMIT $4)
         RETURNING *";

    pub(crate) async fn complete_visit<C: Conn>(
        c: &mut C,
        transaction: Uuid,
        now: OffsetDateTime,
        write: Option<NewCompanionWrite>,
    ) -> Result<bool, StoreError> {
        let mut tx = c.begin_write().await?;
        if !transactions::sql::complete_transaction(&mut *tx, transaction, now).await? {
            return Ok(false);
        }
        if let Some(write) = write {
            query(
                "INSERT INTO companion_writes
                     (id, companion, user_id, subject, fields, created_at, attempts,
                      next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $6)",
            )
            .bind(new_id(write.now).to_string())
            .bind(write.companion)
            .bind(write.user_id.to_string())
            .bind(write.subject)
            .bind(Json(write.fields))
            .bind(to_millis(write.now))
            .execute(&mut *tx)
            .await?;
        }
        C::commit(tx).await?;
        Ok(true)
    }

    pub(crate) async fn lease<C: Conn>(
        c: &mut C,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<CompanionWrite>, StoreError> {
        let statement = pick::<C>(LEASE_SQLITE, LEASE_PG);
        let mut leased = query_as::<WriteRow>(statement)
            .bind(owner.to_owned())
            .bind(to_millis(until))
            .bind(to_millis(now))
            .bind(limit)
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(CompanionWrite::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING keeps no order.
        leased.sort_by_key(|write| (write.next_attempt_at, write.id));
        Ok(leased)
    }

    pub(crate) async fn settle<C: Conn>(
        c: &mut C,
        id: Uuid,
        owner: &str,
        outcome: CompanionWriteOutcome,
    ) -> Result<bool, StoreError> {
        let changed = match outcome {
            CompanionWriteOutcome::Done => {
                query("DELETE FROM companion_writes WHERE id = $1 AND lease_owner = $2")
                    .bind(id.to_string())
                    .bind(owner.to_owned())
                    .execute(&mut *c)
                    .await?
            }
            CompanionWriteOutcome::Retry {
                at,
                attempted,
                error,
            } => {
                query(
                    "UPDATE companion_writes
                     SET attempts = attempts + $3, next_attempt_at = $4, last_error = $5,
                         lease_owner = NULL, lease_expires_at = NULL
                     WHERE id = $1 AND lease_owner = $2",
                )
                .bind(id.to_string())
                .bind(owner.to_owned())
                .bind(i64::from(attempted))
                .bind(to_millis(at))
                .bind(error)
                .execute(&mut *c)
                .await?
            }
        };
        Ok(changed == 1)
    }

    pub(crate) async fn list<C: Conn>(
        c: &mut C,
        limit: i64,
    ) -> Result<Vec<CompanionWrite>, StoreError> {
        query_as::<WriteRow>("SELECT * FROM companion_writes ORDER BY next_attempt_at, id LIMIT $1")
            .bind(limit)
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(CompanionWrite::try_from)
            .collect()
    }
}

/// A row of `companion_writes`.
#[derive(sqlx::FromRow)]
pub(crate) struct WriteRow {
    id: String,
    companion: String,
    user_id: String,
    subject: String,
    fields: Json<Vec<String>>,
    created_at: i64,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    lease_owner: Option<String>,
    lease_expires_at: Option<i64>,
}

impl TryFrom<WriteRow> for CompanionWrite {
    type Error = StoreError;

    fn try_from(row: WriteRow) -> Result<Self, StoreError> {
        let lease = match (row.lease_owner, from_millis_opt(row.lease_expires_at)?) {
            (Some(owner), Some(until)) => Some((owner, until)),
            _ => None,
        };
        Ok(CompanionWrite {
            id: parse_id(&row.id)?,
            companion: row.companion,
            user_id: parse_id(&row.user_id)?,
            subject: row.subject,
            fields: row.fields.0,
            created_at: from_millis(row.created_at)?,
            attempts: row.attempts,
            next_attempt_at: from_millis(row.next_attempt_at)?,
            last_error: row.last_error,
            lease,
        })
    }
}
