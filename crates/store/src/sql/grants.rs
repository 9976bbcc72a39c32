//! Grants, authorization codes and refresh tokens, shared by both backends.
//!
//! Single use is enforced by the database: a code is claimed by one
//! `UPDATE ... WHERE consumed_at IS NULL ... RETURNING`, and a refresh token by the one statement
//! that stores its successor (`ROTATE_REFRESH`, per backend), so of two concurrent uses (even on
//! two nodes) exactly one wins and the other is seen as a reuse. The grant check is a correlated
//! `EXISTS` on the grant's primary key: an uncorrelated `grant_id IN (SELECT ...)` makes SQLite
//! scan every grant on each redemption.

/// Expands to the grant, code and refresh-token functions for the backend in scope.
macro_rules! grant_sql {
    () => {
        pub(crate) async fn create_grant(
            c: &mut Conn,
            user_id: uuid::Uuid,
            client_id: &str,
            scopes: &[String],
            now: time::OffsetDateTime,
        ) -> Result<$crate::Grant, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::oidc_rows::GrantRow>(
                "INSERT INTO grants (id, user_id, client_id, scopes, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING *",
            )
            .bind($crate::model::new_id(now).to_string())
            .bind(user_id.to_string())
            .bind(client_id.to_owned())
            .bind(sqlx::types::Json(scopes.to_vec()))
            .bind($crate::model::to_millis(now))
            .fetch_one(&mut *c)
            .await
            .map_err(|e| match err(e) {
                $crate::StoreError::Invalid { .. } => $crate::StoreError::Invalid {
                    message: "unknown user or client".into(),
                },
                other => other,
            })?
            .try_into()
        }

        pub(crate) async fn get_grant(
            c: &mut Conn,
            grant_id: uuid::Uuid,
        ) -> Result<Option<$crate::Grant>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::oidc_rows::GrantRow>(
                "SELECT * FROM grants WHERE id = $1",
            )
            .bind(grant_id.to_string())
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::Grant::try_from)
            .transpose()
        }

        pub(crate) async fn revoke_grant(
            c: &mut Conn,
            grant_id: uuid::Uuid,
            now: time::OffsetDateTime,
        ) -> Result<(), $crate::StoreError> {
            let done = sqlx::query(
                "UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
            )
            .bind(grant_id.to_string())
            .bind($crate::model::to_millis(now))
            .execute(&mut *c)
            .await
            .map_err(err)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::NotFound);
            }
            Ok(())
        }

        pub(crate) async fn revoke_user_grants(
            c: &mut Conn,
            user_id: uuid::Uuid,
            client_id: Option<&str>,
            now: time::OffsetDateTime,
        ) -> Result<u64, $crate::StoreError> {
            let done = sqlx::query(
                "UPDATE grants SET revoked_at = $3
                 WHERE user_id = $1 AND ($2 IS NULL OR client_id = $2) AND revoked_at IS NULL",
            )
            .bind(user_id.to_string())
            .bind(client_id.map(str::to_owned))
            .bind($crate::model::to_millis(now))
            .execute(&mut *c)
            .await
            .map_err(err)?;
            Ok(done.rows_affected())
        }

        pub(crate) async fn is_grant_revoked(
            c: &mut Conn,
            grant_id: uuid::Uuid,
        ) -> Result<bool, $crate::StoreError> {
            let revoked: Option<Option<i64>> =
                sqlx::query_scalar("SELECT revoked_at FROM grants WHERE id = $1")
                    .bind(grant_id.to_string())
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(err)?;
            // An unknown grant (deleted with its user or client) counts as revoked.
            Ok(revoked.is_none_or(|at| at.is_some()))
        }

        pub(crate) async fn insert_code(
            c: &mut Conn,
            code: $crate::NewAuthorizationCode,
        ) -> Result<(), $crate::StoreError> {
            use $crate::model::to_millis;
            let context = $crate::model::json_object(code.context, "code context")?;
            // Client, user and scopes come from the grant, so they cannot disagree with it.
            let done = sqlx::query(
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
            .bind(sqlx::types::Json(context))
            .bind(to_millis(code.now))
            .bind(to_millis(code.expires_at))
            .execute(&mut *c)
            .await
            .map_err(err)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::NotFound);
            }
            Ok(())
        }

        pub(crate) async fn consume_code(
            c: &mut Conn,
            hash: &str,
            now: time::OffsetDateTime,
        ) -> Result<$crate::CodeConsumption, $crate::StoreError> {
            let now = $crate::model::to_millis(now);
            let mut tx = begin_write(c).await?;
            let fresh = sqlx::query_as::<_, $crate::sql::oidc_rows::CodeRow>(
                "UPDATE authorization_codes SET consumed_at = $2
                 WHERE hash = $1 AND consumed_at IS NULL AND expires_at > $2
                   AND EXISTS (SELECT 1 FROM grants g
                               WHERE g.id = authorization_codes.grant_id AND g.revoked_at IS NULL)
                 RETURNING *",
            )
            .bind(hash.to_owned())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
            if let Some(row) = fresh {
                tx.commit().await.map_err(err)?;
                return Ok($crate::CodeConsumption::Fresh(row.try_into()?));
            }
            let used: Option<(String, Option<i64>)> = sqlx::query_as(
                "SELECT grant_id, consumed_at FROM authorization_codes WHERE hash = $1",
            )
            .bind(hash.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
            let Some((grant_id, Some(_))) = used else {
                return Ok($crate::CodeConsumption::Unknown);
            };
            // A second use: revoke everything the first use issued.
            sqlx::query("UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
                .bind(grant_id.clone())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            Ok($crate::CodeConsumption::AlreadyUsed {
                grant_id: $crate::model::parse_id(&grant_id)?,
            })
        }

        pub(crate) async fn insert_refresh_token(
            c: &mut Conn,
            token: $crate::NewRefreshToken,
            now: time::OffsetDateTime,
        ) -> Result<(), $crate::StoreError> {
            let done = sqlx::query(
                "INSERT INTO refresh_tokens
                     (hash, grant_id, client_id, user_id, scopes, created_at, expires_at)
                 SELECT $1, g.id, g.client_id, g.user_id, $3, $4, $5
                 FROM grants g WHERE g.id = $2 AND g.revoked_at IS NULL",
            )
            .bind(token.hash)
            .bind(token.grant_id.to_string())
            .bind(sqlx::types::Json(token.scopes))
            .bind($crate::model::to_millis(now))
            .bind($crate::model::to_millis(token.expires_at))
            .execute(&mut *c)
            .await
            .map_err(err)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::NotFound);
            }
            Ok(())
        }

        pub(crate) async fn rotate_refresh_token(
            c: &mut Conn,
            old_hash: &str,
            successor: $crate::RefreshSuccessor,
            now: time::OffsetDateTime,
        ) -> Result<$crate::Rotation, $crate::StoreError> {
            let at = $crate::model::to_millis(now);
            // The usual case in one statement (ROTATE_REFRESH): claim the parent, store the
            // successor. Only when that claims nothing is the parent's state looked at.
            let stored = sqlx::query_as::<_, $crate::sql::oidc_rows::RefreshRow>(ROTATE_REFRESH)
                .bind(old_hash.to_owned())
                .bind(at)
                .bind(successor.hash)
                .bind($crate::model::to_millis(successor.expires_at))
                .bind(successor.client_id.clone())
                .fetch_optional(&mut *c)
                .await
                .map_err(err)?;
            if let Some(stored) = stored {
                return Ok($crate::Rotation::Rotated(stored.try_into()?));
            }
            let mut tx = begin_write(c).await?;
            let current = sqlx::query_as::<_, $crate::sql::oidc_rows::RefreshRow>(
                "SELECT * FROM refresh_tokens WHERE hash = $1",
            )
            .bind(old_hash.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
            let Some(current) = current else {
                return Ok($crate::Rotation::Unknown);
            };
            if current.client_id != successor.client_id {
                // Not this client's token: no rotation, and no revocation on its account.
                return Ok($crate::Rotation::OtherClient);
            }
            if current.used_at.is_some() {
                // Reuse: someone holds a copy of a rotated token. Kill the whole family.
                sqlx::query(
                    "UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                )
                .bind(current.grant_id.clone())
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
                tx.commit().await.map_err(err)?;
                return Ok($crate::Rotation::Reused {
                    grant_id: $crate::model::parse_id(&current.grant_id)?,
                });
            }
            if current.revoked_at.is_some() || current.expires_at > at {
                // Not used, not expired, yet not claimable: the token or its grant is revoked.
                return Ok($crate::Rotation::Revoked);
            }
            Ok($crate::Rotation::Expired)
        }

        pub(crate) async fn get_refresh_token(
            c: &mut Conn,
            hash: &str,
        ) -> Result<Option<$crate::RefreshToken>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::oidc_rows::RefreshRow>(
                "SELECT * FROM refresh_tokens WHERE hash = $1",
            )
            .bind(hash.to_owned())
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::RefreshToken::try_from)
            .transpose()
        }

        pub(crate) async fn revoke_refresh_token(
            c: &mut Conn,
            hash: &str,
            now: time::OffsetDateTime,
        ) -> Result<Option<$crate::RefreshToken>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::oidc_rows::RefreshRow>(
                "UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, $2)
                 WHERE hash = $1 RETURNING *",
            )
            .bind(hash.to_owned())
            .bind($crate::model::to_millis(now))
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::RefreshToken::try_from)
            .transpose()
        }

        pub(crate) async fn purge_expired(
            c: &mut Conn,
            now: time::OffsetDateTime,
        ) -> Result<u64, $crate::StoreError> {
            let now = $crate::model::to_millis(now);
            let mut removed = 0;
            for sql in [
                "DELETE FROM sso_sessions WHERE expires_at <= $1",
                "DELETE FROM authorization_codes WHERE expires_at <= $1",
                "DELETE FROM refresh_tokens WHERE expires_at <= $1",
                // Sign-in throttle counters forgotten long ago (a day after their last failure).
                "DELETE FROM credential_failures WHERE last_failure_at <= $1 - 86400000",
            ] {
                let done = sqlx::query(sql).bind(now).execute(&mut *c).await.map_err(err)?;
                removed += done.rows_affected();
            }
            Ok(removed)
        }
    };
}

pub(crate) use grant_sql;
