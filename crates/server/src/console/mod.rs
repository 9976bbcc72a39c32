//! The admin console at `/admin` (docs/console.md): server-rendered pages in the hosted pages'
//! template engine, for administrators signed in through this server (`auth.rs`). Each page
//! calls the same use-cases as the management API; the role decides what is shown and what is
//! accepted (a refused change is refused by the server, not only hidden).

mod auth;
mod charts;
mod client_form;
mod clients;
mod keys;
mod overview;
mod policy;
mod policy_forms;
mod preview;
mod theme;
mod user_actions;
mod users;
mod webhooks;

use std::net::SocketAddr;

use accrete_app::admins::{self, Actor, AdminError, Permission, Role};
use accrete_store::{ConsoleSession, User};
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use time::OffsetDateTime;

use crate::hosted::csrf;
use crate::hosted::errors::{error_page, store_failure};
use crate::hosted::i18n::{long_date, page_locale, text, text_with, utc_time};
use crate::hosted::transaction::urlencode;
use crate::state::AppState;

/// The console session's cookie (HttpOnly, only sent to `/admin`).
pub(crate) const COOKIE: &str = "accrete_console";

/// The console's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(overview::overview))
        .route("/admin/login", get(auth::login))
        .route("/admin/callback", get(auth::callback))
        .route("/admin/logout", post(auth::logout))
        .route("/admin/setup", get(auth::setup))
        .route("/admin/audit", get(audit))
        .route("/admin/users", get(users::search))
        .route("/admin/users/{id}", get(users::show))
        .route(
            "/admin/users/{id}/password-reset",
            post(users::password_reset),
        )
        .route(
            "/admin/users/{id}/factors/reset",
            post(users::reset_factors),
        )
        .route("/admin/users/{id}/delete", post(users::delete))
        .route("/admin/users/{id}/disable", post(user_actions::disable))
        .route("/admin/users/{id}/enable", post(user_actions::enable))
        .route("/admin/users/{id}/export", post(user_actions::export))
        .route(
            "/admin/users/{id}/sessions/end",
            post(user_actions::end_sessions),
        )
        .route(
            "/admin/users/{id}/applications/revoke",
            post(user_actions::revoke_application),
        )
        .route(
            "/admin/users/{id}/app-metadata",
            post(user_actions::app_metadata),
        )
        .route("/admin/admins", get(administrators).post(change_role))
        .route("/admin/keys", get(keys::show))
        .route("/admin/keys/rotate", post(keys::rotate))
        .route("/admin/policy", get(policy::index))
        .route("/admin/policy/fields", post(policy::save_field))
        .route("/admin/policy/fields/new", get(policy::field_form))
        .route("/admin/policy/fields/check", post(policy::check_field))
        .route("/admin/policy/fields/{key}", get(policy::field_form))
        .route(
            "/admin/policy/fields/{key}/delete",
            post(policy::remove_field),
        )
        .route("/admin/policy/steps", post(policy::save_step))
        .route("/admin/policy/steps/new", get(policy::step_form))
        .route("/admin/policy/steps/check", post(policy::check_step))
        .route("/admin/policy/steps/{id}", get(policy::step_form))
        .route("/admin/policy/steps/{id}/delete", post(policy::remove_step))
        .route(
            "/admin/policy/source",
            get(policy::source).post(policy::save_source),
        )
        .route("/admin/policy/diff", get(policy::diff))
        .route("/admin/policy/publish", post(policy::publish))
        .route("/admin/policy/discard", post(policy::discard))
        .route("/admin/policy/history", get(policy::history))
        .route("/admin/policy/rollback", post(policy::rollback))
        .route(
            "/admin/policy/simulate",
            get(policy::simulator).post(policy::simulate),
        )
        .route("/admin/policy/impact", get(policy::impact))
        .route("/assets/console-check.js", get(policy::check_script))
        .route("/admin/clients", get(clients::list))
        .route(
            "/admin/clients/new",
            get(clients::new).post(clients::create),
        )
        .route(
            "/admin/clients/{id}",
            get(clients::show).post(clients::update),
        )
        .route(
            "/admin/clients/{id}/secret",
            get(clients::confirm_rotation).post(clients::rotate_secret),
        )
        .route(
            "/admin/clients/{id}/delete",
            get(clients::confirm_deletion).post(clients::delete),
        )
        .route(
            "/admin/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/admin/webhooks/{id}",
            get(webhooks::show).post(webhooks::update),
        )
        .route("/admin/webhooks/{id}/replay", post(webhooks::replay_range))
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery_id}/replay",
            post(webhooks::replay),
        )
        .route(
            "/admin/webhooks/{id}/secret",
            get(webhooks::confirm_rotation).post(webhooks::rotate_secret),
        )
        .route(
            "/admin/webhooks/{id}/delete",
            get(webhooks::confirm_deletion).post(webhooks::delete),
        )
        .route("/admin/theme", get(theme::show).post(theme::submit))
        .route("/admin/preview/{page}", get(preview::page))
        .route("/assets/console-preview.js", get(preview_script))
}

