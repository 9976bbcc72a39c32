//! Users and their profile values: the user record, value changes with history and
//! provenance, listing and counting users, and each user's state as the decision engine reads it.

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::types::Json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::aggregates::counters::{self, Daily, ValueDeltas};
use crate::aggregates::prompt_state_row::PromptStateRow;
use crate::aggregates::throttle;
use crate::aggregates::webhooks::{self, outbox_wanted};
use crate::backend::{Backend, Conn, pick, query, query_as};
use crate::model::{from_millis, from_millis_opt, parse_id};
use crate::profile::Sources;
use crate::{
    DayCounts, HistoryEntry, Location, NewUser, NewWebhookEvent, Page, ProfileChange, Provenance,
    SignInKind, StoreError, User, UserQuery, UserState, UserUpdate,
};

/// Users and their profile values.
#[async_trait]
pub trait Users: Send + Sync {
    /// Creates a user. [`StoreError::Conflict`] when the email is taken, ignoring case.
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError>;

    /// Creates a user and applies `update` to it (as [`Self::update_user`] does, with history
    /// and provenance from `source`) in one transaction: when the update is refused, no user is
    /// left behind.
    async fn create_user_with(
        &self,
        new: NewUser,
        update: &UserUpdate,
        source: &str,
    ) -> Result<User, StoreError>;

    /// The user with this id, or [`StoreError::NotFound`].
    async fn get_user(&self, id: Uuid) -> Result<User, StoreError>;

    /// The user with this email (compared case-insensitively), if any.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// Replaces the user's password hash (a PHC string).
    async fn set_password_hash(&self, id: Uuid, hash: &str) -> Result<(), StoreError>;

    /// Counts a sign-in atomically and records when it happened; returns the updated user.
    async fn record_sign_in(
        &self,
        id: Uuid,
        kind: SignInKind,
        now: OffsetDateTime,
    ) -> Result<User, StoreError>;

    /// Deletes the user and everything that belongs to them.
    async fn delete_user(&self, id: Uuid) -> Result<(), StoreError>;

    /// How many users exist.
    async fn count_users(&self) -> Result<i64, StoreError>;

    /// Changes the user in one transaction: checks `expected_version` (else
    /// [`StoreError::VersionMismatch`]), sets the email if asked ([`StoreError::Conflict`] when
    /// another user has it, ignoring case), applies the key changes and then the merge patches
    /// against the values current inside the transaction (so concurrent changes of different keys
    /// all land), bumps `version` and `updated_at` once, records one history row per changed key
    /// and keeps the provenance of each value. Keys whose value does not change are ignored; when
    /// nothing changes the user is returned as it was. On any error nothing is written.
    async fn update_user(
        &self,
        user_id: Uuid,
        expected_version: Option<i64>,
        update: &UserUpdate,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<User, StoreError>;

    /// [`Self::update_user`] with key changes only.
    async fn apply_profile_changes(
        &self,
        user_id: Uuid,
        expected_version: Option<i64>,
        changes: &[ProfileChange],
        source: &str,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let update = UserUpdate {
            changes: changes.to_vec(),
            ..UserUpdate::default()
        };
        self.update_user(user_id, expected_version, &update, source, now)
            .await
    }

    /// [`Self::update_user`] with one RFC 7396 merge patch of one bag (nested objects merge
    /// deeply, `null` deletes), with history per top-level key.
    async fn merge_profile_patch(
        &self,
        user_id: Uuid,
        expected_version: Option<i64>,
        location: Location,
        patch: &serde_json::Value,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let update = UserUpdate {
            patches: vec![(location, patch.clone())],
            ..UserUpdate::default()
        };
        self.update_user(user_id, expected_version, &update, source, now)
            .await
    }

    /// Every recorded value change of the user, oldest first.
    async fn user_history(&self, user_id: Uuid) -> Result<Vec<HistoryEntry>, StoreError>;

    /// Deletes the history entries of every user changed before `before` (retention); how
    /// many. The current values and their sources stay.
    async fn purge_history(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// The current source of each of the user's stored values.
    async fn value_provenance(&self, user_id: Uuid) -> Result<Vec<Provenance>, StoreError>;

    /// Users matching the query, in id order (the order they came to this server), one page at
    /// a time.
    async fn list_users(&self, query: UserQuery) -> Result<Page<User>, StoreError>;

    /// Like [`Self::list_users`], with each user's prompt state and value provenance: what the
    /// decision engine needs, a page at a time (impact previews walk every user this way).
    async fn list_user_states(&self, query: UserQuery) -> Result<Page<UserState>, StoreError>;

    /// A uniform random sample of the users, with their states, in id order a page at a time:
    /// those whose id ends (its last 16 bits, random in every id this server or an export
    /// gives) below `below` out of 65,536, so about `below / 65536` of them, the same users
    /// from one page to the next. What an impact preview of many users examines.
    async fn sample_user_states(
        &self,
        below: u16,
        cursor: Option<Uuid>,
        limit: u32,
    ) -> Result<Page<UserState>, StoreError>;

    /// How many users have a value (not absent, not `null`) for `key` in `location`.
    async fn count_users_with_value(
        &self,
        location: Location,
        key: &str,
    ) -> Result<i64, StoreError>;

    /// For every top-level key of `location`, how many users have a value (not `null`), keys
    /// nobody has left out: read from counters that every write of a value, every new user and
    /// every deletion keeps exact in its own transaction (the completeness of every field at
    /// once, in a few rows whatever the number of users).
    async fn count_users_by_key(
        &self,
        location: Location,
    ) -> Result<Vec<(String, i64)>, StoreError>;

    /// The UTC days of `[first, last]` that had a sign-up or a sign-in, in order (days with
    /// none are left out). Sign-ups count users as they were created, deleted ones included;
    /// sign-ins are those [`Self::record_sign_in`] counted.
    async fn daily_counts(&self, first: Date, last: Date) -> Result<Vec<DayCounts>, StoreError>;
}

#[async_trait]
impl<B: Backend> Users for B {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_user(&mut *c, new).await;
        self.settle(&mut c, result)
    }

    async fn create_user_with(
        &self,
        new: NewUser,
        update: &UserUpdate,
        source: &str,
    ) -> Result<User, StoreError> {
        let mut c = self.write().await?;
        let result = sql::create_user_with(&mut *c, new, update, source).await;
        self.settle(&mut c, result)
    }

    async fn get_user(&self, id: Uuid) -> Result<User, StoreError> {
        let mut c = self.read().await?;
        let result = sql::get_user(&mut *c, id).await;
        self.settle(&mut c, result)
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::find_user_by_email(&mut *c, email).await;
        self.settle(&mut c, result)
    }

    async fn set_password_hash(&self, id: Uuid, hash: &str) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::set_password_hash(&mut *c, id, hash).await;
        self.settle(&mut c, result)
    }

