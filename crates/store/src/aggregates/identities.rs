//! Upstream identities linked to users, and the units of work of signing in (and up) through an
//! upstream provider.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::backend::{Backend, Conn, query, query_as};
use crate::model::{from_millis, parse_id};
use crate::{
    FederatedSignIn, LinkedIdentity, NewUser, ProfileChange, StoreError, UnlinkOutcome, User,
};

/// Upstream identities linked to users.
#[async_trait]
pub trait Identities: Send + Sync {
    /// The identity `subject` of connection `connection`, if it is linked to a user.
    async fn find_identity(
        &self,
        connection: &str,
        subject: &str,
    ) -> Result<Option<LinkedIdentity>, StoreError>;

    /// Every identity linked to the user, by connection name (then subject).
    async fn user_identities(&self, user_id: Uuid) -> Result<Vec<LinkedIdentity>, StoreError>;

    /// A sign-in through an upstream provider, in one database transaction: the user's value
    /// changes with history and provenance from `source` (as [`Users::apply_profile_changes`]
    /// without an expected version; `source` must not be empty), then the identity linked to
    /// `identity.user_id` if it is not yet (created and used at `now`) or, if it is, its `email`
    /// and `last_used_at` (`now`) updated, then, when `count_sign_in`, a credentialed sign-in
    /// counted as [`Users::record_sign_in`] counts it. Returns the user after all of it.
    ///
    /// [`StoreError::Conflict`] when the identity belongs to another user,
    /// [`StoreError::NotFound`] when the user or the connection does not exist, and the errors of
    /// the value changes; on any error nothing at all is written.
    ///
    /// [`Users::apply_profile_changes`]: crate::Users::apply_profile_changes
    /// [`Users::record_sign_in`]: crate::Users::record_sign_in
    async fn federated_sign_in(&self, sign_in: FederatedSignIn) -> Result<User, StoreError>;

    /// A sign-up through an upstream provider, in one database transaction: the user with its
    /// values (as [`Users::create_user_with`]: created at `new.now`, history and provenance
    /// from `source`), the identity linked to it (its `user_id` is replaced by the new user's;
    /// created and used at `now`), and the user's first credentialed sign-in, counted at `now`
    /// as [`Users::record_sign_in`] counts it. Returns the user after all of it.
    ///
    /// [`StoreError::Conflict`] when the email is taken (ignoring case) or the identity belongs
    /// to another user, [`StoreError::NotFound`] when the connection does not exist, and the
    /// errors of the values; on any error nothing at all is written.
    ///
    /// [`Users::create_user_with`]: crate::Users::create_user_with
    /// [`Users::record_sign_in`]: crate::Users::record_sign_in
    async fn create_user_with_identity(
        &self,
        new: NewUser,
        identity: LinkedIdentity,
        changes: Vec<ProfileChange>,
        source: String,
        now: OffsetDateTime,
    ) -> Result<User, StoreError>;

    /// Unlinks the identity from the user, unless it is their last way in (they have no
    /// password, no other identity and no passkey): decided with the user locked, in the transaction that
    /// deletes, so that of two concurrent unlinks of a user's last two identities one is
    /// refused.
    async fn unlink_identity(
        &self,
        user_id: Uuid,
        connection: &str,
        subject: &str,
    ) -> Result<UnlinkOutcome, StoreError>;
}