/// The script of the console's live previews (`assets/console-preview.js`).
const PREVIEW_SCRIPT: &str = include_str!("../../assets/console-preview.js");

/// `GET /assets/console-preview.js`.
async fn preview_script() -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        PREVIEW_SCRIPT,
    )
        .into_response()
}

/// The console's locale (the browser's languages).
pub(crate) fn console_locale(headers: &HeaderMap) -> &'static str {
    page_locale(None, headers)
}

/// A console problem as a page for people.
pub(crate) fn problem_page(
    state: &AppState,
    locale: &str,
    status: StatusCode,
    message: &str,
) -> Response {
    error_page(state, status, locale, message.to_owned())
}

/// A moment as the console shows it: "3 December 2026, 14:32 UTC".
fn when(locale: &str, at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{}, {}", long_date(locale, at.date()), utc_time(locale, at))
}

/// An open console page: the administrator, their role, the page's locale and CSRF token.
struct Console {
    session: ConsoleSession,
    user: User,
    role: Role,
    locale: &'static str,
    jar: CookieJar,
    csrf: String,
}

impl Console {
    /// The signed-in administrator, or the way to sign in.
    async fn open(
        state: &AppState,
        headers: &HeaderMap,
        jar: CookieJar,
        path: &str,
    ) -> Result<Console, Response> {
        let now = OffsetDateTime::now_utc();
        let locale = console_locale(headers);
        // Back to this very page after signing in.
        let sign_in = || {
            let to = format!("/admin/login?next={}", urlencode(path));
            Redirect::to(&to).into_response()
        };
        let Some(token) = jar.get(COOKIE).map(|c| c.value().to_owned()) else {
            return Err(sign_in());
        };
        let (session, user, role) = match admins::session(&state.app, &token, now).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(sign_in()),
            Err(error) => return Err(store_failure(state, locale, &error)),
        };
        let (jar, csrf) = csrf::token(jar, state.secure_cookies());
        Ok(Console {
            session,
            user,
            role,
            locale,
            jar,
            csrf,
        })
    }

    /// Whether the administrator may make this kind of change.
    fn may(&self, permission: Permission) -> bool {
        self.role.permits(permission)
    }

    /// A change refused to this role: 403 with a sentence.
    fn forbidden(&self, state: &AppState) -> Response {
        problem_page(
            state,
            self.locale,
            StatusCode::FORBIDDEN,
            &text(self.locale, "console.forbidden"),
        )
    }

    /// The most dangerous actions (deleting a client, rotating its secret) want a recent
    /// sign-in ([`admins::RECENT_SIGN_IN`]): otherwise nothing is done and the administrator
    /// signs in again (`prompt=login`) and comes back to `back_to` to confirm again: the
    /// redirect to answer instead, if so.
    fn require_recent_sign_in(&self, back_to: &str) -> Option<Response> {
        if admins::signed_in_recently(&self.session, OffsetDateTime::now_utc()) {
            return None;
        }
        let to = format!("/admin/login?next={}&fresh=1", urlencode(back_to));
        Some((self.jar.clone(), Redirect::to(&to)).into_response())
    }

    fn actor(&self, peer: SocketAddr) -> Actor {
        Actor::user(self.user.id, Some(peer.ip().to_string()))
    }

    /// Records a change made by this administrator (a failure to record is logged: the change
    /// itself is made).
    async fn audit(
        &self,
        state: &AppState,
        peer: SocketAddr,
        action: &str,
        target: Option<String>,
        change: (Option<serde_json::Value>, Option<serde_json::Value>),
    ) {
        let now = OffsetDateTime::now_utc();
        if let Err(error) =
            admins::audit(&state.app, &self.actor(peer), action, target, change, now).await
        {
            tracing::error!(%error, action, "a console change could not be written to the audit log");
        }
    }

    fn render(
        &self,
        state: &AppState,
        status: StatusCode,
        template: &str,
        page: &str,
        extra: Value,
    ) -> Response {
        let nav: Vec<Value> = [
            ("overview", "/admin"),
            ("users", "/admin/users"),
            ("policy", "/admin/policy"),
            ("clients", "/admin/clients"),
            ("theme", "/admin/theme"),
            ("connections", "/admin/connections"),
            ("webhooks", "/admin/webhooks"),
            ("admins", "/admin/admins"),
            ("keys", "/admin/keys"),
            ("audit", "/admin/audit"),
        ]
        .into_iter()
        .map(|(key, href)| {
            context! {
                key,
                href,
                label => text(self.locale, &format!("console.nav.{key}")),
                current => key == page,
                // Pages other issues add are listed, not linked yet.
                ready => matches!(key, "overview" | "users" | "policy" | "clients" | "theme" | "webhooks" | "admins" | "keys" | "audit"),
            }
        })
        .collect();
        let base = context! {
            locale => self.locale,
            csrf => self.csrf,
            nav,
            page,
            me => context! {
                email => self.user.email,
                role => text(self.locale, &format!("console.role.{}", self.role.as_str())),
            },
            signed_in_at => when(self.locale, self.session.auth_time),
        };
        let context = minijinja::value::merge_maps([base, extra]);
        (
            self.jar.clone(),
            state.pages.render(status, template, context),
        )
            .into_response()
    }
}

