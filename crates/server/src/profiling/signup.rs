//! The sign-up page's share of profiling: the fields of the first required `signup` step are
//! asked on the credentials page itself (page 1 of N), validated with the credentials, and
//! stored with source `signup` once the account exists. Further `signup` steps follow on the
//! prompt page ("step 2 of N").

use std::sync::Arc;

use accrete_core::{
    CompiledPolicy, FieldErrors as AnswerErrors, Moment, RawAnswers, UserFacts, decide,
    validate_answers,
};
use accrete_store::{EventKind, NewEvent, ProfileChange, StoreError};
use minijinja::context;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::facts::{FlowState, location_of};
use super::form::{FieldView, field_view, localized};
use crate::state::AppState;

/// The first `signup` step, shown on the sign-up page.
pub(crate) struct SignupStep {
    policy: Arc<CompiledPolicy>,
    step: String,
    fields: Vec<String>,
    client_id: Option<String>,
    tx: Option<Uuid>,
}

/// The step to ask on the sign-up page of transaction `tx` (if any): the first required
/// `signup` step for a new user entering its client. `None` without a policy or such a step
/// (store failures included: the sign-up then works as without a policy, and the prompt page
/// asks the step after the account is created).
pub(crate) async fn signup_step(
    state: &AppState,
    tx: Option<&str>,
    now: OffsetDateTime,
) -> Option<SignupStep> {
    let policy = state.profiling.current(state.store.as_ref()).await.ok()??;
    let tx = tx.and_then(|t| Uuid::parse_str(t).ok());
    let client_id = match tx {
        Some(id) => state
            .store
            .get_transaction(id)
            .await
            .ok()
            .flatten()
            .map(|t| t.client_id),
        None => None,
    };
    let mut moment = Moment::signup();
    moment.client_id.clone_from(&client_id);
    // The sign-up is the user's first sign-in (docs/decision.md, Counting sign-ins).
    let decision = decide(&policy, &UserFacts::signing_up(now), &moment, now);
    let ask = decision.ask().filter(|ask| ask.required)?;
    Some(SignupStep {
        step: ask.step.as_str().to_owned(),
        fields: ask.fields.iter().map(|k| k.as_str().to_owned()).collect(),
        policy,
        client_id,
        tx,
    })
}

impl SignupStep {
    /// What the sign-up template shows: `signup.title`, `signup.fields`, `signup.progress`.
    pub(crate) fn view(
        &self,
        locale: &str,
        raw: &RawAnswers,
        errors: &AnswerErrors,
    ) -> minijinja::Value {
        let policy = &self.policy;
        let default = policy.policy().settings.default_locale.as_str();
        let fields: Vec<FieldView> = self
            .fields
            .iter()
            .filter_map(|key| policy.field(key))
            .map(|field| {
                let key = field.key.as_str();
                let values = raw.get(key).cloned().unwrap_or_default();
                let error = errors.get(key).first().map(|e| e.message.clone());
                field_view(policy, field, locale, &values, error)
            })
            .collect();
        let total = super::flow::signup_steps(policy);
        let title = policy
            .step(&self.step)
            .and_then(|s| localized(&s.title, locale, default));
        context! {
            title,
            fields,
            progress => (total > 1).then(|| context! { current => 1, total }),
        }
    }

    /// Validates the posted answers (every input but the credentials and the page's own).
    pub(crate) fn validate(
        &self,
        raw: &RawAnswers,
        locale: &str,
    ) -> Result<Vec<ProfileChange>, AnswerErrors> {
        let keys: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        let raw: RawAnswers = raw
            .iter()
            .filter(|(k, _)| keys.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let answers = validate_answers(
            &self.policy,
            &keys,
            &raw,
            locale,
            time::OffsetDateTime::now_utc().date(),
        )?;
        Ok(answers
            .iter()
            .filter_map(|(key, value)| {
                let (location, stored) = location_of(self.policy.field(key.as_str())?);
                Some(ProfileChange {
                    location,
                    key: stored.to_owned(),
                    value: Some(value.clone()),
                })
            })
            .collect())
    }

    /// Stores the answers of the new account (source `signup`), records the step as shown and
    /// answered, and tells the transaction that the sign-up's first page held this step.
    pub(crate) async fn store(
        &self,
        state: &AppState,
        user_id: Uuid,
        changes: &[ProfileChange],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        state
            .store
            .apply_profile_changes(user_id, None, changes, "signup", now)
            .await?;
        // The fields of the page left blank (optional ones: a required one was refused).
        let declined: Vec<&str> = self
            .fields
            .iter()
            .filter(|key| {
                self.policy.field(key).is_some_and(|field| {
                    let (location, stored) = location_of(field);
                    !changes
                        .iter()
                        .any(|c| c.location == location && c.key == stored && c.value.is_some())
                })
            })
            .map(String::as_str)
            .collect();
        for kind in [EventKind::PromptShown, EventKind::PromptAnswered] {
            state
                .store
                .record_prompt_event(NewEvent {
                    kind,
                    user_id,
                    step: Some(self.step.clone()),
                    client_id: self.client_id.clone(),
                    at: now,
                    logins: None,
                    data: json!({ "fields": self.fields, "page": "signup", "declined": declined }),
                })
                .await?;
        }
        let Some(id) = self.tx else {
            return Ok(());
        };
        if let Some(mut tx) = state.store.get_transaction(id).await? {
            let mut flow = FlowState::of(&tx.state);
            flow.answered.push(self.step.clone());
            flow.signup_page = true;
            flow.store_into(&mut tx.state);
            match state.store.update_transaction(tx).await {
                // Progress display only: a concurrent change of the transaction wins.
                Ok(_) | Err(StoreError::VersionMismatch { .. } | StoreError::Conflict { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// Splits a sign-up post into the credentials form and the profile answers.
pub(crate) fn split_signup_post(
    pairs: Vec<(String, String)>,
) -> (crate::account::CredentialsForm, RawAnswers) {
    let mut form = crate::account::CredentialsForm::default();
    let mut raw = RawAnswers::new();
    for (name, value) in pairs {
        match name.as_str() {
            "csrf" => form.csrf = value,
            "tx" => form.tx = Some(value),
            "email" => form.email = value,
            "password" => form.password = value,
            "action" => form.action = Some(value),
            _ => raw.entry(name).or_default().push(value),
        }
    }
    (form, raw)
}