#[async_trait]
impl<B: Backend> Identities for B {
    async fn find_identity(
        &self,
        connection: &str,
        subject: &str,
    ) -> Result<Option<LinkedIdentity>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::find_identity(&mut *c, connection, subject).await;
        self.settle(&mut c, result)
    }

    async fn user_identities(&self, user_id: Uuid) -> Result<Vec<LinkedIdentity>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::user_identities(&mut *c, user_id).await;
        self.settle(&mut c, result)
    }

    async fn federated_sign_in(&self, sign_in: FederatedSignIn) -> Result<User, StoreError> {
        let mut c = self.write().await?;
        let result = sql::federated_sign_in(&mut *c, sign_in).await;
        self.settle(&mut c, result)
    }

    async fn create_user_with_identity(
        &self,
        new: NewUser,
        identity: LinkedIdentity,
        changes: Vec<ProfileChange>,
        source: String,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let mut c = self.write().await?;
        let result =
            sql::create_user_with_identity(&mut *c, new, identity, changes, &source, now).await;
        self.settle(&mut c, result)
    }

    async fn unlink_identity(
        &self,
        user_id: Uuid,
        connection: &str,
        subject: &str,
    ) -> Result<UnlinkOutcome, StoreError> {
        let mut c = self.write().await?;
        let result = sql::unlink_identity(&mut *c, user_id, connection, subject).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;
    use crate::aggregates::users::{self, UserRow};
    use crate::{SignInKind, UserUpdate};

    pub(crate) async fn find_identity<C: Conn>(
        c: &mut C,
        connection: &str,
        subject: &str,
    ) -> Result<Option<LinkedIdentity>, StoreError> {
        query_as::<IdentityRow>(
            "SELECT * FROM user_identities WHERE connection = $1 AND subject = $2",
        )
        .bind(connection.to_owned())
        .bind(subject.to_owned())
        .fetch_optional(&mut *c)
        .await?
        .map(LinkedIdentity::try_from)
        .transpose()
    }

    pub(crate) async fn user_identities<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<Vec<LinkedIdentity>, StoreError> {
        query_as::<IdentityRow>(
            "SELECT * FROM user_identities WHERE user_id = $1 ORDER BY connection, subject",
        )
        .bind(user_id.to_string())
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(LinkedIdentity::try_from)
        .collect()
    }

    /// The values, the identity and the count, in that order, in one write transaction; each
    /// written by the function its own store method uses.
    pub(crate) async fn federated_sign_in<C: Conn>(
        c: &mut C,
        sign_in: FederatedSignIn,
    ) -> Result<User, StoreError> {
        let FederatedSignIn {
            identity,
            changes,
            source,
            count_sign_in,
            now,
        } = sign_in;
        let update = UserUpdate {
            changes,
            ..UserUpdate::default()
        };
        let mut tx = c.begin_write().await?;
        // Locks the user first (also with no changes): the identity and the count follow.
        let user =
            users::sql::update_user_in(&mut *tx, identity.user_id, None, &update, &source, now)
                .await?;
        link_identity_in(&mut *tx, &identity, now).await?;
        let user = if count_sign_in {
            users::sql::record_sign_in_in(&mut *tx, user.id, SignInKind::Credentialed, now).await?
        } else {
            user
        };
        C::commit(tx).await?;
        Ok(user)
    }

    /// The user with its values, the identity and the first count, in that order, in one write
    /// transaction.
    pub(crate) async fn create_user_with_identity<C: Conn>(
        c: &mut C,
        new: NewUser,
        identity: LinkedIdentity,
        changes: Vec<ProfileChange>,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let update = UserUpdate {
            changes,
            ..UserUpdate::default()
        };
        let mut tx = c.begin_write().await?;
        let user = users::sql::create_user_with_in(&mut *tx, new, &update, source).await?;
        let identity = LinkedIdentity {
            user_id: user.id,
            ..identity
        };
        link_identity_in(&mut *tx, &identity, now).await?;
        let user =
            users::sql::record_sign_in_in(&mut *tx, user.id, SignInKind::Credentialed, now).await?;
        C::commit(tx).await?;
        Ok(user)
    }

    /// Links the identity to `identity.user_id` (created and used at `now`), or, when it already
    /// is, updates its email and `last_used_at`; inside the caller's write transaction.
    /// [`StoreError::Conflict`] when it belongs to another user.
    pub(crate) async fn link_identity_in<C: Conn>(
        tx: &mut C,
        identity: &LinkedIdentity,
        now: OffsetDateTime,
    ) -> Result<LinkedIdentity, StoreError> {
        if identity.connection.is_empty() || identity.subject.is_empty() {
            return Err(StoreError::Invalid {
                message: "an identity needs a connection and a subject".into(),
            });
        }
        // One statement: an identity of another user is left alone and returns no row.
        query_as::<IdentityRow>(
            "INSERT INTO user_identities
                 (connection, subject, user_id, email, created_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (connection, subject) DO UPDATE
             SET email = excluded.email, last_used_at = excluded.last_used_at
             WHERE user_identities.user_id = excluded.user_id
             RETURNING *",
        )
        .bind(identity.connection.clone())
        .bind(identity.subject.clone())
        .bind(identity.user_id.to_string())
        .bind(identity.email.clone())
        .bind(crate::model::to_millis(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| match e {
            // A foreign key: the connection (or the user) does not exist.
            StoreError::Invalid { .. } => StoreError::NotFound,
            other => other,
        })?
        .ok_or_else(|| StoreError::Conflict {
            what: "this upstream identity is linked to another user".into(),
        })?
        .try_into()
    }

    pub(crate) async fn unlink_identity<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        connection: &str,
        subject: &str,
    ) -> Result<UnlinkOutcome, StoreError> {
        let mut tx = c.begin_write().await?;
        // The user stays locked until the end: a concurrent unlink of their other identity
        // waits and then counts what this one left.
        let Some(user) = query_as::<UserRow>(C::LOCK_USER)
            .bind(user_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(UnlinkOutcome::NotFound);
        };
        let (total, this) = query_as::<(i64, i64)>(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE connection = $2 AND subject = $3)
             FROM user_identities WHERE user_id = $1",
        )
        .bind(user_id.to_string())
        .bind(connection.to_owned())
        .bind(subject.to_owned())
        .fetch_one(&mut *tx)
        .await?;
        if this == 0 {
            return Ok(UnlinkOutcome::NotFound);
        }
        let passkeys =
            crate::aggregates::passkeys::sql::count_user_passkeys(&mut *tx, user_id).await?;
        if user.password_hash.is_none() && total <= 1 && passkeys == 0 {
            return Ok(UnlinkOutcome::LastWayIn);
        }
        query(
            "DELETE FROM user_identities WHERE connection = $1 AND subject = $2 AND user_id = $3",
        )
        .bind(connection.to_owned())
        .bind(subject.to_owned())
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
        C::commit(tx).await?;
        Ok(UnlinkOutcome::Unlinked)
    }
}

/// A `user_identities` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct IdentityRow {
    pub connection: String,
    pub subject: String,
    pub user_id: String,
    pub email: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
}

impl TryFrom<IdentityRow> for LinkedIdentity {
    type Error = StoreError;

    fn try_from(row: IdentityRow) -> Result<Self, StoreError> {
        Ok(LinkedIdentity {
            connection: row.connection,
            subject: row.subject,
            user_id: parse_id(&row.user_id)?,
            email: row.email,
            created_at: from_millis(row.created_at)?,
            last_used_at: from_millis(row.last_used_at)?,
        })
    }
}