/// `?before=` of the audit log's pages.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct AuditQuery {
    before: Option<i64>,
}

const AUDIT_PAGE: i64 = 50;

/// `GET /admin/audit`: every change, newest first, fifty a page.
async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<AuditQuery>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/audit").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let entries = match admins::audit_log(&state.app, query.before, AUDIT_PAGE).await {
        Ok(entries) => entries,
        Err(error) => return store_failure(&state, console.locale, &error),
    };
    let next = (entries.len() as i64 == AUDIT_PAGE)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    // People rather than ids: the accounts named in this page (gone ones stay as ids).
    let mut named_ids: Vec<(String, uuid::Uuid)> = Vec::new();
    for e in &entries {
        for name in std::iter::once(&e.entry.actor).chain(e.entry.target.as_ref()) {
            if let Some(id) = name
                .strip_prefix("user:")
                .and_then(|id| uuid::Uuid::parse_str(id).ok())
                && !named_ids.iter().any(|(n, _)| n == name)
            {
                named_ids.push((name.clone(), id));
            }
        }
    }
    let mut emails = std::collections::HashMap::new();
    for (name, id) in named_ids {
        match state.store.get_user(id).await {
            Ok(user) => {
                emails.insert(name, user.email);
            }
            Err(accrete_store::StoreError::NotFound) => {}
            Err(error) => return store_failure(&state, console.locale, &error),
        }
    }
    let named = |name: &str| emails.get(name).cloned();
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            let json = |v: &Option<serde_json::Value>| {
                v.as_ref()
                    .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
            };
            context! {
                at => when(console.locale, e.entry.at),
                actor => e.entry.actor,
                actor_email => named(&e.entry.actor),
                target_email => e.entry.target.as_deref().and_then(named),
                action => e.entry.action,
                target => e.entry.target,
                before => json(&e.entry.before),
                after => json(&e.entry.after),
                ip => e.entry.ip,
            }
        })
        .collect();
    let extra = context! { rows, next };
    console.render(&state, StatusCode::OK, "console_audit.html", "audit", extra)
}

