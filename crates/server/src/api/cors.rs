//! CORS for `/api/v1/me`: only the web origins registered by clients (`allowed_origins`).
//!
//! A preflight carries no token, so it is allowed for an origin some client registered; the
//! actual response names the origin only if the calling token's client registered it.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::CallerSlot;
use crate::state::AppState;

const ALLOW_METHODS: &str = "GET, PATCH, POST";
const ALLOW_HEADERS: &str = "authorization, content-type, accept-language";

/// The CORS middleware of the self-service routes.
pub async fn cors(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if allowed_by(&state, &origin, None).await {
            let headers = response.headers_mut();
            allow(headers, &origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
        return response;
    }
    let slot = CallerSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let client = slot.0.get().cloned();
    if allowed_by(&state, &origin, client.as_deref()).await {
        allow(response.headers_mut(), &origin);
    }
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

fn allow(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("etag, www-authenticate"),
        );
    }
}

/// Whether `client` (or, without a verified caller, any client) registered `origin`.
async fn allowed_by(state: &AppState, origin: &str, client: Option<&str>) -> bool {
    match client {
        Some(id) => matches!(
            state.app.clients.get(state.store.as_ref(), id).await,
            Ok(Some(c)) if c.allowed_origins.iter().any(|o| o == origin)
        ),
        None => state.store.list_clients().await.is_ok_and(|clients| {
            clients
                .iter()
                .any(|c| c.allowed_origins.iter().any(|o| o == origin))
        }),
    }
}
