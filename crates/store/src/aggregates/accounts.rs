//! The units of work of an account as a whole, which span aggregates: its owner changing the
//! password, an administrator disabling or enabling it, and deleting the account (by its owner
//! or an administrator). Each writes the event that reports it in the same transaction.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::aggregates::users::UserRow;
use crate::aggregates::{grants, prompts, sso_sessions, users};
use crate::backend::{Backend, Conn, query, query_as};
use crate::{NewEvent, StoreError, User};

/// An account's own changes.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Replaces the user's password hash (a PHC string) and records `event`, in one
    /// transaction. [`StoreError::NotFound`] when the user does not exist.
    async fn change_password(
        &self,
        user_id: Uuid,
        hash: &str,
        event: NewEvent,
    ) -> Result<(), StoreError>;

    /// Deletes the user in one transaction: its grants are revoked, its sessions ended, `event`
    /// recorded (the event outlives the user, its user cut: put the id in its data), then the
    /// user and everything that belongs to it deleted. [`StoreError::NotFound`] when the user
    /// does not exist (and nothing is written).
    async fn delete_account(
        &self,
        user_id: Uuid,
        now: OffsetDateTime,
        event: Option<NewEvent>,
    ) -> Result<(), StoreError>;

    /// Disables the account (`disabled_at` is `Some`: its grants are revoked, so its refresh
    /// tokens stop working, and its sessions and console sessions end) or enables it again
    /// (`None`), in one transaction that bumps the user's version and sets its last change
    /// (`updated_at`) to `now`. Returns the user and whether
    /// anything changed (disabling a disabled account keeps its first date and revokes
    /// nothing). [`StoreError::NotFound`] when the user does not exist.
    async fn set_user_disabled(
        &self,
        user_id: Uuid,
        disabled_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(User, bool), StoreError>;
}

#[async_trait]
impl<B: Backend> Accounts for B {
    async fn change_password(
        &self,
        user_id: Uuid,
        hash: &str,
        event: NewEvent,
    ) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::change_password(&mut *c, user_id, hash, event).await;
        self.settle(&mut c, result)
    }

    async fn delete_account(
        &self,
        user_id: Uuid,
        now: OffsetDateTime,
        event: Option<NewEvent>,
    ) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_account(&mut *c, user_id, now, event).await;
        self.settle(&mut c, result)
    }

    async fn set_user_disabled(
        &self,
        user_id: Uuid,
        disabled_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(User, bool), StoreError> {
        let mut c = self.write().await?;
        let result = sql::set_user_disabled(&mut *c, user_id, disabled_at, now).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per transaction, over a borrowed connection; each statement is the one
/// its own aggregate runs.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn change_password<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        hash: &str,
        event: NewEvent,
    ) -> Result<(), StoreError> {
        let mut tx = c.begin_write().await?;
        users::sql::set_password_hash(&mut *tx, user_id, hash).await?;
        prompts::sql::record_prompt_event_in(&mut *tx, event).await?;
        C::commit(tx).await?;
        Ok(())
    }

    pub(crate) async fn delete_account<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        now: OffsetDateTime,
        event: Option<NewEvent>,
    ) -> Result<(), StoreError> {
        let mut tx = c.begin_write().await?;
        // Refuses an unknown user before anything is written.
        users::sql::get_user(&mut *tx, user_id).await?;
        grants::sql::revoke_user_grants(&mut *tx, user_id, None, now).await?;
        sso_sessions::sql::delete_user_sessions(&mut *tx, user_id).await?;
        if let Some(event) = event {
            prompts::sql::record_prompt_event_in(&mut *tx, event).await?;
        }
        users::sql::delete_user_in(&mut *tx, user_id, now).await?;
        C::commit(tx).await?;
        Ok(())
    }

    pub(crate) async fn set_user_disabled<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        disabled_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(User, bool), StoreError> {
        let mut tx = c.begin_write().await?;
        let user: User = query_as::<UserRow>(C::LOCK_USER)
            .bind(user_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_into()?;
        if user.disabled_at.is_some() == disabled_at.is_some() {
            return Ok((user, false));
        }
        let row = query_as::<UserRow>(
            "UPDATE users SET disabled_at = $2, version = version + 1, updated_at = $3
             WHERE id = $1 RETURNING *",
        )
        .bind(user_id.to_string())
        .bind(disabled_at.map(crate::model::to_millis))
        .bind(crate::model::to_millis(now))
        .fetch_one(&mut *tx)
        .await?;
        if let Some(at) = disabled_at {
            grants::sql::revoke_user_grants(&mut *tx, user_id, None, at).await?;
            sso_sessions::sql::delete_user_sessions(&mut *tx, user_id).await?;
            query("DELETE FROM console_sessions WHERE user_id = $1")
                .bind(user_id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        C::commit(tx).await?;
        Ok((row.try_into()?, true))
    }
}
