//! The console's signing keys: each key with its state (signing, next, published, retired), and
//! rotation by an owner once confirmed — the new keys are published at once and sign fifteen
//! minutes later, so that every node and relying party knows them first (the same rotation as
//! `accrete keys rotate`, `crate::keys`).

use std::net::SocketAddr;

use accrete_app::admins::Permission;
use accrete_oidc::keys::Alg;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::policy_forms::Pairs;
use super::{Console, when};
use crate::hosted::csrf;
use crate::hosted::i18n::text;
use crate::state::AppState;

/// How long new keys are only published before they sign.
const ACTIVATE_AFTER: Duration = Duration::minutes(15);

/// `?rotated=1` after a rotation.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct KeysQuery {
    rotated: Option<String>,
}

/// `GET /admin/keys`.
pub(super) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    axum::extract::Query(query): axum::extract::Query<KeysQuery>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/keys").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let notice = query
        .rotated
        .map(|_| text(console.locale, "console.keys.rotated"));
    page(&state, &console, notice, None, StatusCode::OK).await
}

async fn page(
    state: &AppState,
    console: &Console,
    notice: Option<String>,
    alert: Option<String>,
    status: StatusCode,
) -> Response {
    let locale = console.locale;
    let rows = match state
        .keys
        .rows(state.store.as_ref(), OffsetDateTime::now_utc())
        .await
    {
        Ok(rows) => rows,
        Err(error) => {
            tracing::error!(%error, "the console could not read the signing keys");
            return super::problem_page(
                state,
                locale,
                StatusCode::SERVICE_UNAVAILABLE,
                &text(locale, "error.server"),
            );
        }
    };
    let rows: Vec<Value> = rows
        .iter()
        .filter(|r| r.state != "retired")
        .map(|r| {
            context! {
                alg => r.alg,
                kid => r.kid,
                state => text(locale, &format!("console.keys.state.{}", r.state)),
                active_from => when(locale, r.active_from),
                retired_at => r.retired_at.map(|at| when(locale, at)),
            }
        })
        .collect();
    let algs: Vec<&str> = Alg::ALL.iter().map(|a| a.as_str()).collect();
    let extra = context! {
        rows,
        algs,
        notice,
        alert,
        may_rotate => console.may(Permission::RotateKeys),
    };
    console.render(state, status, "console_keys.html", "keys", extra)
}

/// `POST /admin/keys/rotate`: `alg` (repeated), `confirm=yes`.
pub(super) async fn rotate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let form = Pairs::parse(&body);
    let console = match Console::open(&state, &headers, jar, "/admin/keys").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let locale = console.locale;
    if !console.may(Permission::RotateKeys) {
        return console.forbidden(&state);
    }
    if !csrf::verify(&console.jar, Some(form.get("csrf"))) {
        let alert = Some(text(locale, "error.csrf"));
        return page(&state, &console, None, alert, StatusCode::FORBIDDEN).await;
    }
    let algs: Vec<Alg> = form.all("alg").into_iter().filter_map(Alg::parse).collect();
    if algs.is_empty() || form.get("confirm") != "yes" {
        let alert = Some(text(locale, "console.keys.confirm"));
        return page(&state, &console, None, alert, StatusCode::BAD_REQUEST).await;
    }
    // The most dangerous: only right after signing in.
    if let Some(again) = console.require_recent_sign_in("/admin/keys") {
        return again;
    }
    let now = OffsetDateTime::now_utc();
    match state
        .keys
        .rotate(state.store.as_ref(), &algs, ACTIVATE_AFTER, now)
        .await
    {
        Ok(done) => {
            let after: Vec<serde_json::Value> = done
                .iter()
                .map(|r| {
                    json!({
                        "alg": r.alg.as_str(),
                        "kid": r.kid,
                        "active_from": r.active_from.unix_timestamp(),
                        "replaces": r.retiring.iter().map(|(kid, _)| kid).collect::<Vec<_>>(),
                    })
                })
                .collect();
            console
                .audit(
                    &state,
                    peer,
                    "keys.rotated",
                    Some("keys".into()),
                    (None, Some(json!(after))),
                )
                .await;
            Redirect::to("/admin/keys?rotated=1").into_response()
        }
        Err(error) => {
            tracing::error!(%error, "the console could not rotate the signing keys");
            super::problem_page(
                &state,
                locale,
                StatusCode::SERVICE_UNAVAILABLE,
                &text(locale, "error.server"),
            )
        }
    }
}
