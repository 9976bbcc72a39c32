//! The console's applications (OpenID Connect clients): the list, a short wizard that creates
//! one of four kinds and shows its secret once with a configuration snippet, a client's page to
//! change its settings and theme, and rotating its secret or deleting it after a recent sign-in.
//! The same use-cases as `/api/v1/clients` (`accrete_app::client_admin`); every change is in the
//! audit log, without secrets.

use std::net::SocketAddr;

use accrete_app::admins::{self, Permission};
use accrete_app::client_admin::{self, ClientError};
use accrete_app::problems::Problem;
use accrete_store::{Client, StoreError};
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use time::OffsetDateTime;

use super::client_form::{
    ClientForm, Kind, PAGE_INPUTS, errors_by_input, snippet, theme_keys, wizard_inputs,
};
use super::{Console, when};
use crate::hosted::csrf;
use crate::hosted::errors::store_failure;
use crate::hosted::i18n::{text, text_with};
use crate::hosted::transaction::urlencode;
use crate::state::AppState;

/// Records a change of a client (the change stands if it cannot be recorded; that is said
/// loudly).
async fn audited(
    state: &AppState,
    console: &Console,
    peer: SocketAddr,
    action: &str,
    id: &str,
    change: (Option<serde_json::Value>, Option<serde_json::Value>),
) {
    let actor = console.actor(peer);
    let target = Some(format!("client:{id}"));
    let now = OffsetDateTime::now_utc();
    if let Err(error) = admins::audit(&state.app, &actor, action, target, change, now).await {
        tracing::error!(%error, action, client = id, "a client change could not be written to the audit log");
    }
}

fn kind_label(locale: &str, kind: Kind) -> String {
    text(locale, &format!("console.clients.kind.{}", kind.as_str()))
}

/// `?created=` / `?deleted=` notices of the list.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ListQuery {
    deleted: Option<String>,
}

/// `GET /admin/clients`.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<ListQuery>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/clients").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let locale = console.locale;
    let clients = match client_admin::list(&state.app).await {
        Ok(clients) => clients,
        Err(error) => return client_failure(&state, &console, error),
    };
    let rows: Vec<Value> = clients
        .iter()
        .map(|c| {
            context! {
                id => c.id,
                href => format!("/admin/clients/{}", urlencode(&c.id)),
                name => c.name,
                public => c.public,
                kind => kind_label(locale, Kind::of(c)),
                grants => c.grant_types.join(", "),
                redirect_uris => c.redirect_uris,
                console => c.id == admins::CONSOLE_CLIENT,
            }
        })
        .collect();
    let notice = query
        .deleted
        .map(|id| text_with(locale, "console.clients.deleted", &[("id", &id)]));
    let extra = context! {
        rows,
        notice,
        may_edit => console.may(Permission::EditClients),
    };
    console.render(
        &state,
        StatusCode::OK,
        "console_clients.html",
        "clients",
        extra,
    )
}

/// A failure of a client use-case that is not about the settings.
fn client_failure(state: &AppState, console: &Console, error: ClientError) -> Response {
    let locale = console.locale;
    match error {
        ClientError::NotFound => super::problem_page(
            state,
            locale,
            StatusCode::NOT_FOUND,
            &text(locale, "console.clients.not_found"),
        ),
        ClientError::Store(error) => store_failure(state, locale, &error),
        ClientError::Invalid(problems) => {
            tracing::error!(?problems, "client settings refused where none were given");
            console.forbidden(state)
        }
        ClientError::Refused(problem) => {
            let said = match problem.code.as_str() {
                "console_client" => text(locale, "console.clients.console_client"),
                "public_client" => text(locale, "console.clients.public_client"),
                _ => problem.message,
            };
            super::problem_page(state, locale, StatusCode::BAD_REQUEST, &said)
        }
    }
}

/// `?kind=` of the wizard.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct NewQuery {
    kind: String,
}

/// `GET /admin/clients/new`: first the kind, then (`?kind=`) the few fields it needs.
pub(super) async fn new(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<NewQuery>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/clients/new").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    if !console.may(Permission::EditClients) {
        return console.forbidden(&state);
    }
    match Kind::parse(&query.kind) {
        Some(kind) => wizard_page(
            &state,
            &console,
            StatusCode::OK,
            kind,
            &ClientForm::new_of(kind),
            &[],
        ),
        None => kinds_page(&state, &console, StatusCode::OK, None),
    }
}

