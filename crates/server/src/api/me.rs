//! `/api/v1/me`: the signed-in user's own profile, and in-app prompts (the headless API behind
//! the widget). Takes the user's access token.

use accrete_app::facts::stored_value;
use accrete_app::fields::{constraints, field_model, step_title};
use accrete_app::hooks::validation::{self, Checked, Context, Surface};
use accrete_app::prompts::{self, InApp, user_may_edit};
use accrete_core::{
    Answers, CompiledPolicy, Field, Moment, StepMode, UserAccess, decide, validate_json_answers,
};
use accrete_store::User;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Caller;
use super::docs::ErrorResponses;
use super::facts;
use super::problem::{ApiError, ApiJson, ApiPath, ApiQuery, FieldProblem, FieldProblems};
use crate::state::AppState;

/// The locale of labels and messages.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocaleQuery {
    /// A locale such as `en` or `fr`; otherwise from `Accept-Language`.
    pub locale: Option<String>,
}

fn locale(query: &LocaleQuery, headers: &HeaderMap) -> String {
    crate::hosted::i18n::answer_locale(query.locale.as_deref(), headers)
}

/// One choice of a select, multiselect or country field.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptionView {
    /// Stored value (for a country, its ISO 3166-1 alpha-2 code).
    pub value: String,
    /// Label in the requested locale (for a country, its name).
    pub label: String,
}

/// A field as a form shows it, in the requested locale.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldView {
    /// Field key (the input name).
    pub key: String,
    /// `text`, `email`, `select`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Label.
    pub label: String,
    /// Help text.
    pub help: Option<String>,
    /// Placeholder.
    pub placeholder: Option<String>,
    /// Whether an answer is required.
    pub required: bool,
    /// The HTML `autocomplete` token of a field stored in a standard claim (`given-name`,
    /// `tel`, `bday`, ...); `null` otherwise.
    pub autocomplete: Option<String>,
    /// Choices: a select's options; a country field's countries (every country, sorted by
    /// name, when the policy does not restrict them).
    pub options: Vec<OptionView>,
    /// Validation rules (`min_length`, `max_length`, `min`, `max`, `pattern`).
    #[schema(value_type = Object)]
    pub constraints: Value,
    /// Current or suggested value: any JSON value (a string, number, boolean, list, ...) or
    /// `null`.
    pub value: Option<Value>,
    /// Whether the user may change it.
    pub editable: bool,
    /// A consent field's text: the address of the version asked, to link beside the checkbox;
    /// absent for other fields and consents without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_url: Option<String>,
}

fn field_view(
    policy: &CompiledPolicy,
    field: &Field,
    locale: &str,
    value: Option<Value>,
    editable: bool,
) -> FieldView {
    let model = field_model(policy, field, locale);
    FieldView {
        key: model.key,
        kind: model.kind.to_owned(),
        label: model.label,
        help: model.help,
        placeholder: model.placeholder,
        required: model.required,
        autocomplete: model.autocomplete.map(str::to_owned),
        options: model
            .options
            .into_iter()
            .map(|choice| OptionView {
                value: choice.value,
                label: choice.label,
            })
            .collect(),
        constraints: constraints(field),
        value,
        editable,
        consent_url: model.consent_url,
    }
}

/// The signed-in user's profile: the fields they may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    /// User id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Whether verified.
    pub email_verified: bool,
    /// Whether the profile's `phone_number` was proven with a code sent to it by text message
    /// (a number written any other way, including answers posted here, is not); absent when
    /// the profile has no phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// Fields with user access `edit` or `read`.
    pub fields: Vec<FieldView>,
}

fn me_view(policy: &CompiledPolicy, user: &User, locale: &str) -> MeView {
    MeView {
        id: user.id,
        email: user.email.clone(),
        email_verified: user.email_verified,
        phone_number_verified: accrete_app::phone::stored_number(user)
            .map(|_| accrete_app::phone::verified_number(user).is_some()),
        fields: policy
            .fields()
            .iter()
            .filter(|f| f.user_access != UserAccess::None)
            .map(|f| {
                field_view(
                    policy,
                    f,
                    locale,
                    stored_value(user, f).cloned(),
                    user_may_edit(f, user),
                )
            })
            .collect(),
    }
}

