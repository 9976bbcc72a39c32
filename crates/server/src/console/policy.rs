//! The console's policy pages: the fields and steps of the document being edited (the draft,
//! else the version in force), a form for each field and step checked as it is typed
//! (`/admin/policy/{fields,steps}/check`, called by `console-check.js`, and again when the
//! form is sent), the source as TOML or JSON, the difference from the version in force,
//! publishing with a note, the versions with rollback, the simulator and the impact preview.
//! The same use-cases as `/api/v1/policy` (`policy_admin`, `policy_edit`).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use accrete_app::admins::Permission;
use accrete_app::policy_admin::{self, PolicyError, Source};
use accrete_app::policy_edit::{self, Edited, Origin, Piece};
use accrete_app::policy_impact::{self, Estimate, Extent};
use accrete_app::problems::Problem;
use accrete_core::{
    Decision, FieldType, Moment, MomentKind, Policy, Reason, STANDARD_CLAIMS, UserFacts,
};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use serde_json::json;
use time::OffsetDateTime;

use super::policy_forms::{
    Errors, LOCALES, Pairs, choices, field_input, field_values, read_field, read_step, step_input,
    step_values,
};
use super::{Console, when};
use crate::hosted::csrf;
use crate::hosted::errors::store_failure;
use crate::hosted::i18n::{count, text, text_with};
use crate::state::AppState;

/// The few lines that check a form as it is typed (`data-check` forms).
const CHECK_SCRIPT: &str = include_str!("../../assets/console-check.js");

/// `GET /assets/console-check.js`.
pub(super) async fn check_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CHECK_SCRIPT,
    )
        .into_response()
}

/// A policy use-case's failure as a page.
fn failure(state: &AppState, console: &Console, error: PolicyError) -> Response {
    match error {
        PolicyError::Store(error) => store_failure(state, console.locale, &error),
        PolicyError::NoVersion | PolicyError::NoUser | PolicyError::NoDraft => super::problem_page(
            state,
            console.locale,
            StatusCode::NOT_FOUND,
            &text(console.locale, "console.policy.not_found"),
        ),
        other => super::problem_page(
            state,
            console.locale,
            StatusCode::BAD_REQUEST,
            &other.to_string(),
        ),
    }
}

fn problems_text(problems: &[Problem]) -> Vec<String> {
    problems
        .iter()
        .map(|p| {
            if p.path == "$" || p.path.is_empty() {
                p.message.clone()
            } else {
                format!("{}: {}", p.path, p.message)
            }
        })
        .collect()
}

/// The saved draft recorded in the audit log (before and after).
async fn audit_draft(
    state: &AppState,
    console: &Console,
    peer: SocketAddr,
    action: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) {
    console
        .audit(
            state,
            peer,
            action,
            Some("policy:draft".into()),
            (before, after),
        )
        .await;
}

/// `?saved=` after a change: what the notice says.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct IndexQuery {
    saved: Option<String>,
    removed: Option<String>,
    published: Option<i64>,
    discarded: Option<String>,
}

fn kind_label(locale: &str, kind: FieldType) -> String {
    text(locale, &format!("console.policy.kind.{}", kind.name()))
}

/// `GET /admin/policy`: the fields and steps being edited, and what to do with them.
pub(super) async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<IndexQuery>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/policy").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let locale = console.locale;
    let (policy, origin) = match policy_edit::working_policy(&state.app).await {
        Ok(found) => found,
        Err(error) => return failure(&state, &console, error),
    };
    let difference = match origin {
        Origin::Draft => match policy_edit::draft_difference(&state.app).await {
            Ok(d) => Some(d),
            Err(error) => return failure(&state, &console, error),
        },
        _ => None,
    };
    let fields: Vec<Value> = policy
        .fields
        .iter()
        .map(|f| {
            let steps: Vec<&str> = policy
                .steps
                .iter()
                .filter(|s| s.fields.contains(&f.key))
                .map(|s| s.id.as_str())
                .collect();
            context! {
                key => f.key.as_str(),
                label => accrete_core::localized(&f.labels, locale, "en").unwrap_or(f.key.as_str()),
                kind => kind_label(locale, f.kind),
                steps,
            }
        })
        .collect();
    let steps: Vec<Value> = policy
        .steps
        .iter()
        .map(|s| {
            let moments: Vec<String> = s
                .trigger
                .moments
                .iter()
                .map(|m| text(locale, &format!("console.policy.moment.{}", m.name())))
                .collect();
            let fields: Vec<&str> = s.fields.iter().map(|f| f.as_str()).collect();
            context! {
                id => s.id.as_str(),
                title => accrete_core::localized(&s.title, locale, "en").unwrap_or(""),
                required => s.mode.is_required(),
                second_factor => s.second_factor,
                moments => moments.join(", "),
                conditional => s.trigger.condition.is_some(),
                fields,
            }
        })
        .collect();
    let notice = if let Some(what) = query.saved {
        Some(text_with(
            locale,
            "console.policy.saved",
            &[("what", &what)],
        ))
    } else if let Some(what) = query.removed {
        Some(text_with(
            locale,
            "console.policy.removed",
            &[("what", &what)],
        ))
    } else if let Some(version) = query.published {
        Some(text_with(
            locale,
            "console.policy.published_notice",
            &[("version", &version.to_string())],
        ))
    } else {
        query
            .discarded
            .map(|_| text(locale, "console.policy.discarded"))
    };
    let (draft, published) = match origin {
        Origin::Draft => (true, None),
        Origin::Published(v) => (false, Some(v)),
        Origin::Empty => (false, None),
    };
    let changes = difference.map(|d| {
        context! {
            fields_added => d.fields.added,
            fields_removed => d.fields.removed,
            fields_changed => d.fields.changed,
            steps_added => d.steps.added,
            steps_removed => d.steps.removed,
            steps_changed => d.steps.changed,
            none => d.fields.is_empty() && d.steps.is_empty(),
        }
    });
    let extra = context! {
        fields,
        steps,
        draft,
        published,
        changes,
        notice,
        may_edit => console.may(Permission::EditPolicy),
    };
    console.render(
        &state,
        StatusCode::OK,
        "console_policy.html",
        "policy",
        extra,
    )
}

