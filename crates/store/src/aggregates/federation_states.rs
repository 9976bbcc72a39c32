//! The single-use state of one round trip to an upstream provider, looked up by the keyed hash
//! of its `state` value.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::backend::{Backend, Conn, query, query_as};
use crate::model::{from_millis, parse_id_opt};
use crate::{FederationState, StoreError};

/// The states of round trips to upstream providers.
#[async_trait]
pub trait FederationStates: Send + Sync {
    /// Stores the state of a round trip that is starting. [`StoreError::Conflict`] when the hash
    /// is taken; [`StoreError::NotFound`] when its transaction or user does not exist.
    async fn create_federation_state(&self, state: FederationState) -> Result<(), StoreError>;

    /// Takes the state with this hash: deletes it and returns it unless it expired at `now`
    /// (an expired one is deleted too). One statement, so of concurrent consumers of one state
    /// exactly one gets it.
    async fn consume_federation_state(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<FederationState>, StoreError>;

    /// Deletes the states expired at `now`; returns how many there were.
    async fn delete_expired_federation_states(
        &self,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
impl<B: Backend> FederationStates for B {
    async fn create_federation_state(&self, state: FederationState) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_federation_state(&mut *c, state).await;
        self.settle(&mut c, result)
    }

    async fn consume_federation_state(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<FederationState>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::consume_federation_state(&mut *c, hash, now).await;
        self.settle(&mut c, result)
    }

    async fn delete_expired_federation_states(
        &self,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_expired_federation_states(&mut *c, now).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn create_federation_state<C: Conn>(
        c: &mut C,
        state: FederationState,
    ) -> Result<(), StoreError> {
        use crate::model::to_millis;
        query(
            "INSERT INTO federation_states
                 (hash, connection, transaction_id, user_id, browser, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(state.hash)
        .bind(state.connection)
        .bind(state.transaction_id.map(|id| id.to_string()))
        .bind(state.user_id.map(|id| id.to_string()))
        .bind(state.browser)
        .bind(to_millis(state.created_at))
        .bind(to_millis(state.expires_at))
        .execute(&mut *c)
        .await
        .map_err(|e| match e {
            // A foreign key: the transaction or the user is gone.
            StoreError::Invalid { .. } => StoreError::NotFound,
            StoreError::Conflict { .. } => StoreError::Conflict {
                what: "a federation state with this hash already exists".into(),
            },
            other => other,
        })?;
        Ok(())
    }

    /// `DELETE ... RETURNING`: a concurrent consumer finds the row gone (PostgreSQL: it waits
    /// for the row lock, then finds it deleted; SQLite: writers are serialised).
    pub(crate) async fn consume_federation_state<C: Conn>(
        c: &mut C,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<FederationState>, StoreError> {
        let now = crate::model::to_millis(now);
        query_as::<FederationStateRow>("DELETE FROM federation_states WHERE hash = $1 RETURNING *")
            .bind(hash.to_owned())
            .fetch_optional(&mut *c)
            .await?
            .filter(|row| row.expires_at > now)
            .map(FederationState::try_from)
            .transpose()
    }

    pub(crate) async fn delete_expired_federation_states<C: Conn>(
        c: &mut C,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        query("DELETE FROM federation_states WHERE expires_at <= $1")
            .bind(crate::model::to_millis(now))
            .execute(&mut *c)
            .await
    }
}

/// A `federation_states` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FederationStateRow {
    pub hash: String,
    pub connection: String,
    pub transaction_id: Option<String>,
    pub user_id: Option<String>,
    pub browser: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl TryFrom<FederationStateRow> for FederationState {
    type Error = StoreError;

    fn try_from(row: FederationStateRow) -> Result<Self, StoreError> {
        Ok(FederationState {
            hash: row.hash,
            connection: row.connection,
            transaction_id: parse_id_opt(row.transaction_id)?,
            user_id: parse_id_opt(row.user_id)?,
            browser: row.browser,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
        })
    }
}
