//! `/api/v1/stats`: the completion funnel per step over a time range, and how many users have
//! each field.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::facts;
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

/// Per step, counts of shown / answered / skipped / abandoned in `[from, to)`, and the share of
/// users for whom each field is known.
#[utoipa::path(get, path = "/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, body = Stats), ErrorResponses),
    security(("bearer" = ["stats:read"])))]
pub async fn stats(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> Result<axum::Json<Stats>, ApiError> {
    caller.require(Scope::StatsRead)?;
    // Without `to` the window includes this very moment: the range is `[from, to)` on
    // millisecond timestamps, so an event recorded in the current millisecond must still count.
    let to = parse("to", query.to.as_deref())?
        .unwrap_or_else(|| OffsetDateTime::now_utc() + Duration::milliseconds(1));
    let from = parse("from", query.from.as_deref())?.unwrap_or(to - Duration::days(30));
    if from > to {
        return Err(ApiError::field(
            "from",
            "out_of_range",
            "`from` is after `to`",
        ));
    }
    let policy = facts::published_or_empty(&state).await?;
    let users = state.store.count_users().await?;
    let steps = state
        .store
        .prompt_stats(from, to)
        .await?
        .into_iter()
        .map(|s| StepFigures {
            step: s.step,
            shown: s.shown,
            answered: s.answered,
            skipped: s.skipped,
            abandoned: s.abandoned,
        })
        .collect();
    let mut fields = Vec::new();
    for field in policy.fields() {
        let (location, key) = accrete_app::facts::location_of(field);
        let known = state.store.count_users_with_value(location, key).await?;
        let share = if users > 0 {
            known as f64 / users as f64
        } else {
            0.0
        };
        fields.push(FieldFigures {
            field: field.key.to_string(),
            known,
            share,
        });
    }
    Ok(axum::Json(Stats {
        from,
        to,
        users,
        steps,
        fields,
    }))
}