/// The submitted values by input name (a repeated name's values joined by newlines).
fn submitted(pairs: &Pairs, names: &[&str]) -> BTreeMap<String, String> {
    names
        .iter()
        .map(|name| (name.to_string(), pairs.all(name).join("\n")))
        .collect()
}

const FIELD_INPUTS: [&str; 28] = [
    "key",
    "kind",
    "required",
    "labels.en",
    "labels.fr",
    "help.en",
    "help.fr",
    "placeholder.en",
    "placeholder.fr",
    "options",
    "validation.min_length",
    "validation.max_length",
    "validation.min",
    "validation.max",
    "validation.pattern",
    "validation.pattern_message.en",
    "validation.pattern_message.fr",
    "storage",
    "storage.claim",
    "user_access",
    "write_once",
    "verify",
    "reconfirm_after",
    "scope",
    "claim",
    "consent_version",
    "consent_url",
    "original",
];

const STEP_INPUTS: [&str; 24] = [
    "id",
    "title.en",
    "title.fr",
    "fields",
    "second_factor",
    "priority",
    "presentation",
    "mode",
    "skip.max_skips",
    "skip.reask_after_logins",
    "skip.reask_after",
    "skip.after_last_skip",
    "moments",
    "events",
    "when.clients",
    "when.login_count",
    "when.login_count_n",
    "when.scopes",
    "when.since_at_least",
    "when.since_at_most",
    "when.expression",
    "original",
    "csrf",
    "preview_client",
];

/// A field's or step's form: what it shows and what is wrong.
struct Form {
    piece: Piece,
    /// The key or id edited (`None`: a new one).
    original: Option<String>,
    values: BTreeMap<String, String>,
    errors: Errors,
    /// Problems elsewhere in the document.
    elsewhere: Vec<String>,
    /// A step's condition beyond the form (kept as it is), as TOML.
    advanced: Option<String>,
}

/// The problems of an edit placed on the form's inputs.
fn place(edit: &Edited, piece: Piece, condition_inputs: &[&'static str], errors: &mut Errors) {
    for problem in &edit.own {
        let input = match piece {
            Piece::Field => field_input(&problem.path),
            Piece::Step => step_input(&problem.path, condition_inputs),
        };
        errors
            .entry(input.to_owned())
            .and_modify(|m| {
                m.push(' ');
                m.push_str(&problem.message)
            })
            .or_insert_with(|| problem.message.clone());
    }
}

/// `GET /admin/policy/fields/new` and `GET /admin/policy/fields/{key}`.
pub(super) async fn field_form(
    State(state): State<AppState>,
    key: Option<Path<String>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let path = match &key {
        Some(Path(key)) => format!("/admin/policy/fields/{key}"),
        None => "/admin/policy/fields/new".to_owned(),
    };
    let console = match Console::open(&state, &headers, jar, &path).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let (policy, _) = match policy_edit::working_policy(&state.app).await {
        Ok(found) => found,
        Err(error) => return failure(&state, &console, error),
    };
    let values = match &key {
        Some(Path(key)) => match policy.fields.iter().find(|f| f.key.as_str() == key) {
            Some(field) => field_values(field),
            None => return failure(&state, &console, PolicyError::NoVersion),
        },
        None => BTreeMap::from([
            // Not required until a step asks it (a required field must be asked).
            ("kind".to_owned(), "text".to_owned()),
            ("storage".to_owned(), "user_metadata".to_owned()),
            ("user_access".to_owned(), "edit".to_owned()),
        ]),
    };
    let form = Form {
        piece: Piece::Field,
        original: key.map(|Path(k)| k),
        values,
        errors: Errors::new(),
        elsewhere: Vec::new(),
        advanced: None,
    };
    form_page(&state, &console, &policy, form, StatusCode::OK).await
}

/// `GET /admin/policy/steps/new` and `GET /admin/policy/steps/{id}`.
pub(super) async fn step_form(
    State(state): State<AppState>,
    id: Option<Path<String>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let path = match &id {
        Some(Path(id)) => format!("/admin/policy/steps/{id}"),
        None => "/admin/policy/steps/new".to_owned(),
    };
    let console = match Console::open(&state, &headers, jar, &path).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let (policy, _) = match policy_edit::working_policy(&state.app).await {
        Ok(found) => found,
        Err(error) => return failure(&state, &console, error),
    };
    let (values, advanced) = match &id {
        Some(Path(id)) => match policy.steps.iter().find(|s| s.id.as_str() == id) {
            Some(step) => {
                let (values, advanced) = step_values(step);
                let advanced = advanced.then(|| condition_toml(step)).flatten();
                (values, advanced)
            }
            None => return failure(&state, &console, PolicyError::NoVersion),
        },
        None => (
            BTreeMap::from([
                ("mode".to_owned(), "optional".to_owned()),
                ("moments".to_owned(), "login".to_owned()),
                ("presentation".to_owned(), "all_at_once".to_owned()),
                ("priority".to_owned(), "0".to_owned()),
            ]),
            None,
        ),
    };
    let form = Form {
        piece: Piece::Step,
        original: id.map(|Path(id)| id),
        values,
        errors: Errors::new(),
        elsewhere: Vec::new(),
        advanced,
    };
    form_page(&state, &console, &policy, form, StatusCode::OK).await
}

/// A step's condition as the source shows it.
fn condition_toml(step: &accrete_core::Step) -> Option<String> {
    #[derive(serde::Serialize)]
    struct Only<'a> {
        condition: &'a accrete_core::Condition,
    }
    let condition = step.trigger.condition.as_ref()?;
    toml::to_string(&Only { condition }).ok()
}