/// `GET /admin/admins`: the administrators; owners grant and revoke roles.
async fn administrators(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/admins").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    admins_page(&state, &console, StatusCode::OK, None, None).await
}

async fn admins_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    notice: Option<String>,
    alert: Option<String>,
) -> Response {
    let list = match admins::list(&state.app).await {
        Ok(list) => list,
        Err(error) => return store_failure(state, console.locale, &error),
    };
    let rows: Vec<Value> = list
        .iter()
        .map(|a| {
            context! {
                email => a.email,
                role => a.role,
                role_label => text(console.locale, &format!("console.role.{}", a.role)),
                since => long_date(console.locale, a.granted_at.date()),
                me => a.user_id == console.user.id,
            }
        })
        .collect();
    let roles: Vec<Value> = Role::ALL
        .into_iter()
        .map(|r| {
            context! {
                value => r.as_str(),
                label => text(console.locale, &format!("console.role.{}", r.as_str())),
            }
        })
        .collect();
    let extra = context! {
        rows,
        roles,
        may_manage => console.may(Permission::ManageAdmins),
        notice,
        alert,
    };
    console.render(state, status, "console_admins.html", "admins", extra)
}

/// The administrators form: `action=grant` (email, role) or `action=revoke` (email).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct RoleForm {
    csrf: String,
    action: String,
    email: String,
    role: String,
}

/// `POST /admin/admins`.
async fn change_role(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<RoleForm>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/admins").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let locale = console.locale;
    if !csrf::verify(&console.jar, Some(&form.csrf)) {
        let alert = Some(text(locale, "error.csrf"));
        return admins_page(&state, &console, StatusCode::FORBIDDEN, None, alert).await;
    }
    if !console.may(Permission::ManageAdmins) {
        return console.forbidden(&state);
    }
    let role = match form.action.as_str() {
        "revoke" => None,
        _ => match Role::parse(&form.role) {
            Some(role) => Some(role),
            None => {
                let alert = Some(text(locale, "console.admins.pick_role"));
                return admins_page(&state, &console, StatusCode::BAD_REQUEST, None, alert).await;
            }
        },
    };
    let email = form.email.trim();
    let now = OffsetDateTime::now_utc();
    match admins::set_role(&state.app, &console.actor(peer), email, role, now).await {
        Ok(user) => {
            let notice = Some(match role {
                Some(role) => text_with(
                    locale,
                    "console.admins.granted",
                    &[
                        ("email", &user.email),
                        (
                            "role",
                            &text(locale, &format!("console.role.{}", role.as_str())),
                        ),
                    ],
                ),
                None => text_with(locale, "console.admins.revoked", &[("email", &user.email)]),
            });
            admins_page(&state, &console, StatusCode::OK, notice, None).await
        }
        Err(AdminError::NoSuchUser(_)) => {
            let alert = Some(text_with(
                locale,
                "console.admins.no_such_user",
                &[("email", email)],
            ));
            admins_page(&state, &console, StatusCode::BAD_REQUEST, None, alert).await
        }
        Err(AdminError::LastOwner) => {
            let alert = Some(text(locale, "console.admins.last_owner"));
            admins_page(&state, &console, StatusCode::CONFLICT, None, alert).await
        }
        Err(AdminError::SetupClosed) => console.forbidden(&state),
        Err(AdminError::Store(error)) => store_failure(&state, locale, &error),
    }
}

/// The setup link, said in the log at start while the console has no administrator.
pub async fn say_setup_link(state: &AppState) {
    match admins::setup_open(&state.app).await {
        Ok(true) => {
            let link = format!(
                "{}/admin/setup?token={}",
                state.config.issuer(),
                admins::setup_token(&state.app)
            );
            tracing::warn!(
                %link,
                "the console has no administrator yet: open this link and sign in to become its owner \
                 (or run `accrete admin create EMAIL`)"
            );
        }
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(%error, "could not tell whether the console has administrators")
        }
    }
}

/// Used by the templates and tests: the role names.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_a_label_in_both_languages() {
        for role in Role::ALL {
            for locale in ["en", "fr"] {
                let key = format!("console.role.{}", role.as_str());
                assert_ne!(text(locale, &key), key, "{locale} {key}");
            }
        }
    }
}
