//! `/api/v1/users`: create, read, list, patch (JSON Merge Patch on metadata), delete, history.

use accrete_oidc::credentials;
use accrete_oidc::password;
use accrete_store::{
    EmailChange, FieldFilter, HistoryEntry, Location, NewUser, ProfileChange, User, UserQuery,
    UserUpdate,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{Caller, Scope};
use super::changes;
use super::docs::ErrorResponses;
use super::facts;
use super::problem::{ApiError, ApiJson, ApiPath, ApiQuery, FieldProblems, etag_of};
use crate::state::AppState;

/// A user as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Time-ordered id.
    pub id: Uuid,
    /// Email as typed.
    pub email: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Whether the user has a password.
    pub has_password: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last profile change.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// Last sign-in.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<OffsetDateTime>,
    /// Sign-ins with credentials.
    pub credentialed_logins: i64,
    /// Sign-ins reusing a single sign-on session.
    pub sso_logins: i64,
    /// Standard claims.
    #[schema(value_type = Object)]
    pub profile: Value,
    /// User-editable metadata.
    #[schema(value_type = Object)]
    pub user_metadata: Value,
    /// Back-end-only metadata.
    #[schema(value_type = Object)]
    pub app_metadata: Value,
    /// Bumped on every change; the `ETag` is `"<version>"`.
    pub version: i64,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        UserView {
            id: user.id,
            has_password: user.password_hash.is_some(),
            email: user.email,
            email_verified: user.email_verified,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login_at: user.last_login_at,
            credentialed_logins: user.credentialed_logins,
            sso_logins: user.sso_logins,
            profile: user.profile,
            user_metadata: user.user_metadata,
            app_metadata: user.app_metadata,
            version: user.version,
        }
    }
}

fn push(problems: &mut FieldProblems, key: &str, code: &str, message: impl Into<String>) {
    problems
        .entry(key.to_owned())
        .or_default()
        .push(super::problem::FieldProblem {
            code: code.to_owned(),
            message: message.into(),
        });
}

/// The user as JSON with its `ETag`.
fn with_etag(status: StatusCode, user: User) -> Response {
    let etag = etag_of(user.version);
    let mut response = (status, axum::Json(UserView::from(user))).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The version named by `If-Match` (`None` when absent or `*`): exactly what the header's
/// pattern in the OpenAPI document describes, `*`, `"<version>"` or `W/"<version>"`.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let refused = || ApiError::BadRequest("If-Match must be an ETag returned by this API".into());
    let text = value.to_str().map_err(|_| refused())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let digits = text
        .strip_prefix("W/")
        .unwrap_or(text)
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|d| (1..=18).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(refused)?;
    digits.parse::<i64>().map(Some).map_err(|_| refused())
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Email (unique, ignoring case): an RFC 5322 address of at most 254 characters.
    #[schema(format = Email)]
    pub email: String,
    /// A password (8 to 1024 characters); users without one sign in through other means.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    /// Whether the email is already verified.
    #[serde(default)]
    pub email_verified: bool,
    /// Initial standard claims.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub profile: Option<Map<String, Value>>,
    /// Initial user metadata.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub user_metadata: Option<Map<String, Value>>,
    /// Initial app metadata.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub app_metadata: Option<Map<String, Value>>,
}

/// A change to a user: `profile` replaces the claims it names; `user_metadata` and
/// `app_metadata` are RFC 7396 merge patches (nested objects merge, `null` deletes).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    /// New email: an RFC 5322 address of at most 254 characters.
    #[serde(default)]
    #[schema(format = Email)]
    pub email: Option<String>,
    /// Whether the (new) email is verified.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Claims to replace (`null` deletes one).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub profile: Option<Map<String, Value>>,
    /// Merge patch of the user metadata.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub user_metadata: Option<Map<String, Value>>,
    /// Merge patch of the app metadata.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub app_metadata: Option<Map<String, Value>>,
}

/// Filters of the user listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsers {
    /// Exact email, ignoring case.
    pub email: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(format = DateTime)]
    pub created_after: Option<String>,
    /// Created strictly before (RFC 3339).
    #[param(format = DateTime)]
    pub created_before: Option<String>,
    /// A field key of the published policy, or `profile.<claim>`, `user_metadata.<key>`,
    /// `app_metadata.<key>`.
    pub field: Option<String>,
    /// With `field`: the value it must equal (JSON, or a bare string).
    pub value: Option<String>,
    /// With `field`: `true` lists users for whom the field is missing.
    pub missing: Option<bool>,
    /// Page size (1 to 1000, default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

