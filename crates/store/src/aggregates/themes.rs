//! The server's theme as edited at run time (one row, numbered by `version`). A change and its
//! audit entry are written in one transaction.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;

use crate::StoreError;
use crate::admin::NewAuditEntry;
use crate::backend::{Backend, Conn, query_as};
use crate::model::{from_millis, to_millis};

/// The server's theme as last saved (over the configuration's, which the store never sees).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTheme {
    /// The theme object, without its unset keys (`{}` after a reset).
    pub theme: Value,
    /// 1 for the first save, then one more for each: what nodes compare to see a change.
    pub version: i64,
    pub updated_at: OffsetDateTime,
    /// Who saved it (`user:<id>`, `client:<id>`, `cli`).
    pub updated_by: String,
}

/// The server's theme.
#[async_trait]
pub trait Themes: Send + Sync {
    /// The saved theme, if it was ever saved.
    async fn server_theme(&self) -> Result<Option<StoredTheme>, StoreError>;

    /// Replaces the saved theme with `theme` (the next version) and records `audit`, with the
    /// theme before (`{}` when none was saved) and after, in the same transaction.
    async fn replace_server_theme(
        &self,
        theme: &Value,
        audit: NewAuditEntry,
    ) -> Result<StoredTheme, StoreError>;
}

#[async_trait]
impl<B: Backend> Themes for B {
    async fn server_theme(&self) -> Result<Option<StoredTheme>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::server_theme(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn replace_server_theme(
        &self,
        theme: &Value,
        audit: NewAuditEntry,
    ) -> Result<StoredTheme, StoreError> {
        let mut c = self.write().await?;
        let result = sql::replace_server_theme(&mut *c, theme, audit).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn server_theme<C: Conn>(
        c: &mut C,
    ) -> Result<Option<StoredTheme>, StoreError> {
        query_as::<ThemeRow>(
            "SELECT theme, version, updated_at, updated_by FROM server_theme WHERE id = 1",
        )
        .fetch_optional(&mut *c)
        .await?
        .map(StoredTheme::try_from)
        .transpose()
    }

    pub(crate) async fn replace_server_theme<C: Conn>(
        c: &mut C,
        theme: &Value,
        mut audit: NewAuditEntry,
    ) -> Result<StoredTheme, StoreError> {
        let mut tx = c.begin_write().await?;
        // Concurrent saves are serialized, so each entry's `before` is what it replaced.
        tx.lock_named("accrete_theme").await?;
        let before = server_theme(&mut *tx).await?;
        let saved: StoredTheme = query_as::<ThemeRow>(
            "INSERT INTO server_theme (id, theme, version, updated_at, updated_by)
             VALUES (1, $1, 1, $2, $3)
             ON CONFLICT (id) DO UPDATE
             SET theme = excluded.theme, version = server_theme.version + 1,
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by
             RETURNING theme, version, updated_at, updated_by",
        )
        .bind(Json(theme))
        .bind(to_millis(audit.at))
        .bind(audit.actor.clone())
        .fetch_one(&mut *tx)
        .await?
        .try_into()?;
        audit.before = Some(before.map_or_else(|| serde_json::json!({}), |b| b.theme));
        audit.after = Some(theme.clone());
        crate::aggregates::admins::sql::record_audit(&mut *tx, audit).await?;
        C::commit(tx).await?;
        Ok(saved)
    }
}

/// The `server_theme` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ThemeRow {
    pub theme: Json<Value>,
    pub version: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

impl TryFrom<ThemeRow> for StoredTheme {
    type Error = StoreError;

    fn try_from(row: ThemeRow) -> Result<Self, StoreError> {
        Ok(StoredTheme {
            theme: row.theme.0,
            version: row.version,
            updated_at: from_millis(row.updated_at)?,
            updated_by: row.updated_by,
        })
    }
}
