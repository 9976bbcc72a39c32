//! The console's webhooks (docs/webhooks.md): the endpoints with their last delivery, one made
//! with its secret shown once and a verification snippet, an endpoint's page to change it, see
//! its deliveries attempt by attempt and replay one or a time range, and rotating its secret or
//! deleting it after a recent sign-in. The same use-cases as `/api/v1/webhooks`
//! (`accrete_app::webhooks`); every change is in the audit log, never a secret.

use std::net::SocketAddr;

use accrete_app::admins::Permission;
use accrete_app::problems::Problem;
use accrete_app::webhooks::{
    self, EVENT_TYPES, NewWebhook, WebhookChange, WebhookError, WebhookView,
};
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Console, when};
use crate::hosted::csrf;
use crate::hosted::errors::store_failure;
use crate::hosted::i18n::{text, text_with};
use crate::state::AppState;

/// The deliveries shown on an endpoint's page.
const DELIVERIES: i64 = 50;

fn path_of(id: Uuid) -> String {
    format!("/admin/webhooks/{id}")
}

/// What the audit log keeps of an endpoint (never its secrets).
fn snapshot(view: &WebhookView) -> serde_json::Value {
    serde_json::json!({
        "id": view.id,
        "url": view.url,
        "events": view.events,
        "description": view.description,
        "enabled": view.enabled,
        "disabled_reason": view.disabled_reason,
        "include_values": view.include_values,
    })
}

async fn audited(
    state: &AppState,
    console: &Console,
    peer: SocketAddr,
    action: &str,
    id: Uuid,
    change: (Option<serde_json::Value>, Option<serde_json::Value>),
) {
    console
        .audit(state, peer, action, Some(format!("webhook:{id}")), change)
        .await;
}

/// A failure of a webhook use-case that is not about the values given.
fn failure(state: &AppState, console: &Console, error: WebhookError) -> Response {
    let locale = console.locale;
    match error {
        WebhookError::NotFound => super::problem_page(
            state,
            locale,
            StatusCode::NOT_FOUND,
            &text(locale, "console.webhooks.not_found"),
        ),
        WebhookError::Store(error) => store_failure(state, locale, &error),
        WebhookError::Seal => super::problem_page(
            state,
            locale,
            StatusCode::INTERNAL_SERVER_ERROR,
            &text(locale, "console.webhooks.seal"),
        ),
        WebhookError::Invalid(problems) => {
            tracing::error!(?problems, "webhook values refused where none were given");
            console.forbidden(state)
        }
    }
}

/// The messages of refused values, by input (`""`: not about one input).
fn errors_of(problems: &[Problem]) -> std::collections::BTreeMap<String, String> {
    let mut errors = std::collections::BTreeMap::new();
    for problem in problems {
        let input = match problem.path.split('[').next().unwrap_or_default() {
            "url" | "events" | "description" | "from" | "to" => problem
                .path
                .split('[')
                .next()
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        errors
            .entry(input)
            .or_insert_with(|| problem.message.clone());
    }
    errors
}

/// The form of a new endpoint or of an endpoint's change.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct EndpointForm {
    csrf: String,
    url: String,
    description: String,
    /// `on` when enabled (the change form only).
    enabled: Option<String>,
    /// `on` when `user.updated` deliveries carry the new values.
    include_values: Option<String>,
    /// One checkbox per event type: `event.user.created=on`, ...
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

impl EndpointForm {
    fn events(&self) -> Vec<String> {
        EVENT_TYPES
            .iter()
            .filter(|kind| self.rest.contains_key(&format!("event.{kind}")))
            .map(|kind| (*kind).to_owned())
            .collect()
    }

    fn of(view: &WebhookView) -> EndpointForm {
        EndpointForm {
            csrf: String::new(),
            url: view.url.clone(),
            description: view.description.clone().unwrap_or_default(),
            enabled: view.enabled.then(|| "on".to_owned()),
            include_values: view.include_values.then(|| "on".to_owned()),
            rest: view
                .events
                .iter()
                .map(|kind| (format!("event.{kind}"), "on".to_owned()))
                .collect(),
        }
    }

    fn view(&self) -> Value {
        let chosen = self.events();
        let events: Vec<Value> = EVENT_TYPES
            .iter()
            .map(|kind| context! { value => kind, checked => chosen.iter().any(|c| c == kind) })
            .collect();
        context! {
            url => self.url,
            description => self.description,
            enabled => self.enabled.is_some(),
            include_values => self.include_values.is_some(),
            events,
        }
    }
}

/// `GET /admin/webhooks`: the endpoints and a form to add one.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<ListQuery>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/webhooks").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let notice = query
        .deleted
        .map(|url| text_with(console.locale, "console.webhooks.deleted", &[("url", &url)]));
    list_page(
        &state,
        &console,
        StatusCode::OK,
        &EndpointForm::default(),
        &[],
        notice,
    )
    .await
}

