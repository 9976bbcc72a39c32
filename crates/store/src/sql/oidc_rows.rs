//! Row shapes of the OpenID Connect tables and their conversion to public records.

use serde_json::Value;
use sqlx::types::Json;

use crate::model::{from_millis, from_millis_opt, parse_id};
use crate::{
    AuthTransaction, AuthorizationCode, Client, ExpiredTransaction, Grant, RefreshToken,
    SsoSession, StoreError, StoredSigningKey,
};

fn parse_id_opt(id: Option<String>) -> Result<Option<uuid::Uuid>, StoreError> {
    id.as_deref().map(parse_id).transpose()
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
        })
    }
}

/// A `signing_keys` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub private_key: Vec<u8>,
    pub public_jwk: Json<Value>,
    pub created_at: i64,
    pub active_from: i64,
    pub retired_at: Option<i64>,
}

impl TryFrom<SigningKeyRow> for StoredSigningKey {
    type Error = StoreError;

    fn try_from(row: SigningKeyRow) -> Result<Self, StoreError> {
        Ok(StoredSigningKey {
            kid: row.kid,
            alg: row.alg,
            private_key: row.private_key,
            public_jwk: row.public_jwk.0,
            created_at: from_millis(row.created_at)?,
            active_from: from_millis(row.active_from)?,
            retired_at: from_millis_opt(row.retired_at)?,
        })
    }
}

/// An `sso_sessions` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub auth_time: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub credentialed: bool,
}

impl TryFrom<SessionRow> for SsoSession {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        Ok(SsoSession {
            hash: row.hash,
            user_id: parse_id(&row.user_id)?,
            created_at: from_millis(row.created_at)?,
            auth_time: from_millis(row.auth_time)?,
            last_seen_at: from_millis(row.last_seen_at)?,
            expires_at: from_millis(row.expires_at)?,
            credentialed: row.credentialed,
        })
    }
}

/// An `auth_transactions` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TransactionRow {
    pub id: String,
    pub client_id: String,
    pub request: Json<Value>,
    pub user_id: Option<String>,
    pub session_hash: Option<String>,
    pub state: Json<Value>,
    pub created_at: i64,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
    pub version: i64,
}

impl TryFrom<TransactionRow> for AuthTransaction {
    type Error = StoreError;

    fn try_from(row: TransactionRow) -> Result<Self, StoreError> {
        Ok(AuthTransaction {
            id: parse_id(&row.id)?,
            client_id: row.client_id,
            request: row.request.0,
            user_id: parse_id_opt(row.user_id)?,
            session_hash: row.session_hash,
            state: row.state.0,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            completed_at: from_millis_opt(row.completed_at)?,
            version: row.version,
        })
    }
}

impl TryFrom<TransactionRow> for ExpiredTransaction {
    type Error = StoreError;

    fn try_from(row: TransactionRow) -> Result<Self, StoreError> {
        Ok(ExpiredTransaction {
            id: parse_id(&row.id)?,
            client_id: row.client_id,
            user_id: parse_id_opt(row.user_id)?,
            state: row.state.0,
        })
    }
}

/// A `grants` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct GrantRow {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub scopes: Json<Vec<String>>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl TryFrom<GrantRow> for Grant {
    type Error = StoreError;

    fn try_from(row: GrantRow) -> Result<Self, StoreError> {
        Ok(Grant {
            id: parse_id(&row.id)?,
            user_id: parse_id(&row.user_id)?,
            client_id: row.client_id,
            scopes: row.scopes.0,
            created_at: from_millis(row.created_at)?,
            revoked_at: from_millis_opt(row.revoked_at)?,
        })
    }
}

/// An `authorization_codes` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CodeRow {
    pub hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scopes: Json<Vec<String>>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub context: Json<Value>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

impl TryFrom<CodeRow> for AuthorizationCode {
    type Error = StoreError;

    fn try_from(row: CodeRow) -> Result<Self, StoreError> {
        Ok(AuthorizationCode {
            hash: row.hash,
            grant_id: parse_id(&row.grant_id)?,
            client_id: row.client_id,
            user_id: parse_id(&row.user_id)?,
            redirect_uri: row.redirect_uri,
            scopes: row.scopes.0,
            nonce: row.nonce,
            code_challenge: row.code_challenge,
            auth_time: from_millis(row.auth_time)?,
            context: row.context.0,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            consumed_at: from_millis_opt(row.consumed_at)?,
        })
    }
}

/// A `refresh_tokens` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RefreshRow {
    pub hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scopes: Json<Vec<String>>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TryFrom<RefreshRow> for RefreshToken {
    type Error = StoreError;

    fn try_from(row: RefreshRow) -> Result<Self, StoreError> {
        Ok(RefreshToken {
            hash: row.hash,
            grant_id: parse_id(&row.grant_id)?,
            client_id: row.client_id,
            user_id: parse_id(&row.user_id)?,
            scopes: row.scopes.0,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            used_at: from_millis_opt(row.used_at)?,
            revoked_at: from_millis_opt(row.revoked_at)?,
        })
    }
}
