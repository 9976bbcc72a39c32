//! The hosted prompt page: `GET /prompt?tx=` shows the step on screen, `POST /prompt` answers
//! or skips it, then the browser resumes the authorization at `/authorize/resume?tx=`.
//!
//! Whatever the browser does (reload, back button, double submit, a submit after expiry), the
//! answer is a page or a redirect, never a second code: the transaction's `state` says which
//! step is on screen, and only the request that clears it stores the answer.

use accrete_core::{
    CompiledPolicy, FieldErrors as AnswerErrors, JsonAnswers, PromptState, validate_answers,
    validate_json_answers,
};
use accrete_store::{AuthTransaction, EventKind, NewEvent, ProfileChange, StoreError};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde_json::json;
use time::OffsetDateTime;

use super::facts::{FlowState, Shown, location_of};
use super::form::{FieldView, field_view, form_values, localized, split_post};
use crate::account::{self, TransactionProblem, TransactionView, TxQuery};
use crate::i18n::text;
use crate::pages::ClientTheme;
use crate::state::AppState;
use crate::{csrf, session};

/// `GET /prompt?tx=`.
pub(super) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<TxQuery>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let ctx = match Ctx::open(&state, &headers, jar, query.tx.as_deref(), now).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let Some(shown) = ctx.flow.current.clone() else {
        return ctx.resume();
    };
    let policy = match state.profiling.current(state.store.as_ref()).await {
        Ok(Some(policy)) => policy,
        Ok(None) => return ctx.resume(),
        Err(error) => return account::store_failure(&state, ctx.locale, &error),
    };
    let values = |key: &str| shown.prefill.get(key).map(form_values).unwrap_or_default();
    let errors = prefill_errors(&policy, &shown, ctx.locale, now);
    ctx.render(
        &state,
        &policy,
        StatusCode::OK,
        &shown,
        &values,
        &errors,
        None,
    )
}