/// `?deleted=` of the list.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ListQuery {
    deleted: Option<String>,
}

async fn list_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    form: &EndpointForm,
    problems: &[Problem],
    notice: Option<String>,
) -> Response {
    let locale = console.locale;
    let endpoints = match webhooks::list(&state.app).await {
        Ok(endpoints) => endpoints,
        Err(error) => return failure(state, console, error),
    };
    let mut rows = Vec::new();
    for endpoint in &endpoints {
        let last = match webhooks::deliveries(&state.app, endpoint.id, 1).await {
            Ok(mut last) => last.pop(),
            Err(error) => return failure(state, console, error),
        };
        rows.push(context! {
            href => path_of(endpoint.id),
            url => endpoint.url,
            description => endpoint.description,
            events => events_label(locale, &endpoint.events),
            enabled => endpoint.enabled,
            disabled_reason => endpoint.disabled_reason,
            last => last.map(|(delivery, _)| context! {
                status => delivery.status.as_str(),
                status_label => text(locale, &format!("console.webhooks.status.{}", delivery.status.as_str())),
                at => when(locale, delivery.delivered_at.unwrap_or(delivery.created_at)),
                event => delivery.event_type,
            }),
        });
    }
    let mut errors = errors_of(problems);
    let alert = errors.remove("");
    let extra = context! {
        rows,
        form => form.view(),
        errors,
        alert,
        notice,
        may_edit => console.may(Permission::ManageWebhooks),
    };
    console.render(state, status, "console_webhooks.html", "webhooks", extra)
}

fn events_label(locale: &str, events: &[String]) -> String {
    if events.is_empty() {
        text(locale, "console.webhooks.every_event")
    } else {
        events.join(", ")
    }
}

/// `POST /admin/webhooks`: registers an endpoint; its secret is shown on the answer, once.
pub(super) async fn create(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<EndpointForm>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/webhooks").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    if !console.may(Permission::ManageWebhooks) {
        return console.forbidden(&state);
    }
    if !csrf::verify(&console.jar, Some(&form.csrf)) {
        let problem = Problem::new("csrf", "csrf", text(console.locale, "error.csrf"));
        let status = StatusCode::FORBIDDEN;
        return list_page(&state, &console, status, &form, &[problem], None).await;
    }
    let new = NewWebhook {
        url: form.url.clone(),
        events: form.events(),
        description: Some(form.description.clone()),
        include_values: form.include_values.is_some(),
    };
    let made = match webhooks::create(&state.app, new, OffsetDateTime::now_utc()).await {
        Ok(made) => made,
        Err(WebhookError::Invalid(problems)) => {
            let status = StatusCode::BAD_REQUEST;
            return list_page(&state, &console, status, &form, &problems, None).await;
        }
        Err(other) => return failure(&state, &console, other),
    };
    let after = Some(snapshot(&made.webhook));
    audited(
        &state,
        &console,
        peer,
        "webhook.created",
        made.webhook.id,
        (None, after),
    )
    .await;
    secret_page(&state, &console, &made.webhook, &made.secret, false)
}