fn kinds_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    alert: Option<String>,
) -> Response {
    let locale = console.locale;
    let kinds: Vec<Value> = Kind::ALL
        .into_iter()
        .map(|k| {
            context! {
                value => k.as_str(),
                label => kind_label(locale, k),
                help => text(locale, &format!("console.clients.kind_help.{}", k.as_str())),
            }
        })
        .collect();
    let extra = context! { step => "kind", kinds, alert };
    console.render(state, status, "console_client_new.html", "clients", extra)
}

fn wizard_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    kind: Kind,
    form: &ClientForm,
    problems: &[Problem],
) -> Response {
    let locale = console.locale;
    let mut errors = errors_by_input(locale, problems, wizard_inputs(kind));
    let alert = errors.remove("");
    let extra = context! {
        step => "details",
        kind => kind.as_str(),
        kind_label => kind_label(locale, kind),
        form => form.view(),
        errors,
        alert,
    };
    console.render(state, status, "console_client_new.html", "clients", extra)
}

/// `POST /admin/clients/new`: registers the client; a confidential one's secret is shown on
/// the answer, once.
pub(super) async fn create(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ClientForm>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/clients/new").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let locale = console.locale;
    if !console.may(Permission::EditClients) {
        return console.forbidden(&state);
    }
    let Some(kind) = Kind::parse(&form.kind) else {
        let alert = Some(text(locale, "console.clients.pick_kind"));
        return kinds_page(&state, &console, StatusCode::BAD_REQUEST, alert);
    };
    if !csrf::verify(&console.jar, Some(&form.csrf)) {
        let problem = Problem::new("csrf", "csrf", text(locale, "error.csrf"));
        return wizard_page(
            &state,
            &console,
            StatusCode::FORBIDDEN,
            kind,
            &form,
            &[problem],
        );
    }
    let id = Some(form.client_id.trim().to_owned()).filter(|id| !id.is_empty());
    let now = OffsetDateTime::now_utc();
    let hasher = &state.secrets.token_hasher;
    let registered =
        match client_admin::register(&state.app, id, form.new_settings(kind), hasher, now).await {
            Ok(registered) => registered,
            Err(ClientError::Invalid(problems)) => {
                let status = StatusCode::BAD_REQUEST;
                return wizard_page(&state, &console, status, kind, &form, &problems);
            }
            Err(ClientError::Refused(problem)) => {
                let status = StatusCode::BAD_REQUEST;
                return wizard_page(&state, &console, status, kind, &form, &[problem]);
            }
            Err(ClientError::Store(StoreError::Conflict { .. })) => {
                let taken = Problem::new("id", "taken", "this client_id is taken");
                let status = StatusCode::CONFLICT;
                return wizard_page(&state, &console, status, kind, &form, &[taken]);
            }
            Err(other) => return client_failure(&state, &console, other),
        };
    let client = registered.client;
    let after = client_admin::snapshot(&client);
    audited(
        &state,
        &console,
        peer,
        "client.created",
        &client.id,
        (None, after),
    )
    .await;
    secret_page(&state, &console, kind, &client, registered.secret, false)
}

