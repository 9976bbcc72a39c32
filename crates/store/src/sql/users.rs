//! The user record's SQL, shared by both backends.

/// Expands to the user functions for the backend in scope (see `crate::sql`).
macro_rules! user_sql {
    () => {
        pub(crate) async fn create_user(
            c: &mut Conn,
            new: $crate::NewUser,
        ) -> Result<$crate::User, $crate::StoreError> {
            let normalized = $crate::sql::normalized_email(&new.email)?;
            let profile = $crate::model::json_object(new.profile, "profile")?;
            let user_metadata = $crate::model::json_object(new.user_metadata, "user_metadata")?;
            let app_metadata = $crate::model::json_object(new.app_metadata, "app_metadata")?;
            let now = $crate::model::to_millis(new.now);
            let row = sqlx::query_as::<_, $crate::sql::rows::UserRow>(
                "INSERT INTO users (id, email, email_normalized, email_verified, password_hash,
                                    created_at, updated_at, profile, user_metadata, app_metadata)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)
                 RETURNING *",
            )
            .bind($crate::model::new_id(new.now).to_string())
            .bind(new.email.trim().to_owned())
            .bind(normalized)
            .bind(new.email_verified)
            .bind(new.password_hash)
            .bind(now)
            .bind(sqlx::types::Json(profile))
            .bind(sqlx::types::Json(user_metadata))
            .bind(sqlx::types::Json(app_metadata))
            .fetch_one(&mut *c)
            .await
            .map_err(|e| $crate::sql::email_taken(err(e)))?;
            row.try_into()
        }

        pub(crate) async fn get_user(
            c: &mut Conn,
            id: uuid::Uuid,
        ) -> Result<$crate::User, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::rows::UserRow>("SELECT * FROM users WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut *c)
                .await
                .map_err(err)?
                .ok_or($crate::StoreError::NotFound)?
                .try_into()
        }

        pub(crate) async fn find_user_by_email(
            c: &mut Conn,
            email: &str,
        ) -> Result<Option<$crate::User>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::rows::UserRow>(
                "SELECT * FROM users WHERE email_normalized = $1",
            )
            .bind($crate::model::normalize_email(email))
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::User::try_from)
            .transpose()
        }

        pub(crate) async fn set_password_hash(
            c: &mut Conn,
            id: uuid::Uuid,
            hash: &str,
        ) -> Result<(), $crate::StoreError> {
            let done = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(hash.to_owned())
                .execute(&mut *c)
                .await
                .map_err(err)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::NotFound);
            }
            Ok(())
        }

        pub(crate) async fn record_sign_in(
            c: &mut Conn,
            id: uuid::Uuid,
            kind: $crate::SignInKind,
            now: time::OffsetDateTime,
        ) -> Result<$crate::User, $crate::StoreError> {
            // One UPDATE: the increment happens in the database, so concurrent sign-ins all count.
            let sql = match kind {
                $crate::SignInKind::Credentialed => {
                    "UPDATE users SET credentialed_logins = credentialed_logins + 1,
                                      last_login_at = $2
                     WHERE id = $1 RETURNING *"
                }
                $crate::SignInKind::Sso => {
                    "UPDATE users SET sso_logins = sso_logins + 1, last_login_at = $2
                     WHERE id = $1 RETURNING *"
                }
            };
            sqlx::query_as::<_, $crate::sql::rows::UserRow>(sql)
                .bind(id.to_string())
                .bind($crate::model::to_millis(now))
                .fetch_optional(&mut *c)
                .await
                .map_err(err)?
                .ok_or($crate::StoreError::NotFound)?
                .try_into()
        }

        pub(crate) async fn delete_user(
            c: &mut Conn,
            id: uuid::Uuid,
        ) -> Result<(), $crate::StoreError> {
            // Everything that belongs to the user references it with ON DELETE CASCADE.
            let done = sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *c)
                .await
                .map_err(err)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::NotFound);
            }
            Ok(())
        }

        pub(crate) async fn count_users(c: &mut Conn) -> Result<i64, $crate::StoreError> {
            sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *c).await.map_err(err)
        }
    };
}

pub(crate) use user_sql;
