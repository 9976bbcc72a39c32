//! Simulation of a decision, and the impact preview of a draft over every stored user.

use accrete_app::policy_impact::{self, Extent};
use accrete_app::{policy_admin, users};
use accrete_core::{Moment, MomentKind, UserFacts, decision_json};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::policy::Source;
use super::problem::{ApiError, ApiJson, ApiQuery};
use crate::state::AppState;

/// A simulation: a policy, a user (stored or described) and a moment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Simulate {
    /// `published` (default) or `draft`.
    #[serde(default)]
    pub source: Source,
    /// A stored user; or give `facts`.
    #[serde(default)]
    pub user_id: Option<Uuid>,
    /// Inline user facts (see docs/decision.md); or give `user_id`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub facts: Option<UserFacts>,
    /// The moment, e.g. `{"kind": "event", "event": "cta:pricing", "client_id": "shop"}`.
    #[schema(schema_with = moment_schema)]
    pub moment: Moment,
    /// The time of the decision (RFC 3339); now by default.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub now: Option<OffsetDateTime>,
}

/// The JSON shape of a [`Moment`]: `kind` `signup` or `login` without an event name, or `event`
/// with one.
fn moment_schema() -> Schema {
    let common = |kinds: &[&str], event: Option<bool>| {
        let strings = || ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String));
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "kind",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(kinds.iter().copied())),
            )
            .required("kind")
            .property(
                "client_id",
                ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
            )
            .property("scopes", strings())
            .property(
                "optional_steps_asked",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(u32::MAX)),
            )
            .property("skipped_this_signin", strings())
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        object = match event {
            // The event name of an event.
            Some(true) => object
                .property("event", ObjectBuilder::new().schema_type(Type::String))
                .required("event"),
            // A sign-up or sign-in has none (`null` reads as none).
            _ => object.property("event", ObjectBuilder::new().schema_type(Type::Null)),
        };
        object.build()
    };
    Schema::OneOf(
        OneOfBuilder::new()
        .item(common(&["signup", "login"], None))
        .item(common(&["event"], Some(true)))
        .description(Some(
            "The moment, e.g. `{\"kind\": \"event\", \"event\": \"cta:pricing\", \"client_id\": \"shop\"}`.",
        ))
        .build(),
    )
}

/// Decides for a user at a moment with the published policy or the draft, and explains why.
#[utoipa::path(post, path = "/policy/simulate", tag = "policy", request_body = Simulate,
    responses((status = 200, body = Object, description = "The decision with its explanation"), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn simulate(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Simulate>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    let now = body.now.unwrap_or_else(OffsetDateTime::now_utc);
    let decision = policy_admin::simulate(
        &state.app,
        body.source.into(),
        body.user_id,
        body.facts,
        &body.moment,
        now,
    )
    .await?;
    // A decision for a stored user shows their values (docs/data-rights.md, Who looked).
    if let Some(user_id) = body.user_id {
        let read = OffsetDateTime::now_utc();
        users::record_read(&state.app, &caller.actor(), user_id, "simulation", read).await;
    }
    Ok(axum::Json(decision_json(&decision)))
}

/// The moment an impact preview assumes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImpactQuery {
    /// `login` (default: each user's next sign-in), `signup` or `event`.
    #[param(pattern = "^(login|signup|event)$")]
    pub moment: Option<String>,
    /// With `moment=event` (and only then): the event name.
    #[param(min_length = 1)]
    pub event: Option<String>,
    /// The client being entered.
    pub client_id: Option<String>,
    /// Count every user however many there are (default `false`: above 50,000 users, a
    /// uniform random sample of about 50,000 is counted and scaled up, each figure with its
    /// margin of error; counting a million users takes about a minute).
    pub every: Option<bool>,
}

/// Per step: how many users each policy would ask it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepImpact {
    /// The step.
    pub step: String,
    /// Users the draft would ask this step (an estimate unless `exact`).
    pub draft: u64,
    /// Half the width of the 95 % confidence interval of `draft` (0 when `exact`).
    pub draft_margin: u64,
    /// Users the published policy would ask this step (an estimate unless `exact`).
    pub published: u64,
    /// Half the width of the 95 % confidence interval of `published` (0 when `exact`).
    pub published_margin: u64,
}

/// How many existing users a draft would prompt, compared with the published policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct Impact {
    /// Users there are.
    pub users: u64,
    /// Users counted: all of them when `exact`, else the random sample's.
    pub examined: u64,
    /// Every user was counted; otherwise the figures are estimates from a uniform random
    /// sample, each with its margin (95 % confidence).
    pub exact: bool,
    /// Users the draft would ask something.
    pub draft_prompted: u64,
    /// Half the width of the 95 % confidence interval of `draft_prompted`.
    pub draft_prompted_margin: u64,
    /// Users the published policy would ask something.
    pub published_prompted: u64,
    /// Half the width of the 95 % confidence interval of `published_prompted`.
    pub published_prompted_margin: u64,
    /// Per step (steps of either policy).
    pub steps: Vec<StepImpact>,
    /// Time the preview took, in milliseconds.
    pub elapsed_ms: u64,
}

fn moment_of(query: &ImpactQuery) -> Result<Moment, ApiError> {
    let kind = match (query.moment.as_deref().unwrap_or("login"), &query.event) {
        ("login", None) => MomentKind::Login,
        ("signup", None) => MomentKind::Signup,
        ("event", Some(name)) if !name.is_empty() => MomentKind::Event { name: name.clone() },
        ("event", _) => return Err(ApiError::field("event", "required", "name the event")),
        ("login" | "signup", Some(_)) => {
            return Err(ApiError::field(
                "event",
                "unexpected",
                "only with moment=event",
            ));
        }
        _ => {
            return Err(ApiError::field(
                "moment",
                "invalid",
                "one of login, signup, event",
            ));
        }
    };
    let mut moment = Moment::new(kind);
    moment.client_id = query.client_id.clone();
    Ok(moment)
}

/// Counts, per step, whom the draft and the published policy would ask: every user, or above
/// 50,000 users a random sample of about 50,000 scaled up (unless `every=true`).
#[utoipa::path(get, path = "/policy/draft/impact", tag = "policy", params(ImpactQuery),
    responses((status = 200, body = Impact), ErrorResponses),
    security(("bearer" = ["policy:read"])))]
pub async fn impact(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ImpactQuery>,
) -> Result<axum::Json<Impact>, ApiError> {
    caller.require(Scope::PolicyRead)?;
    let moment = moment_of(&query)?;
    let extent = match query.every {
        Some(true) => Extent::Every,
        _ => Extent::default(),
    };
    let impact =
        policy_impact::impact(&state.app, &moment, OffsetDateTime::now_utc(), extent).await?;
    Ok(axum::Json(Impact {
        users: impact.users,
        examined: impact.examined,
        exact: impact.exact,
        draft_prompted: impact.draft_prompted.count,
        draft_prompted_margin: impact.draft_prompted.margin,
        published_prompted: impact.published_prompted.count,
        published_prompted_margin: impact.published_prompted.margin,
        steps: impact
            .steps
            .into_iter()
            .map(|step| StepImpact {
                step: step.step,
                draft: step.draft.count,
                draft_margin: step.draft.margin,
                published: step.published.count,
                published_margin: step.published.margin,
            })
            .collect(),
        elapsed_ms: u64::try_from(impact.elapsed.as_millis()).unwrap_or(u64::MAX),
    }))
}