async fn form_page(
    state: &AppState,
    console: &Console,
    policy: &Policy,
    form: Form,
    status: StatusCode,
) -> Response {
    let locale = console.locale;
    let lines = |name: &str| -> Vec<String> {
        form.values
            .get(name)
            .map(|v| v.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let value = |name: &str| form.values.get(name).cloned().unwrap_or_default();
    let check = |name: &str, options: Vec<(String, String)>| -> Vec<Value> {
        let chosen = lines(name);
        options
            .into_iter()
            .map(|(value, label)| {
                let checked = chosen.contains(&value);
                context! { value, label, checked }
            })
            .collect()
    };
    let (template, extra) = match form.piece {
        Piece::Field => {
            let kinds: Vec<&str> = FieldType::ALL.iter().map(|k| k.name()).collect();
            let claims: Vec<Value> = STANDARD_CLAIMS
                .iter()
                .map(|(claim, _)| context! { value => claim, selected => value("storage.claim") == *claim })
                .collect();
            (
                "console_policy_field.html",
                context! {
                    kinds => choices(locale, "console.policy.kind", &kinds, &value("kind")),
                    storages => choices(locale, "console.policy.storage", &["user_metadata", "app_metadata", "profile"], &value("storage")),
                    accesses => choices(locale, "console.policy.access", &["edit", "read", "none"], &value("user_access")),
                    claims,
                },
            )
        }
        Piece::Step => {
            let fields = policy
                .fields
                .iter()
                .map(|f| {
                    let label = accrete_core::localized(&f.labels, locale, "en")
                        .map(|l| format!("{l} ({})", f.key))
                        .unwrap_or_else(|| f.key.to_string());
                    (f.key.to_string(), label)
                })
                .collect();
            let clients = match accrete_app::client_admin::list(&state.app).await {
                Ok(list) => list
                    .into_iter()
                    .filter(|c| c.id != accrete_app::admins::CONSOLE_CLIENT)
                    .map(|c| (c.id.clone(), format!("{} ({})", c.name, c.id)))
                    .collect::<Vec<_>>(),
                Err(error) => {
                    tracing::warn!(%error, "the step form could not list the clients");
                    Vec::new()
                }
            };
            let moments = ["signup", "login", "event"]
                .iter()
                .map(|m| {
                    (
                        m.to_string(),
                        text(locale, &format!("console.policy.moment.{m}")),
                    )
                })
                .collect();
            let previews: Vec<Value> = LOCALES
                .iter()
                .map(|l| context! { locale => l, label => text(locale, &format!("console.policy.preview_in.{l}")) })
                .collect();
            (
                "console_policy_step.html",
                context! {
                    fields => check("fields", fields),
                    moments => check("moments", moments),
                    clients => check("when.clients", clients.clone()),
                    preview_clients => clients.into_iter().map(|(value, label)| context! { value, label }).collect::<Vec<_>>(),
                    previews,
                    counts => choices(locale, "console.policy.count", &["", "exactly", "at_least", "every"], &value("when.login_count")),
                    presentations => choices(locale, "console.policy.presentation", &["all_at_once", "one_at_a_time"], &value("presentation")),
                    afters => choices(locale, "console.policy.after_last_skip", &["stop", "require"], &value("skip.after_last_skip")),
                    advanced => form.advanced,
                },
            )
        }
    };
    let extra = minijinja::value::merge_maps([
        extra,
        context! {
            original => form.original,
            v => form.values,
            errors => form.errors,
            elsewhere => form.elsewhere,
            may_edit => console.may(Permission::EditPolicy),
        },
    ]);
    console.render(state, status, template, "policy", extra)
}

/// What a sent field or step form makes of the document, or the form again with why not.
enum Sent {
    Valid(Edited, Option<String>),
    Invalid(Form),
}

async fn read_sent(
    state: &AppState,
    console: &Console,
    piece: Piece,
    pairs: &Pairs,
) -> Result<(Sent, Policy), Response> {
    let (policy, _) = match policy_edit::working_policy(&state.app).await {
        Ok(found) => found,
        Err(error) => return Err(failure(state, console, error)),
    };
    let original = Some(pairs.get("original").to_owned()).filter(|o| !o.is_empty());
    let locale = console.locale;
    let (edit, mut errors, inputs, advanced, values) = match piece {
        Piece::Field => {
            let base = original
                .as_deref()
                .and_then(|o| policy.fields.iter().find(|f| f.key.as_str() == o))
                .cloned();
            let (field, errors) = read_field(pairs, base, locale);
            let edit = policy_edit::check_field(&state.app, original.as_deref(), field).await;
            (
                edit,
                errors,
                Vec::new(),
                None,
                submitted(pairs, &FIELD_INPUTS),
            )
        }
        Piece::Step => {
            let base = original
                .as_deref()
                .and_then(|o| policy.steps.iter().find(|s| s.id.as_str() == o))
                .cloned();
            let advanced = base
                .as_ref()
                .filter(|s| step_values(s).1)
                .and_then(condition_toml);
            let (step, inputs, errors) = read_step(pairs, base, locale);
            let edit = policy_edit::check_step(&state.app, original.as_deref(), step).await;
            (
                edit,
                errors,
                inputs,
                advanced,
                submitted(pairs, &STEP_INPUTS),
            )
        }
    };
    let edit = match edit {
        Ok(edit) => edit,
        Err(error) => return Err(failure(state, console, error)),
    };
    place(&edit, piece, &inputs, &mut errors);
    if errors.is_empty() && edit.is_valid() {
        return Ok((Sent::Valid(edit, original), policy));
    }
    let form = Form {
        piece,
        original,
        values,
        errors,
        elsewhere: problems_text(&edit.elsewhere),
        advanced,
    };
    Ok((Sent::Invalid(form), policy))
}

/// `POST /admin/policy/fields` and `POST /admin/policy/steps`: saves the field or step into
/// the draft when the whole document is valid.
async fn save_piece(
    state: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
    piece: Piece,
) -> Response {
    let pairs = Pairs::parse(&body);
    let console = match Console::open(&state, &headers, jar, "/admin/policy").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    if !console.may(Permission::EditPolicy) {
        return console.forbidden(&state);
    }
    let (sent, policy) = match read_sent(&state, &console, piece, &pairs).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !csrf::verify(&console.jar, Some(pairs.get("csrf"))) {
        let form = match sent {
            Sent::Invalid(form) => form,
            Sent::Valid(_, original) => Form {
                piece,
                original,
                values: submitted(
                    &pairs,
                    match piece {
                        Piece::Field => &FIELD_INPUTS,
                        Piece::Step => &STEP_INPUTS,
                    },
                ),
                errors: Errors::new(),
                elsewhere: vec![text(console.locale, "error.csrf")],
                advanced: None,
            },
        };
        return form_page(&state, &console, &policy, form, StatusCode::FORBIDDEN).await;
    }
    match sent {
        Sent::Invalid(form) => {
            form_page(&state, &console, &policy, form, StatusCode::BAD_REQUEST).await
        }
        Sent::Valid(edit, _) => {
            let before = policy_edit::working_document(&state.app)
                .await
                .ok()
                .map(|(d, _)| d);
            let after = edit.document.clone();
            let what = match piece {
                Piece::Field => pairs.get("key").to_owned(),
                Piece::Step => pairs.get("id").to_owned(),
            };
            match policy_edit::save(&state.app, edit, OffsetDateTime::now_utc()).await {
                Ok(Ok(_)) => {
                    audit_draft(
                        &state,
                        &console,
                        peer,
                        "policy.draft_saved",
                        before,
                        Some(after),
                    )
                    .await;
                    let to = format!(
                        "/admin/policy?saved={}",
                        crate::hosted::transaction::urlencode(&what)
                    );
                    Redirect::to(&to).into_response()
                }
                Ok(Err(_)) => {
                    // Checked just before: another administrator changed the draft meanwhile.
                    super::problem_page(
                        &state,
                        console.locale,
                        StatusCode::CONFLICT,
                        &text(console.locale, "console.policy.changed_meanwhile"),
                    )
                }
                Err(error) => failure(&state, &console, error),
            }
        }
    }
}

pub(super) async fn save_field(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    save_piece(state, peer, headers, jar, body, Piece::Field).await
}

pub(super) async fn save_step(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    save_piece(state, peer, headers, jar, body, Piece::Step).await
}

/// `POST /admin/policy/{fields,steps}/check`: the form's problems as JSON, by input
/// (`{"errors": {input: message}, "elsewhere": [message]}`), nothing saved.
async fn check_piece(
    state: AppState,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
    piece: Piece,
) -> Response {
    let pairs = Pairs::parse(&body);
    let console = match Console::open(&state, &headers, jar, "/admin/policy").await {
        Ok(console) => console,
        Err(_) => return StatusCode::UNAUTHORIZED.into_response(),
    };
    if !csrf::verify(&console.jar, Some(pairs.get("csrf"))) {
        return StatusCode::FORBIDDEN.into_response();
    }
    match read_sent(&state, &console, piece, &pairs).await {
        Ok((Sent::Valid(..), _)) => {
            axum::Json(json!({"errors": {}, "elsewhere": []})).into_response()
        }
        Ok((Sent::Invalid(form), _)) => {
            axum::Json(json!({"errors": form.errors, "elsewhere": form.elsewhere})).into_response()
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

pub(super) async fn check_field(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    check_piece(state, headers, jar, body, Piece::Field).await
}

pub(super) async fn check_step(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    check_piece(state, headers, jar, body, Piece::Step).await
}

/// A form with only its CSRF token (and what the action needs).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ActionForm {
    csrf: String,
    note: String,
    confirm: String,
    version: Option<i64>,
    format: String,
    source: String,
}

/// Opens the console for a change to the policy: CSRF and role checked.
async fn for_change(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    csrf_token: &str,
) -> Result<Console, Response> {
    let console = Console::open(state, headers, jar, "/admin/policy").await?;
    if !console.may(Permission::EditPolicy) {
        return Err(console.forbidden(state));
    }
    if !csrf::verify(&console.jar, Some(csrf_token)) {
        return Err(super::problem_page(
            state,
            console.locale,
            StatusCode::FORBIDDEN,
            &text(console.locale, "error.csrf"),
        ));
    }
    Ok(console)
}

/// `POST /admin/policy/{fields,steps}/{id}/delete`.
async fn remove_piece(
    state: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    jar: CookieJar,
    id: String,
    form: ActionForm,
    piece: Piece,
) -> Response {
    let console = match for_change(&state, &headers, jar, &form.csrf).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let before = policy_edit::working_document(&state.app)
        .await
        .ok()
        .map(|(d, _)| d);
    match policy_edit::remove(&state.app, piece, &id, OffsetDateTime::now_utc()).await {
        Ok(draft) => {
            audit_draft(
                &state,
                &console,
                peer,
                "policy.draft_saved",
                before,
                Some(draft.document),
            )
            .await;
            Redirect::to(&format!(
                "/admin/policy?removed={}",
                crate::hosted::transaction::urlencode(&id)
            ))
            .into_response()
        }
        Err(PolicyError::Invalid(problems)) => super::problem_page(
            &state,
            console.locale,
            StatusCode::CONFLICT,
            &format!(
                "{} {}",
                text(console.locale, "console.policy.cannot_remove"),
                problems_text(&problems).join(" · ")
            ),
        ),
        Err(error) => failure(&state, &console, error),
    }
}

pub(super) async fn remove_field(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(key): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    remove_piece(state, peer, headers, jar, key, form, Piece::Field).await
}

pub(super) async fn remove_step(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    remove_piece(state, peer, headers, jar, id, form, Piece::Step).await
}

/// `?format=toml|json` of the source view.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct SourceQuery {
    format: String,
}

fn is_toml(format: &str) -> bool {
    format != "json"
}

/// `GET /admin/policy/source`: the document being edited as TOML or JSON.
pub(super) async fn source(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<SourceQuery>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/policy/source").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let toml = is_toml(&query.format);
    let text = match policy_edit::working_document(&state.app)
        .await
        .and_then(|(document, _)| policy_edit::source_text(&document, toml))
    {
        Ok(text) => text,
        Err(error) => return failure(&state, &console, error),
    };
    source_page(&state, &console, toml, &text, Vec::new(), StatusCode::OK)
}

fn source_page(
    state: &AppState,
    console: &Console,
    toml: bool,
    source: &str,
    problems: Vec<String>,
    status: StatusCode,
) -> Response {
    let extra = context! {
        toml,
        source,
        problems,
        may_edit => console.may(Permission::EditPolicy),
    };
    console.render(state, status, "console_policy_source.html", "policy", extra)
}

/// `POST /admin/policy/source`: saves the text as the draft when it is a valid policy.
pub(super) async fn save_source(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    let console = match for_change(&state, &headers, jar, &form.csrf).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let toml = is_toml(&form.format);
    let refused = |problems: Vec<Problem>| {
        source_page(
            &state,
            &console,
            toml,
            &form.source,
            problems_text(&problems),
            StatusCode::BAD_REQUEST,
        )
    };
    let document = match policy_edit::parse_source(&form.source, toml) {
        Ok(document) => document,
        Err(PolicyError::Unreadable(problem)) => return refused(vec![problem]),
        Err(error) => return failure(&state, &console, error),
    };
    let before = policy_edit::working_document(&state.app)
        .await
        .ok()
        .map(|(d, _)| d);
    match policy_admin::save_draft(&state.app, &document, OffsetDateTime::now_utc()).await {
        Ok(draft) => {
            audit_draft(
                &state,
                &console,
                peer,
                "policy.draft_saved",
                before,
                Some(draft.document),
            )
            .await;
            Redirect::to("/admin/policy?saved=source").into_response()
        }
        Err(PolicyError::Invalid(problems)) => refused(problems),
        Err(PolicyError::Unreadable(problem)) => refused(vec![problem]),
        Err(error) => failure(&state, &console, error),
    }
}

/// `GET /admin/policy/diff`: the draft against the version in force, and publishing.
pub(super) async fn diff(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/policy/diff").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    diff_page(&state, &console, None, StatusCode::OK).await
}

async fn diff_page(
    state: &AppState,
    console: &Console,
    alert: Option<String>,
    status: StatusCode,
) -> Response {
    let (_, origin) = match policy_edit::working_document(&state.app).await {
        Ok(found) => found,
        Err(error) => return failure(state, console, error),
    };
    let difference = match policy_edit::draft_difference(&state.app).await {
        Ok(d) => d,
        Err(error) => return failure(state, console, error),
    };
    let lines: Vec<Value> = difference
        .lines
        .iter()
        .map(|l| {
            let class = match l.tag {
                '+' => "added",
                '-' => "removed",
                ' ' => "same",
                _ => "gap",
            };
            context! { tag => l.tag.to_string(), text => l.text, class }
        })
        .collect();
    let extra = context! {
        draft => origin == Origin::Draft,
        lines,
        fields => context! { added => difference.fields.added, removed => difference.fields.removed, changed => difference.fields.changed },
        steps => context! { added => difference.steps.added, removed => difference.steps.removed, changed => difference.steps.changed },
        alert,
        may_edit => console.may(Permission::EditPolicy),
    };
    console.render(state, status, "console_policy_diff.html", "policy", extra)
}

/// `POST /admin/policy/publish`: the draft becomes the version in force, once confirmed.
pub(super) async fn publish(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    let console = match for_change(&state, &headers, jar, &form.csrf).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    if form.confirm != "yes" {
        let alert = Some(text(console.locale, "console.policy.confirm_publish"));
        return diff_page(&state, &console, alert, StatusCode::BAD_REQUEST).await;
    }
    let note = Some(form.note.trim()).filter(|n| !n.is_empty());
    match policy_admin::publish(&state.app, note, OffsetDateTime::now_utc()).await {
        Ok(version) => {
            let after = Some(json!({ "version": version.version, "note": note }));
            console
                .audit(
                    &state,
                    peer,
                    "policy.published",
                    Some("policy".into()),
                    (None, after),
                )
                .await;
            Redirect::to(&format!("/admin/policy?published={}", version.version)).into_response()
        }
        Err(PolicyError::NothingToPublish) => {
            let alert = Some(text(console.locale, "console.policy.nothing_to_publish"));
            diff_page(&state, &console, alert, StatusCode::CONFLICT).await
        }
        Err(error) => failure(&state, &console, error),
    }
}

/// `POST /admin/policy/discard`: drops the draft.
pub(super) async fn discard(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    let console = match for_change(&state, &headers, jar, &form.csrf).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let before = policy_admin::draft(&state.app)
        .await
        .ok()
        .map(|d| d.document);
    match policy_admin::discard_draft(&state.app).await {
        Ok(()) => {
            audit_draft(
                &state,
                &console,
                peer,
                "policy.draft_discarded",
                before,
                None,
            )
            .await;
            Redirect::to("/admin/policy?discarded=1").into_response()
        }
        Err(error) => failure(&state, &console, error),
    }
}

/// `GET /admin/policy/history`: every published version, with rollback.
pub(super) async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/policy/history").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    history_page(&state, &console, None, StatusCode::OK).await
}

async fn history_page(
    state: &AppState,
    console: &Console,
    alert: Option<String>,
    status: StatusCode,
) -> Response {
    let versions = match policy_admin::versions(&state.app).await {
        Ok(v) => v,
        Err(error) => return failure(state, console, error),
    };
    let current = versions.first().map(|v| v.version);
    let rows: Vec<Value> = versions
        .iter()
        .map(|v| {
            context! {
                version => v.version,
                note => v.note,
                at => when(console.locale, v.published_at),
                current => Some(v.version) == current,
            }
        })
        .collect();
    let extra = context! {
        rows,
        alert,
        may_edit => console.may(Permission::EditPolicy),
    };
    console.render(
        state,
        status,
        "console_policy_history.html",
        "policy",
        extra,
    )
}

/// `POST /admin/policy/rollback`: publishes an older version again, once confirmed.
pub(super) async fn rollback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<ActionForm>,
) -> Response {
    let console = match for_change(&state, &headers, jar, &form.csrf).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let Some(number) = form.version else {
        return failure(&state, &console, PolicyError::NoVersion);
    };
    if form.confirm != "yes" {
        let alert = Some(text_with(
            console.locale,
            "console.policy.confirm_rollback",
            &[("version", &number.to_string())],
        ));
        return history_page(&state, &console, alert, StatusCode::BAD_REQUEST).await;
    }
    match policy_admin::rollback(&state.app, number, OffsetDateTime::now_utc()).await {
        Ok(version) => {
            let after = Some(json!({ "version": version.version, "from": number }));
            console
                .audit(
                    &state,
                    peer,
                    "policy.rolled_back",
                    Some("policy".into()),
                    (None, after),
                )
                .await;
            Redirect::to(&format!("/admin/policy?published={}", version.version)).into_response()
        }
        Err(error) => failure(&state, &console, error),
    }
}

/// The simulator's form: a user (by email) or facts as JSON, a moment, a policy.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct SimulateForm {
    csrf: String,
    source: String,
    email: String,
    facts: String,
    moment: String,
    event: String,
    client: String,
    scopes: String,
    /// The impact preview: count every user, not a sample (`1`).
    every: String,
}

