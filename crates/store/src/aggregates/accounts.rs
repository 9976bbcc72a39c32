//! The units of work of an account as a whole, which span aggregates: its owner changing the
//! password, and deleting the account (by its owner or an administrator). Each writes the
//! event that reports it in the same transaction.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::aggregates::{grants, prompts, sso_sessions, users};
use crate::backend::{Backend, Conn};
use crate::{NewEvent, StoreError};

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
        users::sql::delete_user(&mut *tx, user_id).await?;
        C::commit(tx).await?;
        Ok(())
    }
}
