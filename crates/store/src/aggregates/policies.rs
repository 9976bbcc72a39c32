//! Policy versions (numbered under a lock, so concurrent publishers never collide) and the one
//! draft.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;

use crate::backend::{Backend, Conn, query, query_as};
use crate::model::from_millis;
use crate::{PolicyDraft, PolicyPublication, PolicyVersion, PolicyVersionSummary, StoreError};

/// Published policy versions and the draft.
#[async_trait]
pub trait Policies: Send + Sync {
    /// Publishes a policy document as the next version (1, 2, ...), which is then in force.
    /// Rolling back is publishing an older version's document again, with a note.
    async fn publish_policy(
        &self,
        document: &serde_json::Value,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<PolicyVersion, StoreError>;

    /// Publishes `document` as the next version unless the version in force is the same
    /// document. Checked and published under one lock, so several nodes importing the same file
    /// at once publish it once.
    async fn publish_policy_if_changed(
        &self,
        document: &serde_json::Value,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<PolicyPublication, StoreError>;

    /// The version in force (the latest published), if any.
    async fn published_policy(&self) -> Result<Option<PolicyVersion>, StoreError>;

    /// One published version, if it exists.
    async fn policy_version(&self, version: i64) -> Result<Option<PolicyVersion>, StoreError>;

    /// Every published version, newest first, without documents.
    async fn list_policy_versions(&self) -> Result<Vec<PolicyVersionSummary>, StoreError>;

    /// Saves the draft (there is one), replacing the previous draft.
    async fn save_draft(
        &self,
        document: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<PolicyDraft, StoreError>;

    /// The draft, if one was saved.
    async fn get_draft(&self) -> Result<Option<PolicyDraft>, StoreError>;

    /// Removes the draft (no error if there is none).
    async fn discard_draft(&self) -> Result<(), StoreError>;
}

#[async_trait]
impl<B: Backend> Policies for B {
    async fn publish_policy(
        &self,
        document: &serde_json::Value,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<PolicyVersion, StoreError> {
        let mut c = self.write().await?;
        let result = sql::publish_policy(&mut *c, document, note, now).await;
        self.settle(&mut c, result)
    }

    async fn publish_policy_if_changed(
        &self,
        document: &serde_json::Value,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<PolicyPublication, StoreError> {
        let mut c = self.write().await?;
        let result = sql::publish_policy_if_changed(&mut *c, document, note, now).await;
        self.settle(&mut c, result)
    }

    async fn published_policy(&self) -> Result<Option<PolicyVersion>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::published_policy(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn policy_version(&self, version: i64) -> Result<Option<PolicyVersion>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::policy_version(&mut *c, version).await;
        self.settle(&mut c, result)
    }

    async fn list_policy_versions(&self) -> Result<Vec<PolicyVersionSummary>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_policy_versions(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn save_draft(
        &self,
        document: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<PolicyDraft, StoreError> {
        let mut c = self.write().await?;
        let result = sql::save_draft(&mut *c, document, now).await;
        self.settle(&mut c, result)
    }

    async fn get_draft(&self) -> Result<Option<PolicyDraft>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::get_draft(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn discard_draft(&self) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::discard_draft(&mut *c).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn publish_policy<C: Conn>(
        c: &mut C,
        document: &serde_json::Value,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<PolicyVersion, StoreError> {
        let mut tx = c.begin_write().await?;
        // Numbers are handed out under a lock so concurrent publishers never collide.
        tx.lock_named("accrete_policy").await?;
        let version = insert_policy_version(&mut *tx, document, note, now).await?;
        C::commit(tx).await?;
        Ok(version)
    }

    pub(crate) async fn publish_policy_if_changed<C: Conn>(
        c: &mut C,
        document: &serde_json::Value,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<PolicyPublication, StoreError> {
        let mut tx = c.begin_write().await?;
        // The comparison with the version in force happens under the publishers' lock, so
        // of several nodes importing one file at once only the first publishes it.
        tx.lock_named("accrete_policy").await?;
        if let Some(current) = published_policy(&mut *tx).await?
            && current.document == *document
        {
            return Ok(PolicyPublication::Unchanged(current));
        }
        let version = insert_policy_version(&mut *tx, document, note, now).await?;
        C::commit(tx).await?;
        Ok(PolicyPublication::New(version))
    }

    /// Inserts the next version; the caller holds the `accrete_policy` lock.
    async fn insert_policy_version<C: Conn>(
        c: &mut C,
        document: &serde_json::Value,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<PolicyVersion, StoreError> {
        let now = crate::model::to_millis(now);
        let row = query_as::<PolicyRow>(
            "INSERT INTO policy_versions (version, document, created_at, published_at, note)
             SELECT COALESCE(MAX(version), 0) + 1, $1, $2, $2, $3 FROM policy_versions
             RETURNING *",
        )
        .bind(Json(document))
        .bind(now)
        .bind(note.map(str::to_owned))
        .fetch_one(&mut *c)
        .await?;
        let version: PolicyVersion = row.try_into()?;
        let event = crate::NewWebhookEvent {
            kind: "policy.published",
            payload: serde_json::json!({ "policy": {
                "version": version.version,
                "note": version.note,
            } }),
            at: version.published_at,
        };
        crate::aggregates::webhooks::sql::insert_event(&mut *c, event).await?;
        Ok(version)
    }

    pub(crate) async fn published_policy<C: Conn>(
        c: &mut C,
    ) -> Result<Option<PolicyVersion>, StoreError> {
        query_as::<PolicyRow>("SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1")
            .fetch_optional(&mut *c)
            .await?
            .map(PolicyVersion::try_from)
            .transpose()
    }

    pub(crate) async fn policy_version<C: Conn>(
        c: &mut C,
        version: i64,
    ) -> Result<Option<PolicyVersion>, StoreError> {
        query_as::<PolicyRow>("SELECT * FROM policy_versions WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *c)
            .await?
            .map(PolicyVersion::try_from)
            .transpose()
    }

    pub(crate) async fn list_policy_versions<C: Conn>(
        c: &mut C,
    ) -> Result<Vec<PolicyVersionSummary>, StoreError> {
        query_as::<PolicySummaryRow>(
            "SELECT version, published_at, note FROM policy_versions ORDER BY version DESC",
        )
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(PolicyVersionSummary::try_from)
        .collect()
    }

    pub(crate) async fn save_draft<C: Conn>(
        c: &mut C,
        document: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<PolicyDraft, StoreError> {
        query_as::<DraftRow>(
            "INSERT INTO policy_draft (id, document, updated_at) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE
             SET document = excluded.document, updated_at = excluded.updated_at
             RETURNING document, updated_at",
        )
        .bind(Json(document))
        .bind(crate::model::to_millis(now))
        .fetch_one(&mut *c)
        .await?
        .try_into()
    }

    pub(crate) async fn get_draft<C: Conn>(c: &mut C) -> Result<Option<PolicyDraft>, StoreError> {
        query_as::<DraftRow>("SELECT document, updated_at FROM policy_draft WHERE id = 1")
            .fetch_optional(&mut *c)
            .await?
            .map(PolicyDraft::try_from)
            .transpose()
    }

    pub(crate) async fn discard_draft<C: Conn>(c: &mut C) -> Result<(), StoreError> {
        query("DELETE FROM policy_draft").execute(&mut *c).await?;
        Ok(())
    }
}

/// A `policy_versions` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PolicyRow {
    pub version: i64,
    pub document: Json<Value>,
    pub created_at: i64,
    pub published_at: i64,
    pub note: Option<String>,
}

impl TryFrom<PolicyRow> for PolicyVersion {
    type Error = StoreError;

    fn try_from(row: PolicyRow) -> Result<Self, StoreError> {
        Ok(PolicyVersion {
            version: row.version,
            document: row.document.0,
            created_at: from_millis(row.created_at)?,
            published_at: from_millis(row.published_at)?,
            note: row.note,
        })
    }
}

/// A `policy_versions` row without its document.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PolicySummaryRow {
    pub version: i64,
    pub published_at: i64,
    pub note: Option<String>,
}

impl TryFrom<PolicySummaryRow> for PolicyVersionSummary {
    type Error = StoreError;

    fn try_from(row: PolicySummaryRow) -> Result<Self, StoreError> {
        Ok(PolicyVersionSummary {
            version: row.version,
            published_at: from_millis(row.published_at)?,
            note: row.note,
        })
    }
}

/// The `policy_draft` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DraftRow {
    pub document: Json<Value>,
    pub updated_at: i64,
}

impl TryFrom<DraftRow> for PolicyDraft {
    type Error = StoreError;

    fn try_from(row: DraftRow) -> Result<Self, StoreError> {
        Ok(PolicyDraft {
            document: row.document.0,
            updated_at: from_millis(row.updated_at)?,
        })
    }
}