/// The page that shows an endpoint's secret once (made or rotated) with how to verify a
/// delivery; not kept by the browser's cache.
fn secret_page(
    state: &AppState,
    console: &Console,
    webhook: &WebhookView,
    secret: &str,
    rotated: bool,
) -> Response {
    let extra = context! {
        webhook => context! { url => webhook.url, href => path_of(webhook.id) },
        secret,
        rotated,
        snippet => verification_snippet(),
    };
    let mut response = console.render(
        state,
        StatusCode::OK,
        "console_webhook_secret.html",
        "webhooks",
        extra,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// How a receiver verifies a delivery, with the Standard Webhooks library for Node.js (the
/// secret is not repeated in it: it is read from the environment).
fn verification_snippet() -> &'static str {
    r#"// npm i standardwebhooks
import { Webhook } from "standardwebhooks";

const webhook = new Webhook(process.env.ACCRETE_WEBHOOK_SECRET); // whsec_...

// In the handler, with the body exactly as received (before parsing it):
const event = webhook.verify(rawBody, {
  "webhook-id": request.headers["webhook-id"],
  "webhook-timestamp": request.headers["webhook-timestamp"],
  "webhook-signature": request.headers["webhook-signature"],
}); // throws when the signature or the timestamp is wrong
// Deliveries come at least once: drop an event whose webhook-id was seen already.
console.log(event.type, event.data);"#
}

/// The endpoint of a page, or the page that says it does not exist.
async fn endpoint_of(
    state: &AppState,
    console: &Console,
    id: Uuid,
) -> Result<WebhookView, Response> {
    webhooks::get(&state.app, id)
        .await
        .map_err(|error| failure(state, console, error))
}

/// `GET /admin/webhooks/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let console = match Console::open(&state, &headers, jar, &path_of(id)).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let endpoint = match endpoint_of(&state, &console, id).await {
        Ok(endpoint) => endpoint,
        Err(response) => return response,
    };
    let form = EndpointForm::of(&endpoint);
    let page = Page {
        form: &form,
        range: &RangeForm::default(),
        problems: &[],
        notice: None,
    };
    endpoint_page(&state, &console, StatusCode::OK, &endpoint, page).await
}

/// What an endpoint's page shows besides the endpoint.
struct Page<'a> {
    form: &'a EndpointForm,
    range: &'a RangeForm,
    problems: &'a [Problem],
    notice: Option<String>,
}

