//! `/api/v1/users`: create, read, list, patch (JSON Merge Patch on metadata), delete, history.

use accrete_app::users::{self, Change, Filters, NewAccount, Values};
use accrete_store::{HistoryEntry, User};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::problem::{ApiError, ApiJson, ApiPath, ApiQuery, etag_of, if_match};
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
    /// Whether an administrator disabled the account: it cannot sign in by any method, and
    /// its refresh tokens and access tokens are refused.
    pub disabled: bool,
    /// When the account was disabled; absent while it is enabled.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub disabled_at: Option<OffsetDateTime>,
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
            disabled: user.disabled_at.is_some(),
            disabled_at: user.disabled_at,
        }
    }
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

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Email (unique, ignoring case): an RFC 5322 address of at most 254 characters.
    #[schema(format = Email)]
    pub email: String,
    /// A password (8 to 1024 characters) that is hard to guess: one that the zxcvbn estimator
    /// scores below 3 of 4 (a common password, a keyboard pattern, a date, or one built on the
    /// user's email address or name given here) is refused with the problem code `too_weak` at
    /// `fields.password`, like any other refused value. Users without one sign in through other
    /// means.
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
    /// `true` disables the account: its sessions end and its refresh tokens are revoked at
    /// once, and it cannot sign in by any method until `false` enables it again (sessions and
    /// tokens stay ended). Applied after the other changes, which are checked first.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// Filters of the user listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsers {
    /// Exact email, ignoring case: the account signing in with it, and the users of
    /// companions whose provider gave it (docs/companion.md).
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
    /// Increasing sequence number; 0 for the entries of an imported user's values not written
    /// since the import, which come first (docs/import-export.md).
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
    let user = users::create(
        &state.app,
        NewAccount {
            email: body.email,
            password: body.password,
            email_verified: body.email_verified,
            values: Values {
                profile: body.profile,
                user_metadata: body.user_metadata,
                app_metadata: body.app_metadata,
            },
            source: caller.source(),
            now: OffsetDateTime::now_utc(),
        },
    )
    .await?;
    let target = format!("user:{}", user.id);
    super::audit::record(&state, &caller, "user.created", target, (None, None)).await;
    Ok(with_etag(StatusCode::CREATED, user))
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
    let user = users::get(&state.app, id).await?;
    let now = OffsetDateTime::now_utc();
    users::record_read(&state.app, &caller.actor(), id, "profile", now).await;
    Ok(with_etag(StatusCode::OK, user))
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
    ApiJson(body): ApiJson<PatchUser>,
) -> Result<Response, ApiError> {
    caller.require(Scope::UsersWrite)?;
    let expected = if_match(&headers)?;
    // The audit log says what was changed, never the values (it outlives an erasure).
    let changed: Vec<&str> = [
        ("email", body.email.is_some()),
        ("email_verified", body.email_verified.is_some()),
        ("profile", body.profile.is_some()),
        ("user_metadata", body.user_metadata.is_some()),
        ("app_metadata", body.app_metadata.is_some()),
    ]
    .into_iter()
    .filter_map(|(part, given)| given.then_some(part))
    .collect();
    let values_changed = !changed.is_empty() || body.disabled.is_none();
    let changed = Some(serde_json::json!({ "changed": changed }));
    let now = OffsetDateTime::now_utc();
    let change = Change {
        email: body.email,
        email_verified: body.email_verified,
        values: Values {
            profile: body.profile,
            user_metadata: body.user_metadata,
            app_metadata: body.app_metadata,
        },
    };
    let mut user = users::update(&state.app, id, expected, change, &caller.source(), now).await?;
    let target = format!("user:{}", user.id);
    if values_changed {
        let target = target.clone();
        super::audit::record(&state, &caller, "user.updated", target, (None, changed)).await;
    }
    if let Some(disabled) = body.disabled {
        let (toggled, done) = users::set_disabled(&state.app, id, disabled, now).await?;
        user = toggled;
        if done {
            let action = users::disabled_action(disabled);
            let states = (
                Some(serde_json::json!({ "disabled": !disabled })),
                Some(serde_json::json!({ "disabled": disabled })),
            );
            super::audit::record(&state, &caller, action, target, states).await;
        }
    }
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
    users::delete(&state.app, id, OffsetDateTime::now_utc()).await?;
    super::audit::record(
        &state,
        &caller,
        "user.deleted",
        format!("user:{id}"),
        (None, None),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// A reset mail on its way.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetSent {
    /// The account's address, where the link was mailed.
    pub sent_to: String,
    /// When the link stops working (it works once).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// Mails the user a link to choose a new password (single use, 30 minutes), as "Forgot your
/// password?" does. Using it ends every session and revokes every refresh token of the user.
/// At most one mail a minute and five an hour per user (429 otherwise, with `Retry-After`).
#[utoipa::path(post, path = "/users/{id}/password-reset", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 202, body = PasswordResetSent, description = "Mailed"), ErrorResponses),
    security(("bearer" = ["users:write"])))]
pub async fn password_reset(
    caller: Caller,
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, axum::Json<PasswordResetSent>), ApiError> {
    use accrete_app::password_reset::{AdminReset, for_user};
    caller.require(Scope::UsersWrite)?;
    let now = OffsetDateTime::now_utc();
    match for_user(&state.app, id, now).await? {
        AdminReset::Sent { to, expires_at } => {
            let target = format!("user:{id}");
            super::audit::record(
                &state,
                &caller,
                "user.password_reset_sent",
                target,
                (None, None),
            )
            .await;
            Ok((
                StatusCode::ACCEPTED,
                axum::Json(PasswordResetSent {
                    sent_to: to,
                    expires_at,
                }),
            ))
        }
        AdminReset::TooSoon { retry_at } => {
            let wait = (retry_at - now).whole_seconds().max(1);
            Err(ApiError::TooManyRequests(
                format!("a reset mail was sent to this user moments ago; retry in {wait} s"),
                u64::try_from(wait).unwrap_or(1),
            ))
        }
    }
}

