//! Profile changes with history and provenance, and user listing; shared by both backends.
//!
//! Besides the names listed in `crate::sql`, the bodies expect `LOCK_USER` (the user row, locked
//! for the transaction: `FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE` already serialises writers
//! on SQLite) and `json_param(Value)`, the bind form of a JSON value compared with `->`.

/// Expands to the profile functions for the backend in scope.
macro_rules! profile_sql {
    () => {
        /// Locks the user, checks the version, sets the email, applies the changes and then the
        /// patches to the bags, and writes the bags, the history rows and the provenance in one
        /// transaction; any error rolls all of it back.
        pub(crate) async fn update_user(
            c: &mut Conn,
            user_id: uuid::Uuid,
            expected_version: Option<i64>,
            update: &$crate::UserUpdate,
            source: &str,
            now: time::OffsetDateTime,
        ) -> Result<$crate::User, $crate::StoreError> {
            let mut tx = begin_write(c).await?;
            let user = update_user_in(&mut tx, user_id, expected_version, update, source, now).await?;
            tx.commit().await.map_err(err)?;
            Ok(user)
        }

        /// [`update_user`] inside the caller's write transaction.
        pub(crate) async fn update_user_in(
            tx: &mut Conn,
            user_id: uuid::Uuid,
            expected_version: Option<i64>,
            update: &$crate::UserUpdate,
            source: &str,
            now: time::OffsetDateTime,
        ) -> Result<$crate::User, $crate::StoreError> {
            if source.is_empty() {
                return Err($crate::StoreError::Invalid { message: "the source is empty".into() });
            }
            let normalized = update
                .email
                .as_ref()
                .map(|change| $crate::sql::normalized_email(&change.email))
                .transpose()?;
            let user: $crate::User = sqlx::query_as::<_, $crate::sql::rows::UserRow>(LOCK_USER)
                .bind(user_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?
                .ok_or($crate::StoreError::NotFound)?
                .try_into()?;
            if let Some(expected) = expected_version {
                if expected != user.version {
                    return Err($crate::StoreError::VersionMismatch {
                        expected,
                        found: user.version,
                    });
                }
            }
            let mut bags = $crate::profile::Bags::of(&user);
            let mut applied = bags.apply(&update.changes)?;
            for (location, patch) in &update.patches {
                let changes = bags.merge_patch_changes(*location, patch)?;
                applied.extend(bags.apply(&changes)?);
            }
            let email = update
                .email
                .as_ref()
                .zip(normalized)
                .filter(|(change, _)| {
                    change.email.trim() != user.email || change.verified != user.email_verified
                });
            if applied.is_empty() && email.is_none() {
                return Ok(user);
            }
            let (profile, user_metadata, app_metadata) = bags.into_values();
            let now = $crate::model::to_millis(now);
            if let Some((change, normalized)) = email {
                sqlx::query(
                    "UPDATE users SET email = $2, email_normalized = $3, email_verified = $4
                     WHERE id = $1",
                )
                .bind(user_id.to_string())
                .bind(change.email.trim().to_owned())
                .bind(normalized)
                .bind(change.verified)
                .execute(&mut *tx)
                .await
                .map_err(|e| $crate::sql::email_taken(err(e)))?;
            }
            let row = sqlx::query_as::<_, $crate::sql::rows::UserRow>(
                "UPDATE users SET profile = $2, user_metadata = $3, app_metadata = $4,
                                  version = version + 1, updated_at = $5
                 WHERE id = $1 RETURNING *",
            )
            .bind(user_id.to_string())
            .bind(sqlx::types::Json(profile))
            .bind(sqlx::types::Json(user_metadata))
            .bind(sqlx::types::Json(app_metadata))
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
            for change in applied {
                sqlx::query(
                    "INSERT INTO profile_history
                         (user_id, location, key, old_value, new_value, source, changed_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(user_id.to_string())
                .bind(change.location.as_str())
                .bind(change.key.clone())
                .bind(change.old_value.map(sqlx::types::Json))
                .bind(change.new_value.clone().map(sqlx::types::Json))
                .bind(source.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
                let key = change.key;
                let location = change.location.as_str();
                if change.new_value.is_some() {
                    sqlx::query(
                        "INSERT INTO profile_provenance (user_id, location, key, source, updated_at)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (user_id, location, key)
                         DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at",
                    )
                    .bind(user_id.to_string())
                    .bind(location)
                    .bind(key)
                    .bind(source.to_owned())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                } else {
                    sqlx::query(
                        "DELETE FROM profile_provenance
                         WHERE user_id = $1 AND location = $2 AND key = $3",
                    )
                    .bind(user_id.to_string())
                    .bind(location)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                }
            }
            row.try_into()
        }

        pub(crate) async fn user_history(
            c: &mut Conn,
            user_id: uuid::Uuid,
        ) -> Result<Vec<$crate::HistoryEntry>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::rows::HistoryRow>(
                "SELECT seq, user_id, location, key, old_value, new_value, source, changed_at
                 FROM profile_history WHERE user_id = $1 ORDER BY seq",
            )
            .bind(user_id.to_string())
            .fetch_all(&mut *c)
            .await
            .map_err(err)?
            .into_iter()
            .map($crate::HistoryEntry::try_from)
            .collect()
        }

        pub(crate) async fn value_provenance(
            c: &mut Conn,
            user_id: uuid::Uuid,
        ) -> Result<Vec<$crate::Provenance>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::rows::ProvenanceRow>(
                "SELECT location, key, source, updated_at FROM profile_provenance
                 WHERE user_id = $1 ORDER BY location, key",
            )
            .bind(user_id.to_string())
            .fetch_all(&mut *c)
            .await
            .map_err(err)?
            .into_iter()
            .map($crate::Provenance::try_from)
            .collect()
        }

        pub(crate) async fn list_users(
            c: &mut Conn,
            query: $crate::UserQuery,
        ) -> Result<$crate::Page<$crate::User>, $crate::StoreError> {
            let limit = query.page_size();
            let (location, key, equals) = match query.field {
                Some(filter) => (
                    Some(filter.location.as_str()),
                    Some(json_key_param(filter.key)),
                    filter.equals,
                ),
                None => (None, None, None),
            };
            // Every filter is a parameter that is either NULL (off) or compared: one statement
            // for every combination. `bag -> key` is JSON (or NULL when absent) in both backends;
            // `json_key_param` makes any key, whatever characters it holds, one plain key.
            // The cursor is `id > COALESCE($4, '')` rather than `$4 IS NULL OR ...` so that both
            // planners seek the primary-key index instead of scanning from the first user.
            let rows = sqlx::query_as::<_, $crate::sql::rows::UserRow>(
                "SELECT * FROM users
                 WHERE ($1 IS NULL OR email_normalized = $1)
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
                 ORDER BY id LIMIT $8",
            )
            .bind(query.email.as_deref().map($crate::model::normalize_email))
            .bind(query.created_after.map($crate::model::to_millis))
            .bind(query.created_before.map($crate::model::to_millis))
            .bind(query.cursor.map(|id| id.to_string()))
            .bind(location)
            .bind(key)
            .bind(equals.map(json_param))
            .bind(i64::from(limit) + 1)
            .fetch_all(&mut *c)
            .await
            .map_err(err)?;
            let mut items = rows
                .into_iter()
                .map($crate::User::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            let next_cursor = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|user| user.id)
            } else {
                None
            };
            Ok($crate::Page { items, next_cursor })
        }
    };
}

pub(crate) use profile_sql;
