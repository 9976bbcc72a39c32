//! `POST /api/v1/companion/{name}/check`: whether profiling has a step due for a user of an
//! identity provider Accrete is the companion of (docs/companion.md). Asked server to server by
//! the provider (Auth0's post-login Action) so that users with nothing due never leave it.

use accrete_app::companion::{self, CompanionError};
use accrete_oidc::companion::Facts;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::problem::{ApiError, ApiJson, ApiPath, FieldProblem, FieldProblems};
use crate::state::AppState;

/// The user's facts as the provider knows them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// The user's id at the provider (`auth0|65f0…`).
    #[schema(min_length = 1, max_length = 512)]
    pub user_id: String,
    /// The user's email address.
    #[serde(default)]
    #[schema(max_length = 512)]
    pub email: Option<String>,
    /// Whether the provider verified it.
    #[serde(default)]
    pub email_verified: bool,
    /// The application the user signs in to (the provider's client id).
    #[serde(default)]
    #[schema(max_length = 512)]
    pub client_id: Option<String>,
    /// How many times the user signed in at the provider.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub logins_count: u32,
    /// Values of fields stored in `user_metadata`.
    #[serde(default)]
    pub user_metadata: Map<String, Value>,
    /// Values of fields stored in `app_metadata`.
    #[serde(default)]
    pub app_metadata: Map<String, Value>,
    /// Standard claims (`given_name`, `phone_number`, ...).
    #[serde(default)]
    pub profile: Map<String, Value>,
    /// The user's language.
    #[serde(default)]
    #[schema(max_length = 512)]
    pub locale: Option<String>,
}

/// Whether a step is due.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckAnswer {
    /// A step is due: send the user to `/companion/{name}/start`.
    pub due: bool,
    /// The step due is required (the user cannot skip it).
    pub required: bool,
    /// The step due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// When a step is due: the keys the policy's fields read, by bag; the start token need
    /// carry only those.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads: Option<CheckReads>,
}

/// The keys the policy's fields read, by bag.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckReads {
    /// Keys of `user_metadata`.
    pub user_metadata: Vec<String>,
    /// Keys of `app_metadata`.
    pub app_metadata: Vec<String>,
    /// Standard claims.
    pub profile: Vec<String>,
}

/// Whether a step is due for this user in this application. Reads, never writes.
#[utoipa::path(post, path = "/companion/{name}/check", tag = "companion",
    operation_id = "companion_check",
    params(("name" = String, Path, description = "The companion's name (`[[companions]]`)")),
    request_body = CheckBody,
    responses((status = 200, body = CheckAnswer), ErrorResponses),
    security(("bearer" = ["companion:check"])))]
pub async fn check(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<CheckBody>,
) -> Result<axum::Json<CheckAnswer>, ApiError> {
    caller.require(Scope::CompanionCheck)?;
    let facts = Facts {
        email: body.email,
        email_verified: body.email_verified,
        client_id: body.client_id,
        logins_count: u64::from(body.logins_count),
        user_metadata: body.user_metadata,
        app_metadata: body.app_metadata,
        profile: body.profile,
        locale: body.locale,
    };
    let now = OffsetDateTime::now_utc();
    let due = companion::check(
        &state.app,
        &name,
        &caller.client_id,
        &body.user_id,
        &facts,
        now,
    )
    .await
    .map_err(|error| match error {
        CompanionError::Unknown => ApiError::NotFound("companion"),
        CompanionError::NotItsClient => {
            ApiError::Forbidden("only the companion's own client may ask".into())
        }
        CompanionError::Facts(problems) => {
            let mut fields = FieldProblems::new();
            for (path, message) in problems {
                fields
                    .entry(path.trim_start_matches('/').to_owned())
                    .or_default()
                    .push(FieldProblem {
                        code: "too_long".into(),
                        message,
                    });
            }
            ApiError::check(fields)
                .err()
                .unwrap_or_else(|| ApiError::BadRequest("the facts were refused".into()))
        }
        CompanionError::Store(error) => error.into(),
        other => ApiError::BadRequest(other.to_string()),
    })?;
    Ok(axum::Json(CheckAnswer {
        due: due.step.is_some(),
        required: due.required,
        step: due.step,
        reads: due.reads.map(|reads| CheckReads {
            user_metadata: reads.user_metadata,
            app_metadata: reads.app_metadata,
            profile: reads.profile,
        }),
    }))
}
