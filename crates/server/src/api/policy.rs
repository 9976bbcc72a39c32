//! `/api/v1/policy`: the published policy and the draft, validation, publication, versions,
//! rollback, and individual fields and steps.

use accrete_core::{Field, Step};
use accrete_store::{PolicyDraft, PolicyVersion, PolicyVersionSummary};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use accrete_app::policy_admin;

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::problem::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// A published version with its document.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    /// 1, 2, 3, ...
    pub version: i64,
    /// The policy document.
    #[schema(value_type = Object)]
    pub document: Value,
    /// When published.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub published_at: OffsetDateTime,
    /// Why it was published.
    pub note: Option<String>,
}

impl From<PolicyVersion> for VersionView {
    fn from(version: PolicyVersion) -> Self {
        VersionView {
            version: version.version,
            document: version.document,
            published_at: version.published_at,
            note: version.note,
        }
    }
}

/// A version in a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionSummary {
    /// Its number.
    pub version: i64,
    /// When published.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub published_at: OffsetDateTime,
    /// Why.
    pub note: Option<String>,
}

impl From<PolicyVersionSummary> for VersionSummary {
    fn from(summary: PolicyVersionSummary) -> Self {
        VersionSummary {
            version: summary.version,
            published_at: summary.published_at,
            note: summary.note,
        }
    }
}

/// Every published version, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    /// The versions.
    pub items: Vec<VersionSummary>,
}

/// The draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftView {
    /// The draft document.
    #[schema(value_type = Object)]
    pub document: Value,
    /// Last saved.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<PolicyDraft> for DraftView {
    fn from(draft: PolicyDraft) -> Self {
        DraftView {
            document: draft.document,
            updated_at: draft.updated_at,
        }
    }
}

/// One problem of a policy, with its location in the document.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyProblem {
    /// `fields[0].validation.pattern`, `steps[2].fields[1]`, ... (`$` for the whole document).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// The result of validating a document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    /// Whether the document can be published.
    pub valid: bool,
    /// Every problem (empty when valid).
    pub problems: Vec<PolicyProblem>,
}

/// Publication options.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// Why this version is published.
    #[serde(default)]
    pub note: Option<String>,
}

/// Which version to restore.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// A published version number (JSON Schema's integers include `1.0`).
    #[serde(deserialize_with = "whole_number")]
    pub version: i64,
}

/// An integer as JSON Schema sees one: `3` or `3.0` (a number with no fractional part).
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(n) = number.as_i64() {
        return Ok(n);
    }
    match number.as_f64() {
        // Within ±2^53 every whole f64 is exactly an i64.
        Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => Ok(f as i64),
        _ => Err(serde::de::Error::custom("expected an integer")),
    }
}

/// Which policy a read or simulation is about.
#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The version in force.
    #[default]
    Published,
    /// The draft.
    Draft,
}

impl From<Source> for policy_admin::Source {
    fn from(source: Source) -> Self {
        match source {
            Source::Published => policy_admin::Source::Published,
            Source::Draft => policy_admin::Source::Draft,
        }
    }
}

/// Selects the published policy or the draft.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SourceQuery {
    /// `published` (default) or `draft`.
    pub source: Option<Source>,
}

/// The published policy.
#[utoipa::path(get, path = "/policy", tag = "policy",
    responses((status = 200, body = VersionView), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn published(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<axum::Json<VersionView>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    Ok(axum::Json(
        policy_admin::published(&state.app).await?.into(),
    ))
}

/// The draft.
#[utoipa::path(get, path = "/policy/draft", tag = "policy",
    responses((status = 200, body = DraftView), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn draft(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<axum::Json<DraftView>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    Ok(axum::Json(policy_admin::draft(&state.app).await?.into()))
}

/// What the OpenAPI document says of a policy document (docs/policy.md): an object with
/// `version` 1. Whether the rest is a valid policy is the compile step's to say (400 with every
/// problem), beyond what a schema expresses.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "only described, never built: the server reads the document as JSON"
)]
struct PolicyDocument {
    /// Document version; must be 1.
    #[schema(minimum = 1, maximum = 1)]
    version: u32,
}

/// Saves the draft; refused (with every problem and its location) unless it is valid.
#[utoipa::path(put, path = "/policy/draft", tag = "policy",
    request_body(content = inline(PolicyDocument), description = "A policy document (JSON)"),
    responses((status = 200, body = DraftView), ErrorResponses),
    security(("bearer" = ["policy:write"])))]
pub async fn put_draft(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(document): ApiJson<Value>,
) -> Result<axum::Json<DraftView>, ApiError> {
    caller.require(Scope::PolicyWrite)?;
    let before = policy_admin::draft(&state.app)
        .await
        .ok()
        .map(|draft| draft.document);
    let draft = policy_admin::save_draft(&state.app, &document, OffsetDateTime::now_utc()).await?;
    let change = (before, Some(document));
    super::audit::record(
        &state,
        &caller,
        "policy.draft_saved",
        "policy:draft".into(),
        change,
    )
    .await;
    Ok(axum::Json(draft.into()))
}

/// Discards the draft.
#[utoipa::path(delete, path = "/policy/draft", tag = "policy",
    responses((status = 204, description = "Discarded"), ErrorResponses),
    security(("bearer" = ["policy:write"])))]