/// Why pre-filled values fail their field's validation, in the page's locale: a stored value
/// that no longer passes (an option since removed, a date past its bound) is asked again and
/// shown with its error. Valid pre-fills have none.
fn prefill_errors(
    policy: &CompiledPolicy,
    shown: &Shown,
    locale: &str,
    now: OffsetDateTime,
) -> AnswerErrors {
    let prefilled: JsonAnswers = shown
        .prefill
        .iter()
        .filter(|(key, _)| shown.fields.contains(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if prefilled.is_empty() {
        return AnswerErrors::default();
    }
    let keys: Vec<&str> = prefilled.keys().map(String::as_str).collect();
    validate_json_answers(policy, &keys, &prefilled, locale, now.date())
        .err()
        .unwrap_or_default()
}

/// `POST /prompt`: `action=submit` answers, `action=skip` skips an optional step.
pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let (own, raw) = split_post(pairs);
    let field = |name: &str| own.get(name).map(String::as_str);
    let ctx = match Ctx::open(&state, &headers, jar, field("tx"), now).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let Some(shown) = ctx.flow.current.clone() else {
        // Already answered (double submit, back button): carry on where the flow is.
        return ctx.resume();
    };
    if field("step").is_some_and(|s| s != shown.step) {
        return ctx.resume();
    }
    let posted = |key: &str| raw.get(key).cloned().unwrap_or_default();
    let policy = match state.profiling.current(state.store.as_ref()).await {
        Ok(Some(policy)) => policy,
        // The policy was withdrawn meanwhile: nothing to ask any more.
        Ok(None) => return ctx.finish(&state, None).await,
        Err(error) => return account::store_failure(&state, ctx.locale, &error),
    };
    if !csrf::verify(&ctx.jar, field("csrf")) {
        let alert = Some(text(ctx.locale, "error.csrf"));
        let errors = AnswerErrors::default();
        return ctx.render(
            &state,
            &policy,
            StatusCode::FORBIDDEN,
            &shown,
            &posted,
            &errors,
            alert,
        );
    }
    match field("action") {
        Some("cancel") => return ctx.cancel(&state, &shown).await,
        Some("switch_account") => return ctx.switch_account(&state, &shown).await,
        _ => {}
    }
    if field("action") == Some("skip") {
        if shown.required {
            let alert = Some(text(ctx.locale, "prompt.cannot_skip"));
            let errors = AnswerErrors::default();
            return ctx.render(
                &state,
                &policy,
                StatusCode::BAD_REQUEST,
                &shown,
                &posted,
                &errors,
                alert,
            );
        }
        return ctx.finish(&state, Some(Outcome::Skipped)).await;
    }
    let keys: Vec<&str> = shown.fields.iter().map(String::as_str).collect();
    let answers = match validate_answers(&policy, &keys, &raw, ctx.locale, now.date()) {
        Ok(answers) => answers,
        Err(errors) => {
            let alert = Some(text(ctx.locale, "error.summary"));
            return ctx.render(
                &state,
                &policy,
                StatusCode::BAD_REQUEST,
                &shown,
                &posted,
                &errors,
                alert,
            );
        }
    };
    let changes: Vec<ProfileChange> = answers
        .iter()
        .filter_map(|(key, value)| {
            let field = policy.field(key.as_str())?;
            let (location, stored_key) = location_of(field);
            Some(ProfileChange {
                location,
                key: stored_key.to_owned(),
                value: Some(value.clone()),
            })
        })
        .collect();
    let declined = PromptState::left_blank(&keys, &answers);
    ctx.finish(&state, Some(Outcome::Answered(changes, declined)))
        .await
}

/// What the user did with the step.
enum Outcome {
    /// The changes to store, and the fields left blank.
    Answered(Vec<ProfileChange>, Vec<String>),
    Skipped,
}

/// The prompt page's transaction, locale and CSRF token.
struct Ctx {
    tx: AuthTransaction,
    flow: FlowState,
    locale: &'static str,
    jar: CookieJar,
    csrf: String,
    client_name: Option<String>,
    client_theme: Option<ClientTheme>,
    /// The signed-in account's email, so that the user sees who is answering.
    email: String,
    now: OffsetDateTime,
}

impl Ctx {
    /// The open transaction of the signed-in user; otherwise the page that says why.
    async fn open(
        state: &AppState,
        headers: &HeaderMap,
        jar: CookieJar,
        tx: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Ctx, Response> {
        let view = match account::load_transaction(state, tx, now).await {
            Ok(view) if view.id.is_some() => view,
            Ok(_) => return Err(gone(state, headers, TransactionProblem::Gone)),
            Err(problem) => return Err(gone(state, headers, problem)),
        };
        let locale = account::locale(&view, headers);
        let tx = crate::oauth::load_open(state, view.id.as_deref(), now)
            .await
            .map_err(|p| account::transaction_problem(state, locale, p))?;
        let session = session::current(state, &jar, now)
            .await
            .map_err(|e| account::store_failure(state, locale, &e))?;
        let user_id = match (tx.user_id, session) {
            (Some(user_id), Some(session)) if session.user_id == user_id => user_id,
            // Not this browser's sign-in (or the session ended): start again.
            _ => {
                return Err(account::transaction_problem(
                    state,
                    locale,
                    TransactionProblem::Gone,
                ));
            }
        };
        let email = match state.store.get_user(user_id).await {
            Ok(user) => user.email,
            Err(StoreError::NotFound) => {
                return Err(account::transaction_problem(
                    state,
                    locale,
                    TransactionProblem::Gone,
                ));
            }
            Err(error) => return Err(account::store_failure(state, locale, &error)),
        };
        let (jar, csrf) = csrf::token(jar, state.secure_cookies());
        Ok(Ctx {
            flow: FlowState::of(&tx.state),
            tx,
            locale,
            jar,
            csrf,
            client_name: view.client_name,
            client_theme: view.client_theme,
            email,
            now,
        })
    }

    fn resume(&self) -> Response {
        let to = format!(
            "/authorize/resume?tx={}",
            account::urlencode(&self.tx.id.to_string())
        );
        (self.jar.clone(), Redirect::to(&to)).into_response()
    }

    /// Takes the step off screen (exactly once), stores what the user did, and resumes.
    async fn finish(self, state: &AppState, outcome: Option<Outcome>) -> Response {
        let Some(shown) = self.flow.current.clone() else {
            return self.resume();
        };
        let mut flow = self.flow.clone();
        flow.current = None;
        match &outcome {
            Some(Outcome::Skipped) => flow.skipped.push(shown.step.clone()),
            Some(Outcome::Answered(..)) => flow.answered.push(shown.step.clone()),
            None => {}
        }
        let mut updated = self.tx.clone();
        flow.store_into(&mut updated.state);
        match state.store.update_transaction(updated).await {
            Ok(_) => {}
            // A concurrent submit of the same page won: its answer counts.
            Err(StoreError::VersionMismatch { .. } | StoreError::Conflict { .. }) => {
                return self.resume();
            }
            Err(error) => return account::store_failure(state, self.locale, &error),
        }
        if let (Some(outcome), Some(user_id)) = (outcome, self.tx.user_id)
            && let Err(error) = record(state, &self, &shown, user_id, outcome).await
        {
            return account::store_failure(state, self.locale, &error);
        }
        self.resume()
    }

    /// "Cancel": the user declines to go on. The transaction ends without a code, the step
    /// on screen is recorded as abandoned, and the browser goes back to the application with
    /// `access_denied` (RFC 6749 §4.1.2.1).
    async fn cancel(self, state: &AppState, shown: &Shown) -> Response {
        let back = match crate::oauth::deny(state, &self.tx, self.now).await {
            Ok(Some(back)) => back,
            Ok(None) => {
                return account::transaction_problem(state, self.locale, TransactionProblem::Gone);
            }
            Err(error) => return account::store_failure(state, self.locale, &error),
        };
        if let Some(user_id) = self.tx.user_id {
            abandon(state, &self.tx, shown, user_id, "cancelled", self.now).await;
        }
        (self.jar, back).into_response()
    }

    /// "Not you?": signs this browser out and sends it to the sign-in page of the same
    /// transaction, which goes on with whoever signs in; the step shown to the previous
    /// account is recorded as abandoned.
    async fn switch_account(self, state: &AppState, shown: &Shown) -> Response {
        let mut updated = self.tx.clone();
        updated.user_id = None;
        updated.session_hash = None;
        // What was asked or skipped belongs to the previous account's sign-in.
        FlowState::default().store_into(&mut updated.state);
        match state.store.update_transaction(updated).await {
            Ok(_) => {}
            // Another request moved the transaction on: carry on from where it is.
            Err(StoreError::VersionMismatch { .. } | StoreError::Conflict { .. }) => {
                return self.resume();
            }
            Err(error) => return account::store_failure(state, self.locale, &error),
        }
        if let Some(user_id) = self.tx.user_id {
            abandon(
                state,
                &self.tx,
                shown,
                user_id,
                "switched_account",
                self.now,
            )
            .await;
        }
        let jar = session::end(state, self.jar).await;
        let to = format!("/login?tx={}", account::urlencode(&self.tx.id.to_string()));
        (jar, Redirect::to(&to)).into_response()
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of one page, passed through"
    )]
    fn render(
        &self,
        state: &AppState,
        policy: &CompiledPolicy,
        status: StatusCode,
        shown: &Shown,
        values: &dyn Fn(&str) -> Vec<String>,
        errors: &AnswerErrors,
        alert: Option<String>,
    ) -> Response {
        let default = policy.policy().settings.default_locale.clone();
        let fields: Vec<FieldView> = shown
            .fields
            .iter()
            .filter_map(|key| policy.field(key))
            .map(|field| {
                let error = errors
                    .get(field.key.as_str())
                    .first()
                    .map(|e| e.message.clone());
                field_view(
                    policy,
                    field,
                    self.locale,
                    &values(field.key.as_str()),
                    error,
                )
            })
            .collect();
        let form_error = errors
            .get(accrete_core::FORM_ERROR_KEY)
            .first()
            .map(|e| e.message.clone());
        let title = policy
            .step(&shown.step)
            .and_then(|s| localized(&s.title, self.locale, &default));
        let page = context! {
            locale => self.locale,
            csrf => self.csrf,
            tx => self.tx.id.to_string(),
            client_name => self.client_name,
            step => shown.step,
            title,
            required => shown.required,
            progress => shown.progress.map(|(current, total)| context! { current, total }),
            questions => shown.questions.map(|(current, total)| context! { current, total }),
            email => self.email,
            fields,
            alert => alert.or(form_error),
        };
        (
            self.jar.clone(),
            state
                .pages
                .render_for(self.client_theme.as_ref(), status, "prompt.html", page),
        )
            .into_response()
    }
}

fn gone(state: &AppState, headers: &HeaderMap, problem: TransactionProblem) -> Response {
    let locale = account::locale(&TransactionView::default(), headers);
    account::transaction_problem(state, locale, problem)
}

/// Records `prompt.abandoned` for a step the user left by cancelling or switching account. The
/// user's choice is carried out whatever happens here: a failure is logged, not shown.
async fn abandon(
    state: &AppState,
    tx: &AuthTransaction,
    shown: &Shown,
    user_id: uuid::Uuid,
    reason: &str,
    now: OffsetDateTime,
) {
    let event = NewEvent {
        kind: EventKind::PromptAbandoned,
        user_id,
        step: Some(shown.step.clone()),
        client_id: Some(tx.client_id.clone()),
        at: now,
        logins: None,
        data: json!({ "tx": tx.id, "reason": reason }),
    };
    if let Err(error) = state.store.record_prompt_event(event).await {
        tracing::error!(%error, "could not record an abandoned prompt");
    }
}

/// Stores the answers with their provenance and records the event.
async fn record(
    state: &AppState,
    ctx: &Ctx,
    shown: &Shown,
    user_id: uuid::Uuid,
    outcome: Outcome,
) -> Result<(), StoreError> {
    let (kind, logins, data) = match outcome {
        Outcome::Answered(changes, declined) => {
            let source = format!("prompt:{}", shown.step);
            state
                .store
                .apply_profile_changes(user_id, None, &changes, &source, ctx.now)
                .await?;
            let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
            (
                EventKind::PromptAnswered,
                None,
                json!({ "fields": keys, "declined": declined }),
            )
        }
        Outcome::Skipped => {
            let user = state.store.get_user(user_id).await?;
            (
                EventKind::PromptSkipped,
                Some(user.credentialed_logins),
                json!({}),
            )
        }
    };
    state
        .store
        .record_prompt_event(NewEvent {
            kind,
            user_id,
            step: Some(shown.step.clone()),
            client_id: Some(ctx.tx.client_id.clone()),
            at: ctx.now,
            logins,
            data,
        })
        .await?;
    Ok(())
}
