//! Authorization transactions: an authorization request in progress (sign-in, prompts,
//! consent), kept in the database so that it survives restarts and works across nodes.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::backend::{Backend, Conn, query, query_as};
use crate::model::{from_millis, from_millis_opt, parse_id, parse_id_opt};
use crate::{AuthTransaction, ExpiredTransaction, NewAuthTransaction, StoreError};

/// Authorization transactions.
#[async_trait]
pub trait AuthTransactions: Send + Sync {
    /// Starts a transaction. [`StoreError::Invalid`] for an unknown client.
    async fn create_transaction(
        &self,
        new: NewAuthTransaction,
    ) -> Result<AuthTransaction, StoreError>;

    /// The transaction with this id, if it exists (expired ones until they are swept).
    async fn get_transaction(&self, id: Uuid) -> Result<Option<AuthTransaction>, StoreError>;

    /// Writes `user_id`, `session_hash`, `state` and `expires_at` if the stored version is still
    /// `transaction.version`; returns the new record (version + 1). Fails with
    /// [`StoreError::VersionMismatch`], [`StoreError::Conflict`] (already complete) or
    /// [`StoreError::NotFound`].
    async fn update_transaction(
        &self,
        transaction: AuthTransaction,
    ) -> Result<AuthTransaction, StoreError>;

    /// Marks the transaction complete; `true` for exactly one caller, `false` if it was already
    /// complete, expired or unknown. Issue a code only on `true`.
    async fn complete_transaction(&self, id: Uuid, now: OffsetDateTime)
    -> Result<bool, StoreError>;

    /// Removes transactions expired at `now` and returns those that never completed (each is
    /// returned to one caller only, even with several nodes sweeping).
    async fn expire_transactions(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<ExpiredTransaction>, StoreError>;
}

#[async_trait]
impl<B: Backend> AuthTransactions for B {
    async fn create_transaction(
        &self,
        new: NewAuthTransaction,
    ) -> Result<AuthTransaction, StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_transaction(&mut *c, new).await;
        self.settle(&mut c, result)
    }

    async fn get_transaction(&self, id: Uuid) -> Result<Option<AuthTransaction>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::get_transaction(&mut *c, id).await;
        self.settle(&mut c, result)
    }

    async fn update_transaction(
        &self,
        transaction: AuthTransaction,
    ) -> Result<AuthTransaction, StoreError> {
        let mut c = self.write().await?;
        let result = sql::update_transaction(&mut *c, transaction).await;
        self.settle(&mut c, result)
    }

    async fn complete_transaction(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::complete_transaction(&mut *c, id, now).await;
        self.settle(&mut c, result)
    }

    async fn expire_transactions(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<ExpiredTransaction>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::expire_transactions(&mut *c, now).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn create_transaction<C: Conn>(
        c: &mut C,
        new: NewAuthTransaction,
    ) -> Result<AuthTransaction, StoreError> {
        let state = crate::model::json_object(new.state, "transaction state")?;
        query_as::<TransactionRow>(
            "INSERT INTO auth_transactions
                 (id, client_id, request, state, created_at, expires_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, 1) RETURNING *",
        )
        .bind(crate::model::new_id(new.now).to_string())
        .bind(new.client_id)
        .bind(Json(new.request))
        .bind(Json(state))
        .bind(crate::model::to_millis(new.now))
        .bind(crate::model::to_millis(new.expires_at))
        .fetch_one(&mut *c)
        .await
        .map_err(|e| match e {
            StoreError::Invalid { .. } => StoreError::Invalid {
                message: "unknown client".into(),
            },
            other => other,
        })?
        .try_into()
    }

    pub(crate) async fn get_transaction<C: Conn>(
        c: &mut C,
        id: Uuid,
    ) -> Result<Option<AuthTransaction>, StoreError> {
        query_as::<TransactionRow>("SELECT * FROM auth_transactions WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *c)
            .await?
            .map(AuthTransaction::try_from)
            .transpose()
    }

    pub(crate) async fn update_transaction<C: Conn>(
        c: &mut C,
        transaction: AuthTransaction,
    ) -> Result<AuthTransaction, StoreError> {
        let state = crate::model::json_object(transaction.state, "transaction state")?;
        let updated = query_as::<TransactionRow>(
            "UPDATE auth_transactions
             SET user_id = $3, session_hash = $4, state = $5, expires_at = $6,
                 version = version + 1
             WHERE id = $1 AND version = $2 AND completed_at IS NULL RETURNING *",
        )
        .bind(transaction.id.to_string())
        .bind(transaction.version)
        .bind(transaction.user_id.map(|id| id.to_string()))
        .bind(transaction.session_hash)
        .bind(Json(state))
        .bind(crate::model::to_millis(transaction.expires_at))
        .fetch_optional(&mut *c)
        .await?;
        if let Some(row) = updated {
            return row.try_into();
        }
        // Say why nothing was updated.
        match get_transaction(&mut *c, transaction.id).await? {
            None => Err(StoreError::NotFound),
            Some(current) if current.completed_at.is_some() => Err(StoreError::Conflict {
                what: "the authorization transaction is already complete".into(),
            }),
            Some(current) => Err(StoreError::VersionMismatch {
                expected: transaction.version,
                found: current.version,
            }),
        }
    }

    pub(crate) async fn complete_transaction<C: Conn>(
        c: &mut C,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // Single use: of concurrent callers (double submit, two nodes) exactly one wins.
        let done = query(
            "UPDATE auth_transactions SET completed_at = $2, version = version + 1
             WHERE id = $1 AND completed_at IS NULL AND expires_at > $2",
        )
        .bind(id.to_string())
        .bind(crate::model::to_millis(now))
        .execute(&mut *c)
        .await?;
        Ok(done == 1)
    }

    pub(crate) async fn expire_transactions<C: Conn>(
        c: &mut C,
        now: OffsetDateTime,
    ) -> Result<Vec<ExpiredTransaction>, StoreError> {
        // DELETE ... RETURNING: each expired transaction is reported to exactly one caller.
        query_as::<TransactionRow>(
            "DELETE FROM auth_transactions WHERE expires_at <= $1 RETURNING *",
        )
        .bind(crate::model::to_millis(now))
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .filter(|row| row.completed_at.is_none())
        .map(ExpiredTransaction::try_from)
        .collect()
    }
}

/// An `auth_transactions` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TransactionRow {
    pub id: String,
    pub client_id: String,
    pub request: Json<Value>,
    pub user_id: Option<String>,
    pub session_hash: Option<String>,
    pub state: Json<Value>,
    pub created_at: i64,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
    pub version: i64,
}

impl TryFrom<TransactionRow> for AuthTransaction {
    type Error = StoreError;

    fn try_from(row: TransactionRow) -> Result<Self, StoreError> {
        Ok(AuthTransaction {
            id: parse_id(&row.id)?,
            client_id: row.client_id,
            request: row.request.0,
            user_id: parse_id_opt(row.user_id)?,
            session_hash: row.session_hash,
            state: row.state.0,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            completed_at: from_millis_opt(row.completed_at)?,
            version: row.version,
        })
    }
}

impl TryFrom<TransactionRow> for ExpiredTransaction {
    type Error = StoreError;

    fn try_from(row: TransactionRow) -> Result<Self, StoreError> {
        Ok(ExpiredTransaction {
            id: parse_id(&row.id)?,
            client_id: row.client_id,
            user_id: parse_id_opt(row.user_id)?,
            state: row.state.0,
        })
    }
}
