//! The console's other actions on a user's page: disable (after typing the address) and
//! enable the account, download everything kept about them, end one or every session, revoke
//! an application's refresh tokens, and replace `app_metadata` with checked JSON. Each calls
//! the use-case the management API or the account center calls, and is recorded in the audit
//! log; `users.rs` opens each action (CSRF, `ManageUsers`, the user).

use std::net::SocketAddr;

use accrete_app::users::{self, UserError};
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::users::{ActionForm, Shown, action, audited, user_page};
use crate::hosted::errors::store_failure;
use crate::hosted::i18n::{text, text_with};
use crate::state::AppState;

/// `POST /admin/users/{id}/disable`: once the address is typed again, the account can no
/// longer sign in and its sessions and refresh tokens end.
pub(super) async fn disable(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ActionForm>,
) -> Response {
    let (console, user) = match action(&state, &headers, jar, &id, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let locale = console.locale;
    if !form
        .disable_confirm
        .trim()
        .eq_ignore_ascii_case(&user.email)
    {
        let mut shown = Shown {
            alert: Some(text(locale, "error.summary")),
            ..Shown::default()
        };
        let error = text(locale, "console.users.disable_mismatch");
        shown.errors.insert("disable_confirm", error);
        return user_page(&state, &console, &id, StatusCode::BAD_REQUEST, shown).await;
    }
    toggle(&state, &console, peer, &id, user.id, true).await
}

/// `POST /admin/users/{id}/enable`: the account may sign in again (its ended sessions and
/// tokens stay ended).
pub(super) async fn enable(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ActionForm>,
) -> Response {
    let (console, user) = match action(&state, &headers, jar, &id, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    toggle(&state, &console, peer, &id, user.id, false).await
}

async fn toggle(
    state: &AppState,
    console: &super::Console,
    peer: SocketAddr,
    id: &str,
    user: Uuid,
    disabled: bool,
) -> Response {
    let locale = console.locale;
    let now = OffsetDateTime::now_utc();
    match users::set_disabled(&state.app, user, disabled, now).await {
        Ok((_, true)) => {
            let states = (
                Some(json!({ "disabled": !disabled })),
                Some(json!({ "disabled": disabled })),
            );
            let action = users::disabled_action(disabled);
            audited(state, &console.actor(peer), action, user, states, now).await;
        }
        Ok((_, false)) => {}
        Err(UserError::Store(error)) => return store_failure(state, locale, &error),
        Err(other) => {
            tracing::error!(%other, "an account could not be disabled or enabled");
            return console.forbidden(state);
        }
    }
    let key = if disabled {
        "console.users.disabled_done"
    } else {
        "console.users.enabled_done"
    };
    user_page(
        state,
        console,
        id,
        StatusCode::OK,
        (Some(text(locale, key)), None),
    )
    .await
}

/// `POST /admin/users/{id}/export`: everything kept about the user as a JSON file (the account
/// center's "Your data"), downloaded.
pub(super) async fn export(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ActionForm>,
) -> Response {
    let (console, user) = match action(&state, &headers, jar, &id, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let now = OffsetDateTime::now_utc();
    let document = match accrete_app::account::export(&state.app, user.id, now).await {
        Ok(document) => document,
        Err(error) => return store_failure(&state, console.locale, &error),
    };
    audited(
        &state,
        &console.actor(peer),
        "user.exported",
        user.id,
        (None, None),
        now,
    )
    .await;
    let body = serde_json::to_vec_pretty(&document).unwrap_or_default();
    let mut response = (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response();
    let name = format!("attachment; filename=\"accrete-user-{}.json\"", user.id);
    if let Ok(value) = HeaderValue::from_str(&name) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The sessions form: one session by its id, or every one (`all`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct SessionsForm {
    csrf: String,
    session: Option<Uuid>,
    all: Option<String>,
}

/// `POST /admin/users/{id}/sessions/end`: signs the user out of one session, or everywhere.
pub(super) async fn end_sessions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<SessionsForm>,
) -> Response {
    let (console, user) = match action(&state, &headers, jar, &id, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let locale = console.locale;
    let now = OffsetDateTime::now_utc();
    let (ended, after) = match (form.all.is_some(), form.session) {
        (true, _) => match accrete_app::account::end_all_sessions(&state.app, user.id, now).await {
            Ok(count) => (count, json!({ "ended": count, "all": true })),
            Err(error) => return store_failure(&state, locale, &error),
        },
        (false, Some(session)) => {
            match accrete_app::account::end_session(&state.app, user.id, session, now).await {
                Ok(done) => (
                    u64::from(done),
                    json!({ "ended": u64::from(done), "session": session }),
                ),
                Err(error) => return store_failure(&state, locale, &error),
            }
        }
        (false, None) => {
            let alert = Some(text(locale, "console.users.session_gone"));
            return user_page(
                &state,
                &console,
                &id,
                StatusCode::BAD_REQUEST,
                (None, alert),
            )
            .await;
        }
    };
    if ended == 0 {
        let alert = Some(text(locale, "console.users.session_gone"));
        return user_page(&state, &console, &id, StatusCode::OK, (None, alert)).await;
    }
    let actor = console.actor(peer);
    audited(
        &state,
        &actor,
        "user.sessions_ended",
        user.id,
        (None, Some(after)),
        now,
    )
    .await;
    let notice = Some(text_with(
        locale,
        "console.users.sessions_ended",
        &[("count", &ended.to_string())],
    ));
    user_page(&state, &console, &id, StatusCode::OK, (notice, None)).await
}

/// The applications form: the client whose refresh tokens are revoked.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ApplicationForm {
    csrf: String,
    client_id: String,
}

/// `POST /admin/users/{id}/applications/revoke`: the application's refresh tokens for this
/// user stop working.
pub(super) async fn revoke_application(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ApplicationForm>,
) -> Response {
    let (console, user) = match action(&state, &headers, jar, &id, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let locale = console.locale;
    let now = OffsetDateTime::now_utc();
    let client = form.client_id.trim();
    let revoked =
        match accrete_app::account::revoke_application(&state.app, user.id, client, now).await {
            Ok(revoked) => revoked,
            Err(error) => return store_failure(&state, locale, &error),
        };
    if !revoked {
        let alert = Some(text(locale, "console.users.application_gone"));
        return user_page(&state, &console, &id, StatusCode::OK, (None, alert)).await;
    }
    let after = Some(json!({ "client_id": client }));
    let actor = console.actor(peer);
    audited(
        &state,
        &actor,
        "user.application_revoked",
        user.id,
        (None, after),
        now,
    )
    .await;
    let notice = Some(text_with(
        locale,
        "console.users.application_revoked",
        &[("client", client)],
    ));
    user_page(&state, &console, &id, StatusCode::OK, (notice, None)).await
}

/// The `app_metadata` form: the whole object as JSON, and the version it was read at.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct MetadataForm {
    csrf: String,
    app_metadata: String,
    version: Option<i64>,
}

/// `POST /admin/users/{id}/app-metadata`: replaces `app_metadata` with the JSON object typed,
/// checked as the API's `PATCH` checks it; refused JSON is shown again with where it breaks.
pub(super) async fn app_metadata(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<MetadataForm>,
) -> Response {
    let (console, user) = match action(&state, &headers, jar, &id, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let locale = console.locale;
    let refused = |message: String| Shown {
        alert: Some(text(locale, "error.summary")),
        errors: [("app_metadata", message)].into_iter().collect(),
        app_metadata: Some(form.app_metadata.clone()),
        ..Shown::default()
    };
    let typed = if form.app_metadata.trim().is_empty() {
        "{}"
    } else {
        form.app_metadata.as_str()
    };
    let new: serde_json::Value = match serde_json::from_str(typed) {
        Ok(value) => value,
        Err(error) => {
            let message = text_with(
                locale,
                "console.users.json_syntax",
                &[
                    ("line", &error.line().to_string()),
                    ("column", &error.column().to_string()),
                ],
            );
            let shown = refused(message);
            return user_page(&state, &console, &id, StatusCode::BAD_REQUEST, shown).await;
        }
    };
    let now = OffsetDateTime::now_utc();
    let actor = console.actor(peer);
    let replaced =
        users::replace_app_metadata(&state.app, user.id, form.version, new, "admin", now).await;
    let (before, after) = match replaced {
        Ok((before, after)) => (before, after),
        Err(UserError::Refused(problem)) if problem.code == "not_an_object" => {
            let shown = refused(text(locale, "console.users.json_not_object"));
            return user_page(&state, &console, &id, StatusCode::BAD_REQUEST, shown).await;
        }
        Err(UserError::Invalid(problems)) => {
            let said: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect();
            let shown = refused(said.join(" · "));
            return user_page(&state, &console, &id, StatusCode::BAD_REQUEST, shown).await;
        }
        Err(UserError::VersionMismatch { .. }) => {
            let shown = refused(text(locale, "console.users.changed_meanwhile"));
            return user_page(&state, &console, &id, StatusCode::CONFLICT, shown).await;
        }
        Err(UserError::Store(error)) => return store_failure(&state, locale, &error),
        Err(other) => {
            let shown = refused(other.to_string());
            return user_page(&state, &console, &id, StatusCode::BAD_REQUEST, shown).await;
        }
    };
    if before != after.app_metadata {
        let change = (
            Some(json!({ "app_metadata": before })),
            Some(json!({ "app_metadata": after.app_metadata })),
        );
        audited(
            &state,
            &actor,
            "user.app_metadata_changed",
            user.id,
            change,
            now,
        )
        .await;
    }
    let notice = Some(text(locale, "console.users.app_metadata_saved"));
    user_page(&state, &console, &id, StatusCode::OK, (notice, None)).await
}