    async fn record_sign_in(
        &self,
        id: Uuid,
        kind: SignInKind,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let mut c = self.write().await?;
        let result = sql::record_sign_in(&mut *c, id, kind, now).await;
        self.settle(&mut c, result)
    }

    async fn delete_user(&self, id: Uuid) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::delete_user(&mut *c, id, OffsetDateTime::now_utc()).await;
        self.settle(&mut c, result)
    }

    async fn count_users(&self) -> Result<i64, StoreError> {
        let mut c = self.read().await?;
        let result = sql::count_users(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn update_user(
        &self,
        user_id: Uuid,
        expected_version: Option<i64>,
        update: &UserUpdate,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let mut c = self.write().await?;
        let result =
            sql::update_user(&mut *c, user_id, expected_version, update, source, now).await;
        self.settle(&mut c, result)
    }

    async fn purge_history(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::purge_history(&mut *c, before).await;
        self.settle(&mut c, result)
    }

    async fn user_history(&self, user_id: Uuid) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::user_history(&mut *c, user_id).await;
        self.settle(&mut c, result)
    }

    async fn value_provenance(&self, user_id: Uuid) -> Result<Vec<Provenance>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::value_provenance(&mut *c, user_id).await;
        self.settle(&mut c, result)
    }

    async fn list_users(&self, query: UserQuery) -> Result<Page<User>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_users(&mut *c, query).await;
        self.settle(&mut c, result)
    }

    async fn list_user_states(&self, query: UserQuery) -> Result<Page<UserState>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::list_user_states(&mut *c, query).await;
        self.settle(&mut c, result)
    }

    async fn sample_user_states(
        &self,
        below: u16,
        cursor: Option<Uuid>,
        limit: u32,
    ) -> Result<Page<UserState>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::sample_user_states(&mut *c, below, cursor, limit).await;
        self.settle(&mut c, result)
    }

    async fn count_users_with_value(
        &self,
        location: Location,
        key: &str,
    ) -> Result<i64, StoreError> {
        let mut c = self.read().await?;
        let result = sql::count_users_with_value(&mut *c, location, key).await;
        self.settle(&mut c, result)
    }

    async fn count_users_by_key(
        &self,
        location: Location,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut c = self.read().await?;
        let result = counters::sql::value_counts(&mut *c, location).await;
        self.settle(&mut c, result)
    }

    async fn daily_counts(&self, first: Date, last: Date) -> Result<Vec<DayCounts>, StoreError> {
        let mut c = self.read().await?;
        let result = counters::sql::daily_counts(&mut *c, first, last).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    /// [`create_user_in`] in a write transaction of its own.
    pub(crate) async fn create_user<C: Conn>(c: &mut C, new: NewUser) -> Result<User, StoreError> {
        let mut tx = c.begin_write().await?;
        let user = create_user_in(&mut *tx, new).await?;
        C::commit(tx).await?;
        Ok(user)
    }

    /// Inserts the user and counts its sign-up and its values, inside the caller's write
    /// transaction.
    pub(crate) async fn create_user_in<C: Conn>(
        c: &mut C,
        new: NewUser,
    ) -> Result<User, StoreError> {
        let normalized = normalized_email(&new.email)?;
        create_user_keyed_in(c, new, normalized).await
    }

    /// [`create_user_in`] with the unique key of its email given: a user of a companion
    /// (`crate::aggregates::companions`) is found by the provider's subject, not by an email
    /// that other users of the provider may share.
    pub(crate) async fn create_user_keyed_in<C: Conn>(
        c: &mut C,
        new: NewUser,
        normalized: String,
    ) -> Result<User, StoreError> {
        let profile = crate::model::json_object(new.profile, "profile")?;
        let user_metadata = crate::model::json_object(new.user_metadata, "user_metadata")?;
        let app_metadata = crate::model::json_object(new.app_metadata, "app_metadata")?;
        let now = crate::model::to_millis(new.now);
        let row = query_as::<UserRow>(
            "INSERT INTO users (id, email, email_normalized, email_verified, password_hash,
                                created_at, updated_at, profile, user_metadata, app_metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)
             RETURNING *",
        )
        .bind(crate::model::new_id(new.now).to_string())
        .bind(new.email.trim().to_owned())
        .bind(normalized)
        .bind(new.email_verified)
        .bind(new.password_hash)
        .bind(now)
        .bind(Json(profile))
        .bind(Json(user_metadata))
        .bind(Json(app_metadata))
        .fetch_one(&mut *c)
        .await
        .map_err(email_taken)?;
        let user: User = row.try_into()?;
        let mut deltas = ValueDeltas::default();
        deltas.bag(Location::Profile, &user.profile, 1);
        deltas.bag(Location::UserMetadata, &user.user_metadata, 1);
        deltas.bag(Location::AppMetadata, &user.app_metadata, 1);
        counters::sql::count_values(&mut *c, deltas).await?;
        counters::sql::count_day(&mut *c, Daily::SignUp, user.created_at).await?;
        let event = NewWebhookEvent {
            kind: "user.created",
            payload: json!({ "user": {
                "id": user.id,
                "email": user.email,
                "email_verified": user.email_verified,
            } }),
            at: user.created_at,
        };
        webhooks::sql::insert_event(&mut *c, event).await?;
        Ok(user)
    }

    /// [`create_user_with_in`] in a write transaction of its own.
    pub(crate) async fn create_user_with<C: Conn>(
        c: &mut C,
        new: NewUser,
        update: &UserUpdate,
        source: &str,
    ) -> Result<User, StoreError> {
        let mut tx = c.begin_write().await?;
        let user = create_user_with_in(&mut *tx, new, update, source).await?;
        C::commit(tx).await?;
        Ok(user)
    }

    /// [`create_user`] and then [`update_user_in`], inside the caller's write transaction.
    pub(crate) async fn create_user_with_in<C: Conn>(
        tx: &mut C,
        new: NewUser,
        update: &UserUpdate,
        source: &str,
    ) -> Result<User, StoreError> {
        let now = new.now;
        let user = create_user_in(&mut *tx, new).await?;
        update_user_in(&mut *tx, user.id, None, update, source, now).await
    }

    pub(crate) async fn get_user<C: Conn>(c: &mut C, id: Uuid) -> Result<User, StoreError> {
        query_as::<UserRow>("SELECT * FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *c)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_into()
    }

    pub(crate) async fn find_user_by_email<C: Conn>(
        c: &mut C,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        query_as::<UserRow>("SELECT * FROM users WHERE email_normalized = $1")
            .bind(crate::model::normalize_email(email))
            .fetch_optional(&mut *c)
            .await?
            .map(User::try_from)
            .transpose()
    }

    pub(crate) async fn set_password_hash<C: Conn>(
        c: &mut C,
        id: Uuid,
        hash: &str,
    ) -> Result<(), StoreError> {
        let done = query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(hash.to_owned())
            .execute(&mut *c)
            .await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// [`record_sign_in_in`] in a write transaction of its own.
    pub(crate) async fn record_sign_in<C: Conn>(
        c: &mut C,
        id: Uuid,
        kind: SignInKind,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let mut tx = c.begin_write().await?;
        let user = record_sign_in_in(&mut *tx, id, kind, now).await?;
        C::commit(tx).await?;
        Ok(user)
    }

    /// Counts the sign-in on the user and on its day, inside the caller's write transaction.
    pub(crate) async fn record_sign_in_in<C: Conn>(
        c: &mut C,
        id: Uuid,
        kind: SignInKind,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        // One UPDATE: the increment happens in the database, so concurrent sign-ins all count.
        // It also says whether an endpoint is enabled (`outbox_wanted!`): with
        // none, the sign-in's event costs no statement.
        let sql = match kind {
            SignInKind::Credentialed => concat!(
                "UPDATE users SET credentialed_logins = credentialed_logins + 1,
                                  last_login_at = $2
                 WHERE id = $1 RETURNING *, ",
                outbox_wanted!()
            ),
            SignInKind::Sso => concat!(
                "UPDATE users SET sso_logins = sso_logins + 1, last_login_at = $2
                 WHERE id = $1 RETURNING *, ",
                outbox_wanted!()
            ),
        };
        let row = query_as::<SignedInRow>(sql)
            .bind(id.to_string())
            .bind(crate::model::to_millis(now))
            .fetch_optional(&mut *c)
            .await?
            .ok_or(StoreError::NotFound)?;
        let user: User = row.user.try_into()?;
        counters::sql::count_day(&mut *c, Daily::SignIn(kind), now).await?;
        if row.outbox_wanted {
            let event = NewWebhookEvent {
                kind: "signin.succeeded",
                payload: json!({
                    "user": { "id": id },
                    "kind": match kind {
                        SignInKind::Credentialed => "credentialed",
                        SignInKind::Sso => "sso",
                    },
                }),
                at: now,
            };
            webhooks::sql::insert_wanted_event(&mut *c, event).await?;
        }
        Ok(user)
    }

    /// [`delete_user_in`] in a write transaction of its own.
    pub(crate) async fn delete_user<C: Conn>(
        c: &mut C,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = c.begin_write().await?;
        delete_user_in(&mut *tx, id, now).await?;
        C::commit(tx).await
    }

    /// Deletes the user, takes its values out of the counts and records `user.deleted`, inside
    /// the caller's write transaction.
    pub(crate) async fn delete_user_in<C: Conn>(
        c: &mut C,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // What is about the user without belonging to it (docs/data-rights.md): their account
        // events but the record of the deletion (their prompt events, which hold no values,
        // stay for the funnel, without the user), the values in the audit log's entries about
        // them (who did what stays), their failed sign-ins, the outbox's copies of their data.
        query(
            "DELETE FROM prompt_events
             WHERE user_id = $1 AND kind NOT LIKE 'prompt.%' AND kind <> 'account.deleted'",
        )
        .bind(id.to_string())
        .execute(&mut *c)
        .await?;
        query("UPDATE audit_log SET before = NULL, after = NULL WHERE target = $1")
            .bind(format!("user:{id}"))
            .execute(&mut *c)
            .await?;
        webhooks::sql::erase_user_events(&mut *c, id).await?;
        // Everything that belongs to the user references it with ON DELETE CASCADE.
        let (profile, user_metadata, app_metadata, email) =
            query_as::<(Json<Value>, Json<Value>, Json<Value>, String)>(
                "DELETE FROM users WHERE id = $1
                 RETURNING profile, user_metadata, app_metadata, email_normalized",
            )
            .bind(id.to_string())
            .fetch_optional(&mut *c)
            .await?
            .ok_or(StoreError::NotFound)?;
        throttle::sql::forget_account(&mut *c, &email).await?;
        let mut deltas = ValueDeltas::default();
        deltas.bag(Location::Profile, &profile.0, -1);
        deltas.bag(Location::UserMetadata, &user_metadata.0, -1);
        deltas.bag(Location::AppMetadata, &app_metadata.0, -1);
        counters::sql::count_values(&mut *c, deltas).await?;
        let event = NewWebhookEvent {
            kind: "user.deleted",
            payload: json!({ "user": { "id": id } }),
            at: now,
        };
        webhooks::sql::insert_event(&mut *c, event).await?;
        Ok(())
    }

    pub(crate) async fn count_users<C: Conn>(c: &mut C) -> Result<i64, StoreError> {
        let (count,) = query_as::<(i64,)>("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *c)
            .await?;
        Ok(count)
    }

    /// Locks the user, checks the version, sets the email, applies the changes and then the
    /// patches to the bags, and writes the bags, the history rows and the provenance in one
    /// transaction; any error rolls all of it back.
    pub(crate) async fn update_user<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        expected_version: Option<i64>,
        update: &UserUpdate,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let mut tx = c.begin_write().await?;
        let user = update_user_in(&mut *tx, user_id, expected_version, update, source, now).await?;
        C::commit(tx).await?;
        Ok(user)
    }

    /// [`update_user`] inside the caller's write transaction.
    pub(crate) async fn update_user_in<C: Conn>(
        tx: &mut C,
        user_id: Uuid,
        expected_version: Option<i64>,
        update: &UserUpdate,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        if source.is_empty() {
            return Err(StoreError::Invalid {
                message: "the source is empty".into(),
            });
        }
        let normalized = update
            .email
            .as_ref()
            .map(|change| normalized_email(&change.email))
            .transpose()?;
        let row = query_as::<UserRow>(C::LOCK_USER)
            .bind(user_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut sources = row.sources.0.clone();
        let history_in_row = row.import_history_at.is_some();
        let user: User = row.try_into()?;
        if let Some(expected) = expected_version
            && expected != user.version
        {
            return Err(StoreError::VersionMismatch {
                expected,
                found: user.version,
            });
        }
        let mut bags = crate::profile::Bags::of(&user);
        let mut applied = bags.apply(&update.changes)?;
        for (location, patch) in &update.patches {
            let changes = bags.merge_patch_changes(*location, patch)?;
            applied.extend(bags.apply(&changes)?);
        }
        if let Some(unverify) = crate::profile::unverified_phone(&applied, &update.changes) {
            applied.extend(bags.apply(&[unverify])?);
        }
        let email = update.email.as_ref().zip(normalized).filter(|(change, _)| {
            change.email.trim() != user.email || change.verified != user.email_verified
        });
        if applied.is_empty() && email.is_none() {
            return Ok(user);
        }
        // The first write of an imported user's values: the entries its row held become rows
        // (before this write's), as its sources say them before this write.
        let earlier = if history_in_row {
            sources.history(&user)?
        } else {
            Vec::new()
        };
        let (profile, user_metadata, app_metadata) = bags.into_values();
        let event = updated_event(
            &user,
            &applied,
            email.as_ref().map(|(c, _)| *c),
            source,
            now,
        );
        let now = crate::model::to_millis(now);
        for change in &applied {
            sources.record(change, source, now);
        }
        if let Some((change, normalized)) = email {
            let before = crate::model::normalize_email(&user.email);
            if before != normalized {
                // The failed sign-ins against the address the user leaves.
                throttle::sql::forget_account(&mut *tx, &before).await?;
            }
            query(
                "UPDATE users SET email = $2, email_normalized = $3, email_verified = $4
                 WHERE id = $1",
            )
            .bind(user_id.to_string())
            .bind(change.email.trim().to_owned())
            .bind(normalized)
            .bind(change.verified)
            .execute(&mut *tx)
            .await
            .map_err(email_taken)?;
        }
        let row = query_as::<UserRow>(
            "UPDATE users SET profile = $2, user_metadata = $3, app_metadata = $4,
                              sources = $6, version = version + 1, updated_at = $5,
                              import_history_at = NULL
             WHERE id = $1 RETURNING *",
        )
        .bind(user_id.to_string())
        .bind(Json(profile))
        .bind(Json(user_metadata))
        .bind(Json(app_metadata))
        .bind(now)
        .bind(Json(
            serde_json::to_value(&sources).map_err(StoreError::unexpected)?,
        ))
        .fetch_one(&mut *tx)
        .await?;
        let mut deltas = ValueDeltas::default();
        for change in &applied {
            deltas.change(change);
        }
        counters::sql::count_values(&mut *tx, deltas).await?;
        webhooks::sql::insert_event(&mut *tx, event).await?;
        let earlier = earlier.into_iter().map(|entry| {
            let at = crate::model::to_millis(entry.changed_at);
            let (location, key) = (entry.location, entry.key);
            (location, key, None, entry.new_value, entry.source, at)
        });
        let applied = applied.into_iter().map(|change| {
            let (location, key) = (change.location, change.key);
            let (old, new) = (change.old_value, change.new_value);
            (location, key, old, new, source.to_owned(), now)
        });
        for (location, key, old_value, new_value, source, at) in earlier.chain(applied) {
            query(
                "INSERT INTO profile_history
                     (user_id, location, key, old_value, new_value, source, changed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(user_id.to_string())
            .bind(location.as_str())
            .bind(key)
            .bind(old_value.map(Json))
            .bind(new_value.map(Json))
            .bind(source)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        row.try_into()
    }

    /// `user.updated`: which values changed and from what source; each change's `value` (absent
    /// when removed) is taken out of the delivery for endpoints that did not ask for values.
    fn updated_event(
        user: &User,
        applied: &[crate::profile::AppliedChange],
        email: Option<&crate::EmailChange>,
        source: &str,
        now: OffsetDateTime,
    ) -> NewWebhookEvent {
        let mut changes: Vec<Value> = applied
            .iter()
            .map(|change| {
                let mut entry = json!({
                    "location": change.location.as_str(),
                    "key": change.key,
                    "removed": change.new_value.is_none(),
                });
                if let Some(value) = &change.new_value {
                    entry["value"] = value.clone();
                }
                entry
            })
            .collect();
        if let Some(change) = email {
            if change.email.trim() != user.email {
                changes.push(json!({
                    "location": "account", "key": "email", "removed": false,
                    "value": change.email.trim(),
                }));
            }
            if change.verified != user.email_verified {
                changes.push(json!({
                    "location": "account", "key": "email_verified", "removed": false,
                    "value": change.verified,
                }));
            }
        }
        NewWebhookEvent {
            kind: "user.updated",
            payload: json!({
                "user": { "id": user.id, "version": user.version + 1 },
                "source": source,
                "changes": changes,
            }),
            at: now,
        }
    }

    pub(crate) async fn purge_history<C: Conn>(
        c: &mut C,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let before = crate::model::to_millis(before);
        let mut tx = c.begin_write().await?;
        // The entries that imported users' rows hold ([`Sources::history`]), one per value,
        // all of the import's time: counted, then gone with the time.
        let (in_rows,) = query_as::<(i64,)>(pick::<C>(
            "SELECT coalesce(sum((SELECT count(*) FROM json_each(u.sources) l, json_each(l.value))), 0)
             FROM users u WHERE u.import_history_at < $1",
            "SELECT coalesce(sum((SELECT count(*) FROM jsonb_each(u.sources) l,
                                                     jsonb_each(l.value) k)), 0)::bigint
             FROM users u WHERE u.import_history_at < $1",
        ))
        .bind(before)
        .fetch_one(&mut *tx)
        .await?;
        query("UPDATE users SET import_history_at = NULL WHERE import_history_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        let rows = query("DELETE FROM profile_history WHERE changed_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        C::commit(tx).await?;
        Ok(rows + in_rows.unsigned_abs())
    }

    pub(crate) async fn user_history<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        // The user first: a write of its values between the two reads has turned what its row
        // held into rows, which the second read finds.
        let user = query_as::<UserRow>("SELECT * FROM users WHERE id = $1")
            .bind(user_id.to_string())
            .fetch_optional(&mut *c)
            .await?;
        let rows = query_as::<HistoryRow>(
            "SELECT seq, user_id, location, key, old_value, new_value, source, changed_at
             FROM profile_history WHERE user_id = $1 ORDER BY seq",
        )
        .bind(user_id.to_string())
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(HistoryEntry::try_from)
        .collect::<Result<Vec<_>, _>>()?;
        let in_row = match user {
            Some(row) => with_history_in_row(row)?.1,
            None => Vec::new(),
        };
        Ok(history(in_row, rows))
    }

    /// A user and the entries of its history that its row holds ([`Sources::history`]): none
    /// unless it was imported and its values have not been written since.
    pub(crate) fn with_history_in_row(
        mut row: UserRow,
    ) -> Result<(User, Vec<HistoryEntry>), StoreError> {
        let in_row = row.import_history_at.is_some();
        let sources = std::mem::take(&mut row.sources.0);
        let user: User = row.try_into()?;
        let entries = if in_row {
            sources.history(&user)?
        } else {
            Vec::new()
        };
        Ok((user, entries))
    }

    /// A user's history: its rows of `profile_history` (in order), or when it has none the
    /// entries its own row holds ([`with_history_in_row`]; their first write turns them into
    /// rows, so a user never has both).
    pub(crate) fn history(in_row: Vec<HistoryEntry>, rows: Vec<HistoryEntry>) -> Vec<HistoryEntry> {
        if rows.is_empty() { in_row } else { rows }
    }

    pub(crate) async fn value_provenance<C: Conn>(
        c: &mut C,
        user_id: Uuid,
    ) -> Result<Vec<Provenance>, StoreError> {
        let sources = query_as::<(Json<Sources>,)>("SELECT sources FROM users WHERE id = $1")
            .bind(user_id.to_string())
            .fetch_optional(&mut *c)
            .await?;
        sources.map_or(Ok(Vec::new()), |(sources,)| sources.0.provenance())
    }

    pub(crate) async fn list_users<C: Conn>(
        c: &mut C,
        query: UserQuery,
    ) -> Result<Page<User>, StoreError> {
        let page = list_listed(c, query).await?;
        Ok(Page {
            items: page.items.into_iter().map(|(user, _)| user).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// The page of [`list_users`], each user with its values' sources (read in the same row:
    /// [`states_of`] needs them, [`list_users`] drops them).
    async fn list_listed<C: Conn>(c: &mut C, query: UserQuery) -> Result<Page<Listed>, StoreError> {
        let limit = query.page_size();
        if query.email.is_none()
            && let Some(page) = list_users_by_value(&mut *c, &query, limit).await?
        {
            return Ok(page);
        }
        let (location, key, equals) = match query.field {
            Some(filter) => (
                Some(filter.location.as_str()),
                Some(C::json_key(filter.key)),
                filter.equals,
            ),
            None => (None, None, None),
        };
        // Every filter is a parameter that is either NULL (off) or compared: one statement
        // for every combination. `bag -> key` is JSON (or NULL when absent) in both backends;
        // `Conn::json_key` makes any key, whatever characters it holds, one plain key.
        // The cursor is `id > COALESCE($4, '')` rather than `$4 IS NULL OR ...` so that both
        // planners seek the primary-key index instead of scanning from the first user.
        // With an address, the unique index on `email_normalized` finds the one row (the
        // `$1 IS NULL OR` form would make both planners walk the primary key instead).
        macro_rules! list_users_rest {
            () => {
                "
               AND ($2 IS NULL OR created_at >= $2)
               AND ($3 IS NULL OR created_at < $3)
               AND id > COALESCE($4, '')
               AND ($5 IS NULL OR (CASE WHEN $7 IS NULL
                    THEN COALESCE(((CASE $5 WHEN 'profile' THEN profile
                                            WHEN 'user_metadata' THEN user_metadata
                                            ELSE app_metadata END) -> $6) = 'null', TRUE)
                    ELSE COALESCE(((CASE $5 WHEN 'profile' THEN profile
                                            WHEN 'user_metadata' THEN user_metadata
                                            ELSE app_metadata END) -> $6) = $7, FALSE)
                    END))
             ORDER BY id LIMIT $8"
            };
        }
        // With an address, the users of companions who gave it too (their own key is their
        // subject: `companions::sql`), through the index on the address they gave; a second
        // statement of the same shape, merged in id order.
        let statements: &[&'static str] = if query.email.is_some() {
            &[
                concat!(
                    "SELECT * FROM users WHERE email_normalized = $1",
                    list_users_rest!()
                ),
                concat!(
                    "SELECT * FROM users WHERE id IN
                     (SELECT user_id FROM companion_subjects WHERE email_normalized = $1)",
                    list_users_rest!()
                ),
            ]
        } else {
            &[concat!(
                "SELECT * FROM users WHERE ($1 IS NULL OR email_normalized = $1)",
                list_users_rest!()
            )]
        };
        let mut rows = Vec::new();
        for sql in statements {
            rows.extend(
                query_as::<UserRow>(sql)
                    .bind(query.email.as_deref().map(crate::model::normalize_email))
                    .bind(query.created_after.map(crate::model::to_millis))
                    .bind(query.created_before.map(crate::model::to_millis))
                    .bind(query.cursor.map(|id| id.to_string()))
                    .bind(location)
                    .bind(key.clone())
                    .bind(C::json_param(equals.clone()))
                    .bind(i64::from(limit) + 1)
                    .fetch_all(&mut *c)
                    .await?,
            );
        }
        let mut items = listed_of(rows)?;
        if statements.len() > 1 {
            items.sort_by_key(|(user, _)| user.id);
            items.dedup_by_key(|(user, _)| user.id);
        }
        Ok(page_of(items, limit))
    }

    /// A user read from `users`, with its values' sources (`UserRow::sources`).
    type Listed = (User, Sources);

    /// The users of rows read from `users`, with their values' sources.
    fn listed_of(rows: Vec<UserRow>) -> Result<Vec<Listed>, StoreError> {
        rows.into_iter()
            .map(|mut row| {
                let sources = std::mem::take(&mut row.sources.0);
                Ok((User::try_from(row)?, sources))
            })
            .collect()
    }

    /// A page of at most `limit` users out of `items` (read with one more, which says whether
    /// a next page exists): its cursor is the last user's id.
    fn page_of(items: Vec<Listed>, limit: u32) -> Page<Listed> {
        Page::of(items, limit, |(user, _)| user.id)
    }

    /// Longest key, and longest string value, in bytes, that `user_values` holds (migration
    /// 0027): a search for a longer one, an object or an array reads the users instead.
    pub(crate) const INDEXED_MAX_BYTES: usize = 256;

    /// A search by value through `user_values` (migration 0027, kept by triggers on `users`):
    /// the users who have the value, in id order, whether they are many, few or none, at the
    /// cost of a few index seeks. `None` when the index cannot answer (no value searched, or
    /// one it leaves out); the statement of [`list_users`] then reads the users. Both give the
    /// same users and cursors: `value` is what `bag -> key` yields (see the migration).
    pub(crate) async fn list_users_by_value<C: Conn>(
        c: &mut C,
        query: &UserQuery,
        limit: u32,
    ) -> Result<Option<Page<Listed>>, StoreError> {
        let Some(filter) = &query.field else {
            return Ok(None);
        };
        let indexed = match &filter.equals {
            Some(Value::String(text)) => text.len() <= INDEXED_MAX_BYTES,
            Some(Value::Null | Value::Bool(_) | Value::Number(_)) => true,
            Some(Value::Array(_) | Value::Object(_)) | None => false,
        };
        if !indexed || filter.key.len() > INDEXED_MAX_BYTES {
            return Ok(None);
        }
        // One statement; the value searched is written as the index keeps it: the JSON text
        // itself on SQLite, `user_value_text` of it on PostgreSQL (migration 0034).
        macro_rules! by_value {
            ($value:literal) => {
                concat!(
                    "SELECT u.* FROM user_values v JOIN users u ON u.id = v.user_id
                     WHERE v.location = $1 AND v.key = $2 AND v.value = ",
                    $value,
                    " AND v.user_id > COALESCE($4, '')
                       AND ($5 IS NULL OR u.created_at >= $5)
                       AND ($6 IS NULL OR u.created_at < $6)
                     ORDER BY v.user_id LIMIT $7"
                )
            };
        }
        let rows =
            query_as::<UserRow>(pick::<C>(by_value!("$3"), by_value!("user_value_text($3)")))
                .bind(filter.location.as_str())
                .bind(filter.key.clone())
                .bind(C::json_param(filter.equals.clone()))
                .bind(query.cursor.map(|id| id.to_string()))
                .bind(query.created_after.map(crate::model::to_millis))
                .bind(query.created_before.map(crate::model::to_millis))
                .bind(i64::from(limit) + 1)
                .fetch_all(&mut *c)
                .await?;
        Ok(Some(page_of(listed_of(rows)?, limit)))
    }

    pub(crate) async fn list_user_states<C: Conn>(
        c: &mut C,
        query: UserQuery,
    ) -> Result<Page<UserState>, StoreError> {
        let page = list_listed(&mut *c, query).await?;
        states_of(c, page, Rows::Range).await
    }

    pub(crate) async fn sample_user_states<C: Conn>(
        c: &mut C,
        below: u16,
        cursor: Option<Uuid>,
        limit: u32,
    ) -> Result<Page<UserState>, StoreError> {
        let limit = limit.clamp(1, UserQuery::MAX_LIMIT);
        // The ids of the page through the primary key's index alone (no row is read for a
        // user left out), then their rows. Lower-case hexadecimal digits compare the same
        // way as the numbers they spell, in both backends.
        let rows = query_as::<UserRow>(
            "SELECT * FROM users WHERE id IN
               (SELECT id FROM users WHERE id > COALESCE($1, '') AND substr(id, 33, 4) < $2
                ORDER BY id LIMIT $3)
             ORDER BY id",
        )
        .bind(cursor.map(|id| id.to_string()))
        .bind(format!("{below:04x}"))
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *c)
        .await?;
        states_of(c, page_of(listed_of(rows)?, limit), Rows::Listed).await
    }

    /// How [`states_of`] reads the rows of a page's users.
    enum Rows {
        /// Every row from the page's first user to its last: few users left out in between.
        Range,
        /// The rows of the page's users, by id: a sample, most users in between left out.
        Listed,
    }

    /// The page's users with their prompt state and value provenance: one statement for the
    /// prompt states, whatever the page's size (the provenance is in the users' rows, read
    /// with the page).
    async fn states_of<C: Conn>(
        c: &mut C,
        page: Page<Listed>,
        rows: Rows,
    ) -> Result<Page<UserState>, StoreError> {
        use std::collections::HashMap;
        let (Some((first, _)), Some((last, _))) = (page.items.first(), page.items.last()) else {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: page.next_cursor,
            });
        };
        // Ids are ordered, so one range query covers a page of consecutive users (rows of
        // users the filters left out are dropped below).
        let params: Vec<crate::backend::Param> = match rows {
            Rows::Range => vec![first.id.to_string().into(), last.id.to_string().into()],
            Rows::Listed => vec![
                Json(Value::Array(
                    page.items
                        .iter()
                        .map(|(user, _)| Value::String(user.id.to_string()))
                        .collect(),
                ))
                .into(),
            ],
        };
        // PostgreSQL: one index seek per listed user (`LATERAL`; `OFFSET 0` keeps the planner
        // from turning it back into a join), whatever its statistics say: just after a large
        // import it has none, and `user_id = ANY(...)` of an array it cannot see into was
        // planned as a scan of every row (53 s a page at a million users).
        let prompts_sql = match rows {
            Rows::Range => {
                "SELECT * FROM prompt_state WHERE user_id >= $1 AND user_id <= $2
                 ORDER BY user_id, step"
            }
            Rows::Listed => pick::<C>(
                "SELECT * FROM prompt_state WHERE user_id IN (SELECT value FROM json_each($1))
                 ORDER BY user_id, step",
                "SELECT s.* FROM jsonb_array_elements_text($1::jsonb) AS ids(id)
                 CROSS JOIN LATERAL
                   (SELECT * FROM prompt_state WHERE user_id = ids.id OFFSET 0) s
                 ORDER BY s.user_id, s.step",
            ),
        };
        let mut prompts: HashMap<String, Vec<crate::PromptState>> = HashMap::new();
        let found = query_as::<UserPromptStateRow>(prompts_sql)
            .bind_all(params)
            .fetch_all(&mut *c)
            .await?;
        for row in found {
            prompts
                .entry(row.user_id)
                .or_default()
                .push(row.state.try_into()?);
        }
        let items = page
            .items
            .into_iter()
            .map(|(user, sources)| {
                Ok(UserState {
                    prompts: prompts.remove(&user.id.to_string()).unwrap_or_default(),
                    provenance: sources.provenance()?,
                    user,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    pub(crate) async fn count_users_with_value<C: Conn>(
        c: &mut C,
        location: Location,
        key: &str,
    ) -> Result<i64, StoreError> {
        let (count,) = query_as::<(i64,)>(
            "SELECT COUNT(*) FROM users
             WHERE COALESCE(((CASE $1 WHEN 'profile' THEN profile
                                      WHEN 'user_metadata' THEN user_metadata
                                      ELSE app_metadata END) -> $2) <> 'null', FALSE)",
        )
        .bind(location.as_str())
        .bind(key.to_owned())
        .fetch_one(&mut *c)
        .await?;
        Ok(count)
    }
}

/// A `users` row returned by a sign-in's count, with whether the outbox wants its event.
#[derive(Debug, sqlx::FromRow)]
struct SignedInRow {
    #[sqlx(flatten)]
    user: UserRow,
    outbox_wanted: bool,
}

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
    pub mfa_factors: i64,
    pub disabled_at: Option<i64>,
    /// Each value's source (not part of [`User`]: read by the profile's writes and by
    /// [`sql::value_provenance`]).
    pub sources: Json<Sources>,
    /// When an import created the user, while its values' history is still only that import's
    /// entries, kept as its bags and sources ([`Sources::history`]); `None` once they are rows.
    pub import_history_at: Option<i64>,
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
            mfa_factors: row.mfa_factors,
            disabled_at: from_millis_opt(row.disabled_at)?,
        })
    }
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

/// A `prompt_state` row with its user.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserPromptStateRow {
    pub user_id: String,
    #[sqlx(flatten)]
    pub state: PromptStateRow,
}

/// A unique-constraint failure on `users.email_normalized`, said as what it means.
fn email_taken(error: StoreError) -> StoreError {
    match error {
        StoreError::Conflict { .. } => StoreError::Conflict {
            what: "a user with this email already exists".into(),
        },
        other => other,
    }
}

/// The stored, case-insensitive form of an email; an empty one is refused.
pub(crate) fn normalized_email(email: &str) -> Result<String, StoreError> {
    let normalized = crate::model::normalize_email(email);
    if normalized.is_empty() {
        return Err(StoreError::Invalid {
            message: "email is empty".into(),
        });
    }
    Ok(normalized)
}