/// The page that shows a client's secret once (after creation or rotation) with a snippet; it
/// is not kept by the browser's cache.
fn secret_page(
    state: &AppState,
    console: &Console,
    kind: Kind,
    client: &Client,
    secret: Option<String>,
    rotated: bool,
) -> Response {
    let issuer = state.config.issuer();
    let (library, code) = snippet(kind, &issuer, client);
    let extra = context! {
        client => context! {
            id => client.id,
            name => client.name,
            href => format!("/admin/clients/{}", urlencode(&client.id)),
        },
        kind_label => kind_label(console.locale, kind),
        secret,
        rotated,
        issuer,
        library,
        snippet => code,
    };
    let mut response = console.render(
        state,
        StatusCode::OK,
        "console_client_created.html",
        "clients",
        extra,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The client of a page, or the page that says it does not exist.
async fn client_of(state: &AppState, console: &Console, id: &str) -> Result<Client, Response> {
    client_admin::get(&state.app, id)
        .await
        .map_err(|error| client_failure(state, console, error))
}

fn client_path(id: &str) -> String {
    format!("/admin/clients/{}", urlencode(id))
}

/// `GET /admin/clients/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let console = match Console::open(&state, &headers, jar, &client_path(&id)).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let client = match client_of(&state, &console, &id).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let form = ClientForm::of(&client);
    client_page(
        &state,
        &console,
        StatusCode::OK,
        &client,
        &form,
        (&[], None),
    )
    .await
}

async fn client_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    client: &Client,
    form: &ClientForm,
    (problems, notice): (&[Problem], Option<String>),
) -> Response {
    let locale = console.locale;
    let mut errors = errors_by_input(locale, problems, PAGE_INPUTS);
    let alert = errors.remove("");
    let connections = match state.store.list_connections().await {
        Ok(connections) => connections,
        Err(error) => return store_failure(state, locale, &error),
    };
    let known_connections: Vec<String> = connections.into_iter().map(|c| c.name).collect();
    let kind = Kind::of(client);
    let extra = context! {
        client => context! {
            id => client.id,
            public => client.public,
            created => when(locale, client.created_at),
            updated => when(locale, client.updated_at),
            console => client.id == admins::CONSOLE_CLIENT,
            path => client_path(&client.id),
            preview => format!("/admin/preview/signin?client={}", urlencode(&client.id)),
        },
        kind_label => kind_label(locale, kind),
        form => form.view(),
        theme_keys => theme_keys(),
        known_connections,
        alg_options => accrete_oidc::keys::Alg::ALL
            .map(|alg| [alg.as_str(), alg.as_str()])
            .to_vec(),
        email_verification_options => options(
            locale,
            "email_verification",
            accrete_app::settings::EmailVerification::ALL.iter().map(|v| v.as_str()),
        ),
        mfa_options => options(
            locale,
            "mfa",
            accrete_app::settings::MfaMode::ALL.iter().map(|v| v.as_str()),
        ),
        errors,
        alert,
        notice,
        may_edit => console.may(Permission::EditClients),
    };
    console.render(state, status, "console_client.html", "clients", extra)
}

/// The choices of a select: the server's setting, then each value in words.
fn options<'a>(
    locale: &str,
    setting: &str,
    values: impl Iterator<Item = &'a str>,
) -> Vec<[String; 2]> {
    std::iter::once([
        String::new(),
        text(locale, "console.clients.server_setting"),
    ])
    .chain(values.map(|v| {
        let label = text(locale, &format!("console.clients.{setting}.{v}"));
        [v.to_owned(), label]
    }))
    .collect()
}

/// Opens a change of client `id`: the CSRF token is right and the role may edit clients.
async fn change(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    id: &str,
    csrf_token: &str,
    back_to: &str,
) -> Result<(Console, Client), Response> {
    let console = Console::open(state, headers, jar, back_to).await?;
    if !console.may(Permission::EditClients) {
        return Err(console.forbidden(state));
    }
    let client = client_of(state, &console, id).await?;
    if !csrf::verify(&console.jar, Some(csrf_token)) {
        let problem = Problem::new("csrf", "csrf", text(console.locale, "error.csrf"));
        let form = ClientForm::of(&client);
        let status = StatusCode::FORBIDDEN;
        return Err(client_page(state, &console, status, &client, &form, (&[problem], None)).await);
    }
    Ok((console, client))
}

/// `POST /admin/clients/{id}`: replaces the settings (the secret is kept).
pub(super) async fn update(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ClientForm>,
) -> Response {
    let path = client_path(&id);
    let (console, current) = match change(&state, &headers, jar, &id, &form.csrf, &path).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let now = OffsetDateTime::now_utc();
    let settings = form.settings(&current);
    let updated = match client_admin::update(&state.app, id.clone(), settings, now).await {
        Ok(updated) => updated,
        Err(ClientError::Invalid(problems)) => {
            let status = StatusCode::BAD_REQUEST;
            return client_page(&state, &console, status, &current, &form, (&problems, None)).await;
        }
        Err(ClientError::Refused(problem)) => {
            let status = StatusCode::BAD_REQUEST;
            let problems = [problem];
            return client_page(&state, &console, status, &current, &form, (&problems, None)).await;
        }
        Err(other) => return client_failure(&state, &console, other),
    };
    let change = (
        client_admin::snapshot(&current),
        client_admin::snapshot(&updated),
    );
    audited(&state, &console, peer, "client.updated", &id, change).await;
    let notice = Some(text(console.locale, "console.clients.saved"));
    let form = ClientForm::of(&updated);
    client_page(
        &state,
        &console,
        StatusCode::OK,
        &updated,
        &form,
        (&[], notice),
    )
    .await
}

