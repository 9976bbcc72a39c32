//! From stored records to what the engine reads: where each field lives, the policy in force,
//! and a user's facts.

use std::sync::Arc;

use accrete_core::{CompiledPolicy, Field, KnownValue, Policy, PromptState, Storage, UserFacts};
use accrete_store::{Location, User, UserState};
use serde_json::Value;

use super::problem::{ApiError, FieldProblem, FieldProblems};
use crate::state::AppState;

/// The bag and key where a field's value is stored.
pub fn location_of(field: &Field) -> (Location, &str) {
    match &field.storage {
        Storage::Profile { claim } => (Location::Profile, claim.as_str()),
        Storage::UserMetadata => (Location::UserMetadata, field.key.as_str()),
        Storage::AppMetadata => (Location::AppMetadata, field.key.as_str()),
    }
}

/// The bag of a user at `location`.
pub fn bag(user: &User, location: Location) -> &Value {
    match location {
        Location::Profile => &user.profile,
        Location::UserMetadata => &user.user_metadata,
        Location::AppMetadata => &user.app_metadata,
    }
}

/// The stored value of a field (absent and `null` are both missing).
pub fn value_of<'a>(user: &'a User, field: &Field) -> Option<&'a Value> {
    let (location, key) = location_of(field);
    bag(user, location).get(key).filter(|v| !v.is_null())
}

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
    Ok(state.profiling.current(state.store.as_ref()).await?)
}

/// The published policy, or an empty one.
pub async fn published_or_empty(state: &AppState) -> Result<Arc<CompiledPolicy>, ApiError> {
    match published(state).await? {
        Some(policy) => Ok(policy),
        None => Policy::new()
            .compile()
            .map(Arc::new)
            .map_err(|problems| ApiError::Internal(problems.to_string())),
    }
}

/// What the engine knows about a stored user.
pub fn facts_of(policy: &CompiledPolicy, state: &UserState) -> UserFacts {
    let user = &state.user;
    let mut facts = UserFacts::new(user.created_at);
    facts.credentialed_logins = u64::try_from(user.credentialed_logins).unwrap_or(0);
    facts.sso_logins = u64::try_from(user.sso_logins).unwrap_or(0);
    for field in policy.fields() {
        let Some(value) = value_of(user, field) else {
            continue;
        };
        let (location, key) = location_of(field);
        let provenance = state
            .provenance
            .iter()
            .find(|p| p.location == location && p.key == key);
        facts.values.insert(
            field.key.to_string(),
            KnownValue {
                value: value.clone(),
                updated_at: provenance.map(|p| p.updated_at),
                source: provenance.map(|p| p.source.clone()).unwrap_or_default(),
            },
        );
    }
    for prompt in &state.prompts {
        let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        facts.prompts.insert(
            prompt.step.clone(),
            PromptState {
                shown: count(prompt.shown),
                skipped: count(prompt.skipped),
                answered: count(prompt.answered),
                last_shown_at: prompt.last_shown_at,
                last_skipped_at: prompt.last_skipped_at,
                last_answered_at: prompt.last_answered_at,
                logins_at_last_skip: prompt
                    .logins_at_last_skip
                    .and_then(|n| u64::try_from(n).ok()),
                declined: prompt.declined.clone(),
            },
        );
    }
    facts
}

/// A stored user with prompt state and provenance.
pub async fn user_state(state: &AppState, user: User) -> Result<UserState, ApiError> {
    let (prompts, provenance) = tokio::try_join!(
        state.store.prompt_states(user.id),
        state.store.value_provenance(user.id)
    )?;
    Ok(UserState {
        user,
        prompts,
        provenance,
    })
}