async fn me(state: &AppState, caller: &Caller) -> Result<User, ApiError> {
    let id = caller.user()?;
    match state.store.get_user(id).await {
        Err(accrete_store::StoreError::NotFound) => Err(ApiError::Unauthenticated(
            "the token's user no longer exists".into(),
        )),
        other => Ok(other?),
    }
}

/// My profile.
#[utoipa::path(get, path = "/me", tag = "me", params(LocaleQuery),
    responses((status = 200, body = MeView), ErrorResponses),
    security(("bearer" = [])))]
pub async fn get(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LocaleQuery>,
    headers: HeaderMap,
) -> Result<axum::Json<MeView>, ApiError> {
    let user = me(&state, &caller).await?;
    let policy = facts::published_or_empty(&state).await?;
    Ok(axum::Json(me_view(
        &policy,
        &user,
        &locale(&query, &headers),
    )))
}

/// Everything kept about me, as one JSON document (the account center's download): the account
/// (never its password hash), profile values with where each came from and their history,
/// linked identities, sessions (device and dates, never their hashes), applications holding
/// refresh tokens, prompt states and events. Its members are described in docs/account.md.
#[utoipa::path(get, path = "/me/export", tag = "me",
    responses((status = 200, body = Object, description = "The export document"), ErrorResponses),
    security(("bearer" = [])))]
pub async fn export(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<axum::Json<Value>, ApiError> {
    let user = me(&state, &caller).await?;
    let document =
        accrete_app::account::export(&state.app, user.id, OffsetDateTime::now_utc()).await?;
    Ok(axum::Json(document))
}

/// Validates answers for `keys`; refusals by field key.
fn validated(
    policy: &CompiledPolicy,
    keys: &[&str],
    answers: &Map<String, Value>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Answers, ApiError> {
    validate_json_answers(policy, keys, answers, locale, now.date()).map_err(refused)
}

/// `answers` as the validation hooks of their surface leave them (see docs/hooks.md).
async fn hook_checked(
    state: &AppState,
    policy: &CompiledPolicy,
    at: Context<'_>,
    keys: &[&str],
    answers: Answers,
) -> Result<Answers, ApiError> {
    if state.app.hooks().is_empty() {
        return Ok(answers);
    }
    match validation::check(&state.app, policy, at, keys, answers).await {
        Checked::Accepted(answers) => Ok(answers),
        Checked::Refused(errors) => Err(refused(errors)),
        Checked::Unavailable => Err(ApiError::Unavailable(
            "the answers could not be checked now; nothing was stored".into(),
        )),
    }
}

/// Answers refused with a message per field.
fn refused(errors: accrete_core::FieldErrors) -> ApiError {
    let mut fields = FieldProblems::new();
    for (key, list) in errors.0 {
        fields.insert(
            key,
            list.into_iter()
                .map(|e| FieldProblem {
                    code: e.code.to_owned(),
                    message: e.message,
                })
                .collect(),
        );
    }
    match ApiError::check(fields) {
        Err(error) => error,
        Ok(()) => ApiError::BadRequest("answers refused".into()),
    }
}

/// Changes my profile: `{field key: value}` (`null` clears), for fields I may edit.
#[utoipa::path(patch, path = "/me", tag = "me", params(LocaleQuery),
    request_body(content = Object, content_type = "application/merge-patch+json"),
    responses((status = 200, body = MeView), ErrorResponses),
    security(("bearer" = [])))]