/// A confirmation page: rotating the secret or deleting the client.
fn confirm_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    client: &Client,
    what: &str,
    error: Option<String>,
) -> Response {
    let extra = context! {
        what,
        client => context! {
            id => client.id,
            name => client.name,
            path => client_path(&client.id),
        },
        error,
    };
    console.render(
        state,
        status,
        "console_client_confirm.html",
        "clients",
        extra,
    )
}

/// Opens a dangerous action's page on client `id`: the role may edit clients and signed in
/// recently (else: sign in again and come back to `back_to`).
async fn dangerous(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    id: &str,
    back_to: &str,
) -> Result<(Console, Client), Response> {
    let console = Console::open(state, headers, jar, back_to).await?;
    if !console.may(Permission::EditClients) {
        return Err(console.forbidden(state));
    }
    let client = client_of(state, &console, id).await?;
    if let Some(sign_in_again) = console.require_recent_sign_in(back_to) {
        return Err(sign_in_again);
    }
    Ok((console, client))
}

/// `GET /admin/clients/{id}/secret`: what rotating does, and the button.
pub(super) async fn confirm_rotation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let back_to = format!("{}/secret", client_path(&id));
    let (console, client) = match dangerous(&state, &headers, jar, &id, &back_to).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    confirm_page(&state, &console, StatusCode::OK, &client, "rotate", None)
}

/// The confirmation forms.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct ConfirmForm {
    csrf: String,
    /// For deleting: the `client_id`, typed again.
    confirm: String,
}

/// `POST /admin/clients/{id}/secret`: a new secret, shown once; the old one stops working.
pub(super) async fn rotate_secret(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let back_to = format!("{}/secret", client_path(&id));
    let (console, client) = match dangerous(&state, &headers, jar, &id, &back_to).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !csrf::verify(&console.jar, Some(&form.csrf)) {
        let error = Some(text(console.locale, "error.csrf"));
        return confirm_page(
            &state,
            &console,
            StatusCode::FORBIDDEN,
            &client,
            "rotate",
            error,
        );
    }
    let now = OffsetDateTime::now_utc();
    let hasher = &state.secrets.token_hasher;
    let (client, secret) = match client_admin::rotate_secret(&state.app, &id, hasher, now).await {
        Ok(rotated) => rotated,
        Err(other) => return client_failure(&state, &console, other),
    };
    let after = Some(client_admin::rotation_record(&client));
    audited(
        &state,
        &console,
        peer,
        "client.secret_rotated",
        &id,
        (None, after),
    )
    .await;
    secret_page(
        &state,
        &console,
        Kind::of(&client),
        &client,
        Some(secret),
        true,
    )
}

/// `GET /admin/clients/{id}/delete`: what deleting does, and its typed confirmation.
pub(super) async fn confirm_deletion(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let back_to = format!("{}/delete", client_path(&id));
    let (console, client) = match dangerous(&state, &headers, jar, &id, &back_to).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    confirm_page(&state, &console, StatusCode::OK, &client, "delete", None)
}

/// `POST /admin/clients/{id}/delete`: deletes the client once its `client_id` is typed again.
pub(super) async fn delete(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let back_to = format!("{}/delete", client_path(&id));
    let (console, client) = match dangerous(&state, &headers, jar, &id, &back_to).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let locale = console.locale;
    if !csrf::verify(&console.jar, Some(&form.csrf)) {
        let error = Some(text(locale, "error.csrf"));
        return confirm_page(
            &state,
            &console,
            StatusCode::FORBIDDEN,
            &client,
            "delete",
            error,
        );
    }
    if form.confirm.trim() != client.id {
        let error = Some(text(locale, "console.clients.confirm_mismatch"));
        return confirm_page(
            &state,
            &console,
            StatusCode::BAD_REQUEST,
            &client,
            "delete",
            error,
        );
    }
    match client_admin::delete(&state.app, &id).await {
        Ok(()) => {}
        Err(ClientError::Refused(problem)) if problem.code == "console_client" => {
            let error = Some(text(locale, "console.clients.console_client"));
            let status = StatusCode::BAD_REQUEST;
            return confirm_page(&state, &console, status, &client, "delete", error);
        }
        Err(other) => return client_failure(&state, &console, other),
    }
    let before = client_admin::snapshot(&client);
    audited(
        &state,
        &console,
        peer,
        "client.deleted",
        &id,
        (before, None),
    )
    .await;
    let to = format!("/admin/clients?deleted={}", urlencode(&id));
    Redirect::to(&to).into_response()
}
