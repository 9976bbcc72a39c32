//! Operational endpoints: liveness, readiness and Prometheus metrics.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::layers::metrics_handle;
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and serving HTTP.
async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response()
}

/// The database answers and its schema is the one this binary expects.
async fn readyz(State(state): State<AppState>) -> Response {
    if let Err(e) = state.store.ping().await {
        return not_ready(format!("database unreachable: {e}"));
    }
    match state.store.migration_status().await {
        Ok(status) if status.current => {
            (StatusCode::OK, axum::Json(json!({ "status": "ready" }))).into_response()
        }
        Ok(status) => not_ready(format!(
            "database schema not current: {} of {} migrations applied; run `accrete migrate`",
            status.applied, status.known
        )),
        Err(e) => not_ready(format!("cannot read migration state: {e}")),
    }
}

fn not_ready(reason: String) -> Response {
    tracing::warn!(%reason, "not ready");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        axum::Json(json!({ "status": "unavailable", "reason": reason })),
    )
        .into_response()
}

async fn metrics() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics_handle().render(),
    )
        .into_response()
}
