//! `/api/v1/clients`: registered applications, with redirect URIs, allowed web origins (CORS)
//! and theme.

use accrete_oidc::keys::Alg;
use accrete_oidc::secrets::random_opaque;
use accrete_store::Client;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::problem::{ApiError, ApiJson, ApiPath, FieldProblem, FieldProblems};
use crate::pages::theme::Theme;
use crate::state::AppState;

const GRANT_TYPES: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];

/// A client's settings, as written.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// Display name.
    pub name: String,
    /// Redirect URIs (exact match).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    #[serde(default = "default_grants")]
    pub grant_types: Vec<String>,
    /// Scopes the client may request.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Audiences of its client-credentials tokens.
    #[serde(default)]
    pub audience: Vec<String>,
    /// A public client (no secret; PKCE required).
    #[serde(default)]
    pub public: bool,
    /// `RS256` (default), `ES256` or `EdDSA`.
    #[serde(default = "default_alg")]
    pub id_token_alg: String,
    /// Web origins allowed by CORS (`https://app.example`).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Theme of the hosted pages for this client's sign-ins, over the server's `[theme]`
    /// field by field (see docs/theming.md). `null` or absent: none of its own.
    #[serde(default)]
    #[schema(value_type = Option<Theme>)]
    pub theme: Value,
}

fn default_grants() -> Vec<String> {
    vec!["authorization_code".into(), "refresh_token".into()]
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "profile".into(), "email".into()]
}

fn default_alg() -> String {
    "RS256".into()
}

/// A new client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The `client_id` (letters, digits, `-`, `_`, `.`); generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Its settings.
    #[serde(flatten)]
    pub settings: ClientSettings,
}

/// A client as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// The `client_id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Vec<String>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Audiences.
    pub audience: Vec<String>,
    /// Public client.
    pub public: bool,
    /// ID token algorithm.
    pub id_token_alg: String,
    /// CORS origins.
    pub allowed_origins: Vec<String>,
    /// Theme of the hosted pages (unset fields omitted).
    #[schema(value_type = Theme)]
    pub theme: Value,
    /// Registration time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// The client secret: shown once, at creation, for confidential clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<Client> for ClientView {
    fn from(client: Client) -> Self {
        ClientView {
            id: client.id,
            name: client.name,
            redirect_uris: client.redirect_uris,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            grant_types: client.grant_types,
            scopes: client.scopes,
            audience: client.audience,
            public: client.public,
            id_token_alg: client.id_token_alg,
            allowed_origins: client.allowed_origins,
            theme: client.theme,
            created_at: client.created_at,
            updated_at: client.updated_at,
            client_secret: None,
        }
    }
}

/// Every client.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    /// Oldest first.
    pub items: Vec<ClientView>,
}

fn push(problems: &mut FieldProblems, key: String, code: &str, message: &str) {
    problems.entry(key).or_default().push(FieldProblem {
        code: code.into(),
        message: message.into(),
    });
}

/// An absolute http(s) URL without fragment (custom schemes allowed for native apps).
fn is_redirect_uri(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| u.fragment().is_none() && !u.cannot_be_a_base())
}

/// Checks the settings; the client's theme, read, when they are all valid.
fn check(settings: &ClientSettings) -> Result<Theme, ApiError> {
    let mut problems = FieldProblems::new();
    if settings.name.trim().is_empty() || settings.name.chars().count() > 200 {
        push(
            &mut problems,
            "name".into(),
            "invalid",
            "1 to 200 characters",
        );
    }
    for (name, list) in [
        ("redirect_uris", &settings.redirect_uris),
        (
            "post_logout_redirect_uris",
            &settings.post_logout_redirect_uris,
        ),
    ] {
        for (i, uri) in list.iter().enumerate() {
            if !is_redirect_uri(uri) {
                push(
                    &mut problems,
                    format!("{name}[{i}]"),
                    "invalid_uri",
                    "an absolute URI without fragment",
                );
            }
        }
    }
    for (i, origin) in settings.allowed_origins.iter().enumerate() {
        if !accrete_oidc::client::is_web_origin(origin) {
            push(
                &mut problems,
                format!("allowed_origins[{i}]"),
                "invalid_origin",
                "an origin: scheme://host[:port], no path",
            );
        }
    }
    for (i, grant) in settings.grant_types.iter().enumerate() {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            push(
                &mut problems,
                format!("grant_types[{i}]"),
                "unknown_grant_type",
                "authorization_code, refresh_token or client_credentials",
            );
        }
    }
    for (i, scope) in settings.scopes.iter().enumerate() {
        if scope.is_empty()
            || scope
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\\')
        {
            push(
                &mut problems,
                format!("scopes[{i}]"),
                "invalid_scope",
                "a scope token",
            );
        }
    }
    if Alg::parse(&settings.id_token_alg).is_none() {
        push(
            &mut problems,
            "id_token_alg".into(),
            "unknown_alg",
            "RS256, ES256 or EdDSA",
        );
    }
    if settings.public
        && settings
            .grant_types
            .iter()
            .any(|g| g == "client_credentials")
    {
        push(
            &mut problems,
            "grant_types".into(),
            "public_client",
            "a public client cannot use client_credentials",
        );
    }
    let theme = Theme::from_json(&settings.theme).unwrap_or_else(|refused| {
        for problem in refused {
            let key = match problem.key.as_str() {
                "" => "theme".to_owned(),
                field => format!("theme.{field}"),
            };
            push(&mut problems, key, problem.code, &problem.message);
        }
        Theme::default()
    });
    ApiError::check(problems)?;
    Ok(theme)
}

