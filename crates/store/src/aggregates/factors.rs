//! Second factors and recovery codes. Every change that adds or removes a confirmed factor
//! recounts the user's `mfa_factors` in the same transaction, so that a sign-in reads from the
//! user's row whether a second factor is due.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::aggregates::prompts;
use crate::backend::{Backend, Conn, query, query_as};
use crate::factors::{Factor, FactorConfirmation, FactorKind, NewFactor};
use crate::model::{from_millis, from_millis_opt, parse_id, to_millis};
use crate::{NewEvent, StoreError};

/// Second factors and recovery codes.
#[async_trait]
pub trait Factors: Send + Sync {
    /// Starts enrolling a factor: the user's earlier unconfirmed factors of its kind are
    /// dropped. [`StoreError::NotFound`] when the user does not exist.
    async fn start_factor(&self, factor: NewFactor) -> Result<(), StoreError>;

    /// Confirms an enrolment (its first code was right): the factor counts from now on, new
    /// recovery codes (if any) replace the earlier ones, and `event` is recorded, in one
    /// transaction. `false` when there is no such enrolment in progress.
    async fn confirm_factor(
        &self,
        confirmation: FactorConfirmation,
        event: NewEvent,
    ) -> Result<bool, StoreError>;

    /// The user's factors, confirmed ones first, oldest first.
    async fn list_factors(&self, user_id: Uuid) -> Result<Vec<Factor>, StoreError>;

