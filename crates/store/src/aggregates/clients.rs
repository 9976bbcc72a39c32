//! Registered OpenID Connect clients.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;

use crate::backend::{Backend, Conn, query_as};
use crate::model::from_millis;
use crate::{Client, StoreError};

/// Registered OpenID Connect clients.
#[async_trait]
pub trait Clients: Send + Sync {
    /// Registers a client. [`StoreError::Conflict`] when the id is taken.
    async fn create_client(&self, client: Client) -> Result<Client, StoreError>;

    /// The client with this id, if any.
    async fn get_client(&self, id: &str) -> Result<Option<Client>, StoreError>;

    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;

    /// Replaces a client's settings (everything but `id` and `created_at`).
    async fn update_client(&self, client: Client) -> Result<Client, StoreError>;

    /// Deletes a client with its transactions, grants, codes and tokens.
    async fn delete_client(&self, id: &str) -> Result<(), StoreError>;
}

#[async_trait]
impl<B: Backend> Clients for B {
    async fn create_client(&self, client: Client) -> Result<Client, StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_client(&mut *c, client).await;
        self.settle(&mut c, result)
    }

    async fn get_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::get_client(&mut *c, id).await;
        self.settle(&mut c, result)
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_clients(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn update_client(&self, client: Client) -> Result<Client, StoreError> {
        let mut c = self.write().await?;
        let result = sql::update_client(&mut *c, client).await;
        self.settle(&mut c, result)
    }

    async fn delete_client(&self, id: &str) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_client(&mut *c, id).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;
    use crate::aggregates::webhooks;

    /// Registers the client and records `client.created`, in one transaction.
    pub(crate) async fn create_client<C: Conn>(
        c: &mut C,
        client: Client,
    ) -> Result<Client, StoreError> {
        let mut tx = c.begin_write().await?;
        let created = create_client_in(&mut *tx, client).await?;
        changed(
            &mut *tx,
            "client.created",
            &created.id,
            &created.name,
            created.updated_at,
        )
        .await?;
        C::commit(tx).await?;
        Ok(created)
    }

    /// Replaces the client's settings and records `client.updated`, in one transaction.
    pub(crate) async fn update_client<C: Conn>(
        c: &mut C,
        client: Client,
    ) -> Result<Client, StoreError> {
        let mut tx = c.begin_write().await?;
        let updated = update_client_in(&mut *tx, client).await?;
        changed(
            &mut *tx,
            "client.updated",
            &updated.id,
            &updated.name,
            updated.updated_at,
        )
        .await?;
        C::commit(tx).await?;
        Ok(updated)
    }

    /// Deletes the client and records `client.deleted`, in one transaction.
    pub(crate) async fn delete_client<C: Conn>(c: &mut C, id: &str) -> Result<(), StoreError> {
        let mut tx = c.begin_write().await?;
        let name = delete_client_in(&mut *tx, id).await?;
        let now = time::OffsetDateTime::now_utc();
        changed(&mut *tx, "client.deleted", id, &name, now).await?;
        C::commit(tx).await
    }

    /// The outbox event of a client's change (never its secret).
    async fn changed<C: Conn>(
        tx: &mut C,
        kind: &'static str,
        id: &str,
        name: &str,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        let event = crate::NewWebhookEvent {
            kind,
            payload: serde_json::json!({ "client": { "id": id, "name": name } }),
            at,
        };
        webhooks::sql::insert_event(&mut *tx, event)
            .await
            .map(|_| ())
    }

    async fn create_client_in<C: Conn>(c: &mut C, client: Client) -> Result<Client, StoreError> {
        if client.id.is_empty() {
            return Err(StoreError::Invalid {
                message: "the client id is empty".into(),
            });
        }
        let theme = crate::model::json_object(client.theme, "theme")?;
        query_as::<ClientRow>(
            "INSERT INTO clients (id, secret_hash, name, redirect_uris,
                 post_logout_redirect_uris, grant_types, scopes, audience, public,
                 id_token_alg, allowed_origins, theme, created_at, updated_at, connections,
                 password_signin, self_signup, email_verification, mfa)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                 $17, $18, $19)
             RETURNING *",
        )
        .bind(client.id)
        .bind(client.secret_hash)
        .bind(client.name)
        .bind(Json(client.redirect_uris))
        .bind(Json(client.post_logout_redirect_uris))
        .bind(Json(client.grant_types))
        .bind(Json(client.scopes))
        .bind(Json(client.audience))
        .bind(client.public)
        .bind(client.id_token_alg)
        .bind(Json(client.allowed_origins))
        .bind(Json(theme))
        .bind(crate::model::to_millis(client.created_at))
        .bind(crate::model::to_millis(client.updated_at))
        .bind(client.connections.map(Json))
        .bind(client.password_signin)
        .bind(client.self_signup)
        .bind(client.email_verification)
        .bind(client.mfa)
        .fetch_one(&mut *c)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => StoreError::Conflict {
                what: "a client with this id already exists".into(),
            },
            other => other,
        })?
        .try_into()
    }

    pub(crate) async fn get_client<C: Conn>(
        c: &mut C,
        id: &str,
    ) -> Result<Option<Client>, StoreError> {
        query_as::<ClientRow>("SELECT * FROM clients WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&mut *c)
            .await?
            .map(Client::try_from)
            .transpose()
    }

    pub(crate) async fn list_clients<C: Conn>(c: &mut C) -> Result<Vec<Client>, StoreError> {
        query_as::<ClientRow>("SELECT * FROM clients ORDER BY created_at, id")
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(Client::try_from)
            .collect()
    }

    async fn update_client_in<C: Conn>(c: &mut C, client: Client) -> Result<Client, StoreError> {
        let theme = crate::model::json_object(client.theme, "theme")?;
        query_as::<ClientRow>(
            "UPDATE clients SET secret_hash = $2, name = $3, redirect_uris = $4,
                 post_logout_redirect_uris = $5, grant_types = $6, scopes = $7,
                 audience = $8, public = $9, id_token_alg = $10, allowed_origins = $11,
                 theme = $12, updated_at = $13, connections = $14, password_signin = $15,
                 self_signup = $16, email_verification = $17, mfa = $18
             WHERE id = $1 RETURNING *",
        )
        .bind(client.id)
        .bind(client.secret_hash)
        .bind(client.name)
        .bind(Json(client.redirect_uris))
        .bind(Json(client.post_logout_redirect_uris))
        .bind(Json(client.grant_types))
        .bind(Json(client.scopes))
        .bind(Json(client.audience))
        .bind(client.public)
        .bind(client.id_token_alg)
        .bind(Json(client.allowed_origins))
        .bind(Json(theme))
        .bind(crate::model::to_millis(client.updated_at))
        .bind(client.connections.map(Json))
        .bind(client.password_signin)
        .bind(client.self_signup)
        .bind(client.email_verification)
        .bind(client.mfa)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// Deletes the client; its name.
    async fn delete_client_in<C: Conn>(c: &mut C, id: &str) -> Result<String, StoreError> {
        // Its transactions and grants (with their codes and tokens) cascade.
        query_as::<(String,)>("DELETE FROM clients WHERE id = $1 RETURNING name")
            .bind(id.to_owned())
            .fetch_optional(&mut *c)
            .await?
            .map(|(name,)| name)
            .ok_or(StoreError::NotFound)
    }
}

/// A `clients` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ClientRow {
    pub id: String,
    pub secret_hash: Option<String>,
    pub name: String,
    pub redirect_uris: Json<Vec<String>>,
    pub post_logout_redirect_uris: Json<Vec<String>>,
    pub grant_types: Json<Vec<String>>,
    pub scopes: Json<Vec<String>>,
    pub audience: Json<Vec<String>>,
    pub public: bool,
    pub id_token_alg: String,
    pub allowed_origins: Json<Vec<String>>,
    pub theme: Json<Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub connections: Option<Json<Vec<String>>>,
    pub password_signin: bool,
    pub self_signup: Option<bool>,
    pub email_verification: Option<String>,
    pub mfa: Option<String>,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        Ok(Client {
            id: row.id,
            secret_hash: row.secret_hash,
            name: row.name,
            redirect_uris: row.redirect_uris.0,
            post_logout_redirect_uris: row.post_logout_redirect_uris.0,
            grant_types: row.grant_types.0,
            scopes: row.scopes.0,
            audience: row.audience.0,
            public: row.public,
            id_token_alg: row.id_token_alg,
            allowed_origins: row.allowed_origins.0,
            theme: row.theme.0,
            created_at: from_millis(row.created_at)?,
            updated_at: from_millis(row.updated_at)?,
            connections: row.connections.map(|json| json.0),
            password_signin: row.password_signin,
            self_signup: row.self_signup,
            email_verification: row.email_verification,
            mfa: row.mfa,
        })
    }
}
