//! The hosted prompt page: `GET /prompt?tx=` shows the step on screen, `POST /prompt` answers
//! or skips it, then the browser resumes the authorization at `/authorize/resume?tx=`.
//!
//! Whatever the browser does (reload, back button, double submit, a submit after expiry), the
//! answer is a page or a redirect, never a second code: the transaction's `state` says which
//! step is on screen, and only the request that clears it stores the answer.

use accrete_app::facts::{FlowState, Shown};
use accrete_app::fields::{form_values, step_title};
use accrete_app::prompts::{self, Leaving, StepOutcome};
use accrete_app::transactions::{self, TransactionError};
use accrete_core::{
    CompiledPolicy, FieldErrors as AnswerErrors, JsonAnswers, validate_answers,
    validate_json_answers,
};
use accrete_store::{AuthTransaction, StoreError};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use time::OffsetDateTime;

use super::credentials::TxQuery;
use super::csrf;
use super::errors::{store_failure, transaction_problem};
use super::form::{form_fields, split_post};
use super::i18n::text;
use super::templates::ClientTheme;
use super::transaction::{TransactionView, load_transaction, locale as page_locale, urlencode};
use crate::session;
use crate::state::AppState;

/// `GET /prompt?tx=`.
pub(crate) async fn show(
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
    let policy = match state.app.policy().await {
        Ok(Some(policy)) => policy,
        Ok(None) => return ctx.resume(),
        Err(error) => return store_failure(&state, ctx.locale, &error),
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
pub(crate) async fn submit(
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
    let policy = match state.app.policy().await {
        Ok(Some(policy)) => policy,
        // The policy was withdrawn meanwhile: nothing to ask any more.
        Ok(None) => return ctx.finish(&state, StepOutcome::Withdrawn).await,
        Err(error) => return store_failure(&state, ctx.locale, &error),
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
        return ctx.finish(&state, StepOutcome::Skipped).await;
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
    ctx.finish(&state, StepOutcome::Answered(policy, answers))
        .await
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
        let view = match load_transaction(state, tx, now).await {
            Ok(view) if view.id.is_some() => view,
            Ok(_) => return Err(gone(state, headers, TransactionError::Gone)),
            Err(problem) => return Err(gone(state, headers, problem)),
        };
        let locale = page_locale(&view, headers);
        let Some(tx) = view.transaction.clone() else {
            return Err(transaction_problem(state, locale, TransactionError::Gone));
        };
        let session = session::current(state, &jar, now)
            .await
            .map_err(|e| store_failure(state, locale, &e))?;
        let user_id = match (tx.user_id, session) {
            (Some(user_id), Some(session)) if session.user_id == user_id => user_id,
            // Not this browser's sign-in (or the session ended): start again.
            _ => {
                return Err(transaction_problem(state, locale, TransactionError::Gone));
            }
        };
        let email = match state.store.get_user(user_id).await {
            Ok(user) => user.email,
            Err(StoreError::NotFound) => {
                return Err(transaction_problem(state, locale, TransactionError::Gone));
            }
            Err(error) => return Err(store_failure(state, locale, &error)),
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
            urlencode(&self.tx.id.to_string())
        );
        (self.jar.clone(), Redirect::to(&to)).into_response()
    }

    /// Takes the step off screen (exactly once), stores what the user did, and resumes.
    async fn finish(self, state: &AppState, outcome: StepOutcome) -> Response {
        match prompts::finish_step(&state.app, &self.tx, outcome, self.now).await {
            // Done here, or by a concurrent submit of the same page (its answer counts).
            Ok(_) => self.resume(),
            Err(error) => store_failure(state, self.locale, &error),
        }
    }

    /// "Cancel": the user declines to go on. The transaction ends without a code, the step
    /// on screen is recorded as abandoned, and the browser goes back to the application with
    /// `access_denied` (RFC 6749 §4.1.2.1).
    async fn cancel(self, state: &AppState, shown: &Shown) -> Response {
        let back = match transactions::deny(&state.app, &self.tx, self.now).await {
            Ok(Some(back)) => back,
            Ok(None) => return transaction_problem(state, self.locale, TransactionError::Gone),
            Err(error) => return store_failure(state, self.locale, &error),
        };
        prompts::abandon(&state.app, &self.tx, shown, Leaving::Cancelled, self.now).await;
        (self.jar, Redirect::to(&back)).into_response()
    }

    /// "Not you?": signs this browser out and sends it to the sign-in page of the same
    /// transaction, which goes on with whoever signs in; the step shown to the previous
    /// account is recorded as abandoned.
    async fn switch_account(self, state: &AppState, shown: &Shown) -> Response {
        match prompts::switch_account(&state.app, &self.tx, shown, self.now).await {
            Ok(true) => {}
            // Another request moved the transaction on: carry on from where it is.
            Ok(false) => return self.resume(),
            Err(error) => return store_failure(state, self.locale, &error),
        }
        let jar = session::end(state, self.jar).await;
        let to = format!("/login?tx={}", urlencode(&self.tx.id.to_string()));
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
        let fields = form_fields(policy, &shown.fields, self.locale, values, errors);
        let form_error = errors
            .get(accrete_core::FORM_ERROR_KEY)
            .first()
            .map(|e| e.message.clone());
        let title = step_title(policy, &shown.step, self.locale);
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

fn gone(state: &AppState, headers: &HeaderMap, problem: TransactionError) -> Response {
    let locale = page_locale(&TransactionView::default(), headers);
    transaction_problem(state, locale, problem)
}
