//! Row shapes of the profiling tables and their conversion to public records.

use serde_json::Value;
use sqlx::types::Json;

use crate::model::{from_millis, from_millis_opt, parse_id};
use crate::{
    Event, EventKind, PolicyDraft, PolicyVersion, PolicyVersionSummary, PromptState, StepStats,
    StoreError,
};

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

/// A `prompt_state` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PromptStateRow {
    pub step: String,
    pub shown: i64,
    pub skipped: i64,
    pub answered: i64,
    pub last_shown_at: Option<i64>,
    pub last_skipped_at: Option<i64>,
    pub last_answered_at: Option<i64>,
    pub logins_at_last_skip: Option<i64>,
    pub declined: String,
}

/// The `declined` column: a JSON array of field keys.
pub(crate) fn parse_declined(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::unexpected(format!(
            "unreadable prompt_state.declined in the database: {e}"
        ))
    })
}

impl TryFrom<PromptStateRow> for PromptState {
    type Error = StoreError;

    fn try_from(row: PromptStateRow) -> Result<Self, StoreError> {
        Ok(PromptState {
            step: row.step,
            shown: row.shown,
            skipped: row.skipped,
            answered: row.answered,
            last_shown_at: from_millis_opt(row.last_shown_at)?,
            last_skipped_at: from_millis_opt(row.last_skipped_at)?,
            last_answered_at: from_millis_opt(row.last_answered_at)?,
            logins_at_last_skip: row.logins_at_last_skip,
            declined: parse_declined(&row.declined)?,
        })
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

/// A `prompt_state` row with its user.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserPromptStateRow {
    pub user_id: String,
    #[sqlx(flatten)]
    pub state: PromptStateRow,
}

/// A `profile_provenance` row with its user.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserProvenanceRow {
    pub user_id: String,
    #[sqlx(flatten)]
    pub provenance: crate::sql::rows::ProvenanceRow,
}
