//! Signing keys of ID tokens (private keys encrypted by the caller).

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;

use crate::backend::{Backend, Conn, query, query_as};
use crate::model::{from_millis, from_millis_opt};
use crate::{StoreError, StoredSigningKey};

/// Signing keys of ID tokens.
#[async_trait]
pub trait SigningKeys: Send + Sync {
    /// Stores a signing key (private key already encrypted by the caller).
    async fn insert_signing_key(&self, key: StoredSigningKey) -> Result<(), StoreError>;

    /// Stores `key` unless a key of its algorithm may already sign at `now` (active from `now` or
    /// earlier, or from its creation, and not retired by `now`); returns whether it was stored.
    /// Checked and inserted under one lock, so of several nodes generating a first key at once
    /// exactly one stores its key.
    async fn insert_signing_key_if_missing(
        &self,
        key: StoredSigningKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Every signing key, retired ones included, by `active_from`.
    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;

    /// Sets when a key stops being used and published.
    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<(), StoreError>;
}

#[async_trait]
impl<B: Backend> SigningKeys for B {
    async fn insert_signing_key(&self, key: StoredSigningKey) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::insert_signing_key(&mut *c, key).await;
        self.settle(&mut c, result)
    }

    async fn insert_signing_key_if_missing(
        &self,
        key: StoredSigningKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::insert_signing_key_if_missing(&mut *c, key, now).await;
        self.settle(&mut c, result)
    }

    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_signing_keys(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::retire_signing_key(&mut *c, kid, at).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn insert_signing_key<C: Conn>(
        c: &mut C,
        key: StoredSigningKey,
    ) -> Result<(), StoreError> {
        insert_signing_key_row(c, key).await
    }

    pub(crate) async fn insert_signing_key_if_missing<C: Conn>(
        c: &mut C,
        key: StoredSigningKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = c.begin_write().await?;
        // Nodes generating a first key at once queue here; the first stores its key, the
        // others find it and store nothing. A key that signs from its creation counts even
        // if created a moment after this node's `now` (by a node whose clock read later).
        tx.lock_named("accrete_signing_keys").await?;
        let now = crate::model::to_millis(now);
        let (signing,): (i64,) = query_as(
            "SELECT COUNT(*) FROM signing_keys
             WHERE alg = $1 AND (active_from <= $2 OR active_from <= created_at)
               AND (retired_at IS NULL OR retired_at > $2)",
        )
        .bind(key.alg.clone())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if signing > 0 {
            return Ok(false);
        }
        insert_signing_key_row(&mut *tx, key).await?;
        C::commit(tx).await?;
        Ok(true)
    }

    async fn insert_signing_key_row<C: Conn>(
        c: &mut C,
        key: StoredSigningKey,
    ) -> Result<(), StoreError> {
        query(
            "INSERT INTO signing_keys
                 (kid, alg, private_key, public_jwk, created_at, active_from, retired_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.kid)
        .bind(key.alg)
        .bind(key.private_key)
        .bind(Json(key.public_jwk))
        .bind(crate::model::to_millis(key.created_at))
        .bind(crate::model::to_millis(key.active_from))
        .bind(key.retired_at.map(crate::model::to_millis))
        .execute(&mut *c)
        .await?;
        Ok(())
    }

    pub(crate) async fn list_signing_keys<C: Conn>(
        c: &mut C,
    ) -> Result<Vec<StoredSigningKey>, StoreError> {
        query_as::<SigningKeyRow>("SELECT * FROM signing_keys ORDER BY active_from, kid")
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(StoredSigningKey::try_from)
            .collect()
    }

    pub(crate) async fn retire_signing_key<C: Conn>(
        c: &mut C,
        kid: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let done = query("UPDATE signing_keys SET retired_at = $2 WHERE kid = $1")
            .bind(kid.to_owned())
            .bind(crate::model::to_millis(at))
            .execute(&mut *c)
            .await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

/// A `signing_keys` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub private_key: Vec<u8>,
    pub public_jwk: Json<Value>,
    pub created_at: i64,
    pub active_from: i64,
    pub retired_at: Option<i64>,
}

impl TryFrom<SigningKeyRow> for StoredSigningKey {
    type Error = StoreError;

    fn try_from(row: SigningKeyRow) -> Result<Self, StoreError> {
        Ok(StoredSigningKey {
            kid: row.kid,
            alg: row.alg,
            private_key: row.private_key,
            public_jwk: row.public_jwk.0,
            created_at: from_millis(row.created_at)?,
            active_from: from_millis(row.active_from)?,
            retired_at: from_millis_opt(row.retired_at)?,
        })
    }
}