pub async fn patch(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LocaleQuery>,
    headers: HeaderMap,
    ApiJson(answers): ApiJson<Map<String, Value>>,
) -> Result<axum::Json<MeView>, ApiError> {
    let user = me(&state, &caller).await?;
    let locale = locale(&query, &headers);
    let policy = facts::published_or_empty(&state).await?;
    let mut problems = FieldProblems::new();
    for key in answers.keys() {
        let refusal = match policy.field(key) {
            None => Some(("unknown_field", "not a field of the profile")),
            Some(f) if f.user_access != UserAccess::Edit => {
                Some(("read_only", "this field cannot be changed here"))
            }
            Some(f) if f.write_once && stored_value(&user, f).is_some() => {
                Some(("write_once", "this field cannot be changed once given"))
            }
            Some(_) => None,
        };
        if let Some((code, message)) = refusal {
            problems.entry(key.clone()).or_default().push(FieldProblem {
                code: code.into(),
                message: message.into(),
            });
        }
    }
    ApiError::check(problems)?;
    let keys: Vec<&str> = answers.keys().map(String::as_str).collect();
    // `null` clears a value; optional fields accept an empty answer, which is absent.
    let cleaned: Map<String, Value> = answers
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if v.is_null() {
                    Value::String(String::new())
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let now = OffsetDateTime::now_utc();
    let answers = validated(&policy, &keys, &cleaned, &locale, now)?;
    let at = Context {
        user: &user,
        surface: Surface::Api,
        step: None,
        client_id: Some(&caller.client_id),
        locale: &locale,
        now,
    };
    let answers = hook_checked(&state, &policy, at, &keys, answers).await?;
    let client = Some(caller.client_id.as_str());
    let user =
        prompts::save_account_answers(&state.app, &policy, &user, client, &keys, &answers, now)
            .await?;
    Ok(axum::Json(me_view(&policy, &user, &locale)))
}

/// An in-app event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    /// The event's name, e.g. `cta:pricing`.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

/// A step to ask, ready to render.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    /// Step id (post answers to `/me/steps/{id}/answers`).
    pub id: String,
    /// Title in the requested locale.
    pub title: Option<String>,
    /// Whether it must be answered (no "skip for now").
    pub required: bool,
    /// `all_at_once` or `one_at_a_time`.
    pub presentation: String,
    /// The fields to ask.
    pub fields: Vec<FieldView>,
    /// A "protect your account" step (no fields): send the user to the hosted page
    /// `/mfa/setup` to set up a second factor; answers are refused (409).
    pub second_factor: bool,
}

/// What to ask now, if anything.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOutcome {
    /// The step to ask; `null` when nothing is due.
    pub step: Option<StepView>,
}

/// Reports an in-app event; answers with the step to ask now, if any.
#[utoipa::path(post, path = "/me/events", tag = "me", params(LocaleQuery), request_body = EventBody,
    responses((status = 200, body = EventOutcome), ErrorResponses),
    security(("bearer" = [])))]
pub async fn event(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LocaleQuery>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EventBody>,
) -> Result<axum::Json<EventOutcome>, ApiError> {
    // Characters, as the document's `maxLength` counts them.
    if body.name.is_empty() || body.name.chars().count() > 200 {
        return Err(ApiError::field("name", "invalid", "1 to 200 characters"));
    }
    let user = me(&state, &caller).await?;
    let Some(policy) = facts::published(&state).await? else {
        return Ok(axum::Json(EventOutcome { step: None }));
    };
    let locale = locale(&query, &headers);
    let user_state = accrete_app::facts::load_user_state(&state.app, user).await?;
    let user_facts = accrete_app::facts::state_facts(&policy, &user_state);
    let moment = Moment::event(&body.name).with_client(&caller.client_id);
    let now = OffsetDateTime::now_utc();
    let decision = decide(&policy, &user_facts, &moment, now);
    let Some(ask) = decision.ask() else {
        return Ok(axum::Json(EventOutcome { step: None }));
    };
    let Some(step) = policy.step(&ask.step) else {
        return Ok(axum::Json(EventOutcome { step: None }));
    };
    let fields = ask
        .fields
        .iter()
        .filter_map(|key| policy.field(key))
        .map(|field| {
            let value = ask.prefill.get(field.key.as_str()).cloned();
            field_view(
                &policy,
                field,
                &locale,
                value,
                user_may_edit(field, &user_state.user),
            )
        })
        .collect();
    let view = StepView {
        second_factor: ask.second_factor,
        id: step.id.to_string(),
        title: step_title(&policy, &step.id, &locale),
        required: ask.required,
        presentation: serde_json::to_value(ask.presentation)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        fields,
    };
    let at = InApp {
        user: &user_state.user,
        step: &view.id,
        client_id: &caller.client_id,
        now,
    };
    prompts::shown_in_app(&state.app, at).await?;
    Ok(axum::Json(EventOutcome { step: Some(view) }))
}