/// One page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// The users.
    pub items: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

/// One value change.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    /// Increasing sequence number.
    pub seq: i64,
    /// `profile`, `user_metadata` or `app_metadata`.
    pub location: String,
    /// The key.
    pub key: String,
    /// The value replaced: any JSON value, `null` when there was none.
    pub old_value: Option<Value>,
    /// The value stored: any JSON value, `null` when deleted.
    pub new_value: Option<Value>,
    /// `signup`, `prompt:<step>`, `account`, `admin`, `api:<client>`, ...
    pub source: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub changed_at: OffsetDateTime,
}

impl From<HistoryEntry> for HistoryView {
    fn from(entry: HistoryEntry) -> Self {
        HistoryView {
            seq: entry.seq,
            location: entry.location.as_str().to_owned(),
            key: entry.key,
            old_value: entry.old_value,
            new_value: entry.new_value,
            source: entry.source,
            changed_at: entry.changed_at,
        }
    }
}

/// Every change of a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    /// Oldest first.
    pub items: Vec<HistoryView>,
}

/// Creates a user.
#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView, description = "Created"), ErrorResponses),
    security(("bearer" = ["users:write"])))]
pub async fn create(
    caller: Caller,
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<Response, ApiError> {
    caller.require(Scope::UsersWrite)?;
    let email = body.email.trim().to_owned();
    let mut problems = FieldProblems::new();
    if let Err(problem) = credentials::check_email(&email) {
        push(&mut problems, "email", "invalid_email", problem.to_string());
    }
    if let Some(Err(problem)) = body
        .password
        .as_deref()
        .map(credentials::check_new_password)
    {
        push(
            &mut problems,
            "password",
            "invalid_length",
            problem.to_string(),
        );
    }
    let policy = facts::published_or_empty(&state).await?;
    let mut changes_to_apply = Vec::new();
    let mut patch = PatchUser {
        profile: body.profile,
        user_metadata: body.user_metadata,
        app_metadata: body.app_metadata,
        ..PatchUser::default()
    };
    let metadata = check_patch(
        &policy,
        &mut patch,
        None,
        &mut problems,
        &mut changes_to_apply,
    );
    ApiError::check(problems)?;
    if state.store.find_user_by_email(&email).await?.is_some() {
        return Err(ApiError::Conflict("a user with this email exists".into()));
    }
    let hash = match body.password {
        Some(password) => Some(
            state
                .app
                .hashing
                .run(move || password::hash_password(&password))
                .await
                .map_err(|busy| ApiError::Unavailable(busy.to_string()))?
                .map_err(|e| ApiError::field("password", "invalid", e.to_string()))?,
        ),
        None => None,
    };
    let now = OffsetDateTime::now_utc();
    let mut new = NewUser::with_email(email, now);
    new.email_verified = body.email_verified;
    new.password_hash = hash;
    let user = state.store.create_user(new).await?;
    let update = UserUpdate {
        email: None,
        changes: changes_to_apply,
        patches: metadata,
    };
    match apply(&state, &caller, user.id, None, update, now).await {
        Ok(user) => Ok(with_etag(StatusCode::CREATED, user)),
        Err(error) => {
            // The values could not be stored: take the new account back rather than leave it
            // half-made.
            if let Err(cleanup) = state.store.delete_user(user.id).await {
                tracing::error!(error = %cleanup, user = %user.id, "could not remove a half-created user");
            }
            Err(error)
        }
    }
}

/// Validates a patch's bags; collects profile changes and returns the metadata patches.
fn check_patch(
    policy: &accrete_core::CompiledPolicy,
    patch: &mut PatchUser,
    user: Option<&User>,
    problems: &mut FieldProblems,
    profile_changes: &mut Vec<ProfileChange>,
) -> Vec<(Location, Value)> {
    if let Some(claims) = patch.profile.as_mut() {
        changes::check_profile(policy, claims, "en", problems);
        for (claim, value) in claims.iter() {
            profile_changes.push(ProfileChange {
                location: Location::Profile,
                key: claim.clone(),
                value: Some(value.clone()).filter(|v| !v.is_null()),
            });
        }
    }
    let mut metadata = Vec::new();
    for (location, bag) in [
        (Location::UserMetadata, patch.user_metadata.as_mut()),
        (Location::AppMetadata, patch.app_metadata.as_mut()),
    ] {
        if let Some(bag) = bag {
            changes::check_metadata(policy, location, bag, user, "en", problems);
            if !bag.is_empty() {
                metadata.push((location, Value::Object(bag.clone())));
            }
        }
    }
    metadata
}

/// Writes an update with the caller's provenance, as one transaction.
async fn apply(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    expected: Option<i64>,
    update: UserUpdate,
    now: OffsetDateTime,
) -> Result<User, ApiError> {
    Ok(state
        .store
        .update_user(id, expected, &update, &caller.source(), now)
        .await?)
}

async fn find(state: &AppState, id: Uuid) -> Result<User, ApiError> {
    match state.store.get_user(id).await {
        Err(accrete_store::StoreError::NotFound) => Err(ApiError::NotFound("user")),
        other => Ok(other?),
    }
}

/// Reads a user; the `ETag` names its version.
#[utoipa::path(get, path = "/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = UserView), ErrorResponses),
    security(("bearer" = ["users:read"])))]
