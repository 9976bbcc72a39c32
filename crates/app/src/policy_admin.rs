//! Administering the policy: compiling a document with its located problems, the draft,
//! publishing and rolling back (the node's cache follows at once), the versions, and the
//! published policy or the draft as the API reads them.

use std::sync::Arc;

use accrete_core::{CompiledPolicy, Decision, Moment, MomentKind, Policy, UserFacts, decide};
use accrete_store::{PolicyDraft, PolicyVersion, PolicyVersionSummary, StoreError, UserState};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::App;
use crate::problems::Problem;

/// Why a policy use-case did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The document is not a valid policy; every problem with its location (`$`: the whole
    /// document).
    #[error("the policy is invalid")]
    Invalid(Vec<Problem>),
    /// The document cannot be read as a policy at all (path `$`).
    #[error("{}: {}", .0.path, .0.message)]
    Unreadable(Problem),
    /// The document does not compile, and the compiler named no problem.
    #[error("the policy is invalid")]
    Unexplained,
    /// Nothing was ever published.
    #[error("published policy not found")]
    NoPublished,
    /// There is no draft.
    #[error("draft not found")]
    NoDraft,
    /// No published version has this number.
    #[error("policy version not found")]
    NoVersion,
    /// No user has this id.
    #[error("user not found")]
    NoUser,
    /// An input refused (a simulation names a user or describes one, not both).
    #[error("{}: {}", .0.path, .0.message)]
    Refused(Problem),
    /// Publishing needs a draft.
    #[error("there is no draft to publish")]
    NothingToPublish,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which policy a read or a simulation is about.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The version in force.
    #[default]
    Published,
    /// The draft.
    Draft,
}

/// Reads and compiles a policy document; every problem, with its location.
pub fn compile(document: &Value) -> Result<CompiledPolicy, PolicyError> {
    let invalid =
        |message: String| PolicyError::Unreadable(Problem::new("$", "invalid_document", message));
    // serde would read an array as the policy's fields in order (`[1]` is `{"version": 1}`).
    if !document.is_object() {
        return Err(invalid(
            "not a policy document: a policy document is a JSON object".to_owned(),
        ));
    }
    let policy: Policy = serde_json::from_value(document.clone())
        .map_err(|error| invalid(format!("not a policy document: {error}")))?;
    policy.compile().map_err(|problems| {
        let problems: Vec<Problem> = problems
            .problems
            .into_iter()
            .map(|problem| {
                let path = if problem.path.is_empty() {
                    "$".to_owned()
                } else {
                    problem.path
                };
                Problem::new(path, "invalid", problem.message)
            })
            .collect();
        if problems.is_empty() {
            PolicyError::Unexplained
        } else {
            PolicyError::Invalid(problems)
        }
    })
}

/// The problems of a document (empty when it can be published).
pub fn validate(document: &Value) -> Result<Vec<Problem>, PolicyError> {
    match compile(document) {
        Ok(_) => Ok(Vec::new()),
        Err(PolicyError::Invalid(problems)) => Ok(problems),
        Err(PolicyError::Unreadable(problem)) => Ok(vec![problem]),
        Err(other) => Err(other),
    }
}

/// The published policy, compiled (cached per node), or an empty one when nothing was ever
/// published.
pub async fn published_or_empty(app: &App) -> Result<Arc<CompiledPolicy>, StoreError> {
    match app.policy().await? {
        Some(policy) => Ok(policy),
        None => Policy::new()
            .compile()
            .map(Arc::new)
            .map_err(|problems| StoreError::Unexpected(problems.to_string().into())),
    }
}

/// The published version with its document.
pub async fn published(app: &App) -> Result<PolicyVersion, PolicyError> {
    app.store()
        .published_policy()
        .await?
        .ok_or(PolicyError::NoPublished)
}

/// The draft.
pub async fn draft(app: &App) -> Result<PolicyDraft, PolicyError> {
    app.store().get_draft().await?.ok_or(PolicyError::NoDraft)
}

/// Saves the draft; refused, with every problem, unless it is valid.
pub async fn save_draft(
    app: &App,
    document: &Value,
    now: OffsetDateTime,
) -> Result<PolicyDraft, PolicyError> {
    compile(document)?;
    Ok(app.store().save_draft(document, now).await?)
}

/// Discards the draft (nothing to do when there is none).
pub async fn discard_draft(app: &App) -> Result<(), PolicyError> {
    Ok(app.store().discard_draft().await?)
}

