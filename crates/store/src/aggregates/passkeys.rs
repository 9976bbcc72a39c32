//! Passkeys: the credentials a user registered (added and removed with their events, renamed,
//! used: counter and last use), and the single-use state of the ceremonies that register and
//! use them.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::backend::{Backend, Conn, query, query_as};
use crate::model::{from_millis, from_millis_opt, parse_id, parse_id_opt, to_millis};
use crate::passkey::{CeremonyKind, PasskeyCeremony, PasskeyRemoval, PasskeyUse, StoredPasskey};
use crate::{NewEvent, StoreError};

/// Passkeys and their ceremonies.
#[async_trait]
pub trait Passkeys: Send + Sync {
    /// Stores a new passkey and records `event` in the same transaction.
    /// [`StoreError::Conflict`] when the credential id is registered already (to anyone);
    /// [`StoreError::NotFound`] when the user does not exist.
    async fn add_passkey(&self, passkey: StoredPasskey, event: NewEvent) -> Result<(), StoreError>;

    /// The user's passkeys, oldest first.
    async fn user_passkeys(&self, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError>;

    /// The passkey with this credential id (base64url), whoever's it is.
    async fn find_passkey(&self, credential_id: &str) -> Result<Option<StoredPasskey>, StoreError>;

    /// Renames one of the user's passkeys; whether the user has it.
    async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str)
    -> Result<bool, StoreError>;

    /// Removes one of the user's passkeys with `event`, unless it is their last way in (no
    /// password, no linked provider, no other passkey): decided with the user locked, in the
    /// transaction that deletes.
    async fn remove_passkey(
        &self,
        user_id: Uuid,
        id: Uuid,
        event: NewEvent,
    ) -> Result<PasskeyRemoval, StoreError>;

    /// Stores a successful assertion: the last use, and the new counter and credential, only
    /// over the counter the assertion was checked against (one statement). `false` when the
    /// stored counter moved meanwhile (a concurrent assertion, or a cloned authenticator) or
    /// the passkey is gone: the assertion must then be refused.
    async fn use_passkey(&self, used: PasskeyUse) -> Result<bool, StoreError>;

    /// Stores the state of a ceremony that is starting. [`StoreError::Conflict`] when the hash
    /// is taken; [`StoreError::NotFound`] when its user does not exist.
    async fn create_passkey_ceremony(&self, ceremony: PasskeyCeremony) -> Result<(), StoreError>;

    /// Takes the ceremony with this hash: deletes it and returns it unless it expired at `now`.
    /// One statement, so of concurrent finishes of one ceremony exactly one gets it.
    async fn consume_passkey_ceremony(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<PasskeyCeremony>, StoreError>;

    /// Deletes the ceremonies expired at `now`; returns how many.
    async fn delete_expired_passkey_ceremonies(
        &self,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
impl<B: Backend> Passkeys for B {
    async fn add_passkey(&self, passkey: StoredPasskey, event: NewEvent) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::add_passkey(&mut *c, passkey, event).await;
        self.settle(&mut c, result)
    }

    async fn user_passkeys(&self, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::user_passkeys(&mut *c, user_id).await;
        self.settle(&mut c, result)
    }

    async fn find_passkey(&self, credential_id: &str) -> Result<Option<StoredPasskey>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::find_passkey(&mut *c, credential_id).await;
        self.settle(&mut c, result)
    }

    async fn rename_passkey(
        &self,
        user_id: Uuid,
        id: Uuid,
        name: &str,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::rename_passkey(&mut *c, user_id, id, name).await;
        self.settle(&mut c, result)
    }

    async fn remove_passkey(
        &self,
        user_id: Uuid,
        id: Uuid,
        event: NewEvent,
    ) -> Result<PasskeyRemoval, StoreError> {
        let mut c = self.write().await?;
        let result = sql::remove_passkey(&mut *c, user_id, id, event).await;
        self.settle(&mut c, result)
    }

    async fn use_passkey(&self, used: PasskeyUse) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::use_passkey(&mut *c, used).await;
        self.settle(&mut c, result)
    }