pub async fn get(
    caller: Caller,
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Scope::UsersRead)?;
    Ok(with_etag(StatusCode::OK, find(&state, id).await?))
}

/// Changes a user. Send `If-Match` with the `ETag` to refuse the change (412) if the user changed
/// since it was read.
#[utoipa::path(patch, path = "/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#,
            description = "ETag of the version the change is based on (`\"7\"`, `W/\"7\"`), or `*`")),
    request_body(content = PatchUser, content_type = "application/merge-patch+json"),
    responses((status = 200, body = UserView), ErrorResponses),
    security(("bearer" = ["users:write"])))]
pub async fn patch(
    caller: Caller,
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(mut body): ApiJson<PatchUser>,
) -> Result<Response, ApiError> {
    caller.require(Scope::UsersWrite)?;
    let expected = if_match(&headers)?;
    let current = find(&state, id).await?;
    if let Some(version) = expected
        && version != current.version
    {
        return Err(ApiError::PreconditionFailed(etag_of(current.version)));
    }
    let policy = facts::published_or_empty(&state).await?;
    let mut problems = FieldProblems::new();
    let mut profile = Vec::new();
    let metadata = check_patch(
        &policy,
        &mut body,
        Some(&current),
        &mut problems,
        &mut profile,
    );
    let email = body.email.as_deref().map(str::trim);
    if let Some(Err(problem)) = email.map(credentials::check_email) {
        push(&mut problems, "email", "invalid_email", problem.to_string());
    }
    ApiError::check(problems)?;
    let email = (email.is_some() || body.email_verified.is_some()).then(|| {
        let email = email.unwrap_or(&current.email);
        EmailChange {
            email: email.to_owned(),
            verified: body
                .email_verified
                .unwrap_or(current.email_verified && email.eq_ignore_ascii_case(&current.email)),
        }
    });
    let update = UserUpdate {
        email,
        changes: profile,
        patches: metadata,
    };
    // `expected` is checked again inside the transaction, against the row it locks.
    let user = apply(
        &state,
        &caller,
        id,
        expected,
        update,
        OffsetDateTime::now_utc(),
    )
    .await?;
    Ok(with_etag(StatusCode::OK, user))
}

/// Deletes a user with their profile values, history, sessions and tokens.
#[utoipa::path(delete, path = "/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 204, description = "Deleted"), ErrorResponses),
    security(("bearer" = ["users:write"])))]
pub async fn delete(
    caller: Caller,
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::UsersWrite)?;
    find(&state, id).await?;
    state
        .store
        .revoke_user_grants(id, None, OffsetDateTime::now_utc())
        .await?;
    state.store.delete_user_sessions(id).await?;
    state.store.delete_user(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every value change of a user, oldest first, with its source and time.
#[utoipa::path(get, path = "/users/{id}/history", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = HistoryPage), ErrorResponses),
    security(("bearer" = ["users:read"])))]
