//! Single sign-on sessions and authorization transactions, shared by both backends.

/// Expands to the session and transaction functions for the backend in scope.
macro_rules! session_sql {
    () => {
        pub(crate) async fn create_session(
            c: &mut Conn,
            session: $crate::SsoSession,
        ) -> Result<(), $crate::StoreError> {
            use $crate::model::to_millis;
            sqlx::query(
                "INSERT INTO sso_sessions
                     (hash, user_id, created_at, auth_time, last_seen_at, expires_at, credentialed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(session.hash)
            .bind(session.user_id.to_string())
            .bind(to_millis(session.created_at))
            .bind(to_millis(session.auth_time))
            .bind(to_millis(session.last_seen_at))
            .bind(to_millis(session.expires_at))
            .bind(session.credentialed)
            .execute(&mut *c)
            .await
            .map_err(|e| match err(e) {
                // The user is gone (foreign key): nothing to attach the session to.
                $crate::StoreError::Invalid { .. } => $crate::StoreError::NotFound,
                other => other,
            })?;
            Ok(())
        }

        pub(crate) async fn get_session(
            c: &mut Conn,
            hash: &str,
            now: time::OffsetDateTime,
        ) -> Result<Option<$crate::SsoSession>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::oidc_rows::SessionRow>(
                "SELECT * FROM sso_sessions WHERE hash = $1 AND expires_at > $2",
            )
            .bind(hash.to_owned())
            .bind($crate::model::to_millis(now))
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::SsoSession::try_from)
            .transpose()
        }

        pub(crate) async fn touch_session(
            c: &mut Conn,
            hash: &str,
            now: time::OffsetDateTime,
            expires_at: time::OffsetDateTime,
        ) -> Result<Option<$crate::SsoSession>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::oidc_rows::SessionRow>(
                "UPDATE sso_sessions SET last_seen_at = $2, expires_at = $3
                 WHERE hash = $1 AND expires_at > $2 RETURNING *",
            )
            .bind(hash.to_owned())
            .bind($crate::model::to_millis(now))
            .bind($crate::model::to_millis(expires_at))
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::SsoSession::try_from)
            .transpose()
        }

        pub(crate) async fn delete_session(
            c: &mut Conn,
            hash: &str,
        ) -> Result<(), $crate::StoreError> {
            sqlx::query("DELETE FROM sso_sessions WHERE hash = $1")
                .bind(hash.to_owned())
                .execute(&mut *c)
                .await
                .map_err(err)?;
            Ok(())
        }

        pub(crate) async fn delete_user_sessions(
            c: &mut Conn,
            user_id: uuid::Uuid,
        ) -> Result<u64, $crate::StoreError> {
            let done = sqlx::query("DELETE FROM sso_sessions WHERE user_id = $1")
                .bind(user_id.to_string())
                .execute(&mut *c)
                .await
                .map_err(err)?;
            Ok(done.rows_affected())
        }

        pub(crate) async fn create_transaction(
            c: &mut Conn,
            new: $crate::NewAuthTransaction,
        ) -> Result<$crate::AuthTransaction, $crate::StoreError> {
            let state = $crate::model::json_object(new.state, "transaction state")?;
            sqlx::query_as::<_, $crate::sql::oidc_rows::TransactionRow>(
                "INSERT INTO auth_transactions
                     (id, client_id, request, state, created_at, expires_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, 1) RETURNING *",
            )
            .bind($crate::model::new_id(new.now).to_string())
            .bind(new.client_id)
            .bind(sqlx::types::Json(new.request))
            .bind(sqlx::types::Json(state))
            .bind($crate::model::to_millis(new.now))
            .bind($crate::model::to_millis(new.expires_at))
            .fetch_one(&mut *c)
            .await
            .map_err(|e| match err(e) {
                $crate::StoreError::Invalid { .. } => $crate::StoreError::Invalid {
                    message: "unknown client".into(),
                },
                other => other,
            })?
            .try_into()
        }

        pub(crate) async fn get_transaction(
            c: &mut Conn,
            id: uuid::Uuid,
        ) -> Result<Option<$crate::AuthTransaction>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::oidc_rows::TransactionRow>(
                "SELECT * FROM auth_transactions WHERE id = $1",
            )
            .bind(id.to_string())
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::AuthTransaction::try_from)
            .transpose()
        }

        pub(crate) async fn update_transaction(
            c: &mut Conn,
            transaction: $crate::AuthTransaction,
        ) -> Result<$crate::AuthTransaction, $crate::StoreError> {
            let state = $crate::model::json_object(transaction.state, "transaction state")?;
            let updated = sqlx::query_as::<_, $crate::sql::oidc_rows::TransactionRow>(
                "UPDATE auth_transactions
                 SET user_id = $3, session_hash = $4, state = $5, expires_at = $6,
                     version = version + 1
                 WHERE id = $1 AND version = $2 AND completed_at IS NULL RETURNING *",
            )
            .bind(transaction.id.to_string())
            .bind(transaction.version)
            .bind(transaction.user_id.map(|id| id.to_string()))
            .bind(transaction.session_hash)
            .bind(sqlx::types::Json(state))
            .bind($crate::model::to_millis(transaction.expires_at))
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?;
            if let Some(row) = updated {
                return row.try_into();
            }
            // Say why nothing was updated.
            match get_transaction(&mut *c, transaction.id).await? {
                None => Err($crate::StoreError::NotFound),
                Some(current) if current.completed_at.is_some() => {
                    Err($crate::StoreError::Conflict {
                        what: "the authorization transaction is already complete".into(),
                    })
                }
                Some(current) => Err($crate::StoreError::VersionMismatch {
                    expected: transaction.version,
                    found: current.version,
                }),
            }
        }

        pub(crate) async fn complete_transaction(
            c: &mut Conn,
            id: uuid::Uuid,
            now: time::OffsetDateTime,
        ) -> Result<bool, $crate::StoreError> {
            // Single use: of concurrent callers (double submit, two nodes) exactly one wins.
            let done = sqlx::query(
                "UPDATE auth_transactions SET completed_at = $2, version = version + 1
                 WHERE id = $1 AND completed_at IS NULL AND expires_at > $2",
            )
            .bind(id.to_string())
            .bind($crate::model::to_millis(now))
            .execute(&mut *c)
            .await
            .map_err(err)?;
            Ok(done.rows_affected() == 1)
        }

        pub(crate) async fn expire_transactions(
            c: &mut Conn,
            now: time::OffsetDateTime,
        ) -> Result<Vec<$crate::ExpiredTransaction>, $crate::StoreError> {
            // DELETE ... RETURNING: each expired transaction is reported to exactly one caller.
            sqlx::query_as::<_, $crate::sql::oidc_rows::TransactionRow>(
                "DELETE FROM auth_transactions WHERE expires_at <= $1 RETURNING *",
            )
            .bind($crate::model::to_millis(now))
            .fetch_all(&mut *c)
            .await
            .map_err(err)?
            .into_iter()
            .filter(|row| row.completed_at.is_none())
            .map($crate::ExpiredTransaction::try_from)
            .collect()
        }
    };
}

pub(crate) use session_sql;
