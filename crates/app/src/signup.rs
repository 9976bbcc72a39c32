//! The sign-up page's share of profiling: the fields of the first required `signup` step are
//! asked on the credentials page itself (page 1 of N), validated with the credentials, and
//! stored with source `signup` once the account exists. Further `signup` steps follow on the
//! prompt page ("step 2 of N").

use std::sync::Arc;

use accrete_core::{
    Answers, CompiledPolicy, FieldErrors as AnswerErrors, Moment, PromptState, RawAnswers,
    UserFacts, decide, validate_answers,
};
use accrete_store::{AuthTransaction, EventKind, StoreError};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::App;
use crate::facts::FlowState;
use crate::prompts::{changes_for, prompt_event, stamp_consents};

/// The first `signup` step, shown on the sign-up page.
pub struct SignupStep {
    policy: Arc<CompiledPolicy>,
    step: String,
    fields: Vec<String>,
    client_id: Option<String>,
    /// The transaction as the page read it (read once per request).
    tx: Option<AuthTransaction>,
}

/// The step to ask on the sign-up page of transaction `tx` (if any): the first required
/// `signup` step for a new user entering its client. `None` without a policy or such a step
/// (store failures included: the sign-up then works as without a policy, and the prompt page
/// asks the step after the account is created).
pub async fn signup_step(
    app: &App,
    tx: Option<&AuthTransaction>,
    now: OffsetDateTime,
) -> Option<SignupStep> {
    let mut step = signup_step_for(app, tx.map(|t| t.client_id.clone()), now).await?;
    step.tx = tx.cloned();
    Some(step)
}

/// [`signup_step`] for a sign-up through `client_id` (`None`: outside any application),
/// outside any transaction: what the console's preview shows.
pub async fn signup_step_for(
    app: &App,
    client_id: Option<String>,
    now: OffsetDateTime,
) -> Option<SignupStep> {
    let policy = app.policy().await.ok()??;
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
        tx: None,
    })
}

impl SignupStep {
    /// The policy the step belongs to.
    pub fn policy(&self) -> &CompiledPolicy {
        &self.policy
    }

    /// The step's id.
    pub fn step(&self) -> &str {
        &self.step
    }

    /// The fields asked, in order.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// How many pages the sign-up has: one per `signup` step.
    pub fn pages(&self) -> usize {
        crate::flow::signup_steps(&self.policy)
    }

    /// Validates the posted answers (every input but the credentials and the page's own).
    pub fn validate(
        &self,
        raw: &RawAnswers,
        locale: &str,
        now: OffsetDateTime,
    ) -> Result<Answers, AnswerErrors> {
        let keys: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        let raw: RawAnswers = raw
            .iter()
            .filter(|(k, _)| keys.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        validate_answers(&self.policy, &keys, &raw, locale, now.date())
    }

    /// Stores the answers of the new account (source `signup`), records the step as shown and
    /// answered, and tells the transaction that the sign-up's first page held this step.
    pub async fn store(
        &self,
        app: &App,
        user_id: Uuid,
        answers: &Answers,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut stamped = answers.clone();
        let client_id = self.client_id.as_deref();
        stamp_consents(&self.policy, &mut stamped, None, client_id, now);
        let changes = changes_for(&self.policy, stamped.keys().map(|k| k.as_str()), &stamped);
        app.store()
            .apply_profile_changes(user_id, None, &changes, "signup", now)
            .await?;
        // The fields of the page left blank (optional ones: a required one was refused).
        let keys: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        let declined = PromptState::left_blank(&keys, answers);
        for kind in [EventKind::PromptShown, EventKind::PromptAnswered] {
            let data = json!({ "fields": self.fields, "page": "signup", "declined": declined });
            let event = prompt_event(
                kind,
                user_id,
                &self.step,
                self.client_id.as_deref(),
                now,
                data,
            );
            app.store().record_prompt_event(event).await?;
        }
        let Some(mut tx) = self.tx.clone() else {
            return Ok(());
        };
        let mut flow = FlowState::of(&tx.state);
        flow.answered.push(self.step.clone());
        flow.signup_page = true;
        flow.store_into(&mut tx.state);
        match app.store().update_transaction(tx).await {
            // Progress display only: a concurrent change of the transaction (or its end) wins.
            Ok(_)
            | Err(
                StoreError::VersionMismatch { .. }
                | StoreError::Conflict { .. }
                | StoreError::NotFound,
            ) => Ok(()),
            Err(error) => Err(error),
        }
    }
}
