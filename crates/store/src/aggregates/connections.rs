//! Connections to upstream identity providers: each one's definition (secrets removed) and its
//! secrets sealed by the caller, versioned so that concurrent changes are not lost.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;

use crate::backend::{Backend, Conn, query, query_as};
use crate::model::from_millis;
use crate::{ConnectionUpdate, StoreError, StoredConnection};

/// Connections to upstream identity providers.
#[async_trait]
pub trait Connections: Send + Sync {
    /// Stores a new connection at version 1 (the given `version` is not read).
    /// [`StoreError::Conflict`] when the name is taken, [`StoreError::Invalid`] when it is empty.
    async fn create_connection(
        &self,
        connection: StoredConnection,
    ) -> Result<StoredConnection, StoreError>;

    /// The connection with this name, if any.
    async fn get_connection(&self, name: &str) -> Result<Option<StoredConnection>, StoreError>;

    /// Every connection, by name.
    async fn list_connections(&self) -> Result<Vec<StoredConnection>, StoreError>;

    /// Replaces a connection's definition, and its sealed secrets when new ones are given, if
    /// the stored version is still `expected_version` (when given); bumps `version` and sets
    /// `updated_at`. [`StoreError::NotFound`], or [`StoreError::VersionMismatch`] when it
    /// changed since the caller read it.
    async fn update_connection(
        &self,
        update: ConnectionUpdate,
    ) -> Result<StoredConnection, StoreError>;

    /// Deletes a connection and every identity linked through it; `false` when there was none.
    async fn delete_connection(&self, name: &str) -> Result<bool, StoreError>;
}

#[async_trait]
impl<B: Backend> Connections for B {
    async fn create_connection(
        &self,
        connection: StoredConnection,
    ) -> Result<StoredConnection, StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_connection(&mut *c, connection).await;
        self.settle(&mut c, result)
    }

    async fn get_connection(&self, name: &str) -> Result<Option<StoredConnection>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::get_connection(&mut *c, name).await;
        self.settle(&mut c, result)
    }

    async fn list_connections(&self) -> Result<Vec<StoredConnection>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_connections(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn update_connection(
        &self,
        update: ConnectionUpdate,
    ) -> Result<StoredConnection, StoreError> {
        let mut c = self.write().await?;
        let result = sql::update_connection(&mut *c, update).await;
        self.settle(&mut c, result)
    }

    async fn delete_connection(&self, name: &str) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_connection(&mut *c, name).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn create_connection<C: Conn>(
        c: &mut C,
        connection: StoredConnection,
    ) -> Result<StoredConnection, StoreError> {
        if connection.name.is_empty() {
            return Err(StoreError::Invalid {
                message: "the connection name is empty".into(),
            });
        }
        query_as::<ConnectionRow>(
            "INSERT INTO connections (name, spec, sealed_secrets, created_at, updated_at, version)
             VALUES ($1, $2, $3, $4, $5, 1)
             RETURNING *",
        )
        .bind(connection.name)
        .bind(Json(connection.spec))
        .bind(connection.sealed_secrets)
        .bind(crate::model::to_millis(connection.created_at))
        .bind(crate::model::to_millis(connection.updated_at))
        .fetch_one(&mut *c)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => StoreError::Conflict {
                what: "a connection with this name already exists".into(),
            },
            other => other,
        })?
        .try_into()
    }

    pub(crate) async fn get_connection<C: Conn>(
        c: &mut C,
        name: &str,
    ) -> Result<Option<StoredConnection>, StoreError> {
        query_as::<ConnectionRow>("SELECT * FROM connections WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&mut *c)
            .await?
            .map(StoredConnection::try_from)
            .transpose()
    }

    pub(crate) async fn list_connections<C: Conn>(
        c: &mut C,
    ) -> Result<Vec<StoredConnection>, StoreError> {
        query_as::<ConnectionRow>("SELECT * FROM connections ORDER BY name")
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(StoredConnection::try_from)
            .collect()
    }

    /// One conditional `UPDATE`; when it changes nothing, the stored version (read in the same
    /// transaction) says why.
    pub(crate) async fn update_connection<C: Conn>(
        c: &mut C,
        update: ConnectionUpdate,
    ) -> Result<StoredConnection, StoreError> {
        let mut tx = c.begin_write().await?;
        let updated = query_as::<ConnectionRow>(
            "UPDATE connections
             SET spec = $2, sealed_secrets = COALESCE($3, sealed_secrets), updated_at = $4,
                 version = version + 1
             WHERE name = $1 AND ($5 IS NULL OR version = $5)
             RETURNING *",
        )
        .bind(update.name.clone())
        .bind(Json(update.spec))
        .bind(update.sealed_secrets)
        .bind(crate::model::to_millis(update.now))
        .bind(update.expected_version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = updated else {
            let stored = query_as::<(i64,)>("SELECT version FROM connections WHERE name = $1")
                .bind(update.name)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match (update.expected_version, stored) {
                (Some(expected), Some((found,))) => StoreError::VersionMismatch { expected, found },
                // Absent when the update looked (it may have been created since).
                _ => StoreError::NotFound,
            });
        };
        C::commit(tx).await?;
        row.try_into()
    }

    pub(crate) async fn delete_connection<C: Conn>(
        c: &mut C,
        name: &str,
    ) -> Result<bool, StoreError> {
        // Its identities reference it with ON DELETE CASCADE.
        let done = query("DELETE FROM connections WHERE name = $1")
            .bind(name.to_owned())
            .execute(&mut *c)
            .await?;
        Ok(done > 0)
    }
}

/// A `connections` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ConnectionRow {
    pub name: String,
    pub spec: Json<Value>,
    pub sealed_secrets: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl TryFrom<ConnectionRow> for StoredConnection {
    type Error = StoreError;

    fn try_from(row: ConnectionRow) -> Result<Self, StoreError> {
        Ok(StoredConnection {
            name: row.name,
            spec: row.spec.0,
            sealed_secrets: row.sealed_secrets,
            created_at: from_millis(row.created_at)?,
            updated_at: from_millis(row.updated_at)?,
            version: row.version,
        })
    }
}
