//! Grants, authorization codes and refresh tokens.
//!
//! Single use is enforced by the database: a code is claimed by one
//! `UPDATE ... WHERE consumed_at IS NULL ... RETURNING`, and a refresh token by the one statement
//! that stores its successor (`Conn::ROTATE_REFRESH`, per backend), so of two concurrent uses (even
//! on two nodes) exactly one wins and the other is seen as a reuse. The grant check is a
//! correlated `EXISTS` on the grant's primary key: an uncorrelated `grant_id IN (SELECT ...)`
//! makes SQLite scan every grant on each redemption.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::aggregates::prompts;
use crate::backend::{Backend, Conn, query, query_as};
use crate::model::{from_millis, from_millis_opt, parse_id};
use crate::{
    AuthorizationCode, AuthorizedApplication, CodeConsumption, CodeIssue, Grant,
    NewAuthorizationCode, NewEvent, NewRefreshToken, RefreshSuccessor, RefreshToken, Rotation,
    StoreError,
};

/// Grants, with their authorization codes and refresh tokens.
#[async_trait]
pub trait Grants: Send + Sync {
    /// Records what a user allowed a client. [`StoreError::Invalid`] for an unknown user/client.
    async fn create_grant(
        &self,
        user_id: Uuid,
        client_id: &str,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Result<Grant, StoreError>;

    /// The grant with this id, if any.
    async fn get_grant(&self, grant_id: Uuid) -> Result<Option<Grant>, StoreError>;

    /// Revokes a grant and so every code and token issued under it (idempotent).
    async fn revoke_grant(&self, grant_id: Uuid, now: OffsetDateTime) -> Result<(), StoreError>;

    /// Revokes a user's live grants, for one client or all; returns how many.
    async fn revoke_user_grants(
        &self,
        user_id: Uuid,
        client_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// Whether the grant is revoked; an unknown grant counts as revoked.
    async fn is_grant_revoked(&self, grant_id: Uuid) -> Result<bool, StoreError>;

    /// The applications holding a live refresh token of the user at `now` (live grant, token
    /// neither used, revoked nor expired), one per client, by client name.
    async fn list_user_applications(
        &self,
        user_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Vec<AuthorizedApplication>, StoreError>;

    /// Revokes the user's live grants for one client (and so its refresh tokens) and records
    /// `event` in the same transaction when any was revoked; how many were.
    async fn revoke_application(
        &self,
        user_id: Uuid,
        client_id: &str,
        now: OffsetDateTime,
        event: Option<NewEvent>,
    ) -> Result<u64, StoreError>;

    /// Stores a code under a live grant (client, user and scopes are the grant's).
    /// [`StoreError::NotFound`] if the grant is unknown or revoked.
    async fn insert_code(&self, code: NewAuthorizationCode) -> Result<(), StoreError>;

    /// Issues a code in one database transaction: completes the authorization transaction (if
    /// any) exactly as [`complete_transaction`](crate::AuthTransactions::complete_transaction)
    /// does, creates the grant and stores the code under it. `Ok(None)` and nothing written when
    /// the transaction was already complete or has expired; on any error nothing is written.
    async fn issue_code(&self, issue: CodeIssue) -> Result<Option<Grant>, StoreError>;

    /// Exchanges a code, atomically: the first use gets [`CodeConsumption::Fresh`]; any later
    /// use gets [`CodeConsumption::AlreadyUsed`] and revokes the grant.
    async fn consume_code(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<CodeConsumption, StoreError>;

    /// Stores the first refresh token of a live grant. [`StoreError::NotFound`] if the grant is
    /// unknown or revoked.
    async fn insert_refresh_token(
        &self,
        token: NewRefreshToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Uses a refresh token: marks it used and stores its successor (same grant, user and
    /// scopes) atomically, in one statement, returning the successor. Using a token twice revokes
    /// its whole grant ([`Rotation::Reused`]); a token presented by another client than its own
    /// is left as it is ([`Rotation::OtherClient`]). The successor expires at its
    /// `expires_at` (the idle limit) or at the grant's creation plus its `grant_lifetime`,
    /// whichever comes first: rotation never extends a grant past its absolute lifetime.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor: RefreshSuccessor,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError>;

    /// The refresh token with this hash, in whatever state, if any.
    async fn get_refresh_token(&self, hash: &str) -> Result<Option<RefreshToken>, StoreError>;

    /// Revokes one refresh token (idempotent); returns it if it exists.
    async fn revoke_refresh_token(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<RefreshToken>, StoreError>;

    /// Deletes sessions, codes and refresh tokens expired at `now`; returns how many.
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

#[async_trait]
impl<B: Backend> Grants for B {
    async fn create_grant(
        &self,
        user_id: Uuid,
        client_id: &str,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Result<Grant, StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_grant(&mut *c, user_id, client_id, scopes, now).await;
        self.settle(&mut c, result)
    }

    async fn get_grant(&self, grant_id: Uuid) -> Result<Option<Grant>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::get_grant(&mut *c, grant_id).await;
        self.settle(&mut c, result)
    }

    async fn revoke_grant(&self, grant_id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::revoke_grant(&mut *c, grant_id, now).await;
        self.settle(&mut c, result)
    }

    async fn revoke_user_grants(
        &self,
        user_id: Uuid,
        client_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::revoke_user_grants(&mut *c, user_id, client_id, now).await;
        self.settle(&mut c, result)
    }

    async fn list_user_applications(
        &self,
        user_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Vec<AuthorizedApplication>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_user_applications(&mut *c, user_id, now).await;
        self.settle(&mut c, result)
    }

    async fn revoke_application(
        &self,
        user_id: Uuid,
        client_id: &str,
        now: OffsetDateTime,
        event: Option<NewEvent>,
    ) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::revoke_application(&mut *c, user_id, client_id, now, event).await;
        self.settle(&mut c, result)
    }

    async fn is_grant_revoked(&self, grant_id: Uuid) -> Result<bool, StoreError> {
        let mut c = self.read().await?;
        let result = sql::is_grant_revoked(&mut *c, grant_id).await;
        self.settle(&mut c, result)
    }

    async fn insert_code(&self, code: NewAuthorizationCode) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::insert_code(&mut *c, code).await;
        self.settle(&mut c, result)
    }

    async fn issue_code(&self, issue: CodeIssue) -> Result<Option<Grant>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::issue_code(&mut *c, issue).await;
        self.settle(&mut c, result)
    }

    async fn consume_code(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<CodeConsumption, StoreError> {
        let mut c = self.write().await?;
        let result = sql::consume_code(&mut *c, hash, now).await;
        self.settle(&mut c, result)
    }

    async fn insert_refresh_token(
        &self,
        token: NewRefreshToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::insert_refresh_token(&mut *c, token, now).await;
        self.settle(&mut c, result)
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor: RefreshSuccessor,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        let mut c = self.write().await?;
        let result = sql::rotate_refresh_token(&mut *c, old_hash, successor, now).await;
        self.settle(&mut c, result)
    }

    async fn get_refresh_token(&self, hash: &str) -> Result<Option<RefreshToken>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::get_refresh_token(&mut *c, hash).await;
        self.settle(&mut c, result)
    }

    async fn revoke_refresh_token(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<RefreshToken>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::revoke_refresh_token(&mut *c, hash, now).await;
        self.settle(&mut c, result)
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::purge_expired(&mut *c, now).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn create_grant<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        client_id: &str,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Result<Grant, StoreError> {
        query_as::<GrantRow>(
            "INSERT INTO grants (id, user_id, client_id, scopes, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(crate::model::new_id(now).to_string())
        .bind(user_id.to_string())
        .bind(client_id.to_owned())
        .bind(Json(scopes.to_vec()))
        .bind(crate::model::to_millis(now))
        .fetch_one(&mut *c)
        .await
        .map_err(|e| match e {
            StoreError::Invalid { .. } => StoreError::Invalid {
                message: "unknown user or client".into(),
            },
            other => other,
        })?
        .try_into()
    }

    pub(crate) async fn get_grant<C: Conn>(
        c: &mut C,
        grant_id: Uuid,
    ) -> Result<Option<Grant>, StoreError> {
        query_as::<GrantRow>("SELECT * FROM grants WHERE id = $1")
            .bind(grant_id.to_string())
            .fetch_optional(&mut *c)
            .await?
            .map(Grant::try_from)
            .transpose()
    }

    pub(crate) async fn revoke_grant<C: Conn>(
        c: &mut C,
        grant_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let done = query("UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
            .bind(grant_id.to_string())
            .bind(crate::model::to_millis(now))
            .execute(&mut *c)
            .await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(crate) async fn revoke_user_grants<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        client_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let done = query(
            "UPDATE grants SET revoked_at = $3
             WHERE user_id = $1 AND ($2 IS NULL OR client_id = $2) AND revoked_at IS NULL",
        )
        .bind(user_id.to_string())
        .bind(client_id.map(str::to_owned))
        .bind(crate::model::to_millis(now))
        .execute(&mut *c)
        .await?;
        Ok(done)
    }

    pub(crate) async fn list_user_applications<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Vec<AuthorizedApplication>, StoreError> {
        // One row per live grant with a live token; grants of one client are merged below.
        let rows = query_as::<ApplicationRow>(
            "SELECT g.client_id, c.name AS client_name, g.scopes, g.created_at AS first_used_at,
                    MAX(t.created_at) AS last_used_at
             FROM grants g
             JOIN clients c ON c.id = g.client_id
             JOIN refresh_tokens t ON t.grant_id = g.id
             WHERE g.user_id = $1 AND g.revoked_at IS NULL
             GROUP BY g.id, g.client_id, c.name, g.scopes, g.created_at
             HAVING SUM(CASE WHEN t.used_at IS NULL AND t.revoked_at IS NULL
                                  AND t.expires_at > $2 THEN 1 ELSE 0 END) > 0",
        )
        .bind(user_id.to_string())
        .bind(crate::model::to_millis(now))
        .fetch_all(&mut *c)
        .await?;
        let mut applications: Vec<AuthorizedApplication> = Vec::new();
        for row in rows {
            let first = from_millis(row.first_used_at)?;
            let last = from_millis(row.last_used_at)?;
            match applications
                .iter_mut()
                .find(|a| a.client_id == row.client_id)
            {
                Some(app) => {
                    app.scopes.extend(row.scopes.0);
                    app.first_used_at = app.first_used_at.min(first);
                    app.last_used_at = app.last_used_at.max(last);
                }
                None => applications.push(AuthorizedApplication {
                    client_id: row.client_id,
                    client_name: row.client_name,
                    scopes: row.scopes.0,
                    first_used_at: first,
                    last_used_at: last,
                }),
            }
        }
        for app in &mut applications {
            app.scopes.sort();
            app.scopes.dedup();
        }
        applications.sort_by(|a, b| {
            (a.client_name.to_lowercase(), &a.client_id)
                .cmp(&(b.client_name.to_lowercase(), &b.client_id))
        });
        Ok(applications)
    }

    pub(crate) async fn revoke_application<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        client_id: &str,
        now: OffsetDateTime,
        event: Option<NewEvent>,
    ) -> Result<u64, StoreError> {
        let mut tx = c.begin_write().await?;
        let revoked = revoke_user_grants(&mut *tx, user_id, Some(client_id), now).await?;
        if revoked > 0
            && let Some(event) = event
        {
            prompts::sql::record_prompt_event_in(&mut *tx, event).await?;
        }
        C::commit(tx).await?;
        Ok(revoked)
    }

    pub(crate) async fn is_grant_revoked<C: Conn>(
        c: &mut C,
        grant_id: Uuid,
    ) -> Result<bool, StoreError> {
        let revoked = query_as::<(Option<i64>,)>("SELECT revoked_at FROM grants WHERE id = $1")
            .bind(grant_id.to_string())
            .fetch_optional(&mut *c)
            .await?
            .map(|(at,)| at);
        // An unknown grant (deleted with its user or client) counts as revoked.
        Ok(revoked.is_none_or(|at| at.is_some()))
    }

    pub(crate) async fn issue_code<C: Conn>(
        c: &mut C,
        issue: CodeIssue,
    ) -> Result<Option<Grant>, StoreError> {
        let mut tx = c.begin_write().await?;
        if let Some(id) = issue.transaction
            && !crate::aggregates::transactions::sql::complete_transaction(
                &mut *tx,
                id,
                issue.code.now,
            )
            .await?
        {
            // Dropped without a commit: nothing is written.
            return Ok(None);
        }
        let grant = create_grant(
            &mut *tx,
            issue.user_id,
            &issue.client_id,
            &issue.scopes,
            issue.code.now,
        )
        .await?;
        let code = NewAuthorizationCode {
            grant_id: grant.id,
            ..issue.code
        };
        insert_code(&mut *tx, code).await?;
        C::commit(tx).await?;
        Ok(Some(grant))
    }

    pub(crate) async fn insert_code<C: Conn>(
        c: &mut C,
        code: NewAuthorizationCode,
    ) -> Result<(), StoreError> {
        use crate::model::to_millis;
        let context = crate::model::json_object(code.context, "code context")?;
        // Client, user and scopes come from the grant, so they cannot disagree with it.
        let done = query(
            "INSERT INTO authorization_codes (hash, grant_id, client_id, user_id,
                 redirect_uri, scopes, nonce, code_challenge, auth_time, context,
                 created_at, expires_at)
             SELECT $1, g.id, g.client_id, g.user_id, $3, g.scopes, $4, $5, $6, $7, $8, $9
             FROM grants g WHERE g.id = $2 AND g.revoked_at IS NULL",
        )
        .bind(code.hash)
        .bind(code.grant_id.to_string())
        .bind(code.redirect_uri)
        .bind(code.nonce)
        .bind(code.code_challenge)
        .bind(to_millis(code.auth_time))
        .bind(Json(context))
        .bind(to_millis(code.now))
        .bind(to_millis(code.expires_at))
        .execute(&mut *c)
        .await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(crate) async fn consume_code<C: Conn>(
        c: &mut C,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<CodeConsumption, StoreError> {
        let now = crate::model::to_millis(now);
        let mut tx = c.begin_write().await?;
        let fresh = query_as::<CodeRow>(
            "UPDATE authorization_codes SET consumed_at = $2
             WHERE hash = $1 AND consumed_at IS NULL AND expires_at > $2
               AND EXISTS (SELECT 1 FROM grants g
                           WHERE g.id = authorization_codes.grant_id AND g.revoked_at IS NULL)
             RETURNING *",
        )
        .bind(hash.to_owned())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = fresh {
            C::commit(tx).await?;
            return Ok(CodeConsumption::Fresh(row.try_into()?));
        }
        let used: Option<(String, Option<i64>)> =
            query_as("SELECT grant_id, consumed_at FROM authorization_codes WHERE hash = $1")
                .bind(hash.to_owned())
                .fetch_optional(&mut *tx)
                .await?;
        let Some((grant_id, Some(_))) = used else {
            return Ok(CodeConsumption::Unknown);
        };
        // A second use: revoke everything the first use issued.
        query("UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
            .bind(grant_id.clone())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        C::commit(tx).await?;
        Ok(CodeConsumption::AlreadyUsed {
            grant_id: crate::model::parse_id(&grant_id)?,
        })
    }

    pub(crate) async fn insert_refresh_token<C: Conn>(
        c: &mut C,
        token: NewRefreshToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let done = query(
            "INSERT INTO refresh_tokens
                 (hash, grant_id, client_id, user_id, scopes, created_at, expires_at)
             SELECT $1, g.id, g.client_id, g.user_id, $3, $4, $5
             FROM grants g WHERE g.id = $2 AND g.revoked_at IS NULL",
        )
        .bind(token.hash)
        .bind(token.grant_id.to_string())
        .bind(Json(token.scopes))
        .bind(crate::model::to_millis(now))
        .bind(crate::model::to_millis(token.expires_at))
        .execute(&mut *c)
        .await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(crate) async fn rotate_refresh_token<C: Conn>(
        c: &mut C,
        old_hash: &str,
        successor: RefreshSuccessor,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        let at = crate::model::to_millis(now);
        let lifetime: i64 = successor
            .grant_lifetime
            .whole_milliseconds()
            .try_into()
            .unwrap_or(i64::MAX);
        // The usual case in one statement (C::ROTATE_REFRESH): claim the parent, store the
        // successor. Only when that claims nothing is the parent's state looked at.
        let stored = query_as::<RefreshRow>(C::ROTATE_REFRESH)
            .bind(old_hash.to_owned())
            .bind(at)
            .bind(successor.hash)
            .bind(crate::model::to_millis(successor.expires_at))
            .bind(successor.client_id.clone())
            .bind(lifetime)
            .fetch_optional(&mut *c)
            .await?;
        if let Some(stored) = stored {
            return Ok(Rotation::Rotated(stored.try_into()?));
        }
        let mut tx = c.begin_write().await?;
        let current = query_as::<RefreshRow>("SELECT * FROM refresh_tokens WHERE hash = $1")
            .bind(old_hash.to_owned())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(current) = current else {
            return Ok(Rotation::Unknown);
        };
        if current.client_id != successor.client_id {
            // Not this client's token: no rotation, and no revocation on its account.
            return Ok(Rotation::OtherClient);
        }
        if current.used_at.is_some() {
            // Reuse: someone holds a copy of a rotated token. Kill the whole family.
            query("UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
                .bind(current.grant_id.clone())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            C::commit(tx).await?;
            return Ok(Rotation::Reused {
                grant_id: crate::model::parse_id(&current.grant_id)?,
            });
        }
        if current.revoked_at.is_some() {
            return Ok(Rotation::Revoked);
        }
        if current.expires_at <= at {
            return Ok(Rotation::Expired);
        }
        // Not used, not expired, yet not claimable: its grant is revoked, or past its
        // absolute lifetime.
        let grant_ended = query_as::<(i64,)>(
            "SELECT created_at FROM grants WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(current.grant_id.clone())
        .fetch_optional(&mut *tx)
        .await?
        .is_some_and(|(created_at,)| created_at.saturating_add(lifetime) <= at);
        Ok(if grant_ended {
            Rotation::Expired
        } else {
            Rotation::Revoked
        })
    }

    pub(crate) async fn get_refresh_token<C: Conn>(
        c: &mut C,
        hash: &str,
    ) -> Result<Option<RefreshToken>, StoreError> {
        query_as::<RefreshRow>("SELECT * FROM refresh_tokens WHERE hash = $1")
            .bind(hash.to_owned())
            .fetch_optional(&mut *c)
            .await?
            .map(RefreshToken::try_from)
            .transpose()
    }

    pub(crate) async fn revoke_refresh_token<C: Conn>(
        c: &mut C,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<RefreshToken>, StoreError> {
        query_as::<RefreshRow>(
            "UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, $2)
             WHERE hash = $1 RETURNING *",
        )
        .bind(hash.to_owned())
        .bind(crate::model::to_millis(now))
        .fetch_optional(&mut *c)
        .await?
        .map(RefreshToken::try_from)
        .transpose()
    }

    pub(crate) async fn purge_expired<C: Conn>(
        c: &mut C,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let now = crate::model::to_millis(now);
        let mut removed = 0;
        for sql in [
            "DELETE FROM sso_sessions WHERE expires_at <= $1",
            "DELETE FROM authorization_codes WHERE expires_at <= $1",
            "DELETE FROM refresh_tokens WHERE expires_at <= $1",
            // Sign-in throttle counters forgotten long ago (a day after their last failure).
            "DELETE FROM credential_failures WHERE last_failure_at <= $1 - 86400000",
        ] {
            let done = query(sql).bind(now).execute(&mut *c).await?;
            removed += done;
        }
        Ok(removed)
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

/// A live grant with a live refresh token, as [`sql::list_user_applications`] reads it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ApplicationRow {
    pub client_id: String,
    pub client_name: String,
    pub scopes: Json<Vec<String>>,
    pub first_used_at: i64,
    pub last_used_at: i64,
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