    async fn create_passkey_ceremony(&self, ceremony: PasskeyCeremony) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_passkey_ceremony(&mut *c, ceremony).await;
        self.settle(&mut c, result)
    }

    async fn consume_passkey_ceremony(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<PasskeyCeremony>, StoreError> {
        let mut c = self.write().await?;
        let result = sql::consume_passkey_ceremony(&mut *c, hash, now).await;
        self.settle(&mut c, result)
    }

    async fn delete_expired_passkey_ceremonies(
        &self,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_expired_passkey_ceremonies(&mut *c, now).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;
    use crate::aggregates::factors::sql::recount_factors;
    use crate::aggregates::prompts::sql::record_prompt_event_in;
    use crate::aggregates::users::UserRow;

    pub(crate) async fn add_passkey<C: Conn>(
        c: &mut C,
        passkey: StoredPasskey,
        event: NewEvent,
    ) -> Result<(), StoreError> {
        let passkey_user = passkey.user_id;
        let mut tx = c.begin_write().await?;
        query(
            "INSERT INTO passkeys
                 (id, user_id, credential_id, passkey, name, counter, backup_eligible,
                  created_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(passkey.id.to_string())
        .bind(passkey.user_id.to_string())
        .bind(passkey.credential_id)
        .bind(passkey.passkey)
        .bind(passkey.name)
        .bind(passkey.counter)
        .bind(passkey.backup_eligible)
        .bind(to_millis(passkey.created_at))
        .bind(passkey.last_used_at.map(to_millis))
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            // A foreign key: the user is gone.
            StoreError::Invalid { .. } => StoreError::NotFound,
            StoreError::Conflict { .. } => StoreError::Conflict {
                what: "this passkey is registered already".into(),
            },
            other => other,
        })?;
        recount_factors(&mut *tx, passkey_user).await?;
        record_prompt_event_in(&mut *tx, event).await?;
        C::commit(tx).await?;
        Ok(())
    }

    pub(crate) async fn user_passkeys<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<Vec<StoredPasskey>, StoreError> {
        query_as::<PasskeyRow>("SELECT * FROM passkeys WHERE user_id = $1 ORDER BY created_at, id")
            .bind(user_id.to_string())
            .fetch_all(&mut *c)
            .await?
            .into_iter()
            .map(StoredPasskey::try_from)
            .collect()
    }

    pub(crate) async fn find_passkey<C: Conn>(
        c: &mut C,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, StoreError> {
        query_as::<PasskeyRow>("SELECT * FROM passkeys WHERE credential_id = $1")
            .bind(credential_id)
            .fetch_optional(&mut *c)
            .await?
            .map(StoredPasskey::try_from)
            .transpose()
    }

    pub(crate) async fn rename_passkey<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        id: Uuid,
        name: &str,
    ) -> Result<bool, StoreError> {
        let changed = query("UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(user_id.to_string())
            .bind(name)
            .execute(&mut *c)
            .await?;
        Ok(changed > 0)
    }

    pub(crate) async fn remove_passkey<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        id: Uuid,
        event: NewEvent,
    ) -> Result<PasskeyRemoval, StoreError> {
        let mut tx = c.begin_write().await?;
        // The user stays locked until the end: a concurrent removal (or unlink) waits and then
        // counts what this one left.
        let Some(user) = query_as::<UserRow>(C::LOCK_USER)
            .bind(user_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(PasskeyRemoval::NotFound);
        };
        let (passkeys, this) = query_as::<(i64, i64)>(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE id = $2) FROM passkeys WHERE user_id = $1",
        )
        .bind(user_id.to_string())
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if this == 0 {
            return Ok(PasskeyRemoval::NotFound);
        }
        let (identities,) =
            query_as::<(i64,)>("SELECT COUNT(*) FROM user_identities WHERE user_id = $1")
                .bind(user_id.to_string())
                .fetch_one(&mut *tx)
                .await?;
        if user.password_hash.is_none() && identities == 0 && passkeys <= 1 {
            return Ok(PasskeyRemoval::LastWayIn);
        }
        query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
        recount_factors(&mut *tx, user_id).await?;
        record_prompt_event_in(&mut *tx, event).await?;
        C::commit(tx).await?;
        Ok(PasskeyRemoval::Removed)
    }

    /// The number of passkeys of a user, for "never the last way in" elsewhere (unlinking a
    /// provider), inside the caller's transaction.
    pub(crate) async fn count_user_passkeys<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<i64, StoreError> {
        Ok(
            query_as::<(i64,)>("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
                .bind(user_id.to_string())
                .fetch_one(&mut *c)
                .await?
                .0,
        )
    }

    pub(crate) async fn use_passkey<C: Conn>(
        c: &mut C,
        used: PasskeyUse,
    ) -> Result<bool, StoreError> {
        let changed = query(
            "UPDATE passkeys
             SET counter = $3, passkey = COALESCE($4, passkey), backup_eligible = $5,
                 last_used_at = $6
             WHERE id = $1 AND counter = $2",
        )
        .bind(used.id.to_string())
        .bind(used.checked_counter)
        .bind(used.counter)
        .bind(used.passkey)
        .bind(used.backup_eligible)
        .bind(to_millis(used.now))
        .execute(&mut *c)
        .await?;
        Ok(changed > 0)
    }

    pub(crate) async fn create_passkey_ceremony<C: Conn>(
        c: &mut C,
        ceremony: PasskeyCeremony,
    ) -> Result<(), StoreError> {
        query(
            "INSERT INTO passkey_ceremonies
                 (hash, kind, user_id, browser, state, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ceremony.hash)
        .bind(ceremony.kind.as_str())
        .bind(ceremony.user_id.map(|id| id.to_string()))
        .bind(ceremony.browser)
        .bind(ceremony.state)
        .bind(to_millis(ceremony.created_at))
        .bind(to_millis(ceremony.expires_at))
        .execute(&mut *c)
        .await
        .map_err(|e| match e {
            StoreError::Invalid { .. } => StoreError::NotFound,
            StoreError::Conflict { .. } => StoreError::Conflict {
                what: "a passkey ceremony with this hash already exists".into(),
            },
            other => other,
        })?;
        Ok(())
    }

    /// `DELETE ... RETURNING`: a concurrent consumer finds the row gone.
    pub(crate) async fn consume_passkey_ceremony<C: Conn>(
        c: &mut C,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<PasskeyCeremony>, StoreError> {
        let now = to_millis(now);
        query_as::<CeremonyRow>("DELETE FROM passkey_ceremonies WHERE hash = $1 RETURNING *")
            .bind(hash)
            .fetch_optional(&mut *c)
            .await?
            .filter(|row| row.expires_at > now)
            .map(PasskeyCeremony::try_from)
            .transpose()
    }

    pub(crate) async fn delete_expired_passkey_ceremonies<C: Conn>(
        c: &mut C,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
            .bind(to_millis(now))
            .execute(&mut *c)
            .await
    }
}

/// A `passkeys` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    pub credential_id: String,
    pub passkey: String,
    pub name: String,
    pub counter: i64,
    pub backup_eligible: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl TryFrom<PasskeyRow> for StoredPasskey {
    type Error = StoreError;

    fn try_from(row: PasskeyRow) -> Result<Self, StoreError> {
        Ok(StoredPasskey {
            id: parse_id(&row.id)?,
            user_id: parse_id(&row.user_id)?,
            credential_id: row.credential_id,
            passkey: row.passkey,
            name: row.name,
            counter: row.counter,
            backup_eligible: row.backup_eligible,
            created_at: from_millis(row.created_at)?,
            last_used_at: from_millis_opt(row.last_used_at)?,
        })
    }
}

/// A `passkey_ceremonies` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CeremonyRow {
    pub hash: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub browser: String,
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl TryFrom<CeremonyRow> for PasskeyCeremony {
    type Error = StoreError;

    fn try_from(row: CeremonyRow) -> Result<Self, StoreError> {
        Ok(PasskeyCeremony {
            hash: row.hash,
            kind: CeremonyKind::parse(&row.kind).ok_or_else(|| StoreError::Invalid {
                message: format!("unknown passkey ceremony kind {:?}", row.kind),
            })?,
            user_id: parse_id_opt(row.user_id)?,
            browser: row.browser,
            state: row.state,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
        })
    }
}