/// What resetting a user's second factors removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorsReset {
    /// How many second factors (authenticator apps, phones for sign-in codes) were removed;
    /// the recovery codes went with them.
    pub removed: u64,
}

/// Removes every second factor and recovery code of the user (who lost their phone and their
/// codes): they sign in with their password alone again, or set up a factor again where an
/// application requires one. Recorded as the event `mfa.reset` with the calling client.
#[utoipa::path(delete, path = "/users/{id}/factors", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = FactorsReset, description = "Removed"), ErrorResponses),
    security(("bearer" = ["users:write"])))]
pub async fn reset_factors(
    caller: Caller,
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<FactorsReset>, ApiError> {
    caller.require(Scope::UsersWrite)?;
    let now = OffsetDateTime::now_utc();
    let actor = format!("client:{}", caller.client_id);
    let removed = accrete_app::mfa::reset(&state.app, id, &actor, now).await?;
    let after = Some(serde_json::json!({ "removed": removed }));
    super::audit::record(
        &state,
        &caller,
        "user.factors_reset",
        format!("user:{id}"),
        (None, after),
    )
    .await;
    Ok(axum::Json(FactorsReset { removed }))
}

/// What one enrichment hook did.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrichmentView {
    /// The hook's name (the values it wrote have the source `enrichment:<hook>`).
    pub hook: String,
    /// `ok`; `failed` when the hook did not answer usably (nothing written); `conflict` when
    /// the user kept changing meanwhile.
    pub outcome: String,
    /// The fields written.
    pub fields: Vec<String>,
    /// Fields the reply gave that were left alone: a value someone gave already, or a value
    /// the field's rules refuse.
    pub kept: Vec<String>,
}

/// What enriching a user did, hook by hook.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrichmentResult {
    /// One entry per enrichment hook that runs on demand (`when` holds `api`), in the order
    /// of the configuration; empty when there is none, or no published policy.
    pub results: Vec<EnrichmentView>,
}

/// Runs the enrichment hooks that run on demand for the user, each waited for: fields with no
/// value, or a value from an enrichment, are filled from their replies (never a value the user,
/// an administrator or an application gave). A hook that fails writes nothing (`failed`).
/// Recorded in the audit log as `user.enriched` (the fields written, not their values).
#[utoipa::path(post, path = "/users/{id}/enrich", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = EnrichmentResult, description = "What each hook did"), ErrorResponses),
    security(("bearer" = ["users:write"])))]
pub async fn enrich(
    caller: Caller,
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<EnrichmentResult>, ApiError> {
    caller.require(Scope::UsersWrite)?;
    let done = accrete_app::hooks::enrichment::on_demand(&state.app, id).await?;
    // Which fields each hook wrote, never their values.
    let written: Vec<_> = done
        .iter()
        .map(|e| serde_json::json!({ "hook": e.hook, "outcome": e.outcome, "fields": e.fields }))
        .collect();
    let after = Some(serde_json::json!({ "results": written }));
    super::audit::record(
        &state,
        &caller,
        "user.enriched",
        format!("user:{id}"),
        (None, after),
    )
    .await;
    let results = done
        .into_iter()
        .map(|e| EnrichmentView {
            hook: e.hook,
            outcome: e.outcome,
            fields: e.fields,
            kept: e.kept,
        })
        .collect();
    Ok(axum::Json(EnrichmentResult { results }))
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
    let items = users::history(&state.app, id).await?;
    let now = OffsetDateTime::now_utc();
    users::record_read(&state.app, &caller.actor(), id, "history", now).await;
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

/// Lists users in the order they came to this server (signed up or imported), a page at a time,
/// with optional filters.
#[utoipa::path(get, path = "/users", tag = "users", params(ListUsers),
    responses((status = 200, body = UserPage), ErrorResponses),
    security(("bearer" = ["users:read"])))]
pub async fn list(
    caller: Caller,
    axum::extract::State(state): axum::extract::State<AppState>,
    ApiQuery(query): ApiQuery<ListUsers>,
) -> Result<axum::Json<UserPage>, ApiError> {
    caller.require(Scope::UsersRead)?;
    let filters = Filters {
        created_after: parse_time("created_after", query.created_after.as_deref())?,
        created_before: parse_time("created_before", query.created_before.as_deref())?,
        email: query.email,
        field: query.field,
        value: query.value,
        missing: query.missing,
        limit: query.limit,
        cursor: query.cursor,
    };
    let page = users::list(&state.app, filters).await?;
    Ok(axum::Json(UserPage {
        items: page.items.into_iter().map(UserView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use accrete_oidc::credentials;

    #[test]
    fn the_documented_password_length_is_the_credential_rule() {
        use utoipa::PartialSchema as _;
        let schema = serde_json::to_value(CreateUser::schema()).unwrap();
        let password = &schema["properties"]["password"];
        assert_eq!(password["minLength"], credentials::PASSWORD_MIN_CHARS);
        assert_eq!(password["maxLength"], credentials::PASSWORD_MAX_CHARS);
    }
}
