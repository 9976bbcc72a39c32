//! The policy in force as the API's handlers read it (a document's problems are
//! `accrete_app::policy_admin::compile`'s; a user's facts are `accrete_app::facts`).

use std::sync::Arc;

use accrete_core::CompiledPolicy;

use super::problem::ApiError;
use crate::state::AppState;

/// The published policy, compiled (cached per node); `None` when nothing was ever published.
pub async fn published(state: &AppState) -> Result<Option<Arc<CompiledPolicy>>, ApiError> {
    Ok(state.app.policy().await?)
}

/// The published policy, or an empty one.
pub async fn published_or_empty(state: &AppState) -> Result<Arc<CompiledPolicy>, ApiError> {
    Ok(accrete_app::policy_admin::published_or_empty(&state.app).await?)
}
