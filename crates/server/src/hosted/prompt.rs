//! The hosted prompt page: `GET /prompt?tx=` shows the step on screen, `POST /prompt` answers
//! or skips it, then the browser resumes the authorization at `/authorize/resume?tx=`.
//!
//! Whatever the browser does (reload, back button, double submit, a submit after expiry), the
//! answer is a page or a redirect, never a second code: the transaction's `state` says which
//! step is on screen, and only the request that clears it stores the answer.

use accrete_app::companion::CompanionState;
use accrete_app::facts::{FlowState, Shown};
use accrete_app::fields::{form_values, step_title};
use accrete_app::hooks::validation::{self, Checked, Context, Surface};
use accrete_app::phone::{self, NumberAt, Proven, Sent};
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
use super::i18n::{text, text_with, utc_time};
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
    if let Some((number, _)) = prompts::held_answers(&ctx.flow) {
        return ctx
            .render_code(
                &state,
                StatusCode::OK,
                &shown,
                &number,
                CodeStage::default(),
            )
            .await;
    }
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
    let second_factor = policy.step(&shown.step).is_some_and(|s| s.second_factor);
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
        // A companion's visit has no "not you?": its user signed in at the provider.
        Some("switch_account") if CompanionState::of(&ctx.tx.state).is_some() => {
            return ctx.show_again();
        }
        Some("switch_account") => return ctx.switch_account(&state, &shown).await,
        _ => {}
    }
    match field("action") {
        Some("verify_code") => {
            // The code stage posts only its code (a field of the step cannot be on it).
            let typed = raw.get("code").and_then(|v| v.first()).map(String::as_str);
            return ctx.verify_code(&state, &shown, typed).await;
        }
        Some("resend_code") => return ctx.resend_code(&state, &shown).await,
        Some("other_number") => {
            return match prompts::release_held(&state.app, &ctx.tx).await {
                Ok(()) => ctx.show_again(),
                Err(error) => store_failure(&state, ctx.locale, &error),
            };
        }
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
    if second_factor {
        // Such a step is answered by setting a factor up, never by a post.
        return (ctx.jar.clone(), Redirect::to(&ctx.setup_link())).into_response();
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
    // A number to verify: the answers wait in the transaction for the code sent to it.
    let user = match ctx.tx.user_id {
        Some(user_id) => match state.store.get_user(user_id).await {
            Ok(user) => Some(user),
            Err(error) => return store_failure(&state, ctx.locale, &error),
        },
        None => None,
    };
    // The validation hooks: refusals shown beside their fields, nothing stored when a
    // fail-closed hook cannot answer.
    let answers = match &user {
        Some(user) if !state.app.hooks().is_empty() => {
            let at = Context {
                user,
                surface: Surface::Prompt,
                step: Some(&shown.step),
                client_id: Some(&ctx.tx.client_id),
                locale: ctx.locale,
                now,
            };
            match validation::check(&state.app, &policy, at, &keys, answers).await {
                Checked::Accepted(answers) => answers,
                Checked::Refused(errors) => {
                    let alert = Some(text(ctx.locale, "error.summary"));
                    let status = StatusCode::BAD_REQUEST;
                    return ctx.render(&state, &policy, status, &shown, &posted, &errors, alert);
                }
                Checked::Unavailable => {
                    let alert = Some(text(ctx.locale, "hooks.unavailable"));
                    let (status, errors) =
                        (StatusCode::SERVICE_UNAVAILABLE, AnswerErrors::default());
                    return ctx.render(&state, &policy, status, &shown, &posted, &errors, alert);
                }
            }
        }
        _ => answers,
    };
    if let Some(user) = &user
        && let Some(number) = prompts::number_to_verify(&policy, &shown.fields, &answers, user)
    {
        return ctx.hold_and_send(&state, user, &number, &answers).await;
    }
    ctx.finish(&state, StepOutcome::Answered(policy, answers))
        .await
}

/// What the code stage of a prompt shows beside the code field.
#[derive(Default)]
struct CodeStage {
    status: Option<StatusCode>,
    code_error: Option<String>,
    alert: Option<String>,
    notice: Option<String>,
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
        let companion = CompanionState::of(&tx.state).is_some();
        let user_id = if companion {
            // A companion's visit: this browser holds its cookie (no SSO session).
            match tx.user_id {
                Some(user_id) if super::companion::is_its_browser(state, &jar, &tx) => user_id,
                _ => return Err(transaction_problem(state, locale, TransactionError::Gone)),
            }
        } else {
            let session = session::current(state, &jar, now)
                .await
                .map_err(|e| store_failure(state, locale, &e))?;
            match (tx.user_id, session) {
                (Some(user_id), Some(session)) if session.user_id == user_id => user_id,
                // Not this browser's sign-in (or the session ended): start again.
                _ => {
                    return Err(transaction_problem(state, locale, TransactionError::Gone));
                }
            }
        };
        let email = match state.store.get_user(user_id).await {
            // A companion's user signs in elsewhere: no "not you?" here.
            Ok(_) if companion => String::new(),
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

    /// The prompt page again (after the held answers were released).
    fn show_again(&self) -> Response {
        let to = format!("/prompt?tx={}", urlencode(&self.tx.id.to_string()));
        (self.jar.clone(), Redirect::to(&to)).into_response()
    }

    /// Holds the step's answers in the transaction and sends a code to `number`; then the code
    /// stage (POST-redirect-GET, or the page with the resend wait).
    async fn hold_and_send(
        self,
        state: &AppState,
        user: &accrete_store::User,
        number: &str,
        answers: &accrete_core::Answers,
    ) -> Response {
        match prompts::hold_for_code(&state.app, &self.tx, number, answers).await {
            Ok(true) => {}
            Ok(false) => return self.resume(),
            Err(error) => return store_failure(state, self.locale, &error),
        }
        let client = match state
            .app
            .clients
            .get(state.app.store(), &self.tx.client_id)
            .await
        {
            Ok(client) => client,
            Err(error) => return store_failure(state, self.locale, &error),
        };
        match phone::send_code(
            &state.app,
            user,
            number,
            client.as_ref(),
            self.locale,
            self.now,
        )
        .await
        {
            Ok(Sent::TooSoon { retry_at }) => {
                let time = utc_time(self.locale, retry_at);
                let alert = text_with(self.locale, "verify.too_soon", &[("time", &time)]);
                let Some(shown) = FlowState::of(&self.tx.state).current else {
                    return self.resume();
                };
                let stage = CodeStage {
                    alert: Some(alert),
                    ..CodeStage::default()
                };
                self.render_code(state, StatusCode::OK, &shown, number, stage)
                    .await
            }
            Ok(_) => self.show_again(),
            Err(error) => store_failure(state, self.locale, &error),
        }
    }

    /// `action=verify_code`: the right code stores the number verified, then the held answers
    /// as the step's answer.
    async fn verify_code(self, state: &AppState, shown: &Shown, typed: Option<&str>) -> Response {
        let Some((number, answers)) = prompts::held_answers(&self.flow) else {
            return self.show_again();
        };
        let proven = phone::enter_code(
            &state.app,
            self.tx.user_id.unwrap_or_default(),
            NumberAt::Pending,
            typed.unwrap_or_default(),
            Some(&self.tx.client_id),
            self.now,
        )
        .await;
        let (key, left) = match proven {
            Ok(Proven::Verified { .. }) => {
                return match state.app.policy().await {
                    Ok(Some(policy)) => {
                        self.finish(state, StepOutcome::Answered(policy, answers))
                            .await
                    }
                    Ok(None) => self.finish(state, StepOutcome::Withdrawn).await,
                    Err(error) => store_failure(state, self.locale, &error),
                };
            }
            Ok(Proven::NotACode) => ("verify.not_a_code", 0),
            Ok(Proven::WrongCode { attempts_left: 0 }) => ("verify.wrong_last", 0),
            Ok(Proven::WrongCode { attempts_left }) => ("verify.wrong", attempts_left),
            Ok(Proven::Expired) => ("verify.expired", 0),
            Err(error) => return store_failure(state, self.locale, &error),
        };
        let stage = CodeStage {
            status: Some(StatusCode::BAD_REQUEST),
            code_error: Some(text_with(self.locale, key, &[("left", &left.to_string())])),
            alert: Some(text(self.locale, "error.summary")),
            notice: None,
        };
        self.render_code(state, StatusCode::BAD_REQUEST, shown, &number, stage)
            .await
    }

    /// `action=resend_code`: another code to the held number, after the resend wait.
    async fn resend_code(self, state: &AppState, shown: &Shown) -> Response {
        let Some((number, _)) = prompts::held_answers(&self.flow) else {
            return self.show_again();
        };
        let user = match state
            .store
            .get_user(self.tx.user_id.unwrap_or_default())
            .await
        {
            Ok(user) => user,
            Err(error) => return store_failure(state, self.locale, &error),
        };
        let client = match state
            .app
            .clients
            .get(state.app.store(), &self.tx.client_id)
            .await
        {
            Ok(client) => client,
            Err(error) => return store_failure(state, self.locale, &error),
        };
        let stage = match phone::send_code(
            &state.app,
            &user,
            &number,
            client.as_ref(),
            self.locale,
            self.now,
        )
        .await
        {
            Ok(Sent::TooSoon { retry_at }) => {
                let time = utc_time(self.locale, retry_at);
                CodeStage {
                    status: Some(StatusCode::TOO_MANY_REQUESTS),
                    alert: Some(text_with(
                        self.locale,
                        "verify.too_soon",
                        &[("time", &time)],
                    )),
                    ..CodeStage::default()
                }
            }
            Ok(_) => CodeStage {
                notice: Some(text(self.locale, "verify.resent")),
                ..CodeStage::default()
            },
            Err(error) => return store_failure(state, self.locale, &error),
        };
        let status = stage.status.unwrap_or(StatusCode::OK);
        self.render_code(state, status, shown, &number, stage).await
    }

    /// The code stage of the step on screen: the code sent to `number`, resend, another number.
    async fn render_code(
        &self,
        state: &AppState,
        status: StatusCode,
        shown: &Shown,
        number: &str,
        stage: CodeStage,
    ) -> Response {
        let locale = self.locale;
        let help =
            match phone::pending_code(&state.app, self.tx.user_id.unwrap_or_default(), self.now)
                .await
            {
                Ok(Some((to, until))) if to == number => Some(text_with(
                    locale,
                    "phone.sent_to",
                    &[("number", number), ("time", &utc_time(locale, until))],
                )),
                Ok(_) => None,
                Err(error) => return store_failure(state, locale, &error),
            };
        let page = context! {
            locale,
            csrf => self.csrf,
            tx => self.tx.id.to_string(),
            client_name => self.client_name,
            step => shown.step,
            title => text(locale, "phone.prompt_title"),
            required => shown.required,
            email => self.email,
            phone_code => context! {
                intro => text_with(locale, "phone.prompt_intro", &[("number", number)]),
                help,
                error => stage.code_error,
            },
            notice => stage.notice,
            alert => stage.alert,
        };
        (
            self.jar.clone(),
            state
                .pages
                .render_for(self.client_theme.as_ref(), status, "prompt.html", page),
        )
            .into_response()
    }

    /// Where a `second_factor` step sends the user: the set-up page, in this transaction.
    fn setup_link(&self) -> String {
        format!("/mfa/setup?tx={}", urlencode(&self.tx.id.to_string()))
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
        let frame = PromptFrame {
            locale: self.locale,
            csrf: self.csrf.clone(),
            tx: self.tx.id.to_string(),
            client_name: self.client_name.clone(),
            email: self.email.clone(),
            setup_link: self.setup_link(),
            companion: CompanionState::of(&self.tx.state).is_some(),
        };
        let page = prompt_context(policy, shown, &frame, values, errors, alert);
        (
            self.jar.clone(),
            state
                .pages
                .render_for(self.client_theme.as_ref(), status, "prompt.html", page),
        )
            .into_response()
    }
}

/// What a prompt page shows around the step: its locale, form tokens, the application and who
/// is answering.
pub(crate) struct PromptFrame {
    pub locale: &'static str,
    pub csrf: String,
    pub tx: String,
    pub client_name: Option<String>,
    pub email: String,
    /// Where a `second_factor` step sends the user.
    pub setup_link: String,
    /// A companion's visit (docs/companion.md): no link to Accrete's account center.
    pub companion: bool,
}

/// What `prompt.html` is given for the step `shown` of `policy` (shared with the console's
/// preview, which shows a step exactly as a person sees it).
pub(crate) fn prompt_context(
    policy: &CompiledPolicy,
    shown: &Shown,
    frame: &PromptFrame,
    values: &dyn Fn(&str) -> Vec<String>,
    errors: &AnswerErrors,
    alert: Option<String>,
) -> minijinja::Value {
    let locale = frame.locale;
    let fields = form_fields(policy, &shown.fields, locale, values, errors);
    let form_error = errors
        .get(accrete_core::FORM_ERROR_KEY)
        .first()
        .map(|e| e.message.clone());
    let title = step_title(policy, &shown.step, locale);
    context! {
        locale,
        csrf => frame.csrf,
        tx => frame.tx,
        client_name => frame.client_name,
        step => shown.step,
        title,
        required => shown.required,
        progress => shown.progress.map(|(current, total)| context! { current, total }),
        questions => shown.questions.map(|(current, total)| context! { current, total }),
        email => frame.email,
        second_factor => policy
            .step(&shown.step)
            .is_some_and(|s| s.second_factor)
            .then(|| frame.setup_link.clone()),
        fields,
        alert => alert.or(form_error),
        companion => frame.companion,
    }
}

fn gone(state: &AppState, headers: &HeaderMap, problem: TransactionError) -> Response {
    let locale = page_locale(&TransactionView::default(), headers);
    transaction_problem(state, locale, problem)
}
