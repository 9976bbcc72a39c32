//! The admin console's records: administrators and their roles, the audit log, console
//! sessions (docs/console.md).

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// A user's administrator role, as stored (`owner`, `editor`, `support`, `viewer`); what each
/// may do is `accrete_app::admins`' rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminGrant {
    pub user_id: Uuid,
    /// The user's email address (read with the grant, for lists).
    pub email: String,
    pub role: String,
    pub granted_at: OffsetDateTime,
    /// Who granted it (`user:<id>`, `client:<id>`, `cli`, `setup`).
    pub granted_by: String,
}

/// A change to record in the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub at: OffsetDateTime,
    /// `user:<id>` (an administrator in the console), `client:<id>` (an API back end), `cli`.
    pub actor: String,
    /// What was done: `admin.granted`, `user.deleted`, `policy.published`...
    pub action: String,
    /// On what: `user:<id>`, `client:<id>`, `policy`...
    pub target: Option<String>,
    /// The values before the change (`None`: it did not exist), never a secret.
    pub before: Option<Value>,
    /// The values after (`None`: it is gone).
    pub after: Option<Value>,
    /// The address the change came from.
    pub ip: Option<String>,
}

/// A recorded change, with its place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Increasing: the log's order and its cursor.
    pub seq: i64,
    pub entry: NewAuditEntry,
}

/// A console session (its cookie's hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub hash: String,
    pub user_id: Uuid,
    pub created_at: OffsetDateTime,
    /// When the administrator last signed in (through `/authorize`).
    pub auth_time: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}