/// `GET /admin/policy/simulate`: the form (`?email=` fills it in).
pub(super) async fn simulator(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(form): Query<SimulateForm>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/policy/simulate").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    simulate_page(&state, &console, &form, None, Errors::new(), StatusCode::OK).await
}

/// `POST /admin/policy/simulate`: decides and explains (nothing is written).
pub(super) async fn simulate(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(form): axum::Form<SimulateForm>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/policy/simulate").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let locale = console.locale;
    let mut errors = Errors::new();
    if !csrf::verify(&console.jar, Some(&form.csrf)) {
        errors.insert("form".into(), text(locale, "error.csrf"));
        return simulate_page(&state, &console, &form, None, errors, StatusCode::FORBIDDEN).await;
    }
    let source = if form.source == "draft" {
        Source::Draft
    } else {
        Source::Published
    };
    let moment = match moment_of(&form, locale) {
        Ok(moment) => moment,
        Err((input, message)) => {
            errors.insert(input.into(), message);
            return simulate_page(
                &state,
                &console,
                &form,
                None,
                errors,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    // Facts typed in win; else the user named by email, whose facts are shown to be edited.
    let mut form_out = SimulateForm { ..form };
    let facts: UserFacts = if !form_out.facts.trim().is_empty() {
        match serde_json::from_str(&form_out.facts) {
            Ok(facts) => facts,
            Err(error) => {
                errors.insert("facts".into(), error.to_string());
                return simulate_page(
                    &state,
                    &console,
                    &form_out,
                    None,
                    errors,
                    StatusCode::BAD_REQUEST,
                )
                .await;
            }
        }
    } else if !form_out.email.trim().is_empty() {
        let found = accrete_app::users::list(
            &state.app,
            accrete_app::users::Filters {
                email: Some(form_out.email.trim().to_owned()),
                limit: Some(1),
                ..Default::default()
            },
        )
        .await;
        let user = match found {
            Ok(page) => page.items.into_iter().next(),
            Err(accrete_app::users::UserError::Store(error)) => {
                return store_failure(&state, locale, &error);
            }
            Err(_) => None,
        };
        let Some(user) = user else {
            errors.insert(
                "email".into(),
                text_with(
                    locale,
                    "console.admins.no_such_user",
                    &[("email", form_out.email.trim())],
                ),
            );
            return simulate_page(
                &state,
                &console,
                &form_out,
                None,
                errors,
                StatusCode::BAD_REQUEST,
            )
            .await;
        };
        match policy_admin::user_facts(&state.app, source, user.id, &moment).await {
            Ok(facts) => {
                form_out.facts = serde_json::to_string_pretty(&facts).unwrap_or_default();
                facts
            }
            Err(error) => return simulate_failure(&state, &console, &form_out, error).await,
        }
    } else {
        errors.insert("email".into(), text(locale, "console.policy.simulate_who"));
        return simulate_page(
            &state,
            &console,
            &form_out,
            None,
            errors,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let now = OffsetDateTime::now_utc();
    match policy_admin::simulate(&state.app, source, None, Some(facts), &moment, now).await {
        Ok(decision) => {
            simulate_page(
                &state,
                &console,
                &form_out,
                Some(decision),
                errors,
                StatusCode::OK,
            )
            .await
        }
        Err(error) => simulate_failure(&state, &console, &form_out, error).await,
    }
}

async fn simulate_failure(
    state: &AppState,
    console: &Console,
    form: &SimulateForm,
    error: PolicyError,
) -> Response {
    let message = match &error {
        PolicyError::NoDraft => text(console.locale, "console.policy.no_draft"),
        PolicyError::NoPublished => text(console.locale, "console.policy.none_published"),
        PolicyError::Store(_) => return failure(state, console, error),
        other => other.to_string(),
    };
    let errors = Errors::from([("source".to_owned(), message)]);
    simulate_page(state, console, form, None, errors, StatusCode::BAD_REQUEST).await
}

/// The moment a simulation or an impact preview assumes, or the input that is wrong.
fn moment_of(form: &SimulateForm, locale: &str) -> Result<Moment, (&'static str, String)> {
    let kind = match (form.moment.as_str(), form.event.trim()) {
        ("signup", _) => MomentKind::Signup,
        ("event", "") => return Err(("event", text(locale, "console.policy.name_event"))),
        ("event", name) => MomentKind::Event {
            name: name.to_owned(),
        },
        _ => MomentKind::Login,
    };
    let mut moment = Moment::new(kind);
    moment.client_id = Some(form.client.trim().to_owned()).filter(|c| !c.is_empty());
    moment.scopes = form.scopes.split_whitespace().map(str::to_owned).collect();
    Ok(moment)
}

/// A reason for people, in the console's language.
fn reason_text(locale: &str, reason: &Reason) -> String {
    let key = format!("console.reason.{}", reason.code());
    let args: Vec<(&str, String)> = match reason {
        Reason::MomentNotInTrigger { moment } => vec![(
            "moment",
            text(locale, &format!("console.policy.moment.{moment}")),
        )],
        Reason::ConditionNotMet { condition } => vec![("condition", condition.to_string())],
        Reason::ConditionFailed { condition, error } => vec![
            ("condition", condition.to_string()),
            ("error", error.clone()),
        ],
        Reason::AllFieldsKnown { sources } => vec![(
            "sources",
            sources
                .iter()
                .map(|(f, s)| format!("{f} ← {s}"))
                .collect::<Vec<_>>()
                .join(", "),
        )],
        Reason::SkippedWaiting { logins_left, until } => vec![(
            "until",
            match (logins_left, until) {
                (Some(n), _) => text_with(
                    locale,
                    "console.reason.logins_left",
                    &[("n", &n.to_string())],
                ),
                (None, Some(at)) => {
                    text_with(locale, "console.reason.from", &[("at", &when(locale, *at))])
                }
                (None, None) => String::new(),
            },
        )],
        Reason::SkipLimitReached { skips } => vec![("skips", skips.to_string())],
        Reason::OptionalLimitReached { limit } => vec![("limit", limit.to_string())],
        Reason::Due { required } => vec![(
            "mode",
            text(
                locale,
                if *required {
                    "console.policy.required"
                } else {
                    "console.policy.optional"
                },
            ),
        )],
        Reason::Queued { behind } => vec![("behind", behind.to_string())],
        _ => Vec::new(),
    };
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    text_with(locale, &key, &args)
}

async fn simulate_page(
    state: &AppState,
    console: &Console,
    form: &SimulateForm,
    decision: Option<Decision>,
    errors: Errors,
    status: StatusCode,
) -> Response {
    let locale = console.locale;
    let clients = client_choices(state, &form.client).await;
    let result = decision.map(|d| {
        let ask = d.ask().map(|a| {
            context! {
                step => a.step.as_str(),
                fields => a.fields.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
                required => a.required,
                second_factor => a.second_factor,
            }
        });
        let steps: Vec<Value> = d
            .explanation()
            .iter()
            .map(|e| context! { step => e.step.as_str(), due => e.due, reason => reason_text(locale, &e.reason) })
            .collect();
        context! { ask, steps }
    });
    let moment = if form.moment.is_empty() {
        "login"
    } else {
        form.moment.as_str()
    };
    let extra = context! {
        f => context! {
            source => form.source,
            email => form.email,
            facts => form.facts,
            event => form.event,
            scopes => form.scopes,
        },
        sources => choices(locale, "console.policy.source", &["published", "draft"], if form.source == "draft" { "draft" } else { "published" }),
        moments => choices(locale, "console.policy.moment", &["signup", "login", "event"], moment),
        clients,
        errors,
        result,
    };
    console.render(
        state,
        status,
        "console_policy_simulate.html",
        "policy",
        extra,
    )
}

/// The applications a moment may name, with the one chosen (not the console itself).
async fn client_choices(state: &AppState, chosen: &str) -> Vec<Value> {
    match accrete_app::client_admin::list(&state.app).await {
        Ok(list) => list
            .into_iter()
            .filter(|c| c.id != accrete_app::admins::CONSOLE_CLIENT)
            .map(|c| context! { value => c.id, label => c.name, selected => c.id == chosen })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "the console could not list the applications");
            Vec::new()
        }
    }
}

/// `GET /admin/policy/impact`: how many users the draft and the version in force would ask,
/// per step, at a moment.
pub(super) async fn impact(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(form): Query<SimulateForm>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/policy/impact").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let locale = console.locale;
    let mut errors = Errors::new();
    let mut result = None;
    let mut status = StatusCode::OK;
    match moment_of(&form, locale) {
        Err((input, message)) => {
            errors.insert(input.into(), message);
            status = StatusCode::BAD_REQUEST;
        }
        Ok(moment) => {
            let extent = match form.every.as_str() {
                "1" => Extent::Every,
                _ => Extent::default(),
            };
            let now = OffsetDateTime::now_utc();
            match policy_impact::impact(&state.app, &moment, now, extent).await {
                Ok(impact) => {
                    let number = |n: u64| count(locale, i64::try_from(n).unwrap_or(i64::MAX));
                    // An estimate reads "≈ 1,200 ± 40" ("≈ 0" when none of the sample is
                    // asked); a count, as it is.
                    let figure = |e: Estimate| match (impact.exact, e.margin) {
                        (true, _) => number(e.count),
                        (false, 0) => format!("≈ {}", number(e.count)),
                        (false, _) => text_with(
                            locale,
                            "console.policy.estimate",
                            &[("count", &number(e.count)), ("margin", &number(e.margin))],
                        ),
                    };
                    let steps: Vec<Value> = impact
                        .steps
                        .iter()
                        .map(|s| {
                            let change = s.draft.count as i64 - s.published.count as i64;
                            let sign = if change > 0 { "+" } else { "" };
                            let change = format!("{sign}{}", count(locale, change));
                            context! {
                                step => s.step,
                                draft => figure(s.draft),
                                published => figure(s.published),
                                change => if impact.exact { change } else { format!("≈ {change}") },
                            }
                        })
                        .collect();
                    result = Some(context! {
                        users => number(impact.users),
                        examined => number(impact.examined),
                        exact => impact.exact,
                        draft => figure(impact.draft_prompted),
                        published => figure(impact.published_prompted),
                        steps,
                    });
                }
                Err(PolicyError::NoDraft) => {
                    errors.insert("form".into(), text(locale, "console.policy.no_draft"));
                }
                Err(error) => return failure(&state, &console, error),
            }
        }
    }
    let clients = client_choices(&state, &form.client).await;
    let moment = if form.moment.is_empty() {
        "login"
    } else {
        form.moment.as_str()
    };
    let extra = context! {
        f => context! { event => form.event, moment => moment, client => form.client },
        moments => choices(locale, "console.policy.moment", &["signup", "login", "event"], moment),
        clients,
        errors,
        result,
    };
    console.render(
        &state,
        status,
        "console_policy_impact.html",
        "policy",
        extra,
    )
}
