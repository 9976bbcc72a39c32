//! The hook between authentication and the authorization code: decide, and either proceed or
//! send the browser to the prompt page.

use std::sync::Arc;

use accrete_core::{
    Ask, CompiledPolicy, MomentKind, Presentation, TriggerMoment, UserFacts, decide, missing_fields,
};
use accrete_oidc::authorize::{AuthorizationRequest, Prompt};
use accrete_store::{AuthTransaction, EventKind, ProfilingWrite, StoreError, User};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::App;
use crate::facts::{FlowState, Shown, assume_stale, needs_provenance, prompt_states, user_facts};
use crate::prompts::prompt_event;

/// What the authorization flow does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Nothing to ask: issue the code.
    Proceed,
    /// A step is on screen: send the browser to `/prompt?tx=` (the step id).
    Prompt(String),
    /// `prompt=none` and a required step is due: answer `interaction_required`.
    InteractionRequired,
    /// The client requires a verified email address and the user's is not: send the browser
    /// to `/verify-email?tx=`.
    VerifyEmail,
    /// A second factor is due: send the browser to `/mfa?tx=`.
    SecondFactor,
    /// A second factor is required and the user has none: send the browser to the set-up page
    /// `/mfa/setup?tx=`.
    EnrolFactor,
    /// A step is due but the transaction was not stored (the code was to be issued by the
    /// request that started the authorization): store it, then call again.
    StoreFirst,
    /// A post-sign-in hook denied the sign-in: its message for the person (a string, one per
    /// locale, or `null` when a fail-closed hook failed); `access_denied` to the client.
    Denied(serde_json::Value),
}

/// Why profiling could not decide.
#[derive(Debug, thiserror::Error)]
pub enum ProfilingError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Called by the authorization flow once the user is authenticated and right before the code
/// is issued; `user` is the user record when the caller already holds it (read otherwise).
/// Shows at most one step per call; answering it resumes the transaction, which calls this
/// again. `stored`: whether `tx` is in the store (a step can only be shown in a stored one).
pub async fn before_code(
    app: &App,
    tx: &AuthTransaction,
    stored: bool,
    request: &AuthorizationRequest,
    user_id: Uuid,
    user: Option<User>,
    now: OffsetDateTime,
) -> Result<Next, ProfilingError> {
    crate::sweeper::sweep_now_and_then(app, now);
    let mut user = user;
    let companion = crate::companion::spec::CompanionState::of(&tx.state);
    // A companion's provider verifies emails itself.
    if companion.is_none() {
        use crate::email_verification::{Gate, gate};
        match gate(app, tx, stored, request, user_id, &mut user).await? {
            Gate::Open => {}
            Gate::Verify => return Ok(Next::VerifyEmail),
            Gate::InteractionRequired => return Ok(Next::InteractionRequired),
            Gate::StoreFirst => return Ok(Next::StoreFirst),
        }
    }
    // The hooks, once per sign-in; with none configured this is one load of a boolean.
    let hooked;
    let tx = if app.hooks.at_sign_in() {
        use crate::hooks::sign_in::{AtSignIn, run};
        match run(app, (tx, stored), request, user_id, user.take(), now).await? {
            AtSignIn::Go {
                user: after,
                tx: moved,
            } => {
                user = after.map(|u| *u);
                hooked = moved;
                hooked.as_deref().unwrap_or(tx)
            }
            AtSignIn::StoreFirst => return Ok(Next::StoreFirst),
            AtSignIn::Denied(message) => return Ok(Next::Denied(message)),
        }
    } else {
        tx
    };
    let Some(policy) = app.policy().await? else {
        return Ok(Next::Proceed);
    };
    let mut flow = FlowState::of(&tx.state);
    if let Some(shown) = &flow.current {
        // Reload or back button: the same step is still on screen.
        return Ok(Next::Prompt(shown.step.clone()));
    }
    let user = match user.filter(|user| user.id == user_id) {
        Some(user) => user,
        None => app.store().get_user(user_id).await?,
    };
    // First decide without the provenance, taking every value that must be re-confirmed as
    // stale. Staleness only makes fields missing, and conditions see values, not their dates, so
    // when nothing is due in this worst case nothing is due at all.
    let mut facts = user_facts(&policy, &user, &[], &[]);
    facts.suggestions.clone_from(&flow.suggestions);
    if let Some(hooks) = &flow.hooks {
        facts.facts.clone_from(&hooks.facts);
    }
    assume_stale(&policy, &mut facts);
    let signup = match &companion {
        Some(companion) => companion.signup(),
        None => user.created_at >= tx.created_at,
    };
    // Prompt history holds steps back (skips, fields left blank), makes a due optional step
    // required, and keeps a required step shown and not answered due whatever its condition.
    // So when nothing is due without it, optional steps may still be asked and no required
    // step was held back by its condition only, nothing is due with it either: the common case
    // costs no extra query.
    let optional_open =
        flow.optional_steps_asked < policy.policy().settings.max_optional_steps_per_signin;
    let (client, scopes) = (tx.client_id.as_str(), request.scopes.as_slice());
    let (first, held) = next_ask(&policy, &facts, &flow, client, scopes, signup, now);
    if first.is_none() && optional_open && !held {
        return Ok(Next::Proceed);
    }
    if needs_provenance(&policy) {
        let provenance = app.store().value_provenance(user.id).await?;
        facts = user_facts(&policy, &user, &[], &provenance);
        facts.suggestions.clone_from(&flow.suggestions);
        if let Some(hooks) = &flow.hooks {
            facts.facts.clone_from(&hooks.facts);
        }
    }
    facts.prompts = prompt_states(&app.store().prompt_states(user.id).await?);
    let Some((ask, kind)) = next_ask(&policy, &facts, &flow, client, scopes, signup, now).0 else {
        return Ok(Next::Proceed);
    };
    if request.has_prompt(Prompt::None) {
        return Ok(if ask.required {
            Next::InteractionRequired
        } else {
            // An optional step is simply not asked without interaction.
            Next::Proceed
        });
    }
    if !stored {
        return Ok(Next::StoreFirst);
    }
    let progress = (kind == MomentKind::Signup).then(|| signup_progress(&policy, &flow));
    let questions = (ask.presentation == Presentation::OneAtATime)
        .then(|| question_progress(&policy, &facts, &flow, ask.step.as_str(), now))
        .filter(|&(_, total)| total > 1);
    if !ask.required {
        flow.optional_steps_asked = flow.optional_steps_asked.saturating_add(1);
    }
    let step = ask.step.as_str().to_owned();
    flow.current = Some(Shown {
        step: step.clone(),
        fields: ask.fields.iter().map(|k| k.as_str().to_owned()).collect(),
        required: ask.required,
        prefill: ask
            .prefill
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
            .collect(),
        progress,
        questions,
    });
    let mut updated = tx.clone();
    flow.store_into(&mut updated.state);
    let mut shown = prompt_event(
        EventKind::PromptShown,
        user_id,
        &step,
        Some(&tx.client_id),
        now,
        json!({ "fields": ask.fields, "required": ask.required, "tx": tx.id }),
    );
    shown.logins = Some(user.credentialed_logins);
    let write = ProfilingWrite {
        user_id,
        transaction: Some(updated),
        changes: Vec::new(),
        source: String::new(),
        event: Some(shown),
        now,
    };
    match app.store().write_profiling(write).await {
        Ok(_) => {}
        // Another request moved the transaction on (a double click): it shows the step.
        Err(StoreError::VersionMismatch { .. }) => return Ok(Next::Prompt(step)),
        Err(error) => return Err(error.into()),
    }
    Ok(Next::Prompt(step))
}