pub async fn history(
    caller: Caller,
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<HistoryPage>, ApiError> {
    caller.require(Scope::UsersRead)?;
    find(&state, id).await?;
    let items = state.store.user_history(id).await?;
    Ok(axum::Json(HistoryPage {
        items: items.into_iter().map(HistoryView::from).collect(),
    }))
}

fn parse_time(name: &str, text: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    text.map(|t| {
        OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map_err(|_| ApiError::field(name, "invalid_time", "an RFC 3339 date-time"))
    })
    .transpose()
}

/// Resolves `field` to a bag and key: `location.key`, or a field of the published policy.
async fn resolve_field(state: &AppState, field: &str) -> Result<(Location, String), ApiError> {
    if let Some((prefix, key)) = field.split_once('.')
        && let Some(location) = Location::parse(prefix)
        && !key.is_empty()
    {
        return Ok((location, key.to_owned()));
    }
    let policy = facts::published_or_empty(state).await?;
    match policy.field(field) {
        Some(definition) => {
            let (location, key) = accrete_app::facts::location_of(definition);
            Ok((location, key.to_owned()))
        }
        None => Err(ApiError::field(
            "field",
            "unknown_field",
            "not a field of the published policy nor `<location>.<key>`",
        )),
    }
}

/// Lists users in creation order, a page at a time, with optional filters.
#[utoipa::path(get, path = "/users", tag = "users", params(ListUsers),
    responses((status = 200, body = UserPage), ErrorResponses),
    security(("bearer" = ["users:read"])))]
pub async fn list(
    caller: Caller,
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiQuery(query): ApiQuery<ListUsers>,
) -> Result<axum::Json<UserPage>, ApiError> {
    caller.require(Scope::UsersRead)?;
    if query
        .limit
        .is_some_and(|l| l == 0 || l > UserQuery::MAX_LIMIT)
    {
        return Err(ApiError::field(
            "limit",
            "out_of_range",
            "between 1 and 1000",
        ));
    }
    let field = match &query.field {
        None if query.value.is_some() || query.missing.is_some() => {
            return Err(ApiError::field(
                "field",
                "required",
                "`value` and `missing` filter on a `field`",
            ));
        }
        None => None,
        Some(name) => {
            let (location, key) = resolve_field(&state, name).await?;
            let equals = match (&query.value, query.missing) {
                (Some(_), Some(true)) => {
                    return Err(ApiError::field(
                        "missing",
                        "conflict",
                        "use either `value` or `missing=true`",
                    ));
                }
                (Some(text), _) => Some(
                    serde_json::from_str::<Value>(text)
                        .unwrap_or_else(|_| Value::String(text.clone())),
                ),
                (None, Some(true)) => None,
                (None, _) => {
                    return Err(ApiError::field(
                        "value",
                        "required",
                        "filter on a field with `value=...` or `missing=true`",
                    ));
                }
            };
            Some(FieldFilter {
                location,
                key,
                equals,
            })
        }
    };
    let page = state
        .store
        .list_users(UserQuery {
            email: query.email,
            created_after: parse_time("created_after", query.created_after.as_deref())?,
            created_before: parse_time("created_before", query.created_before.as_deref())?,
            field,
            limit: query.limit,
            cursor: query.cursor,
        })
        .await?;
    Ok(axum::Json(UserPage {
        items: page.items.into_iter().map(UserView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_password_length_is_the_credential_rule() {
        use utoipa::PartialSchema as _;
        let schema = serde_json::to_value(CreateUser::schema()).unwrap();
        let password = &schema["properties"]["password"];
        assert_eq!(password["minLength"], credentials::PASSWORD_MIN_CHARS);
        assert_eq!(password["maxLength"], credentials::PASSWORD_MAX_CHARS);
    }

    #[test]
    fn if_match_accepts_strong_weak_and_star() {
        let mut headers = HeaderMap::new();
        assert_eq!(if_match(&headers).unwrap(), None);
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"7\""));
        assert_eq!(if_match(&headers).unwrap(), Some(7));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("W/\"8\""));
        assert_eq!(if_match(&headers).unwrap(), Some(8));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(if_match(&headers).unwrap(), None);
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"abc\""));
        assert!(if_match(&headers).is_err());
        for refused in [
            "null",
            "7",
            "\"7",
            "W/7",
            "\"\"",
            "\"-1\"",
            "\"1234567890123456789\"",
        ] {
            headers.insert(header::IF_MATCH, HeaderValue::from_static(refused));
            assert!(if_match(&headers).is_err(), "{refused}");
        }
    }
}
