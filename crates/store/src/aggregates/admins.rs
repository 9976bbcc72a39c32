//! Administrators, the audit log and console sessions. A role change and its audit entry are
//! written in one transaction, so the log never misses a grant (or holds one that did not
//! happen).

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::admin::{AdminGrant, AuditEntry, ConsoleSession, NewAuditEntry};
use crate::backend::{Backend, Conn, query, query_as};
use crate::model::{from_millis, parse_id, to_millis};

/// Administrators, the audit log and console sessions.
#[async_trait]
pub trait Admins: Send + Sync {
    /// Sets (`Some`) or removes (`None`) the user's role and records `audit` (with the role
    /// before and after) in the same transaction; the role before. [`StoreError::NotFound`]
    /// when the user does not exist.
    async fn set_admin_role(
        &self,
        user_id: Uuid,
        role: Option<&str>,
        audit: NewAuditEntry,
    ) -> Result<Option<String>, StoreError>;

    /// The user's role, if any.
    async fn admin_role(&self, user_id: Uuid) -> Result<Option<String>, StoreError>;

    /// Every administrator, by email.
    async fn list_admins(&self) -> Result<Vec<AdminGrant>, StoreError>;

    /// How many administrators have `role` (`None`: any role).
    async fn count_admins(&self, role: Option<&str>) -> Result<i64, StoreError>;

    /// Records a change.
    async fn record_audit(&self, entry: NewAuditEntry) -> Result<(), StoreError>;

    /// The log, newest first: at most `limit` entries older than `before` (a `seq`; `None`:
    /// from the newest).
    async fn list_audit(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// The newest `limit` entries whose target is `target` (`user:<id>`), newest first.
    async fn list_audit_about(
        &self,
        target: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Stores a new console session.
    async fn create_console_session(&self, session: ConsoleSession) -> Result<(), StoreError>;

    /// The console session with this hash, unless expired at `now`.
    async fn console_session(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ConsoleSession>, StoreError>;

    /// Ends a console session (signing out); whether it existed.
    async fn delete_console_session(&self, hash: &str) -> Result<bool, StoreError>;

    /// Deletes the sessions expired at `now`; how many.
    async fn delete_expired_console_sessions(&self, now: OffsetDateTime)
    -> Result<u64, StoreError>;
}

#[async_trait]
impl<B: Backend> Admins for B {
    async fn set_admin_role(
        &self,
        user_id: Uuid,
        role: Option<&str>,
        audit: NewAuditEntry,
    ) -> Result<Option<String>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::set_admin_role(&mut *c, user_id, role, audit).await;
        self.settle(&mut c, result)
    }

    async fn admin_role(&self, user_id: Uuid) -> Result<Option<String>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::admin_role(&mut *c, user_id).await;
        self.settle(&mut c, result)
    }

    async fn list_admins(&self) -> Result<Vec<AdminGrant>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_admins(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn count_admins(&self, role: Option<&str>) -> Result<i64, StoreError> {
        let mut c = self.read().await?;
        let result = sql::count_admins(&mut *c, role).await;
        self.settle(&mut c, result)
    }

    async fn record_audit(&self, entry: NewAuditEntry) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::record_audit(&mut *c, entry).await;
        self.settle(&mut c, result)
    }

    async fn list_audit(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_audit(&mut *c, before, limit).await;
        self.settle(&mut c, result)
    }

    async fn list_audit_about(
        &self,
        target: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_audit_about(&mut *c, target, limit).await;
        self.settle(&mut c, result)
    }

    async fn create_console_session(&self, session: ConsoleSession) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_console_session(&mut *c, session).await;
        self.settle(&mut c, result)
    }

    async fn console_session(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::console_session(&mut *c, hash, now).await;
        self.settle(&mut c, result)
    }

