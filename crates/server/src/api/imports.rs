//! `/api/v1/users/imports`: `accrete users import` as a job of the API (as Auth0's
//! users-imports jobs). The body is the file, streamed to the data folder; the job runs on
//! this node in the background; its progress and report are read from any node. The rules
//! live in `accrete_app::import_jobs` (and the import itself in `accrete_app::import`).

use std::pin::Pin;

use accrete_app::import_jobs::{self, MAX_UPLOAD_BYTES, Report, Upload};
use accrete_store::{ImportJob, ImportJobStatus};
use axum::body::{Body, HttpBody};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::problem::{ApiError, ApiPath, ApiQuery};
use crate::state::AppState;

/// Where a job stands: `queued` (waiting for the import slot of the node that received the
/// file: one import at a time per node), `running`, `completed` or `failed` (see `error`).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl From<ImportJobStatus> for JobStatus {
    fn from(status: ImportJobStatus) -> Self {
        match status {
            ImportJobStatus::Queued => JobStatus::Queued,
            ImportJobStatus::Running => JobStatus::Running,
            ImportJobStatus::Completed => JobStatus::Completed,
            ImportJobStatus::Failed => JobStatus::Failed,
        }
    }
}

/// An import job, as of its last batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportJobView {
    /// Time-ordered id.
    pub id: Uuid,
    pub status: JobStatus,
    /// `auth0`, `csv` or `jsonl`.
    pub format: String,
    /// Whether nothing is stored (the figures say what an import would do).
    pub dry_run: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When it started running.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<OffsetDateTime>,
    /// When it completed or failed.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<OffsetDateTime>,
    /// Users (lines) of the file so far, whether they could be read or not: `created +
    /// updated + unchanged + refused` once the job has completed.
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Users not imported (each is in the report).
    pub refused: u64,
    /// Values left out of imported users (each is in the report).
    pub values_refused: u64,
    /// Problems found (the report keeps the first 10,000).
    pub problems: u64,
    /// Why it failed: the file is not of the format, the database failed, or the node running
    /// it stopped (`interrupted; ...`: imports are idempotent, run it again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<ImportJob> for ImportJobView {
    fn from(job: ImportJob) -> Self {
        let counts = job.progress.counts;
        ImportJobView {
            id: job.id,
            status: job.status.into(),
            format: job.format,
            dry_run: job.dry_run,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            read: counts.read,
            created: counts.created,
            updated: counts.updated,
            unchanged: counts.unchanged,
            refused: counts.refused,
            values_refused: counts.values_refused,
            problems: job.progress.problems,
            error: job.error,
        }
    }
}

/// A page of the jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportJobList {
    /// Newest first.
    pub items: Vec<ImportJobView>,
    /// Pass as `cursor` for the next page (older jobs); absent on the last page.
    pub next_cursor: Option<Uuid>,
}

/// A line (or user) not imported, or a value of it left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProblemView {
    /// The line of the file (1 is the first; for a JSON list, the user's position in it).
    pub line: u64,
    /// What, where: `email`, `profile.birthdate`, a CSV column, `note`; empty for the whole
    /// line.
    pub path: String,
    pub message: String,
}

/// The problems of a job (so far, while it runs).
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    /// In the order they were found; the first 10,000.
    pub problems: Vec<ImportProblemView>,
    /// Whether there were more than the report keeps (the job's `problems` counts them all).
    pub truncated: bool,
}

impl From<Report> for ImportReport {
    fn from(report: Report) -> Self {
        ImportReport {
            problems: report
                .problems
                .into_iter()
                .map(|p| ImportProblemView {
                    line: p.line,
                    path: p.path,
                    message: p.message,
                })
                .collect(),
            truncated: report.truncated,
        }
    }
}

/// `?format=&dry_run=` of a new job.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NewImportQuery {
    /// How to read the file. `keycloak` is refused (400): a realm export is one large JSON
    /// document, imported on the server with `accrete users import`.
    #[param(value_type = String, pattern = "^(auth0|csv|jsonl)$")]
    pub format: String,
    /// Check and count everything, store nothing (default `false`).
    pub dry_run: Option<bool>,
}

/// `?limit=&cursor=` of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportListQuery {
    /// At most this many (1 to 100, default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

/// The `application/json` body of an import: one user (an object), or a JSON list of users
/// (Auth0's bulk-import file); each user is checked when the job reads it.
struct JsonUsers;

impl PartialSchema for JsonUsers {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some("One user")),
            )
            .item(ArrayBuilder::new().description(Some("A list of users")))
            .into()
    }
}

impl ToSchema for JsonUsers {}

/// The media types of the file, as `Content-Type` names them.
const NDJSON: &str = "application/x-ndjson";
const JSON: &str = "application/json";
const CSV: &str = "text/csv";

/// Starts an import of the file in the body: NDJSON (`application/x-ndjson`, one JSON user
/// per line; also taken as `application/json`, as is a JSON list of users) for `auth0` and
/// `jsonl`, CSV (`text/csv`) for `csv`; `format` says how it is read, whatever the media type.
/// At most 256 MiB (413 past it). No mapping file: name CSV columns as the policy's fields or
/// `<location>.<key>`. The file is kept in the data folder of this node, which runs the job
/// in the background (one at a time) and deletes the file when it ends; poll the job at
/// `Location`.
#[utoipa::path(post, path = "/users/imports", tag = "users", operation_id = "create_user_import",
    params(NewImportQuery),
    request_body(description = "The file, sent as it is: raw NDJSON (one JSON user per line) or \
        CSV text, not wrapped in JSON. Any content of `application/x-ndjson` or `text/csv` is \
        taken (it is read by the job: what cannot be read is in its report, or fails it); an \
        `application/json` body must be JSON: one user, or a list of users.",
        content(
            ("application/x-ndjson"),
            (inline(JsonUsers) = "application/json"),
            ("text/csv"),
        )),
    responses(
        (status = 202, body = ImportJobView, description = "Accepted: the job is queued",
            headers(("Location" = String, description = "The job's URL"))),
        ErrorResponses),
    security(("bearer" = ["users:write"])))]
pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<NewImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(Scope::UsersWrite)?;
    let format = import_jobs::format_of(&query.format)?;
    let dry_run = query.dry_run.unwrap_or(false);
    let json = media_type(&headers)? == JSON;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut upload = Upload::create(&state.config.data_dir, MAX_UPLOAD_BYTES, declared).await?;
    receive(body, &mut upload, json).await?;
    let size = upload.size();
    let now = OffsetDateTime::now_utc();
    let (job, queued) =
        import_jobs::start(&state.app, upload, format, dry_run, &caller.actor(), now).await?;
    let runner = state.clone();
    let task = tokio::spawn(async move { import_jobs::run(&runner.app, queued).await });
    import_jobs::track(&state.app, task);
    let view = ImportJobView::from(job);
    let after = json!({ "format": view.format, "dry_run": dry_run, "bytes": size });
    let target = format!("import_job:{}", view.id);
    super::audit::record(
        &state,
        &caller,
        "users.import_started",
        target,
        (None, Some(after)),
    )
    .await;
    let location = format!("/api/v1/users/imports/{}", view.id);
    let mut response = (StatusCode::ACCEPTED, axum::Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// The media type of the body, if it is one a file is sent as (415 otherwise).
fn media_type(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    // The file is read as it is sent: a compressed body would be read as text and fail as one.
    if let Some(encoding) = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .filter(|encoding| encoding != "identity")
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body is sent with Content-Encoding `{encoding}`: send the file uncompressed"
        )));
    }
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    [NDJSON, JSON, CSV]
        .into_iter()
        .find(|known| given.as_deref() == Some(*known))
        .ok_or_else(|| {
            ApiError::UnsupportedMediaType(format!(
                "the body is the file: {NDJSON} (or {JSON}) for auth0 and jsonl, {CSV} for csv"
            ))
        })
}

/// Streams the body into `upload`. A body sent as `application/json` must be JSON: an object
/// or a list.
async fn receive(mut body: Body, upload: &mut Upload, json: bool) -> Result<(), ApiError> {
    // Whether the first character that is not white space has been seen (JSON only).
    let mut started = !json;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|error| {
            ApiError::BadRequest(format!("the body could not be read to its end: {error}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        // A byte order mark (EF BB BF) is no character of the JSON, as the command's reader
        // skips it too.
        let skipped = |b: &&u8| b.is_ascii_whitespace() || matches!(**b, 0xEF | 0xBB | 0xBF);
        if !started && let Some(first) = data.iter().find(|b| !skipped(b)) {
            if !matches!(first, b'{' | b'[') {
                return Err(not_json());
            }
            started = true;
        }
        upload.write(&data).await?;
    }
    if started { Ok(()) } else { Err(not_json()) }
}

fn not_json() -> ApiError {
    ApiError::BadRequest(format!(
        "a {JSON} body is a JSON object (one user per line) or a JSON list of users; send \
         NDJSON as {NDJSON}"
    ))
}

/// The import jobs, newest first, a page at a time.
#[utoipa::path(get, path = "/users/imports", tag = "users", operation_id = "list_user_imports",
    params(ImportListQuery),
    responses((status = 200, body = ImportJobList), ErrorResponses),
    security(("bearer" = ["users:read"])))]
pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ImportListQuery>,
) -> Result<axum::Json<ImportJobList>, ApiError> {
    caller.require(Scope::UsersRead)?;
    let limit = query.limit.unwrap_or(20);
    let page =
        import_jobs::list(&state.app, limit, query.cursor, OffsetDateTime::now_utc()).await?;
    Ok(axum::Json(ImportJobList {
        items: page.items.into_iter().map(ImportJobView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// An import job and how far it is.
#[utoipa::path(get, path = "/users/imports/{id}", tag = "users", operation_id = "get_user_import",
    params(("id" = Uuid, Path, description = "The job's id")),
    responses((status = 200, body = ImportJobView), ErrorResponses),
    security(("bearer" = ["users:read"])))]
pub async fn get(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<ImportJobView>, ApiError> {
    caller.require(Scope::UsersRead)?;
    let job = import_jobs::get(&state.app, id, OffsetDateTime::now_utc()).await?;
    Ok(axum::Json(job.into()))
}

/// The report of an import job: the lines not imported and the values left out, with why.
#[utoipa::path(get, path = "/users/imports/{id}/report", tag = "users",
    operation_id = "get_user_import_report",
    params(("id" = Uuid, Path, description = "The job's id")),
    responses((status = 200, body = ImportReport), ErrorResponses),
    security(("bearer" = ["users:read"])))]
pub async fn report(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<ImportReport>, ApiError> {
    caller.require(Scope::UsersRead)?;
    let report = import_jobs::report(&state.app, id, OffsetDateTime::now_utc()).await?;
    Ok(axum::Json(report.into()))
}
