//! Clients and signing keys, shared by both backends.

/// Expands to the client and signing-key functions for the backend in scope.
macro_rules! client_sql {
    () => {
        pub(crate) async fn create_client(
            c: &mut Conn,
            client: $crate::Client,
        ) -> Result<$crate::Client, $crate::StoreError> {
            use sqlx::types::Json;
            if client.id.is_empty() {
                return Err($crate::StoreError::Invalid { message: "the client id is empty".into() });
            }
            let theme = $crate::model::json_object(client.theme, "theme")?;
            sqlx::query_as::<_, $crate::sql::oidc_rows::ClientRow>(
                "INSERT INTO clients (id, secret_hash, name, redirect_uris,
                     post_logout_redirect_uris, grant_types, scopes, audience, public,
                     id_token_alg, allowed_origins, theme, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 RETURNING *",
            )
            .bind(client.id)
            .bind(client.secret_hash)
            .bind(client.name)
            .bind(Json(client.redirect_uris))
            .bind(Json(client.post_logout_redirect_uris))
            .bind(Json(client.grant_types))
            .bind(Json(client.scopes))
            .bind(Json(client.audience))
            .bind(client.public)
            .bind(client.id_token_alg)
            .bind(Json(client.allowed_origins))
            .bind(Json(theme))
            .bind($crate::model::to_millis(client.created_at))
            .bind($crate::model::to_millis(client.updated_at))
            .fetch_one(&mut *c)
            .await
            .map_err(|e| match err(e) {
                $crate::StoreError::Conflict { .. } => $crate::StoreError::Conflict {
                    what: "a client with this id already exists".into(),
                },
                other => other,
            })?
            .try_into()
        }

        pub(crate) async fn get_client(
            c: &mut Conn,
            id: &str,
        ) -> Result<Option<$crate::Client>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::oidc_rows::ClientRow>(
                "SELECT * FROM clients WHERE id = $1",
            )
            .bind(id.to_owned())
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::Client::try_from)
            .transpose()
        }

        pub(crate) async fn list_clients(
            c: &mut Conn,
        ) -> Result<Vec<$crate::Client>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::oidc_rows::ClientRow>(
                "SELECT * FROM clients ORDER BY created_at, id",
            )
            .fetch_all(&mut *c)
            .await
            .map_err(err)?
            .into_iter()
            .map($crate::Client::try_from)
            .collect()
        }

        pub(crate) async fn update_client(
            c: &mut Conn,
            client: $crate::Client,
        ) -> Result<$crate::Client, $crate::StoreError> {
            use sqlx::types::Json;
            let theme = $crate::model::json_object(client.theme, "theme")?;
            sqlx::query_as::<_, $crate::sql::oidc_rows::ClientRow>(
                "UPDATE clients SET secret_hash = $2, name = $3, redirect_uris = $4,
                     post_logout_redirect_uris = $5, grant_types = $6, scopes = $7,
                     audience = $8, public = $9, id_token_alg = $10, allowed_origins = $11,
                     theme = $12, updated_at = $13
                 WHERE id = $1 RETURNING *",
            )
            .bind(client.id)
            .bind(client.secret_hash)
            .bind(client.name)
            .bind(Json(client.redirect_uris))
            .bind(Json(client.post_logout_redirect_uris))
            .bind(Json(client.grant_types))
            .bind(Json(client.scopes))
            .bind(Json(client.audience))
            .bind(client.public)
            .bind(client.id_token_alg)
            .bind(Json(client.allowed_origins))
            .bind(Json(theme))
            .bind($crate::model::to_millis(client.updated_at))
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .ok_or($crate::StoreError::NotFound)?
            .try_into()
        }

        pub(crate) async fn delete_client(
            c: &mut Conn,
            id: &str,
        ) -> Result<(), $crate::StoreError> {
            // Its transactions and grants (with their codes and tokens) cascade.
            let done = sqlx::query("DELETE FROM clients WHERE id = $1")
                .bind(id.to_owned())
                .execute(&mut *c)
                .await
                .map_err(err)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::NotFound);
            }
            Ok(())
        }

        pub(crate) async fn insert_signing_key(
            c: &mut Conn,
            key: $crate::StoredSigningKey,
        ) -> Result<(), $crate::StoreError> {
            insert_signing_key_row(c, key).await
        }

        pub(crate) async fn insert_signing_key_if_missing(
            c: &mut Conn,
            key: $crate::StoredSigningKey,
            now: time::OffsetDateTime,
        ) -> Result<bool, $crate::StoreError> {
            let mut tx = begin_write(c).await?;
            // Nodes generating a first key at once queue here; the first stores its key, the
            // others find it and store nothing. A key that signs from its creation counts even
            // if created a moment after this node's `now` (by a node whose clock read later).
            lock_named(&mut tx, "accrete_signing_keys").await?;
            let now = $crate::model::to_millis(now);
            let (signing,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM signing_keys
                 WHERE alg = $1 AND (active_from <= $2 OR active_from <= created_at)
                   AND (retired_at IS NULL OR retired_at > $2)",
            )
            .bind(key.alg.clone())
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
            if signing > 0 {
                return Ok(false);
            }
            insert_signing_key_row(&mut tx, key).await?;
            tx.commit().await.map_err(err)?;
            Ok(true)
        }

        async fn insert_signing_key_row(
            c: &mut Conn,
            key: $crate::StoredSigningKey,
        ) -> Result<(), $crate::StoreError> {
            sqlx::query(
                "INSERT INTO signing_keys
                     (kid, alg, private_key, public_jwk, created_at, active_from, retired_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(key.kid)
            .bind(key.alg)
            .bind(key.private_key)
            .bind(sqlx::types::Json(key.public_jwk))
            .bind($crate::model::to_millis(key.created_at))
            .bind($crate::model::to_millis(key.active_from))
            .bind(key.retired_at.map($crate::model::to_millis))
            .execute(&mut *c)
            .await
            .map_err(err)?;
            Ok(())
        }

        pub(crate) async fn list_signing_keys(
            c: &mut Conn,
        ) -> Result<Vec<$crate::StoredSigningKey>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::oidc_rows::SigningKeyRow>(
                "SELECT * FROM signing_keys ORDER BY active_from, kid",
            )
            .fetch_all(&mut *c)
            .await
            .map_err(err)?
            .into_iter()
            .map($crate::StoredSigningKey::try_from)
            .collect()
        }

        pub(crate) async fn retire_signing_key(
            c: &mut Conn,
            kid: &str,
            at: time::OffsetDateTime,
        ) -> Result<(), $crate::StoreError> {
            let done = sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE kid = $1")
                .bind(kid.to_owned())
                .bind($crate::model::to_millis(at))
                .execute(&mut *c)
                .await
                .map_err(err)?;
            if done.rows_affected() == 0 {
                return Err($crate::StoreError::NotFound);
            }
            Ok(())
        }
    };
}

pub(crate) use client_sql;
