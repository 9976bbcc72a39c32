//! The audit log and the console's administrators through the API (docs/console.md), and the
//! one way the API's handlers record their changes in the log.

use accrete_app::admins::{self, AdminError, Role};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::problem::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// Records a change made through the API, right after it was made. The change stands even if
/// the log cannot be written then (it is said loudly in the server's log).
pub(crate) async fn record(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: String,
    change: (Option<Value>, Option<Value>),
) {
    let now = OffsetDateTime::now_utc();
    let actor = caller.actor();
    if let Err(error) = admins::audit(
        &state.app,
        &actor,
        action,
        Some(target.clone()),
        change,
        now,
    )
    .await
    {
        tracing::error!(%error, action, target, actor = %actor.name, "a change was made but could not be written to the audit log");
    }
}

/// A value as the audit log keeps it (`null` when it cannot be written as JSON).
pub(crate) fn snapshot<T: Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok()
}

/// `?before=&limit=` of the log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries older than this `seq` (from the previous page's last entry).
    pub before: Option<i64>,
    /// At most this many (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// One change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// Increasing with time: the page cursor.
    pub seq: i64,
    /// When (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// `user:<id>` (an administrator in the console), `client:<id>` (through the API), `cli`,
    /// `setup`.
    pub actor: String,
    /// What was done (`client.updated`, `admin.granted`, ...).
    pub action: String,
    /// On what (`client:<id>`, `user:<id>`, `policy`, ...).
    pub target: Option<String>,
    /// The values before (none: it did not exist).
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    /// The values after (none: it is gone).
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    /// The address the change came from.
    pub ip: Option<String>,
}

/// A page of the log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    /// `before` of the next page; absent on the last.
    pub next_before: Option<i64>,
}

/// The audit log: every change made in the console, through the API or on the command line.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), ErrorResponses),
    security(("bearer" = ["audit:read"])))]
pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    caller.require(Scope::AuditRead)?;
    let limit = i64::from(query.limit.unwrap_or(100));
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "out_of_range",
            "between 1 and 500",
        ));
    }
    let entries = admins::audit_log(&state.app, query.before, limit).await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let items = entries
        .into_iter()
        .map(|e| AuditView {
            seq: e.seq,
            at: e.entry.at,
            actor: e.entry.actor,
            action: e.entry.action,
            target: e.entry.target,
            before: e.entry.before,
            after: e.entry.after,
            ip: e.entry.ip,
        })
        .collect();
    Ok(axum::Json(AuditPage { items, next_before }))
}

/// An administrator.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminView {
    pub email: String,
    /// `owner`, `editor`, `support` or `viewer`.
    pub role: String,
    /// Since when (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub granted_at: OffsetDateTime,
    /// Who granted it.
    pub granted_by: String,
}

/// Every administrator.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminList {
    pub items: Vec<AdminView>,
}

/// The console's administrators.
#[utoipa::path(get, path = "/admins", tag = "audit",
    responses((status = 200, body = AdminList), ErrorResponses),
    security(("bearer" = ["audit:read"])))]
pub async fn admins(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<axum::Json<AdminList>, ApiError> {
    caller.require(Scope::AuditRead)?;
    let items = admins::list(&state.app)
        .await?
        .into_iter()
        .map(|a| AdminView {
            email: a.email,
            role: a.role,
            granted_at: a.granted_at,
            granted_by: a.granted_by,
        })
        .collect();
    Ok(axum::Json(AdminList { items }))
}

/// A role to give.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// `owner`, `editor`, `support` or `viewer`.
    #[schema(value_type = String, pattern = "^(owner|editor|support|viewer)$")]
    pub role: String,
}

fn refused(error: AdminError) -> ApiError {
    match error {
        AdminError::NoSuchUser(_) => ApiError::NotFound("user"),
        AdminError::LastOwner => ApiError::Conflict(error.to_string()),
        AdminError::SetupClosed => ApiError::Forbidden(error.to_string()),
        AdminError::Store(error) => error.into(),
    }
}

/// Gives the account with this email address an administrator role (recorded in the log).
#[utoipa::path(put, path = "/admins/{email}", tag = "audit",
    params(("email" = String, Path, description = "The account's email address")),
    request_body = RoleBody,
    responses((status = 204, description = "Granted"), ErrorResponses),
    security(("bearer" = ["admins:write"])))]
pub async fn grant(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(email): ApiPath<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::AdminsWrite)?;
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::field(
            "role",
            "not_an_option",
            "one of owner, editor, support or viewer",
        )
    })?;
    let now = OffsetDateTime::now_utc();
    admins::set_role(&state.app, &caller.actor(), &email, Some(role), now)
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes the account's administrator role away (never the last owner's).
#[utoipa::path(delete, path = "/admins/{email}", tag = "audit",
    params(("email" = String, Path, description = "The account's email address")),
    responses((status = 204, description = "Revoked"), ErrorResponses),
    security(("bearer" = ["admins:write"])))]
pub async fn revoke(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(email): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::AdminsWrite)?;
    let now = OffsetDateTime::now_utc();
    admins::set_role(&state.app, &caller.actor(), &email, None, now)
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}
