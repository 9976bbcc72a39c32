//! The server's theme of the hosted pages (docs/theming.md): what was saved at run time over
//! the configuration's `[theme]`, and the effective theme the pages show. The same use-cases as
//! the console's Theme page (`accrete_app::theme`).

use accrete_app::theme::{self, ServerTheme, Theme, ThemeError};
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::problem::{ApiError, ApiJson};
use crate::state::AppState;

/// The server's theme, layer by layer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThemeView {
    /// What was saved through the console or this API (without its unset keys); each key
    /// overrides the configuration's.
    pub theme: Theme,
    /// What the configuration's `[theme]` sets (the base).
    pub configured: Theme,
    /// What the hosted pages show: `theme` over `configured`, key by key.
    pub effective: Theme,
    /// The saved version: 1 for the first save, one more for each (absent: never saved).
    pub version: Option<i64>,
    /// When it was last saved (RFC 3339).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<OffsetDateTime>,
    /// Who saved it last (`user:<id>`, `client:<id>`).
    pub updated_by: Option<String>,
}

impl From<ServerTheme> for ThemeView {
    fn from(theme: ServerTheme) -> ThemeView {
        ThemeView {
            theme: theme.saved,
            configured: theme.base,
            effective: theme.effective,
            version: theme.version,
            updated_at: theme.updated_at,
            updated_by: theme.updated_by,
        }
    }
}

impl From<ThemeError> for ApiError {
    fn from(error: ThemeError) -> Self {
        match error {
            ThemeError::Invalid(problems) => ApiError::invalid(problems),
            ThemeError::Store(error) => error.into(),
        }
    }
}

/// The server's theme: saved, configured and effective.
#[utoipa::path(get, path = "/theme", tag = "theme",
    responses((status = 200, body = ThemeView), ErrorResponses),
    security(("bearer" = ["theme:read"])))]
pub async fn get(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<axum::Json<ThemeView>, ApiError> {
    caller.require(Scope::ThemeRead)?;
    Ok(axum::Json(theme::get(&state.app).await?.into()))
}

/// Replaces the saved theme (every key optional; an absent or `null` key falls back to the
/// configuration's; `{}` goes back to the configuration). Checked like a client's theme; every
/// refused value is named in `fields`. Recorded in the audit log as `theme.updated`, with the
/// saved theme before and after. Every node shows it within a few seconds.
#[utoipa::path(put, path = "/theme", tag = "theme",
    request_body = Theme,
    responses((status = 200, body = ThemeView), ErrorResponses),
    security(("bearer" = ["theme:write"])))]
pub async fn put(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<axum::Json<ThemeView>, ApiError> {
    caller.require(Scope::ThemeWrite)?;
    // `null` or a list is not a theme (`{}` is the way back to the configuration's).
    if !body.is_object() {
        return Err(ApiError::BadRequest(
            "invalid body: a theme is a JSON object (`{}` goes back to the configuration's)".into(),
        ));
    }
    let saved = theme::replace(
        &state.app,
        &caller.actor(),
        &body,
        OffsetDateTime::now_utc(),
    )
    .await?;
    Ok(axum::Json(saved.into()))
}
