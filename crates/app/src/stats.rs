//! Completion figures: per step, the prompt events over a time range; per field of the
//! published policy, how many users have it.

use accrete_store::{StepStats, StoreError};
use time::{Duration, OffsetDateTime};

use crate::app::App;
use crate::policy_admin::published_or_empty;
use crate::problems::Problem;

/// How many users have a field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFigures {
    /// The field key.
    pub field: String,
    /// Users with a value.
    pub known: i64,
    /// `known / users` (0 when there are no users).
    pub share: f64,
}

/// Completion figures over `[from, to)`.
#[derive(Debug, Clone)]
pub struct Figures {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// Users in total.
    pub users: i64,
    /// Per step, over the range.
    pub steps: Vec<StepStats>,
    /// Per field of the published policy, now.
    pub fields: Vec<FieldFigures>,
}

/// Why figures could not be given.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The range is refused (`from` after `to`).
    #[error("{}: {}", .0.path, .0.message)]
    Refused(Problem),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Per step, counts of shown / answered / skipped / abandoned in `[from, to)`, and the share of
/// users for whom each field of the published policy is known. `to` is just after `now` by
/// default, `from` 30 days before `to`.
pub async fn figures(
    app: &App,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<Figures, StatsError> {
    // Without `to` the window includes this very moment: the range is `[from, to)` on
    // millisecond timestamps, so an event recorded in the current millisecond must still count.
    let to = to.unwrap_or_else(|| now + Duration::milliseconds(1));
    let from = from.unwrap_or(to - Duration::days(30));
    if from > to {
        return Err(StatsError::Refused(Problem::new(
            "from",
            "out_of_range",
            "`from` is after `to`",
        )));
    }
    let policy = published_or_empty(app).await?;
    let users = app.store().count_users().await?;
    let steps = app.store().prompt_stats(from, to).await?;
    let mut fields = Vec::new();
    for field in policy.fields() {
        let (location, key) = crate::facts::location_of(field);
        let known = app.store().count_users_with_value(location, key).await?;
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
    Ok(Figures {
        from,
        to,
        users,
        steps,
        fields,
    })
}