    async fn delete_console_session(&self, hash: &str) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_console_session(&mut *c, hash).await;
        self.settle(&mut c, result)
    }

    async fn delete_expired_console_sessions(
        &self,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_expired_console_sessions(&mut *c, now).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;
    use crate::aggregates::users::UserRow;

    pub(crate) async fn set_admin_role<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        role: Option<&str>,
        mut audit: NewAuditEntry,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = c.begin_write().await?;
        // The user stays locked: two concurrent changes of one user's role are serialized.
        if query_as::<UserRow>(C::LOCK_USER)
            .bind(user_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound);
        }
        let before = admin_role(&mut *tx, user_id).await?;
        if before.as_deref() == role {
            return Ok(before);
        }
        match role {
            Some(role) => {
                query("DELETE FROM admins WHERE user_id = $1")
                    .bind(user_id.to_string())
                    .execute(&mut *tx)
                    .await?;
                query(
                    "INSERT INTO admins (user_id, role, granted_at, granted_by)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(user_id.to_string())
                .bind(role)
                .bind(to_millis(audit.at))
                .bind(audit.actor.clone())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                query("DELETE FROM admins WHERE user_id = $1")
                    .bind(user_id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        audit.before = before.as_ref().map(|r| serde_json::json!({ "role": r }));
        audit.after = role.map(|r| serde_json::json!({ "role": r }));
        record_audit(&mut *tx, audit).await?;
        C::commit(tx).await?;
        Ok(before)
    }

    pub(crate) async fn admin_role<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            query_as::<(String,)>("SELECT role FROM admins WHERE user_id = $1")
                .bind(user_id.to_string())
                .fetch_optional(&mut *c)
                .await?
                .map(|(role,)| role),
        )
    }

    pub(crate) async fn list_admins<C: Conn>(c: &mut C) -> Result<Vec<AdminGrant>, StoreError> {
        query_as::<(String, String, String, i64, String)>(
            "SELECT a.user_id, u.email, a.role, a.granted_at, a.granted_by
             FROM admins a JOIN users u ON u.id = a.user_id ORDER BY u.email",
        )
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|(user_id, email, role, granted_at, granted_by)| {
            Ok(AdminGrant {
                user_id: parse_id(&user_id)?,
                email,
                role,
                granted_at: from_millis(granted_at)?,
                granted_by,
            })
        })
        .collect()
    }

    pub(crate) async fn count_admins<C: Conn>(
        c: &mut C,
        role: Option<&str>,
    ) -> Result<i64, StoreError> {
        let (count,) = match role {
            Some(role) => {
                query_as::<(i64,)>("SELECT COUNT(*) FROM admins WHERE role = $1")
                    .bind(role)
                    .fetch_one(&mut *c)
                    .await?
            }
            None => {
                query_as::<(i64,)>("SELECT COUNT(*) FROM admins")
                    .fetch_one(&mut *c)
                    .await?
            }
        };
        Ok(count)
    }

    pub(crate) async fn record_audit<C: Conn>(
        c: &mut C,
        entry: NewAuditEntry,
    ) -> Result<(), StoreError> {
        query(
            "INSERT INTO audit_log (at, actor, action, target, before, after, ip)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(to_millis(entry.at))
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.before.map(Json))
        .bind(entry.after.map(Json))
        .bind(entry.ip)
        .execute(&mut *c)
        .await?;
        Ok(())
    }

    type AuditRow = (
        i64,
        i64,
        String,
        String,
        Option<String>,
        Option<Json<Value>>,
        Option<Json<Value>>,
        Option<String>,
    );

    pub(crate) async fn list_audit<C: Conn>(
        c: &mut C,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = query_as::<AuditRow>(
            "SELECT seq, at, actor, action, target, before, after, ip FROM audit_log
             WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
        audit_entries(rows)
    }

    pub(crate) async fn list_audit_about<C: Conn>(
        c: &mut C,
        target: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = query_as::<AuditRow>(
            "SELECT seq, at, actor, action, target, before, after, ip FROM audit_log
             WHERE target = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(target.to_owned())
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
        audit_entries(rows)
    }

    fn audit_entries(rows: Vec<AuditRow>) -> Result<Vec<AuditEntry>, StoreError> {
        rows.into_iter()
            .map(|(seq, at, actor, action, target, before, after, ip)| {
                Ok(AuditEntry {
                    seq,
                    entry: NewAuditEntry {
                        at: from_millis(at)?,
                        actor,
                        action,
                        target,
                        before: before.map(|j| j.0),
                        after: after.map(|j| j.0),
                        ip,
                    },
                })
            })
            .collect()
    }

    pub(crate) async fn create_console_session<C: Conn>(
        c: &mut C,
        session: ConsoleSession,
    ) -> Result<(), StoreError> {
        query(
            "INSERT INTO console_sessions (hash, user_id, created_at, auth_time, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.hash)
        .bind(session.user_id.to_string())
        .bind(to_millis(session.created_at))
        .bind(to_millis(session.auth_time))
        .bind(to_millis(session.expires_at))
        .execute(&mut *c)
        .await
        .map_err(|e| match e {
            StoreError::Invalid { .. } => StoreError::NotFound,
            other => other,
        })?;
        Ok(())
    }

    pub(crate) async fn console_session<C: Conn>(
        c: &mut C,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        query_as::<(String, String, i64, i64, i64)>(
            "SELECT hash, user_id, created_at, auth_time, expires_at FROM console_sessions
             WHERE hash = $1 AND expires_at > $2",
        )
        .bind(hash)
        .bind(to_millis(now))
        .fetch_optional(&mut *c)
        .await?
        .map(|(hash, user_id, created_at, auth_time, expires_at)| {
            Ok(ConsoleSession {
                hash,
                user_id: parse_id(&user_id)?,
                created_at: from_millis(created_at)?,
                auth_time: from_millis(auth_time)?,
                expires_at: from_millis(expires_at)?,
            })
        })
        .transpose()
    }

    pub(crate) async fn delete_console_session<C: Conn>(
        c: &mut C,
        hash: &str,
    ) -> Result<bool, StoreError> {
        Ok(query("DELETE FROM console_sessions WHERE hash = $1")
            .bind(hash)
            .execute(&mut *c)
            .await?
            > 0)
    }

    pub(crate) async fn delete_expired_console_sessions<C: Conn>(
        c: &mut C,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        query("DELETE FROM console_sessions WHERE expires_at <= $1")
            .bind(to_millis(now))
            .execute(&mut *c)
            .await
    }
}