pub async fn discard_draft(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::PolicyWrite)?;
    let before = policy_admin::draft(&state.app)
        .await
        .ok()
        .map(|draft| draft.document);
    policy_admin::discard_draft(&state.app).await?;
    super::audit::record(
        &state,
        &caller,
        "policy.draft_discarded",
        "policy:draft".into(),
        (before, None),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Validates a document without saving it.
#[utoipa::path(post, path = "/policy/validate", tag = "policy",
    request_body(content = Value,
        description = "Any JSON value; anything but a valid policy document is reported in `problems`"),
    responses((status = 200, body = Validation), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn validate(
    caller: Caller,
    ApiJson(document): ApiJson<Value>,
) -> Result<axum::Json<Validation>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    // In the order of the API's per-field problems: by path, then as found.
    let problems = ApiError::fields_of(policy_admin::validate(&document)?)
        .into_iter()
        .flat_map(|(path, list)| {
            list.into_iter().map(move |p| PolicyProblem {
                path: path.clone(),
                message: p.message,
            })
        })
        .collect::<Vec<_>>();
    Ok(axum::Json(Validation {
        valid: problems.is_empty(),
        problems,
    }))
}

/// Publishes the draft as the next version and removes the draft.
#[utoipa::path(post, path = "/policy/publish", tag = "policy",
    request_body(content = Option<Publish>, description = "Optional: no body, `null` or `{}` publish without a note"),
    responses((status = 201, body = VersionView), ErrorResponses),
    security(("bearer" = ["policy:write"])))]
pub async fn publish(
    caller: Caller,
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, axum::Json<VersionView>), ApiError> {
    caller.require(Scope::PolicyWrite)?;
    let note = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<Option<Publish>>(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))?
            .and_then(|publish| publish.note)
    };
    let version =
        policy_admin::publish(&state.app, note.as_deref(), OffsetDateTime::now_utc()).await?;
    let view = VersionView::from(version);
    let after = Some(serde_json::json!({ "version": view.version, "note": note }));
    super::audit::record(
        &state,
        &caller,
        "policy.published",
        "policy".into(),
        (None, after),
    )
    .await;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// Every published version, newest first.
#[utoipa::path(get, path = "/policy/versions", tag = "policy",
    responses((status = 200, body = VersionList), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn versions(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<axum::Json<VersionList>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    let items = policy_admin::versions(&state.app).await?;
    Ok(axum::Json(VersionList {
        items: items.into_iter().map(VersionSummary::from).collect(),
    }))
}

/// One published version.
#[utoipa::path(get, path = "/policy/versions/{version}", tag = "policy",
    params(("version" = i64, Path, description = "Version number")),
    responses((status = 200, body = VersionView), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn version(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(number): ApiPath<i64>,
) -> Result<axum::Json<VersionView>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    Ok(axum::Json(
        policy_admin::version(&state.app, number).await?.into(),
    ))
}

/// Publishes an older version's document again, as a new version.
#[utoipa::path(post, path = "/policy/rollback", tag = "policy", request_body = Rollback,
    responses((status = 201, body = VersionView), ErrorResponses),
    security(("bearer" = ["policy:write"])))]
pub async fn rollback(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Rollback>,
) -> Result<(StatusCode, axum::Json<VersionView>), ApiError> {
    caller.require(Scope::PolicyWrite)?;
    let version =
        policy_admin::rollback(&state.app, body.version, OffsetDateTime::now_utc()).await?;
    let view = VersionView::from(version);
    let after = Some(serde_json::json!({ "version": view.version, "from_version": body.version }));
    super::audit::record(
        &state,
        &caller,
        "policy.rolled_back",
        "policy".into(),
        (None, after),
    )
    .await;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// The compiled published policy or draft.
async fn select(
    state: &AppState,
    source: Option<Source>,
) -> Result<accrete_core::CompiledPolicy, ApiError> {
    let source = source.unwrap_or_default().into();
    Ok(policy_admin::select(&state.app, source).await?)
}

/// Every field of the published policy (or the draft).
#[utoipa::path(get, path = "/policy/fields", tag = "policy", params(SourceQuery),
    responses((status = 200, body = Vec<Object>), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn fields(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SourceQuery>,
) -> Result<axum::Json<Vec<Field>>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    let policy = select(&state, query.source).await?;
    Ok(axum::Json(policy.fields().to_vec()))
}

/// One field.
#[utoipa::path(get, path = "/policy/fields/{key}", tag = "policy",
    params(("key" = String, Path, description = "Field key"), SourceQuery),
    responses((status = 200, body = Object), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn field(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<SourceQuery>,
) -> Result<axum::Json<Field>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    let policy = select(&state, query.source).await?;
    policy
        .field(&key)
        .cloned()
        .map(axum::Json)
        .ok_or(ApiError::NotFound("field"))
}

/// Every step of the published policy (or the draft).
#[utoipa::path(get, path = "/policy/steps", tag = "policy", params(SourceQuery),
    responses((status = 200, body = Vec<Object>), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn steps(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SourceQuery>,
) -> Result<axum::Json<Vec<Step>>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    let policy = select(&state, query.source).await?;
    Ok(axum::Json(policy.steps().to_vec()))
}

/// One step.
#[utoipa::path(get, path = "/policy/steps/{id}", tag = "policy",
    params(("id" = String, Path, description = "Step id"), SourceQuery),
    responses((status = 200, body = Object), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn step(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<SourceQuery>,
) -> Result<axum::Json<Step>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    let policy = select(&state, query.source).await?;
    policy
        .step(&id)
        .cloned()
        .map(axum::Json)
        .ok_or(ApiError::NotFound("step"))
}