    /// Accepts TOTP step `step` of a confirmed factor unless a step at or after it was
    /// accepted already (a code works once); whether it was accepted.
    async fn use_totp_step(
        &self,
        user_id: Uuid,
        factor_id: Uuid,
        step: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Marks an SMS factor used at `now`.
    async fn touch_factor(
        &self,
        user_id: Uuid,
        factor_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Uses the unused recovery code with this keyed hash and records `event`, in one
    /// transaction: how many unused codes are left, or `None` when the code is unknown or used.
    async fn use_recovery_code(
        &self,
        user_id: Uuid,
        code_hash: &str,
        event: NewEvent,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError>;

    /// How many unused recovery codes the user has.
    async fn recovery_codes_left(&self, user_id: Uuid) -> Result<i64, StoreError>;

    /// Replaces the user's recovery codes with these keyed hashes and records `event`.
    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        code_hashes: Vec<String>,
        event: NewEvent,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Removes one factor and records `event` (the recovery codes go with the last confirmed
    /// factor), in one transaction; whether it existed.
    async fn remove_factor(
        &self,
        user_id: Uuid,
        factor_id: Uuid,
        event: NewEvent,
    ) -> Result<bool, StoreError>;

    /// Removes every factor and recovery code of the user, and their passkeys unless those are
    /// their only way in (no password, no linked provider), and records `event` when there was
    /// any; how many factors (passkeys included) were removed. [`StoreError::NotFound`] when the user does not
    /// exist.
    async fn reset_factors(&self, user_id: Uuid, event: NewEvent) -> Result<u64, StoreError>;
}

#[async_trait]
impl<B: Backend> Factors for B {
    async fn start_factor(&self, factor: NewFactor) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::start_factor(&mut *c, factor).await;
        self.settle(&mut c, result)
    }

    async fn confirm_factor(
        &self,
        confirmation: FactorConfirmation,
        event: NewEvent,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::confirm_factor(&mut *c, confirmation, event).await;
        self.settle(&mut c, result)
    }

    async fn list_factors(&self, user_id: Uuid) -> Result<Vec<Factor>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_factors(&mut *c, user_id).await;
        self.settle(&mut c, result)
    }

    async fn use_totp_step(
        &self,
        user_id: Uuid,
        factor_id: Uuid,
        step: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::use_totp_step(&mut *c, user_id, factor_id, step, now).await;
        self.settle(&mut c, result)
    }

    async fn touch_factor(
        &self,
        user_id: Uuid,
        factor_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::touch_factor(&mut *c, user_id, factor_id, now).await;
        self.settle(&mut c, result)
    }

    async fn use_recovery_code(
        &self,
        user_id: Uuid,
        code_hash: &str,
        event: NewEvent,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::use_recovery_code(&mut *c, user_id, code_hash, event, now).await;
        self.settle(&mut c, result)
    }

    async fn recovery_codes_left(&self, user_id: Uuid) -> Result<i64, StoreError> {
        let mut c = self.read().await?;
        let result = sql::recovery_codes_left(&mut *c, user_id).await;
        self.settle(&mut c, result)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: Uuid,
        code_hashes: Vec<String>,
        event: NewEvent,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result =
            sql::replace_recovery_codes_tx(&mut *c, user_id, code_hashes, event, now).await;
        self.settle(&mut c, result)
    }

    async fn remove_factor(
        &self,
        user_id: Uuid,
        factor_id: Uuid,
        event: NewEvent,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::remove_factor(&mut *c, user_id, factor_id, event).await;
        self.settle(&mut c, result)
    }

    async fn reset_factors(&self, user_id: Uuid, event: NewEvent) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::reset_factors(&mut *c, user_id, event).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    /// Sets the user's `mfa_factors` to the number of their second factors: confirmed
    /// `mfa_factors` rows and passkeys (a passkey is one too, docs/passkeys.md).
    pub(crate) async fn recount_factors<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<(), StoreError> {
        query(
            "UPDATE users SET mfa_factors =
                 (SELECT COUNT(*) FROM mfa_factors
                  WHERE user_id = $1 AND confirmed_at IS NOT NULL)
                 + (SELECT COUNT(*) FROM passkeys WHERE user_id = $1)
             WHERE id = $1",
        )
        .bind(user_id.to_string())
        .execute(&mut *c)
        .await?;
        Ok(())
    }

    pub(crate) async fn start_factor<C: Conn>(
        c: &mut C,
        factor: NewFactor,
    ) -> Result<(), StoreError> {
        let mut tx = c.begin_write().await?;
        query("DELETE FROM mfa_factors WHERE user_id = $1 AND kind = $2 AND confirmed_at IS NULL")
            .bind(factor.user_id.to_string())
            .bind(factor.kind.as_str())
            .execute(&mut *tx)
            .await?;
        query(
            "INSERT INTO mfa_factors (id, user_id, kind, label, sealed_secret, phone, created_at)
             SELECT $1, id, $3, $4, $5, $6, $7 FROM users WHERE id = $2",
        )
        .bind(factor.id.to_string())
        .bind(factor.user_id.to_string())
        .bind(factor.kind.as_str())
        .bind(factor.label)
        .bind(factor.sealed_secret)
        .bind(factor.phone)
        .bind(to_millis(factor.now))
        .execute(&mut *tx)
        .await
        .and_then(|inserted| match inserted {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        })?;
        C::commit(tx).await?;
        Ok(())
    }

    pub(crate) async fn confirm_factor<C: Conn>(
        c: &mut C,
        confirmation: FactorConfirmation,
        event: NewEvent,
    ) -> Result<bool, StoreError> {
        let FactorConfirmation {
            user_id,
            factor_id,
            step,
            recovery_codes,
            now,
        } = confirmation;
        let mut tx = c.begin_write().await?;
        let confirmed = query(
            "UPDATE mfa_factors SET confirmed_at = $3, last_used_at = $3, last_step = $4
             WHERE id = $1 AND user_id = $2 AND confirmed_at IS NULL",
        )
        .bind(factor_id.to_string())
        .bind(user_id.to_string())
        .bind(to_millis(now))
        .bind(step)
        .execute(&mut *tx)
        .await?;
        if confirmed == 0 {
            return Ok(false);
        }
        if let Some(hashes) = recovery_codes {
            replace_recovery_codes(&mut *tx, user_id, hashes, now).await?;
        }
        recount_factors(&mut *tx, user_id).await?;
        prompts::sql::record_prompt_event_in(&mut *tx, event).await?;
        C::commit(tx).await?;
        Ok(true)
    }

    pub(crate) async fn list_factors<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<Vec<Factor>, StoreError> {
        query_as::<FactorRow>(
            "SELECT * FROM mfa_factors WHERE user_id = $1
             ORDER BY confirmed_at IS NULL, created_at, id",
        )
        .bind(user_id.to_string())
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(Factor::try_from)
        .collect()
    }

    pub(crate) async fn use_totp_step<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        factor_id: Uuid,
        step: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // One statement: of two requests presenting the same code, one changes the row.
        let used = query(
            "UPDATE mfa_factors SET last_step = $3, last_used_at = $4
             WHERE id = $1 AND user_id = $2 AND kind = 'totp'
               AND confirmed_at IS NOT NULL AND last_step < $3",
        )
        .bind(factor_id.to_string())
        .bind(user_id.to_string())
        .bind(step)
        .bind(to_millis(now))
        .execute(&mut *c)
        .await?;
        Ok(used == 1)
    }

    pub(crate) async fn touch_factor<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        factor_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        query("UPDATE mfa_factors SET last_used_at = $3 WHERE id = $1 AND user_id = $2")
            .bind(factor_id.to_string())
            .bind(user_id.to_string())
            .bind(to_millis(now))
            .execute(&mut *c)
            .await?;
        Ok(())
    }

