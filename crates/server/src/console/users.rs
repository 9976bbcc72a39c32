//! The console's users: search (an email address, a field's value, a missing field), a user's
//! page (each value with its source, the history as a timeline, sign-in counts, prompts,
//! sessions, applications, sign-in methods, factors, `app_metadata`), and support's actions (a
//! password reset mail, resetting second factors, deleting the account after typing its
//! address; the others are in `user_actions.rs`), each recorded in the audit log. The same
//! use-cases as `/api/v1/users` and the account center.

use std::net::SocketAddr;

use accrete_app::admins::{self, Permission};
use accrete_app::fields::ConsentRecord;
use accrete_app::users::{self, Filters, UserError};
use accrete_store::{StoreError, User};
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Console, when};
use crate::hosted::account::sessions::device_words;
use crate::hosted::csrf;
use crate::hosted::errors::store_failure;
use crate::hosted::i18n::{long_date, text, text_with};
use crate::state::AppState;

/// The search form.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct SearchQuery {
    /// An email address (exact, any case).
    email: String,
    /// A field of the policy, or `<location>.<key>`.
    field: String,
    /// With `field`: the value it has; empty: users who miss it.
    value: String,
    /// The next page.
    after: Option<Uuid>,
}

const PAGE: u32 = 50;

fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A stored value on a user's page: a consent as its record in words ("Accepted version
/// 2026-01 · 1 March 2026, 12:34 UTC · shop · https://…"), anything else as [`compact`].
fn shown_value(locale: &str, value: &serde_json::Value) -> String {
    let Some(record) = ConsentRecord::of(value) else {
        return compact(value);
    };
    let key = if record.accepted {
        "console.users.consent_accepted"
    } else {
        "console.users.consent_declined"
    };
    let mut parts = vec![text_with(locale, key, &[("version", &record.version)])];
    parts.extend(record.at.map(|at| when(locale, at)));
    parts.extend(record.client_id);
    parts.extend(record.url);
    parts.join(" · ")
}