/// Publishes the draft as the next version, removes the draft, and makes this node use it at
/// once.
pub async fn publish(
    app: &App,
    note: Option<&str>,
    now: OffsetDateTime,
) -> Result<PolicyVersion, PolicyError> {
    let draft = app
        .store()
        .get_draft()
        .await?
        .ok_or(PolicyError::NothingToPublish)?;
    compile(&draft.document)?;
    let version = app
        .store()
        .publish_policy(&draft.document, note, now)
        .await?;
    app.store().discard_draft().await?;
    app.policy_changed();
    Ok(version)
}

/// Every published version, newest first.
pub async fn versions(app: &App) -> Result<Vec<PolicyVersionSummary>, PolicyError> {
    Ok(app.store().list_policy_versions().await?)
}

/// One published version.
pub async fn version(app: &App, number: i64) -> Result<PolicyVersion, PolicyError> {
    app.store()
        .policy_version(number)
        .await?
        .ok_or(PolicyError::NoVersion)
}

/// Publishes an older version's document again, as a new version noted `rollback to <n>`.
pub async fn rollback(
    app: &App,
    number: i64,
    now: OffsetDateTime,
) -> Result<PolicyVersion, PolicyError> {
    let old = version(app, number).await?;
    let note = format!("rollback to {}", old.version);
    let version = app
        .store()
        .publish_policy(&old.document, Some(&note), now)
        .await?;
    app.policy_changed();
    Ok(version)
}

/// The published policy or the draft, compiled.
pub async fn select(app: &App, source: Source) -> Result<CompiledPolicy, PolicyError> {
    let document = match source {
        Source::Published => published(app).await?.document,
        Source::Draft => draft(app).await?.document,
    };
    compile(&document)
}

/// Decides for a user at `moment` with the published policy or the draft: a stored user
/// (`user_id`) or one described (`facts`), exactly one of them.
pub async fn simulate(
    app: &App,
    source: Source,
    user_id: Option<Uuid>,
    facts: Option<UserFacts>,
    moment: &Moment,
    now: OffsetDateTime,
) -> Result<Decision, PolicyError> {
    let policy = select(app, source).await?;
    let facts = match (user_id, facts) {
        (Some(id), None) => stored_facts(app, &policy, id, moment).await?,
        (None, Some(facts)) => facts,
        _ => {
            return Err(PolicyError::Refused(Problem::new(
                "user_id",
                "one_of",
                "give exactly one of `user_id` and `facts`",
            )));
        }
    };
    Ok(decide(&policy, &facts, moment, now).with_sources(&policy, &facts))
}

/// A stored user's facts under `policy` at `moment`: at a sign-in, their next one (counted, as
/// a sign-in counts itself).
async fn stored_facts(
    app: &App,
    policy: &CompiledPolicy,
    id: Uuid,
    moment: &Moment,
) -> Result<UserFacts, PolicyError> {
    let user = match app.store().get_user(id).await {
        Err(StoreError::NotFound) => return Err(PolicyError::NoUser),
        other => other?,
    };
    let state = crate::facts::load_user_state(app, user).await?;
    Ok(facts_at(policy, &state, moment))
}

/// The facts a simulation of a stored user starts from (the console shows them to be edited).
pub async fn user_facts(
    app: &App,
    source: Source,
    id: Uuid,
    moment: &Moment,
) -> Result<UserFacts, PolicyError> {
    let policy = select(app, source).await?;
    stored_facts(app, &policy, id, moment).await
}

/// A user's facts at `moment`: a sign-in counts itself among the credentialed sign-ins.
pub(crate) fn facts_at(policy: &CompiledPolicy, state: &UserState, moment: &Moment) -> UserFacts {
    let mut facts = crate::facts::state_facts(policy, state);
    if moment.kind == MomentKind::Login {
        facts.credentialed_logins = facts.credentialed_logins.saturating_add(1);
    }
    facts
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_document_that_is_not_a_policy_is_unreadable_at_the_root() {
        for document in [json!([1]), json!({"version": "one"})] {
            let Err(PolicyError::Unreadable(problem)) = compile(&document) else {
                panic!("{document} should be unreadable");
            };
            assert_eq!(problem.path, "$");
            assert_eq!(problem.code, "invalid_document");
            assert_eq!(validate(&document).unwrap(), vec![problem]);
        }
    }

    #[test]
    fn an_empty_policy_compiles() {
        assert!(validate(&json!({"version": 1})).unwrap().is_empty());
    }
}