fn client_of(id: String, settings: ClientSettings, theme: &Theme, now: OffsetDateTime) -> Client {
    Client {
        id,
        secret_hash: None,
        name: settings.name.trim().to_owned(),
        redirect_uris: settings.redirect_uris,
        post_logout_redirect_uris: settings.post_logout_redirect_uris,
        grant_types: settings.grant_types,
        scopes: settings.scopes,
        audience: settings.audience,
        public: settings.public,
        id_token_alg: settings.id_token_alg,
        allowed_origins: settings.allowed_origins,
        // Stored without its unset fields.
        theme: serde_json::to_value(theme)
            .unwrap_or_else(|_| Value::Object(serde_json::Map::new())),
        created_at: now,
        updated_at: now,
    }
}

/// Registers a client; a confidential client's secret is in the response, once.
#[utoipa::path(post, path = "/clients", tag = "clients", request_body = NewClient,
    responses((status = 201, body = ClientView), ErrorResponses),
    security(("bearer" = ["clients:write"])))]
pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewClient>,
) -> Result<(StatusCode, axum::Json<ClientView>), ApiError> {
    caller.require(Scope::ClientsWrite)?;
    let theme = check(&body.settings)?;
    let id = match body.id {
        Some(id) => {
            let valid = !id.is_empty()
                && id.len() <= 128
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                return Err(ApiError::field(
                    "id",
                    "invalid",
                    "1 to 128 letters, digits, '-', '_' or '.'",
                ));
            }
            id
        }
        None => format!("client-{}", uuid::Uuid::now_v7().simple()),
    };
    let public = body.settings.public;
    let mut client = client_of(id, body.settings, &theme, OffsetDateTime::now_utc());
    let secret = (!public).then(random_opaque);
    client.secret_hash = secret
        .as_deref()
        .map(|s| state.secrets.token_hasher.hash(s));
    let client = state.store.create_client(client).await?;
    let mut view = ClientView::from(client);
    view.client_secret = secret;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// Every client.
#[utoipa::path(get, path = "/clients", tag = "clients",
    responses((status = 200, body = ClientList), ErrorResponses),
    security(("bearer" = ["clients:read"])))]
pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<axum::Json<ClientList>, ApiError> {
    caller.require(Scope::ClientsRead)?;
    let items = state.store.list_clients().await?;
    Ok(axum::Json(ClientList {
        items: items.into_iter().map(ClientView::from).collect(),
    }))
}

async fn find(state: &AppState, id: &str) -> Result<Client, ApiError> {
    state
        .store
        .get_client(id)
        .await?
        .ok_or(ApiError::NotFound("client"))
}

/// One client.
#[utoipa::path(get, path = "/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "client_id")),
    responses((status = 200, body = ClientView), ErrorResponses),
    security(("bearer" = ["clients:read"])))]
pub async fn get(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<ClientView>, ApiError> {
    caller.require(Scope::ClientsRead)?;
    Ok(axum::Json(find(&state, &id).await?.into()))
}

/// Replaces a client's settings (the secret is kept).
#[utoipa::path(put, path = "/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "client_id")),
    request_body = ClientSettings,
    responses((status = 200, body = ClientView), ErrorResponses),
    security(("bearer" = ["clients:write"])))]
pub async fn update(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ClientSettings>,
) -> Result<axum::Json<ClientView>, ApiError> {
    caller.require(Scope::ClientsWrite)?;
    let theme = check(&body)?;
    let current = find(&state, &id).await?;
    if body.public != current.public {
        return Err(ApiError::field(
            "public",
            "immutable",
            "a client cannot change between public and confidential",
        ));
    }
    let mut client = client_of(id, body, &theme, OffsetDateTime::now_utc());
    client.secret_hash = current.secret_hash;
    client.created_at = current.created_at;
    Ok(axum::Json(state.store.update_client(client).await?.into()))
}

/// Deletes a client with its transactions, grants, codes and tokens.
#[utoipa::path(delete, path = "/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "client_id")),
    responses((status = 204, description = "Deleted"), ErrorResponses),
    security(("bearer" = ["clients:write"])))]
pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::ClientsWrite)?;
    find(&state, &id).await?;
    state.store.delete_client(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_has_no_path_and_a_redirect_uri_no_fragment() {
        use accrete_oidc::client::is_web_origin;
        assert!(is_web_origin("http://localhost:8080"));
        assert!(!is_web_origin("*"));
        assert!(is_redirect_uri("https://app.example/cb"));
        assert!(!is_redirect_uri("https://app.example/cb#x"));
        assert!(!is_redirect_uri("/cb"));
    }
}
