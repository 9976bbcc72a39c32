//! The OpenAPI 3.1 description: shared error responses and the bearer security scheme.

use std::collections::BTreeMap;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};

use super::problem::{FieldProblem, Problem};

/// Every error an operation can answer, as `application/problem+json`.
pub struct ErrorResponses;

impl IntoResponses for ErrorResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            ("400", "Malformed input, or values refused (see `fields`)"),
            ("401", "Missing, invalid or expired bearer token"),
            ("403", "The token lacks the scope, or is of the wrong kind"),
            ("404", "No such resource"),
            ("405", "Method not allowed"),
            ("409", "Conflicts with existing data"),
            ("412", "If-Match does not name the current version"),
            ("413", "Request body too large"),
            ("415", "The body must be JSON"),
            (
                "429",
                "Asked again too soon; retry after the Retry-After delay",
            ),
            (
                "503",
                "Briefly unavailable; retry after the Retry-After delay",
            ),
        ]
        .into_iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/problem+json", content)
                .build();
            (status.to_owned(), RefOr::T(response))
        })
        .collect()
    }
}

/// Adds the bearer scheme.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token: client credentials with the scope of the operation, \
                         or the signed-in user's token for /me",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document's header; paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Accrete management and self-service API",
        description = "Users, the progressive-profiling policy, clients, connections to \
                       upstream identity providers and statistics for back ends; the signed-in \
                       user's profile and in-app prompts under /me. Errors are RFC 9457 problem \
                       documents."
    ),
    components(schemas(Problem, FieldProblem)),
    modifiers(&Security)
)]
pub struct ApiDoc;
