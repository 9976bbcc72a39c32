//! Row shapes shared by both backends, and their conversion to public records.

use serde_json::Value;
use sqlx::types::Json;

use crate::model::{from_millis, from_millis_opt, parse_id};
use crate::{HistoryEntry, Location, Provenance, StoreError, User};

/// A `users` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub credentialed_logins: i64,
    pub sso_logins: i64,
    pub last_login_at: Option<i64>,
    pub profile: Json<Value>,
    pub user_metadata: Json<Value>,
    pub app_metadata: Json<Value>,
    pub version: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: parse_id(&row.id)?,
            email: row.email,
            email_verified: row.email_verified,
            password_hash: row.password_hash,
            created_at: from_millis(row.created_at)?,
            updated_at: from_millis(row.updated_at)?,
            credentialed_logins: row.credentialed_logins,
            sso_logins: row.sso_logins,
            last_login_at: from_millis_opt(row.last_login_at)?,
            profile: row.profile.0,
            user_metadata: row.user_metadata.0,
            app_metadata: row.app_metadata.0,
            version: row.version,
        })
    }
}

/// A row of the migrations bookkeeping table.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MigrationRow {
    pub version: i64,
    pub checksum: String,
}

/// Hex form of a migration checksum, as stored.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn location(name: &str) -> Result<Location, StoreError> {
    Location::parse(name).ok_or_else(|| {
        StoreError::unexpected(format!("unknown profile location {name:?} in the database"))
    })
}

/// A `profile_history` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct HistoryRow {
    pub seq: i64,
    pub user_id: String,
    pub location: String,
    pub key: String,
    pub old_value: Option<Json<Value>>,
    pub new_value: Option<Json<Value>>,
    pub source: String,
    pub changed_at: i64,
}

impl TryFrom<HistoryRow> for HistoryEntry {
    type Error = StoreError;

    fn try_from(row: HistoryRow) -> Result<Self, StoreError> {
        Ok(HistoryEntry {
            seq: row.seq,
            user_id: parse_id(&row.user_id)?,
            location: location(&row.location)?,
            key: row.key,
            old_value: row.old_value.map(|json| json.0),
            new_value: row.new_value.map(|json| json.0),
            source: row.source,
            changed_at: from_millis(row.changed_at)?,
        })
    }
}

/// A `profile_provenance` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProvenanceRow {
    pub location: String,
    pub key: String,
    pub source: String,
    pub updated_at: i64,
}

impl TryFrom<ProvenanceRow> for Provenance {
    type Error = StoreError;

    fn try_from(row: ProvenanceRow) -> Result<Self, StoreError> {
        Ok(Provenance {
            location: location(&row.location)?,
            key: row.key,
            source: row.source,
            updated_at: from_millis(row.updated_at)?,
        })
    }
}
