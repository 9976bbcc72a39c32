//! Administering clients: register (with a secret for a confidential client, shown once),
//! read, list, replace the settings, delete. What a registration may be is
//! `accrete_oidc::registration::check_registration`; the theme is read by the surface (it is
//! the hosted pages' type) and handed in with its problems.

use accrete_oidc::registration::{Registration, check_registration};
use accrete_oidc::secrets::{TokenHasher, random_opaque};
use accrete_store::{Client, Store, StoreError};
use serde_json::Value;
use time::OffsetDateTime;

use crate::app::App;
use crate::problems::Problem;
use crate::settings::{EmailVerification, MfaMode};

/// Why a client use-case did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No client has this id.
    #[error("client not found")]
    NotFound,
    /// Settings refused, every one of them.
    #[error("settings refused")]
    Invalid(Vec<Problem>),
    /// A client cannot change between public and confidential.
    #[error("{}: {}", .0.path, .0.message)]
    Refused(Problem),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A client's settings, as written.
#[derive(Debug)]
pub struct Settings {
    /// Display name (stored trimmed).
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
    pub public: bool,
    pub id_token_alg: String,
    pub allowed_origins: Vec<String>,
    /// The theme as stored (without its unset fields), or its problems (paths `theme...`).
    pub theme: Result<Value, Vec<Problem>>,
    /// The names of the connections offered on its sign-in page, in that order; `None`: every
    /// enabled connection. Each must name a stored connection, once.
    pub connections: Option<Vec<String>>,
    /// Whether its users may sign in (and up) with a password.
    pub password_signin: bool,
    /// Whether people may create their own account through it; `None`: the server's setting.
    pub self_signup: Option<bool>,
    /// Whether a new account's email address is verified; `None`: the server's setting.
    pub email_verification: Option<EmailVerification>,
    /// When a second factor is asked; `None`: the server's setting.
    pub mfa: Option<MfaMode>,
}

/// A registered client, with its secret for a confidential client (shown once).
#[derive(Debug)]
pub struct Registered {
    pub client: Client,
    pub secret: Option<String>,
}

/// Checks the settings (and the `client_id` asked for, when one is); the theme to store when
/// they are all valid.
fn check(id: Option<&str>, settings: &Settings) -> Result<Value, ClientError> {
    let mut problems: Vec<Problem> = check_registration(&Registration {
        id,
        name: &settings.name,
        redirect_uris: &settings.redirect_uris,
        post_logout_redirect_uris: &settings.post_logout_redirect_uris,
        grant_types: &settings.grant_types,
        public: settings.public,
        scopes: &settings.scopes,
        allowed_origins: &settings.allowed_origins,
        id_token_alg: &settings.id_token_alg,
    })
    .into_iter()
    .map(|problem| Problem::new(problem.path(), problem.code, problem.message))
    .collect();
    let theme = match &settings.theme {
        Ok(theme) => theme.clone(),
        Err(refused) => {
            problems.extend(refused.iter().cloned());
            Value::Null
        }
    };
    if problems.is_empty() {
        Ok(theme)
    } else {
        Err(ClientError::Invalid(problems))
    }
}

/// The problems of a client's list of connections (paths `connections/<index>`): a name no
/// stored connection has (`unknown_connection`), a name listed twice (`duplicate`). Shared by
/// the API and the command line.
pub async fn connection_problems(
    store: &dyn Store,
    names: Option<&[String]>,
) -> Result<Vec<Problem>, StoreError> {
    let Some(names) = names else {
        return Ok(Vec::new());
    };
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let stored = store.list_connections().await?;
    let mut problems = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let path = format!("connections/{index}");
        if names[..index].contains(name) {
            problems.push(Problem::new(
                path,
                "duplicate",
                format!("{name} is listed twice"),
            ));
        } else if !stored.iter().any(|connection| &connection.name == name) {
            problems.push(Problem::new(
                path,
                "unknown_connection",
                format!("there is no connection {name:?}"),
            ));
        }
    }
    Ok(problems)
}

/// [`check`], and the client's connections against the store: every problem at once.
async fn check_with_connections(
    app: &App,
    id: Option<&str>,
    settings: &Settings,
) -> Result<Value, ClientError> {
    let checked = check(id, settings);
    let connections = connection_problems(app.store(), settings.connections.as_deref()).await?;
    match checked {
        Ok(theme) if connections.is_empty() => Ok(theme),
        Ok(_) => Err(ClientError::Invalid(connections)),
        Err(ClientError::Invalid(mut problems)) => {
            problems.extend(connections);
            Err(ClientError::Invalid(problems))
        }
        Err(other) => Err(other),
    }
}