    pub(crate) async fn use_recovery_code<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        code_hash: &str,
        event: NewEvent,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = c.begin_write().await?;
        let used = query(
            "UPDATE recovery_codes SET used_at = $3
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user_id.to_string())
        .bind(code_hash.to_owned())
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await?;
        if used == 0 {
            return Ok(None);
        }
        let left = recovery_codes_left(&mut *tx, user_id).await?;
        prompts::sql::record_prompt_event_in(&mut *tx, event).await?;
        C::commit(tx).await?;
        Ok(Some(left))
    }

    pub(crate) async fn recovery_codes_left<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<i64, StoreError> {
        let (left,) = query_as::<(i64,)>(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id.to_string())
        .fetch_one(&mut *c)
        .await?;
        Ok(left)
    }

    async fn replace_recovery_codes<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        code_hashes: Vec<String>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id.to_string())
            .execute(&mut *c)
            .await?;
        for hash in code_hashes {
            query(
                "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user_id.to_string())
            .bind(hash)
            .bind(to_millis(now))
            .execute(&mut *c)
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn replace_recovery_codes_tx<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        code_hashes: Vec<String>,
        event: NewEvent,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = c.begin_write().await?;
        replace_recovery_codes(&mut *tx, user_id, code_hashes, now).await?;
        prompts::sql::record_prompt_event_in(&mut *tx, event).await?;
        C::commit(tx).await?;
        Ok(())
    }

    pub(crate) async fn remove_factor<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        factor_id: Uuid,
        event: NewEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = c.begin_write().await?;
        let removed = query("DELETE FROM mfa_factors WHERE id = $1 AND user_id = $2")
            .bind(factor_id.to_string())
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
        if removed == 0 {
            return Ok(false);
        }
        recount_factors(&mut *tx, user_id).await?;
        // Recovery codes stand in for a factor: without one, they go too.
        query(
            "DELETE FROM recovery_codes WHERE user_id = $1
               AND NOT EXISTS (SELECT 1 FROM mfa_factors
                               WHERE user_id = $1 AND confirmed_at IS NOT NULL)",
        )
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
        prompts::sql::record_prompt_event_in(&mut *tx, event).await?;
        C::commit(tx).await?;
        Ok(true)
    }

    pub(crate) async fn reset_factors<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        event: NewEvent,
    ) -> Result<u64, StoreError> {
        let mut tx = c.begin_write().await?;
        let (exists,) = query_as::<(i64,)>("SELECT COUNT(*) FROM users WHERE id = $1")
            .bind(user_id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        if exists == 0 {
            return Err(StoreError::NotFound);
        }
        let removed = query("DELETE FROM mfa_factors WHERE user_id = $1")
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
        let codes = query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
        // Passkeys go too, unless they are the user's only way in (no password, no provider).
        let passkeys = query(
            "DELETE FROM passkeys WHERE user_id = $1
               AND (EXISTS (SELECT 1 FROM users WHERE id = $1 AND password_hash IS NOT NULL)
                    OR EXISTS (SELECT 1 FROM user_identities WHERE user_id = $1))",
        )
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
        let removed = removed + passkeys;
        recount_factors(&mut *tx, user_id).await?;
        if removed > 0 || codes > 0 {
            prompts::sql::record_prompt_event_in(&mut *tx, event).await?;
        }
        C::commit(tx).await?;
        Ok(removed)
    }
}

/// An `mfa_factors` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FactorRow {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub label: String,
    pub sealed_secret: Option<Vec<u8>>,
    pub phone: Option<String>,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_step: i64,
}

impl TryFrom<FactorRow> for Factor {
    type Error = StoreError;

    fn try_from(row: FactorRow) -> Result<Self, StoreError> {
        Ok(Factor {
            id: parse_id(&row.id)?,
            user_id: parse_id(&row.user_id)?,
            kind: FactorKind::parse(&row.kind).ok_or_else(|| {
                StoreError::unexpected(format!("unknown factor kind {}", row.kind))
            })?,
            label: row.label,
            sealed_secret: row.sealed_secret,
            phone: row.phone,
            created_at: from_millis(row.created_at)?,
            confirmed_at: from_millis_opt(row.confirmed_at)?,
            last_used_at: from_millis_opt(row.last_used_at)?,
            last_step: row.last_step,
        })
    }
}
