//! Middleware applied to every route: request ids, tracing, metrics, security headers.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Content security policy of every response; pages carry no inline script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub(crate) fn apply(router: Router, state: &AppState) -> Router {
    let https = state.config.issuer().starts_with("https://");
    router
        .layer(middleware::from_fn(move |req, next| security_headers(https, req, next)))
        .layer(middleware::from_fn(record_metrics))
        .layer(middleware::from_fn(access_log))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &Request| {
                        // The path only: query strings may carry codes and tokens.
                        let id = req
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
}

/// The process-wide Prometheus recorder (metrics are global to the process).
pub(crate) fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; ours then stays empty but valid.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The route template of a request (`/assets/theme/{file}`), `unmatched` when no route took it:
/// the one label of metrics and access log, never the raw path.
fn route_label(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned())
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let _ = metrics_handle();
    let route = route_label(&req);
    let method = method_label(req.method());
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("route", route),
        ("method", method.to_owned()),
        ("status", status),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}

/// The method as a metrics label: the standard methods by name, anything else `other`, so that
/// made-up methods cannot add series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Routes probed or scraped every few seconds: logged at debug, so that the log shows traffic.
const QUIET_ROUTES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The access log: one line per request, inside the request's span (method, path, request id),
/// with the route template (never the query string, which may carry codes or tokens), the
/// status and the duration.
async fn access_log(req: Request, next: Next) -> Response {
    let route = route_label(&req);
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    // Milliseconds with three decimals.
    let duration_ms = (start.elapsed().as_micros() as f64) / 1000.0;
    if QUIET_ROUTES.contains(&route.as_str()) {
        tracing::debug!(%route, status, duration_ms, "request");
    } else {
        tracing::info!(%route, status, duration_ms, "request");
    }
    response
}

async fn security_headers(https: bool, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let defaults: [(HeaderName, &'static str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    if https {
        headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static("max-age=31536000"));
    }
    response
}
