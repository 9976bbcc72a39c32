//! The home page and the stylesheets: `GET /`, `/assets/accrete.css`, `/assets/theme.css` and
//! `/assets/theme/{client_id}.css`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::templates::{ClientTheme, STYLESHEET, ThemeSheet};
use super::transaction::TransactionView;
use crate::state::AppState;

/// `GET /`: what this server is, a link to the account page, and discovery for developers.
pub(crate) async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let locale = super::transaction::locale(&TransactionView::default(), &headers);
    state
        .pages
        .render(StatusCode::OK, "home.html", minijinja::context! { locale })
}

/// Serves the stylesheet.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// `GET /assets/theme.css`: the server's theme stylesheet (a comment only without a theme).
pub(crate) async fn server_theme(State(state): State<AppState>, headers: HeaderMap) -> Response {
    state.pages.look().sheet.response(&headers)
}

/// `GET /assets/theme/{client_id}.css`: a client's theme over the server's; 404 for an unknown
/// client.
pub(crate) async fn client_theme(
    State(state): State<AppState>,
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such theme").into_response();
    let Some(client_id) = file.strip_suffix(".css") else {
        return not_found();
    };
    match state.app.clients.get(state.store.as_ref(), client_id).await {
        Ok(Some(client)) => {
            let merged = ClientTheme::of(&client).theme.over(&state.pages.theme());
            ThemeSheet::of(&merged).response(&headers)
        }
        Ok(None) => not_found(),
        Err(error) => {
            tracing::error!(%error, "storage failure serving a theme stylesheet");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "briefly unavailable",
            )
                .into_response()
        }
    }
}
