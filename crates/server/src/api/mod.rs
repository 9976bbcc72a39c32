//! The management and self-service API under `/api/v1`, described by OpenAPI 3.1 at
//! `/api/v1/openapi.json`. Handlers are thin: parse (errors become problem documents), check
//! the bearer token's scope, call a use-case of `accrete_app`, map the result.

mod audit;
mod auth;
mod clients;
mod companion;
mod connections;
mod cors;
mod docs;
mod facts;
mod imports;
mod me;
mod policy;
mod problem;
mod simulate;
mod stats;
mod theme;
mod users;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The API's routes, with the OpenAPI document served at `/api/v1/openapi.json`.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let (me, me_doc) = OpenApiRouter::new()
        .routes(routes!(me::get, me::patch))
        .routes(routes!(me::export))
        .routes(routes!(me::event))
        .routes(routes!(me::answer))
        .routes(routes!(me::skip))
        .split_for_parts();
    // The CORS layer goes on last so that it also answers preflights (OPTIONS has no route).
    let me = me.method_not_allowed_fallback(problem::wrong_method).layer(
        axum::middleware::from_fn_with_state(state.clone(), cors::cors),
    );
    let (router, openapi) = OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::get, users::patch, users::delete))
        .routes(routes!(users::history))
        .routes(routes!(users::password_reset))
        .routes(routes!(users::reset_factors))
        .routes(routes!(users::enrich))
        .routes(routes!(imports::create, imports::list))
        .routes(routes!(imports::get))
        .routes(routes!(imports::report))
        .routes(routes!(policy::published))
        .routes(routes!(
            policy::draft,
            policy::put_draft,
            policy::discard_draft
        ))
        .routes(routes!(policy::validate))
        .routes(routes!(simulate::simulate))
        .routes(routes!(simulate::impact))
        .routes(routes!(policy::publish))
        .routes(routes!(policy::versions))
        .routes(routes!(policy::version))
        .routes(routes!(policy::rollback))
        .routes(routes!(policy::fields))
        .routes(routes!(policy::field))
        .routes(routes!(policy::steps))
        .routes(routes!(policy::step))
        .routes(routes!(clients::create, clients::list))
        .routes(routes!(clients::get, clients::update, clients::delete))
        .routes(routes!(clients::rotate_secret))
        .routes(routes!(connections::create, connections::list))
        .routes(routes!(
            connections::get,
            connections::replace,
            connections::delete
        ))
        .routes(routes!(connections::test))
        .routes(routes!(stats::stats))
        .routes(routes!(audit::list))
        .routes(routes!(audit::admins))
        .routes(routes!(audit::grant, audit::revoke))
        .routes(routes!(theme::get, theme::put))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::replay))
        .routes(routes!(webhooks::replay_range))
        .routes(routes!(companion::check))
        .split_for_parts();
    let mut openapi = openapi;
    openapi.merge(me_doc);
    clients::document_rules(&mut openapi);
    openapi.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    let document: Arc<[u8]> = openapi.to_json().unwrap_or_default().into_bytes().into();
    let api = router
        .method_not_allowed_fallback(problem::wrong_method)
        .merge(me)
        .route(
            "/openapi.json",
            axum::routing::get(move || openapi_json(document.clone())),
        )
        .fallback(problem::no_route);
    Router::new()
        .nest("/api/v1", api)
        .route("/widget.js", axum::routing::get(widget))
}

/// The embeddable widget.
const WIDGET: &str = include_str!("../../assets/widget.js");

async fn widget() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        WIDGET,
    )
        .into_response()
}

async fn openapi_json(document: Arc<[u8]>) -> Response {
    let mut response = document.to_vec().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