async fn endpoint_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    endpoint: &WebhookView,
    page: Page<'_>,
) -> Response {
    let locale = console.locale;
    let deliveries = match webhooks::deliveries(&state.app, endpoint.id, DELIVERIES).await {
        Ok(deliveries) => deliveries,
        Err(error) => return failure(state, console, error),
    };
    let deliveries: Vec<Value> = deliveries
        .iter()
        .map(|(delivery, attempts)| {
            let status = delivery.status.as_str();
            context! {
                id => delivery.id,
                event_id => delivery.event_id,
                event => delivery.event_type,
                status,
                status_label => text(locale, &format!("console.webhooks.status.{status}")),
                created => when(locale, delivery.created_at),
                next => (status == "pending").then(|| when(locale, delivery.next_attempt_at)),
                attempts => attempts.iter().map(|a| context! {
                    number => a.attempt,
                    at => when(locale, a.at),
                    status_code => a.status_code,
                    error => a.error,
                    duration_ms => a.duration_ms,
                }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let mut errors = errors_of(page.problems);
    let alert = errors.remove("");
    let extra = context! {
        webhook => context! {
            id => endpoint.id,
            path => path_of(endpoint.id),
            url => endpoint.url,
            enabled => endpoint.enabled,
            disabled_reason => endpoint.disabled_reason,
            created => when(locale, endpoint.created_at),
            updated => when(locale, endpoint.updated_at),
        },
        form => page.form.view(),
        range => context! { from => page.range.from, to => page.range.to },
        deliveries,
        errors,
        alert,
        notice => page.notice,
        may_edit => console.may(Permission::ManageWebhooks),
    };
    console.render(state, status, "console_webhook.html", "webhooks", extra)
}

/// Opens a change of endpoint `id`: the role may manage webhooks and the CSRF token is right.
async fn change(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    id: Uuid,
    csrf_token: &str,
) -> Result<(Console, WebhookView), Response> {
    let console = Console::open(state, headers, jar, &path_of(id)).await?;
    if !console.may(Permission::ManageWebhooks) {
        return Err(console.forbidden(state));
    }
    let endpoint = endpoint_of(state, &console, id).await?;
    if !csrf::verify(&console.jar, Some(csrf_token)) {
        let problem = Problem::new("csrf", "csrf", text(console.locale, "error.csrf"));
        let page = Page {
            form: &EndpointForm::of(&endpoint),
            range: &RangeForm::default(),
            problems: &[problem],
            notice: None,
        };
        let status = StatusCode::FORBIDDEN;
        return Err(endpoint_page(state, &console, status, &endpoint, page).await);
    }
    Ok((console, endpoint))
}

/// `POST /admin/webhooks/{id}`: changes the URL, events, description, whether it is enabled.
pub(super) async fn update(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<EndpointForm>,
) -> Response {
    let (console, current) = match change(&state, &headers, jar, id, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let description = Some(form.description.clone()).filter(|d| !d.trim().is_empty());
    let change = WebhookChange {
        url: Some(form.url.clone()),
        events: Some(form.events()),
        description: Some(description),
        enabled: Some(form.enabled.is_some()),
        include_values: Some(form.include_values.is_some()),
    };
    let now = OffsetDateTime::now_utc();
    let updated = match webhooks::update(&state.app, id, change, now).await {
        Ok(updated) => updated,
        Err(WebhookError::Invalid(problems)) => {
            let page = Page {
                form: &form,
                range: &RangeForm::default(),
                problems: &problems,
                notice: None,
            };
            let status = StatusCode::BAD_REQUEST;
            return endpoint_page(&state, &console, status, &current, page).await;
        }
        Err(other) => return failure(&state, &console, other),
    };
    let change = (Some(snapshot(&current)), Some(snapshot(&updated)));
    audited(&state, &console, peer, "webhook.updated", id, change).await;
    let page = Page {
        form: &EndpointForm::of(&updated),
        range: &RangeForm::default(),
        problems: &[],
        notice: Some(text(console.locale, "console.webhooks.saved")),
    };
    endpoint_page(&state, &console, StatusCode::OK, &updated, page).await
}

/// The form of a replayed range: `datetime-local` values (UTC) or RFC 3339 times.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct RangeForm {
    csrf: String,
    from: String,
    to: String,
}

/// A `datetime-local` value (`2026-01-01T10:00`, in UTC as the form says) as RFC 3339; other
/// text as it is (the use-case says what is wrong with it).
fn rfc3339_of(value: &str) -> String {
    let value = value.trim();
    let has_offset = value.ends_with('Z')
        || value.ends_with('z')
        || value
            .rsplit_once('T')
            .is_some_and(|(_, clock)| clock.contains('+') || clock.contains('-'));
    if value.is_empty() || has_offset || !value.contains('T') {
        return value.to_owned();
    }
    // `HH:MM` or `HH:MM:SS[.fff]`.
    let seconds = if value.matches(':').count() == 1 {
        ":00"
    } else {
        ""
    };
    format!("{value}{seconds}Z")
}

/// `POST /admin/webhooks/{id}/replay`: sends again the deliveries of a time range.
pub(super) async fn replay_range(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(range): Form<RangeForm>,
) -> Response {
    let (console, endpoint) = match change(&state, &headers, jar, id, &range.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (from, to) = (rfc3339_of(&range.from), rfc3339_of(&range.to));
    let now = OffsetDateTime::now_utc();
    let form = EndpointForm::of(&endpoint);
    match webhooks::replay_range(&state.app, id, &from, &to, now).await {
        Ok(replayed) => {
            let change = (
                None,
                Some(serde_json::json!({ "from": from, "to": to, "replayed": replayed })),
            );
            audited(
                &state,
                &console,
                peer,
                "webhook.deliveries_replayed",
                id,
                change,
            )
            .await;
            let notice = Some(text_with(
                console.locale,
                "console.webhooks.replayed_range",
                &[("count", &replayed.to_string())],
            ));
            let page = Page {
                form: &form,
                range: &range,
                problems: &[],
                notice,
            };
            endpoint_page(&state, &console, StatusCode::OK, &endpoint, page).await
        }
        Err(WebhookError::Invalid(problems)) => {
            let page = Page {
                form: &form,
                range: &range,
                problems: &problems,
                notice: None,
            };
            let status = StatusCode::BAD_REQUEST;
            endpoint_page(&state, &console, status, &endpoint, page).await
        }
        Err(other) => failure(&state, &console, other),
    }
}

/// The forms with nothing but their CSRF token.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ConfirmForm {
    csrf: String,
}

/// `POST /admin/webhooks/{id}/deliveries/{delivery_id}/replay`: sends one delivery again.
pub(super) async fn replay(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((id, delivery_id)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let (console, endpoint) = match change(&state, &headers, jar, id, &form.csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let now = OffsetDateTime::now_utc();
    if let Err(error) = webhooks::replay(&state.app, id, delivery_id, now).await {
        return failure(&state, &console, error);
    }
    let change = (None, Some(serde_json::json!({ "delivery": delivery_id })));
    audited(
        &state,
        &console,
        peer,
        "webhook.delivery_replayed",
        id,
        change,
    )
    .await;
    let page = Page {
        form: &EndpointForm::of(&endpoint),
        range: &RangeForm::default(),
        problems: &[],
        notice: Some(text(console.locale, "console.webhooks.replayed_one")),
    };
    endpoint_page(&state, &console, StatusCode::OK, &endpoint, page).await
}

fn confirm_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    endpoint: &WebhookView,
    what: &str,
    error: Option<String>,
) -> Response {
    let extra = context! {
        what,
        webhook => context! { url => endpoint.url, path => path_of(endpoint.id) },
        error,
    };
    console.render(
        state,
        status,
        "console_webhook_confirm.html",
        "webhooks",
        extra,
    )
}

/// Opens a dangerous action's page on endpoint `id`: the role may manage webhooks and signed
/// in recently (else: sign in again and come back to `back_to`).
async fn dangerous(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    id: Uuid,
    back_to: &str,
) -> Result<(Console, WebhookView), Response> {
    let console = Console::open(state, headers, jar, back_to).await?;
    if !console.may(Permission::ManageWebhooks) {
        return Err(console.forbidden(state));
    }
    let endpoint = endpoint_of(state, &console, id).await?;
    if let Some(sign_in_again) = console.require_recent_sign_in(back_to) {
        return Err(sign_in_again);
    }
    Ok((console, endpoint))
}

/// `GET /admin/webhooks/{id}/secret`: what rotating does, and the button.
pub(super) async fn confirm_rotation(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let back_to = format!("{}/secret", path_of(id));
    match dangerous(&state, &headers, jar, id, &back_to).await {
        Ok((console, endpoint)) => {
            confirm_page(&state, &console, StatusCode::OK, &endpoint, "rotate", None)
        }
        Err(response) => response,
    }
}

/// `POST /admin/webhooks/{id}/secret`: a new secret, shown once; the previous one stays valid
/// beside it until the next rotation.
pub(super) async fn rotate_secret(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let back_to = format!("{}/secret", path_of(id));
    let (console, endpoint) = match dangerous(&state, &headers, jar, id, &back_to).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !csrf::verify(&console.jar, Some(&form.csrf)) {
        let error = Some(text(console.locale, "error.csrf"));
        let status = StatusCode::FORBIDDEN;
        return confirm_page(&state, &console, status, &endpoint, "rotate", error);
    }
    let rotated = match webhooks::rotate_secret(&state.app, id, OffsetDateTime::now_utc()).await {
        Ok(rotated) => rotated,
        Err(error) => return failure(&state, &console, error),
    };
    audited(
        &state,
        &console,
        peer,
        "webhook.secret_rotated",
        id,
        (None, None),
    )
    .await;
    secret_page(&state, &console, &rotated.webhook, &rotated.secret, true)
}

/// `GET /admin/webhooks/{id}/delete`: what deleting does, and the button.
pub(super) async fn confirm_deletion(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let back_to = format!("{}/delete", path_of(id));
    match dangerous(&state, &headers, jar, id, &back_to).await {
        Ok((console, endpoint)) => {
            confirm_page(&state, &console, StatusCode::OK, &endpoint, "delete", None)
        }
        Err(response) => response,
    }
}

/// `POST /admin/webhooks/{id}/delete`: deletes the endpoint and its deliveries.
pub(super) async fn delete(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let back_to = format!("{}/delete", path_of(id));
    let (console, endpoint) = match dangerous(&state, &headers, jar, id, &back_to).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let locale = console.locale;
    if !csrf::verify(&console.jar, Some(&form.csrf)) {
        let error = Some(text(locale, "error.csrf"));
        let status = StatusCode::FORBIDDEN;
        return confirm_page(&state, &console, status, &endpoint, "delete", error);
    }
    if let Err(error) = webhooks::delete(&state.app, id).await {
        return failure(&state, &console, error);
    }
    audited(
        &state,
        &console,
        peer,
        "webhook.deleted",
        id,
        (Some(snapshot(&endpoint)), None),
    )
    .await;
    let to = format!(
        "/admin/webhooks?deleted={}",
        crate::hosted::transaction::urlencode(&endpoint.url)
    );
    Redirect::to(&to).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_date_and_time_is_read_as_utc() {
        assert_eq!(rfc3339_of("2026-01-01T10:00"), "2026-01-01T10:00:00Z");
        assert_eq!(rfc3339_of("2026-01-01T10:00:30"), "2026-01-01T10:00:30Z");
        assert_eq!(
            rfc3339_of("2026-01-01T10:00:00+02:00"),
            "2026-01-01T10:00:00+02:00"
        );
        assert_eq!(rfc3339_of("2026-01-01T10:00:00Z"), "2026-01-01T10:00:00Z");
        assert_eq!(rfc3339_of("yesterday"), "yesterday");
        assert_eq!(rfc3339_of(""), "");
    }
}