/// The step to ask now: in a sign-up transaction the `signup` steps first, then (the sign-up
/// being the first sign-in too) the `login` steps, so that a client's required fields are
/// asked before its first code. Also says whether a required step was held back by its
/// condition only (see `Decision::required_step_held_by_condition`).
pub(crate) fn next_ask(
    policy: &Arc<CompiledPolicy>,
    facts: &UserFacts,
    flow: &FlowState,
    client_id: &str,
    scopes: &[String],
    signup: bool,
    now: OffsetDateTime,
) -> (Option<(Ask, MomentKind)>, bool) {
    let kinds: &[MomentKind] = if signup {
        &[MomentKind::Signup, MomentKind::Login]
    } else {
        &[MomentKind::Login]
    };
    let mut held = false;
    let ask = kinds.iter().find_map(|kind| {
        let moment = flow.moment(kind.clone(), client_id, scopes);
        let decision = decide(policy, facts, &moment, now);
        held |= decision.required_step_held_by_condition();
        decision.ask().cloned().map(|ask| (ask, kind.clone()))
    });
    (ask, held)
}

/// How many steps a sign-up has (the `signup` steps of the policy).
pub fn signup_steps(policy: &CompiledPolicy) -> usize {
    policy
        .steps()
        .iter()
        .filter(|s| s.trigger.moments.contains(&TriggerMoment::Signup))
        .count()
}

/// "Step 2 of 3": one page per `signup` step, the first one on the credentials page when it
/// was asked there, else after a credentials-only page (none after a sign-up through a
/// provider).
fn signup_progress(policy: &CompiledPolicy, flow: &FlowState) -> (usize, usize) {
    let is_signup = |id: &str| {
        policy
            .step(id)
            .is_some_and(|s| s.trigger.moments.contains(&TriggerMoment::Signup))
    };
    let extra = usize::from(!flow.signup_page && !flow.provider_signup);
    let done = flow.answered.iter().filter(|id| is_signup(id)).count();
    let current = done + 1 + extra;
    (current, (signup_steps(policy) + extra).max(current))
}

/// "Question 2 of 3" for a `one_at_a_time` step: the questions of the step answered in this
/// sign-in, plus the ones still missing (the engine asks the first of them now).
fn question_progress(
    policy: &CompiledPolicy,
    facts: &UserFacts,
    flow: &FlowState,
    step: &str,
    now: OffsetDateTime,
) -> (usize, usize) {
    let answered = flow.answered.iter().filter(|id| *id == step).count();
    let missing = missing_fields(policy, step, facts, now).len().max(1);
    (answered + 1, answered + missing)
}