fn client_of(id: String, settings: Settings, theme: Value, now: OffsetDateTime) -> Client {
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
        theme,
        connections: settings.connections,
        password_signin: settings.password_signin,
        self_signup: settings.self_signup,
        email_verification: settings
            .email_verification
            .map(|value| value.as_str().to_owned()),
        mfa: settings.mfa.map(|value| value.as_str().to_owned()),
        created_at: now,
        updated_at: now,
    }
}

/// Checks the settings only (what [`register`] would refuse, before the store; the
/// connections are not looked up).
pub fn check_settings(id: Option<&str>, settings: &Settings) -> Result<(), ClientError> {
    check(id, settings).map(|_| ())
}

/// Registers a client under `id` (generated when `None`); a confidential client gets a secret,
/// stored hashed with `hasher` and returned once.
pub async fn register(
    app: &App,
    id: Option<String>,
    settings: Settings,
    hasher: &TokenHasher,
    now: OffsetDateTime,
) -> Result<Registered, ClientError> {
    let theme = check_with_connections(app, id.as_deref(), &settings).await?;
    let id = id.unwrap_or_else(|| format!("client-{}", uuid::Uuid::now_v7().simple()));
    let public = settings.public;
    let mut client = client_of(id, settings, theme, now);
    let secret = (!public).then(random_opaque);
    client.secret_hash = secret.as_deref().map(|s| hasher.hash(s));
    let client = app.store().create_client(client).await?;
    Ok(Registered { client, secret })
}

/// Every client, oldest first.
pub async fn list(app: &App) -> Result<Vec<Client>, ClientError> {
    Ok(app.store().list_clients().await?)
}

/// The client `id`, from the store.
pub async fn get(app: &App, id: &str) -> Result<Client, ClientError> {
    app.store()
        .get_client(id)
        .await?
        .ok_or(ClientError::NotFound)
}

/// Replaces a client's settings (its secret and creation time are kept); this node forgets
/// the old settings at once.
pub async fn update(
    app: &App,
    id: String,
    settings: Settings,
    now: OffsetDateTime,
) -> Result<Client, ClientError> {
    let theme = check_with_connections(app, None, &settings).await?;
    let current = get(app, &id).await?;
    if settings.public != current.public {
        return Err(ClientError::Refused(Problem::new(
            "public",
            "immutable",
            "a client cannot change between public and confidential",
        )));
    }
    let mut client = client_of(id, settings, theme, now);
    client.secret_hash = current.secret_hash;
    client.created_at = current.created_at;
    let updated = app.store().update_client(client).await?;
    app.clients.forget(&updated.id);
    Ok(updated)
}

/// Deletes a client with its transactions, grants, codes and tokens
/// ([`crate::clients::ClientCache::delete`]). The console's own client is kept: without it
/// no administrator could sign in to the console.
pub async fn delete(app: &App, id: &str) -> Result<(), ClientError> {
    get(app, id).await?;
    if id == crate::admins::CONSOLE_CLIENT {
        return Err(ClientError::Refused(Problem::new(
            "id",
            "console_client",
            "the console's own client cannot be deleted: administrators sign in through it",
        )));
    }
    Ok(app.clients.delete(app.store(), id).await?)
}

/// What the audit log keeps of a client: its settings, never its secret (nor the secret's
/// hash, which the stored client does not serialize).
pub fn snapshot(client: &Client) -> Option<Value> {
    serde_json::to_value(client).ok()
}

/// What the audit log keeps of a secret's rotation: when, never the secret.
pub fn rotation_record(client: &Client) -> Value {
    let at = client
        .updated_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    serde_json::json!({ "secret_rotated_at": at })
}

/// Gives a confidential client a new secret, hashed at rest as [`register`] does and returned
/// once; the old one is refused at once on this node (within the client cache's time on the
/// others). A public client has no secret to rotate.
pub async fn rotate_secret(
    app: &App,
    id: &str,
    hasher: &TokenHasher,
    now: OffsetDateTime,
) -> Result<(Client, String), ClientError> {
    let mut client = get(app, id).await?;
    if client.public {
        return Err(ClientError::Refused(Problem::new(
            "public",
            "public_client",
            "a public client has no secret",
        )));
    }
    let secret = random_opaque();
    client.secret_hash = Some(hasher.hash(&secret));
    client.updated_at = now;
    let updated = app.store().update_client(client).await?;
    app.clients.forget(&updated.id);
    Ok((updated, secret))
}
