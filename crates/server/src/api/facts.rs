//! The policy as the API reads and returns it: a document compiled with its problems as a 400,
//! and the policy in force. A user's facts are `accrete_app::facts`.

use std::sync::Arc;

use accrete_core::{CompiledPolicy, Policy};
use serde_json::Value;

use super::problem::{ApiError, FieldProblem, FieldProblems};
use crate::state::AppState;

/// Reads and compiles a policy document; the problems, with their locations, as a 400.
pub fn compile(document: &Value) -> Result<CompiledPolicy, ApiError> {
    // serde would read an array as the policy's fields in order (`[1]` is `{"version": 1}`).
    if !document.is_object() {
        return Err(ApiError::field(
            "$",
            "invalid_document",
            "not a policy document: a policy document is a JSON object",
        ));
    }
    let policy: Policy = serde_json::from_value(document.clone()).map_err(|error| {
        ApiError::field(
            "$",
            "invalid_document",
            format!("not a policy document: {error}"),
        )
    })?;
    policy.compile().map_err(|problems| {
        let mut fields = FieldProblems::new();
        for problem in problems.problems {
            let path = if problem.path.is_empty() {
                "$".to_owned()
            } else {
                problem.path
            };
            fields.entry(path).or_default().push(FieldProblem {
                code: "invalid".to_owned(),
                message: problem.message,
            });
        }
        match ApiError::check(fields) {
            Err(error) => error,
            Ok(()) => ApiError::BadRequest("the policy is invalid".into()),
        }
    })
}

/// The published policy, compiled (cached per node); `None` when nothing was ever published.
pub async fn published(state: &AppState) -> Result<Option<Arc<CompiledPolicy>>, ApiError> {
    Ok(state.app.policy().await?)
}

/// The published policy, or an empty one.
pub async fn published_or_empty(state: &AppState) -> Result<Arc<CompiledPolicy>, ApiError> {
    Ok(accrete_app::policy_admin::published_or_empty(&state.app).await?)
}