/// Answers to a step.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswersBody {
    /// Field key to value.
    #[schema(value_type = Object)]
    pub answers: Map<String, Value>,
}

/// What happened to a step.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepOutcome {
    /// `answered` or `skipped`.
    pub outcome: String,
    /// The step.
    pub step: String,
}

/// Answers a step: every field the step still misses must be answered; errors per field.
#[utoipa::path(post, path = "/me/steps/{step}/answers", tag = "me",
    params(("step" = String, Path, description = "Step id"), LocaleQuery),
    request_body = AnswersBody,
    responses((status = 200, body = StepOutcome), ErrorResponses),
    security(("bearer" = [])))]
pub async fn answer(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(step_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<LocaleQuery>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AnswersBody>,
) -> Result<axum::Json<StepOutcome>, ApiError> {
    let user = me(&state, &caller).await?;
    let policy = facts::published(&state)
        .await?
        .ok_or(ApiError::NotFound("step"))?;
    let step = policy.step(&step_id).ok_or(ApiError::NotFound("step"))?;
    if step.second_factor {
        return Err(ApiError::Conflict(format!(
            "step \"{step_id}\" is answered by setting up a second factor on the hosted \
             page /mfa/setup, not with answers"
        )));
    }
    let locale = locale(&query, &headers);
    let keys: Vec<&str> = step
        .fields
        .iter()
        .filter_map(|key| policy.field(key))
        .filter(|field| {
            // Missing fields must be answered; a known one may be corrected, unless write-once.
            stored_value(&user, field).is_none()
                || (!field.write_once && body.answers.contains_key(field.key.as_str()))
        })
        .map(|field| field.key.as_str())
        .collect();
    let now = OffsetDateTime::now_utc();
    let answers = validated(&policy, &keys, &body.answers, &locale, now)?;
    let checking = Context {
        user: &user,
        surface: Surface::Prompt,
        step: Some(&step_id),
        client_id: Some(&caller.client_id),
        locale: &locale,
        now,
    };
    let answers = hook_checked(&state, &policy, checking, &keys, answers).await?;
    let at = InApp {
        user: &user,
        step: &step_id,
        client_id: &caller.client_id,
        now,
    };
    prompts::answer_in_app(&state.app, &policy, at, &keys, &answers).await?;
    Ok(axum::Json(StepOutcome {
        outcome: "answered".into(),
        step: step_id,
    }))
}

/// Skips an optional step for now.
#[utoipa::path(post, path = "/me/steps/{step}/skip", tag = "me",
    params(("step" = String, Path, description = "Step id")),
    responses((status = 200, body = StepOutcome), ErrorResponses),
    security(("bearer" = [])))]
pub async fn skip(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(step_id): ApiPath<String>,
) -> Result<axum::Json<StepOutcome>, ApiError> {
    let user = me(&state, &caller).await?;
    let policy = facts::published(&state)
        .await?
        .ok_or(ApiError::NotFound("step"))?;
    let step = policy.step(&step_id).ok_or(ApiError::NotFound("step"))?;
    if matches!(step.mode, StepMode::Required) {
        return Err(ApiError::Conflict(
            "a required step cannot be skipped".into(),
        ));
    }
    let at = InApp {
        user: &user,
        step: &step_id,
        client_id: &caller.client_id,
        now: OffsetDateTime::now_utc(),
    };
    prompts::skip_in_app(&state.app, at).await?;
    Ok(axum::Json(StepOutcome {
        outcome: "skipped".into(),
        step: step_id,
    }))
}