/// `GET /admin/users`.
pub(super) async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<SearchQuery>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/users").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let locale = console.locale;
    let field = query.field.trim();
    let filters = Filters {
        email: Some(query.email.trim().to_owned()).filter(|e| !e.is_empty()),
        field: Some(field.to_owned()).filter(|f| !f.is_empty()),
        value: Some(query.value.trim().to_owned()).filter(|v| !v.is_empty() && !field.is_empty()),
        missing: (!field.is_empty() && query.value.trim().is_empty()).then_some(true),
        limit: Some(PAGE),
        cursor: query.after,
        ..Filters::default()
    };
    let (page, alert) = match users::list(&state.app, filters).await {
        Ok(page) => (Some(page), None),
        Err(UserError::Refused(problem)) => (None, Some(problem.message)),
        Err(UserError::Store(error)) => return store_failure(&state, locale, &error),
        Err(other) => (None, Some(other.to_string())),
    };
    let rows: Vec<Value> = page
        .as_ref()
        .map(|p| {
            p.items
                .iter()
                .map(|u| {
                    context! {
                        id => u.id.to_string(),
                        email => u.email,
                        verified => u.email_verified,
                        created => long_date(locale, u.created_at.date()),
                        logins => u.credentialed_logins,
                        sso => u.sso_logins,
                        disabled => u.is_disabled(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let next = page.and_then(|p| p.next_cursor).map(|c| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        url.append_pair("email", &query.email)
            .append_pair("field", &query.field)
            .append_pair("value", &query.value)
            .append_pair("after", &c.to_string());
        format!("/admin/users?{}", url.finish())
    });
    let extra = context! {
        rows,
        next,
        alert,
        q => context! { email => query.email, field => query.field, value => query.value },
    };
    let status = if extra.get_attr("alert").is_ok_and(|a| !a.is_none()) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    console.render(&state, status, "console_users.html", "users", extra)
}

/// `GET /admin/users/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let path = format!("/admin/users/{id}");
    let console = match Console::open(&state, &headers, jar, &path).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let page = user_page(&state, &console, &id, StatusCode::OK, (None, None)).await;
    // A read of a user who is there: a page of "no such user" showed nobody's data.
    if page.status() == StatusCode::OK
        && let Ok(user_id) = Uuid::parse_str(&id)
    {
        let actor = console.actor(peer);
        users::record_read(
            &state.app,
            &actor,
            user_id,
            "profile",
            OffsetDateTime::now_utc(),
        )
        .await;
    }
    page
}

/// What a user's page says after an action: a notice or an alert at the top, errors next to
/// the inputs they concern, and the `app_metadata` text as typed (when it was refused).
#[derive(Debug, Default)]
pub(super) struct Shown {
    pub notice: Option<String>,
    pub alert: Option<String>,
    pub errors: std::collections::BTreeMap<&'static str, String>,
    pub app_metadata: Option<String>,
}

impl From<(Option<String>, Option<String>)> for Shown {
    fn from((notice, alert): (Option<String>, Option<String>)) -> Shown {
        Shown {
            notice,
            alert,
            ..Shown::default()
        }
    }
}

pub(super) async fn user_page(
    state: &AppState,
    console: &Console,
    id: &str,
    status: StatusCode,
    shown: impl Into<Shown>,
) -> Response {
    let Shown {
        notice,
        alert,
        errors,
        app_metadata,
    } = shown.into();
    let locale = console.locale;
    let not_found = || {
        super::problem_page(
            state,
            locale,
            StatusCode::NOT_FOUND,
            &text(locale, "console.users.not_found"),
        )
    };
    let Ok(id) = Uuid::parse_str(id) else {
        return not_found();
    };
    let user = match users::get(&state.app, id).await {
        Ok(user) => user,
        Err(UserError::NotFound) => return not_found(),
        Err(UserError::Store(error)) => return store_failure(state, locale, &error),
        Err(other) => {
            tracing::error!(%other, "a user could not be read for the console");
            return not_found();
        }
    };
    let now = OffsetDateTime::now_utc();
    let store = &state.store;
    let gathered = async {
        Ok::<_, StoreError>((
            store.value_provenance(id).await?,
            store.user_history(id).await?,
            store.prompt_states(id).await?,
            store.list_user_sessions(id, now).await?,
            accrete_app::account::applications(&state.app, id, now).await?,
            store.user_identities(id).await?,
            accrete_app::mfa::status(&state.app, id).await?,
            accrete_app::passkeys::list(&state.app, id).await?,
        ))
    };
    let (provenance, history, prompts, sessions, applications, identities, factors, passkeys) =
        match gathered.await {
            Ok(all) => all,
            Err(error) => return store_failure(state, locale, &error),
        };
    let mut values = Vec::new();
    for (location, bag) in [
        (accrete_store::Location::Profile, &user.profile),
        (accrete_store::Location::UserMetadata, &user.user_metadata),
        (accrete_store::Location::AppMetadata, &user.app_metadata),
    ] {
        if let Some(map) = bag.as_object() {
            for (key, value) in map {
                let origin = provenance
                    .iter()
                    .find(|p| p.location == location && &p.key == key);
                values.push(context! {
                    key => format!("{}.{}", location.as_str(), key),
                    value => shown_value(locale, value),
                    source => origin.map(|p| p.source.clone()),
                    since => origin.map(|p| when(locale, p.updated_at)),
                });
            }
        }
    }
    let timeline: Vec<Value> = history
        .iter()
        .rev()
        .take(100)
        .map(|h| {
            context! {
                at => when(locale, h.changed_at),
                key => format!("{}.{}", h.location.as_str(), h.key),
                old => h.old_value.as_ref().map(compact),
                new => h.new_value.as_ref().map(compact),
                source => h.source,
            }
        })
        .collect();
    let prompts: Vec<Value> = prompts
        .iter()
        .map(|p| {
            context! {
                step => p.step,
                shown => p.shown,
                answered => p.answered,
                skipped => p.skipped,
                last => p.last_shown_at.map(|at| when(locale, at)),
            }
        })
        .collect();
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|s| {
            context! {
                id => s.id.to_string(),
                device => device_words(locale, s.user_agent.as_deref()),
                ip => s.ip,
                since => when(locale, s.created_at),
                seen => when(locale, s.last_seen_at),
                amr => s.amr.join(" "),
            }
        })
        .collect();
    let applications: Vec<Value> = applications
        .iter()
        .map(|a| {
            context! {
                client_id => a.client_id,
                name => a.client_name,
                scopes => a.scopes.join(" "),
                since => when(locale, a.first_used_at),
                last => when(locale, a.last_used_at),
            }
        })
        .collect();
    let mut methods = Vec::new();
    if user.password_hash.is_some() {
        methods.push(text(locale, "account.password_method"));
    }
    for identity in &identities {
        methods.push(identity.connection.clone());
    }
    if !passkeys.is_empty() {
        methods.push(text_with(
            locale,
            "console.users.passkeys",
            &[("count", &passkeys.len().to_string())],
        ));
    }
    let factors: Vec<String> = factors
        .factors
        .iter()
        .map(|f| match f.kind {
            accrete_store::FactorKind::Totp => text(locale, "account.mfa.totp"),
            accrete_store::FactorKind::Sms => {
                text(locale, "account.mfa.sms").replace("{number}", &f.label)
            }
        })
        .collect();
    let extra = context! {
        user => context! {
            id => user.id.to_string(),
            email => user.email,
            verified => user.email_verified,
            created => when(locale, user.created_at),
            last_login => user.last_login_at.map(|at| when(locale, at)),
            logins => user.credentialed_logins,
            sso => user.sso_logins,
            version => user.version,
            disabled => user.disabled_at.map(|at| when(locale, at)),
            app_metadata => serde_json::to_string_pretty(&user.app_metadata).unwrap_or_default(),
        },
        app_metadata_text => app_metadata,
        errors,
        applications,
        values,
        timeline,
        prompts,
        sessions,
        methods,
        factors,
        may_manage => console.may(Permission::ManageUsers),
        notice,
        alert,
    };
    console.render(state, status, "console_user.html", "users", extra)
}

/// The forms of a user's page.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ActionForm {
    pub csrf: String,
    /// For deleting: the account's address, typed again.
    pub confirm: String,
    /// For disabling: the account's address, typed again.
    pub disable_confirm: String,
}

/// Opens an action on user `id`: the administrator may manage users and the CSRF token is
/// right; the user.
pub(super) async fn action(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    id: &str,
    csrf_token: &str,
) -> Result<(Console, User), Response> {
    let path = format!("/admin/users/{id}");
    let console = Console::open(state, headers, jar, &path).await?;
    if !csrf::verify(&console.jar, Some(csrf_token)) {
        let alert = Some(text(console.locale, "error.csrf"));
        return Err(user_page(state, &console, id, StatusCode::FORBIDDEN, (None, alert)).await);
    }
    if !console.may(Permission::ManageUsers) {
        return Err(console.forbidden(state));
    }
    let not_found = || {
        super::problem_page(
            state,
            console.locale,
            StatusCode::NOT_FOUND,
            &text(console.locale, "console.users.not_found"),
        )
    };
    let Ok(uuid) = Uuid::parse_str(id) else {
        return Err(not_found());
    };
    match users::get(&state.app, uuid).await {
        Ok(user) => Ok((console, user)),
        Err(UserError::Store(error)) => Err(store_failure(state, console.locale, &error)),
        Err(_) => Err(not_found()),
    }
}

/// Records a support action on `user` in the audit log (the action stands if it cannot be
/// recorded; that is said loudly).
pub(super) async fn audited(
    state: &AppState,
    actor: &admins::Actor,
    action: &str,
    user: Uuid,
    change: (Option<serde_json::Value>, Option<serde_json::Value>),
    now: OffsetDateTime,
) {
    let target = Some(format!("user:{user}"));
    if let Err(error) = admins::audit(&state.app, actor, action, target, change, now).await {
        tracing::error!(%error, action, %user, "a support action could not be written to the audit log");
    }
}

/// `POST /admin/users/{id}/password-reset`.
pub(super) async fn password_reset(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ActionForm>,
) -> Response {
    use accrete_app::password_reset::{AdminReset, for_user};
    let (console, user) = match action(&state, &headers, jar, &id, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let locale = console.locale;
    let now = OffsetDateTime::now_utc();
    let outcome = match for_user(&state.app, user.id, now).await {
        Ok(AdminReset::Sent { to, .. }) => {
            let actor = console.actor(peer);
            audited(
                &state,
                &actor,
                "user.password_reset_sent",
                user.id,
                (None, None),
                now,
            )
            .await;
            (
                Some(text_with(
                    locale,
                    "console.users.reset_sent",
                    &[("email", &to)],
                )),
                None,
            )
        }
        Ok(AdminReset::TooSoon { .. }) => {
            (None, Some(text(locale, "console.users.reset_too_soon")))
        }
        Err(error) => return store_failure(&state, locale, &error),
    };
    user_page(&state, &console, &id, StatusCode::OK, outcome).await
}

/// `POST /admin/users/{id}/factors/reset`.
pub(super) async fn reset_factors(
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
    let now = OffsetDateTime::now_utc();
    let actor = console.actor(peer);
    let removed = match accrete_app::mfa::reset(&state.app, user.id, &actor.name, now).await {
        Ok(removed) => removed,
        Err(error) => return store_failure(&state, locale, &error),
    };
    let after = Some(json!({ "removed": removed }));
    audited(
        &state,
        &actor,
        "user.factors_reset",
        user.id,
        (None, after),
        now,
    )
    .await;
    let notice = Some(text_with(
        locale,
        "console.users.factors_reset",
        &[("count", &removed.to_string())],
    ));
    user_page(&state, &console, &id, StatusCode::OK, (notice, None)).await
}

/// `POST /admin/users/{id}/delete`: deletes the account once its address is typed again.
pub(super) async fn delete(
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
    if !form.confirm.trim().eq_ignore_ascii_case(&user.email) {
        let mut shown = Shown {
            alert: Some(text(locale, "error.summary")),
            ..Shown::default()
        };
        let error = text(locale, "console.users.confirm_mismatch");
        shown.errors.insert("confirm", error);
        return user_page(&state, &console, &id, StatusCode::BAD_REQUEST, shown).await;
    }
    // The most dangerous: only right after signing in.
    if let Some(again) = console.require_recent_sign_in(&format!("/admin/users/{id}")) {
        return again;
    }
    let now = OffsetDateTime::now_utc();
    match users::delete(&state.app, user.id, now).await {
        Ok(()) | Err(UserError::NotFound) => {}
        Err(UserError::LastOwner) => {
            let shown = Shown {
                alert: Some(text(locale, "console.users.last_owner")),
                ..Shown::default()
            };
            return user_page(&state, &console, &id, StatusCode::CONFLICT, shown).await;
        }
        Err(UserError::Store(error)) => return store_failure(&state, locale, &error),
        Err(other) => {
            tracing::error!(%other, "a user could not be deleted from the console");
            return console.forbidden(&state);
        }
    }
    let actor = console.actor(peer);
    audited(&state, &actor, "user.deleted", user.id, (None, None), now).await;
    Redirect::to("/admin/users?deleted=1").into_response()
}
