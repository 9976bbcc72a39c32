//! `/api/v1/stats`: the completion funnel per step over a time range, sign-ups and sign-ins
//! per day, and how many users have each field.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::problem::{ApiError, ApiQuery};
use crate::state::AppState;

/// The time range.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Start, inclusive (RFC 3339); 30 days before `to` by default.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// End, exclusive (RFC 3339); now by default.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

/// Counts of one step's prompt events.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepFigures {
    /// The step.
    pub step: String,
    /// Times shown.
    pub shown: i64,
    /// Times answered.
    pub answered: i64,
    /// Times skipped.
    pub skipped: i64,
    /// Times abandoned.
    pub abandoned: i64,
}

/// One UTC day's sign-ups and sign-ins.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayFigures {
    /// The day (UTC), `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date)]
    pub day: String,
    /// Users created that day (deleted ones still count).
    pub sign_ups: i64,
    /// Sign-ins with credentials (password, passkey, a provider).
    pub credentialed_sign_ins: i64,
    /// Sign-ins that reused a single sign-on session.
    pub sso_sign_ins: i64,
}

/// How many users have a field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldFigures {
    /// The field key.
    pub field: String,
    /// Users with a value.
    pub known: i64,
    /// `known / users` (0 when there are no users).
    pub share: f64,
}

/// Completion figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    /// Start of the range.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: OffsetDateTime,
    /// End of the range.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub to: OffsetDateTime,
    /// Users in total.
    pub users: i64,
    /// Per step, over the range.
    pub steps: Vec<StepFigures>,
    /// Per UTC day the range touches (whole days), in order, days without any included.
    pub days: Vec<DayFigures>,
    /// Per field of the published policy, now.
    pub fields: Vec<FieldFigures>,
}

fn parse(name: &str, text: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    text.map(|t| {
        OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map_err(|_| ApiError::field(name, "invalid_time", "an RFC 3339 date-time"))
    })
    .transpose()
}

/// Per step, counts of shown / answered / skipped / abandoned in `[from, to)`, per UTC day
/// sign-ups and sign-ins, and the share of users for whom each field is known. A range longer
/// than 366 days is refused.
#[utoipa::path(get, path = "/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, body = Stats), ErrorResponses),
    security(("bearer" = ["stats:read"])))]
pub async fn stats(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> Result<axum::Json<Stats>, ApiError> {
    caller.require(Scope::StatsRead)?;
    let to = parse("to", query.to.as_deref())?;
    let from = parse("from", query.from.as_deref())?;
    let figures =
        accrete_app::stats::figures(&state.app, from, to, OffsetDateTime::now_utc()).await?;
    Ok(axum::Json(Stats {
        from: figures.from,
        to: figures.to,
        users: figures.users,
        steps: figures
            .steps
            .into_iter()
            .map(|s| StepFigures {
                step: s.step,
                shown: s.shown,
                answered: s.answered,
                skipped: s.skipped,
                abandoned: s.abandoned,
            })
            .collect(),
        days: figures
            .days
            .into_iter()
            .map(|d| DayFigures {
                day: d.day.to_string(),
                sign_ups: d.sign_ups,
                credentialed_sign_ins: d.credentialed_sign_ins,
                sso_sign_ins: d.sso_sign_ins,
            })
            .collect(),
        fields: figures
            .fields
            .into_iter()
            .map(|f| FieldFigures {
                field: f.field,
                known: f.known,
                share: f.share,
            })
            .collect(),
    }))
}
