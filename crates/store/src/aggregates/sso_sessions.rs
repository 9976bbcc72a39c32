//! Single sign-on sessions, looked up by the hash of their cookie; listed and ended by their
//! owner through their opaque `id` (the account center).

use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::aggregates::prompts;
use crate::backend::{Backend, Conn, query, query_as};
use crate::model::{from_millis, parse_id};
use crate::{NewEvent, SsoSession, StoreError};

/// Single sign-on sessions.
#[async_trait]
pub trait SsoSessions: Send + Sync {
    /// Stores a new session. [`StoreError::NotFound`] when the user does not exist.
    async fn create_session(&self, session: SsoSession) -> Result<(), StoreError>;

    /// The session with this cookie hash, unless expired at `now`.
    async fn get_session(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError>;

    /// Records a use of a live session and moves its expiry; `None` if gone or expired.
    async fn touch_session(
        &self,
        hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError>;

    /// Records that a live session passed a second factor at `now`: its `amr` and `acr`
    /// become these (the ID tokens it gives from now on say so); `None` if gone or expired.
    async fn mark_session_mfa(
        &self,
        hash: &str,
        amr: Vec<String>,
        acr: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError>;

    /// Ends a session (no error if it does not exist).
    async fn delete_session(&self, hash: &str) -> Result<(), StoreError>;

    /// Ends every session of a user; returns how many there were.
    async fn delete_user_sessions(&self, user_id: Uuid) -> Result<u64, StoreError>;

    /// A user's sessions live at `now`, newest first.
    async fn list_user_sessions(
        &self,
        user_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Vec<SsoSession>, StoreError>;

    /// Ends the session `id` of `user_id` (another user's is left alone) and records `event`
    /// in the same transaction when one ended; whether one did.
    async fn end_user_session(
        &self,
        user_id: Uuid,
        id: Uuid,
        event: Option<NewEvent>,
    ) -> Result<bool, StoreError>;

    /// Ends every session of `user_id` but `keep` (its id) and records `event` in the same
    /// transaction when any ended; how many did.
    async fn end_other_sessions(
        &self,
        user_id: Uuid,
        keep: Uuid,
        event: Option<NewEvent>,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
impl<B: Backend> SsoSessions for B {
    async fn create_session(&self, session: SsoSession) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_session(&mut *c, session).await;
        self.settle(&mut c, result)
    }

    async fn get_session(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::get_session(&mut *c, hash, now).await;
        self.settle(&mut c, result)
    }

    async fn touch_session(
        &self,
        hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::touch_session(&mut *c, hash, now, expires_at).await;
        self.settle(&mut c, result)
    }

    async fn mark_session_mfa(
        &self,
        hash: &str,
        amr: Vec<String>,
        acr: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::mark_session_mfa(&mut *c, hash, amr, acr, now).await;
        self.settle(&mut c, result)
    }

    async fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_session(&mut *c, hash).await;
        self.settle(&mut c, result)
    }

    async fn delete_user_sessions(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_user_sessions(&mut *c, user_id).await;
        self.settle(&mut c, result)
    }

    async fn list_user_sessions(
        &self,
        user_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Vec<SsoSession>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_user_sessions(&mut *c, user_id, now).await;
        self.settle(&mut c, result)
    }

    async fn end_user_session(
        &self,
        user_id: Uuid,
        id: Uuid,
        event: Option<NewEvent>,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::end_sessions(&mut *c, user_id, SessionsToEnd::One(id), event).await;
        self.settle(&mut c, result.map(|ended| ended > 0))
    }

    async fn end_other_sessions(
        &self,
        user_id: Uuid,
        keep: Uuid,
        event: Option<NewEvent>,
    ) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::end_sessions(&mut *c, user_id, SessionsToEnd::AllBut(keep), event).await;
        self.settle(&mut c, result)
    }
}

/// Which of a user's sessions to end.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SessionsToEnd {
    One(Uuid),
    AllBut(Uuid),
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn create_session<C: Conn>(
        c: &mut C,
        session: SsoSession,
    ) -> Result<(), StoreError> {
        use crate::model::to_millis;
        query(
            "INSERT INTO sso_sessions
                 (hash, user_id, created_at, auth_time, last_seen_at, expires_at, credentialed,
                  amr, acr, id, user_agent, ip, mfa_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(session.hash)
        .bind(session.user_id.to_string())
        .bind(to_millis(session.created_at))
        .bind(to_millis(session.auth_time))
        .bind(to_millis(session.last_seen_at))
        .bind(to_millis(session.expires_at))
        .bind(session.credentialed)
        .bind(Json(session.amr))
        .bind(session.acr)
        .bind(session.id.to_string())
        .bind(
            session
                .user_agent
                .as_deref()
                .and_then(crate::oidc::truncate_user_agent),
        )
        .bind(session.ip)
        .bind(session.mfa_at.map(crate::model::to_millis))
        .execute(&mut *c)
        .await
        .map_err(|e| match e {
            // The user is gone (foreign key): nothing to attach the session to.
            StoreError::Invalid { .. } => StoreError::NotFound,
            other => other,
        })?;
        Ok(())
    }

    pub(crate) async fn get_session<C: Conn>(
        c: &mut C,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError> {
        query_as::<SessionRow>("SELECT * FROM sso_sessions WHERE hash = $1 AND expires_at > $2")
            .bind(hash.to_owned())
            .bind(crate::model::to_millis(now))
            .fetch_optional(&mut *c)
            .await?
            .map(SsoSession::try_from)
            .transpose()
    }

    pub(crate) async fn touch_session<C: Conn>(
        c: &mut C,
        hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError> {
        query_as::<SessionRow>(
            "UPDATE sso_sessions SET last_seen_at = $2, expires_at = $3
             WHERE hash = $1 AND expires_at > $2 RETURNING *",
        )
        .bind(hash.to_owned())
        .bind(crate::model::to_millis(now))
        .bind(crate::model::to_millis(expires_at))
        .fetch_optional(&mut *c)
        .await?
        .map(SsoSession::try_from)
        .transpose()
    }

    pub(crate) async fn mark_session_mfa<C: Conn>(
        c: &mut C,
        hash: &str,
        amr: Vec<String>,
        acr: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError> {
        query_as::<SessionRow>(
            "UPDATE sso_sessions SET mfa_at = $2, amr = $3, acr = $4
             WHERE hash = $1 AND expires_at > $2 RETURNING *",
        )
        .bind(hash.to_owned())
        .bind(crate::model::to_millis(now))
        .bind(Json(amr))
        .bind(acr)
        .fetch_optional(&mut *c)
        .await?
        .map(SsoSession::try_from)
        .transpose()
    }

    pub(crate) async fn delete_session<C: Conn>(c: &mut C, hash: &str) -> Result<(), StoreError> {
        query("DELETE FROM sso_sessions WHERE hash = $1")
            .bind(hash.to_owned())
            .execute(&mut *c)
            .await?;
        Ok(())
    }

    pub(crate) async fn delete_user_sessions<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<u64, StoreError> {
        let done = query("DELETE FROM sso_sessions WHERE user_id = $1")
            .bind(user_id.to_string())
            .execute(&mut *c)
            .await?;
        Ok(done)
    }

    pub(crate) async fn list_user_sessions<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Vec<SsoSession>, StoreError> {
        query_as::<SessionRow>(
            "SELECT * FROM sso_sessions WHERE user_id = $1 AND expires_at > $2
             ORDER BY created_at DESC, id",
        )
        .bind(user_id.to_string())
        .bind(crate::model::to_millis(now))
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(SsoSession::try_from)
        .collect()
    }

    /// Ends sessions of one user, with the event that reports it, in one transaction.
    pub(crate) async fn end_sessions<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        which: SessionsToEnd,
        event: Option<NewEvent>,
    ) -> Result<u64, StoreError> {
        let (sql, id) = match which {
            SessionsToEnd::One(id) => (
                "DELETE FROM sso_sessions WHERE user_id = $1 AND id = $2",
                id,
            ),
            SessionsToEnd::AllBut(id) => (
                "DELETE FROM sso_sessions WHERE user_id = $1 AND id <> $2",
                id,
            ),
        };
        let mut tx = c.begin_write().await?;
        let ended = query(sql)
            .bind(user_id.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if ended > 0
            && let Some(event) = event
        {
            prompts::sql::record_prompt_event_in(&mut *tx, event).await?;
        }
        C::commit(tx).await?;
        Ok(ended)
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
    pub amr: Json<Vec<String>>,
    pub acr: Option<String>,
    /// Filled by the migration for sessions of before (SQLite cannot add a NOT NULL column).
    pub id: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub mfa_at: Option<i64>,
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
            amr: row.amr.0,
            acr: row.acr,
            id: match row.id {
                Some(id) => parse_id(&id)?,
                None => return Err(StoreError::unexpected("a session without an id")),
            },
            user_agent: row.user_agent,
            ip: row.ip,
            mfa_at: crate::model::from_millis_opt(row.mfa_at)?,
        })
    }
}
