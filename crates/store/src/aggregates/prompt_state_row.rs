//! The `prompt_state` row, read by the prompts aggregate and with each user by the users
//! aggregate (`list_user_states`).

use crate::model::from_millis_opt;
use crate::{PromptState, StoreError};

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

/// The `declined` column: a JSON array of field keys.
pub(crate) fn parse_declined(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::unexpected(format!(
            "unreadable prompt_state.declined in the database: {e}"
        ))
    })
}
