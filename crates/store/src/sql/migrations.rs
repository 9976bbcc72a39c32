//! The migration runner, shared by both backends.
//!
//! sqlx's own runner checks what is applied before taking its lock on SQLite, so two processes
//! starting on one file can both try the same migration. This runner re-reads the applied set
//! inside each migration's write transaction instead, and keeps its bookkeeping in
//! `accrete_migrations` (version, description, checksum, applied_at).

/// Expands to `migrate` and `migration_status` for the backend in scope (see `crate::sql`).
macro_rules! migration_sql {
    () => {
        /// Highest migration version embedded in this binary.
        fn known_version(migrator: &sqlx::migrate::Migrator) -> i64 {
            migrator.iter().map(|m| m.version).max().unwrap_or(0)
        }

        async fn applied_migrations<'e, E>(
            executor: E,
        ) -> Result<Vec<$crate::sql::rows::MigrationRow>, $crate::StoreError>
        where
            E: sqlx::Executor<'e, Database = Db>,
        {
            sqlx::query_as::<_, $crate::sql::rows::MigrationRow>(
                "SELECT version, checksum FROM accrete_migrations ORDER BY version",
            )
            .fetch_all(executor)
            .await
            .map_err(err)
        }

        /// Refuses a database that has migrations this binary does not know, or whose applied
        /// migrations were edited since.
        fn check_applied(
            migrator: &sqlx::migrate::Migrator,
            applied: &[$crate::sql::rows::MigrationRow],
        ) -> Result<(), $crate::StoreError> {
            let known = known_version(migrator);
            if let Some(unknown) = applied
                .iter()
                .find(|row| !migrator.version_exists(row.version))
            {
                let newest = applied
                    .iter()
                    .map(|row| row.version)
                    .max()
                    .unwrap_or(unknown.version);
                return Err($crate::StoreError::SchemaTooNew {
                    database: newest,
                    binary: known,
                });
            }
            for row in applied {
                let same = migrator
                    .iter()
                    .find(|m| m.version == row.version)
                    .is_some_and(|m| $crate::sql::rows::hex(&m.checksum) == row.checksum);
                if !same {
                    return Err($crate::StoreError::Invalid {
                        message: format!(
                            "migration {} in the database differs from the one in this binary; \
                             the database was migrated by a different build of Accrete",
                            row.version
                        ),
                    });
                }
            }
            Ok(())
        }

        fn status_of(
            migrator: &sqlx::migrate::Migrator,
            applied: &[$crate::sql::rows::MigrationRow],
        ) -> $crate::MigrationStatus {
            let known = known_version(migrator);
            let newest = applied.iter().map(|row| row.version).max().unwrap_or(0);
            let current = migrator
                .iter()
                .all(|m| applied.iter().any(|row| row.version == m.version))
                && applied
                    .iter()
                    .all(|row| migrator.version_exists(row.version));
            $crate::MigrationStatus {
                applied: newest,
                known,
                current,
            }
        }

        pub(crate) async fn migration_status(
            c: &mut Conn,
        ) -> Result<$crate::MigrationStatus, $crate::StoreError> {
            migration_status_with(&mut *c, &MIGRATOR).await
        }

        pub(crate) async fn migrate(
            c: &mut Conn,
        ) -> Result<$crate::MigrationStatus, $crate::StoreError> {
            migrate_with(&mut *c, &MIGRATOR).await
        }

        pub(crate) async fn migration_status_with(
            c: &mut Conn,
            migrator: &sqlx::migrate::Migrator,
        ) -> Result<$crate::MigrationStatus, $crate::StoreError> {
            let exists: i64 = sqlx::query_scalar(MIGRATIONS_TABLE_EXISTS)
                .fetch_one(&mut *c)
                .await
                .map_err(err)?;
            if exists == 0 {
                return Ok(status_of(migrator, &[]));
            }
            let applied = applied_migrations(&mut *c).await?;
            Ok(status_of(migrator, &applied))
        }

        pub(crate) async fn migrate_with(
            c: &mut Conn,
            migrator: &sqlx::migrate::Migrator,
        ) -> Result<$crate::MigrationStatus, $crate::StoreError> {
            let mut tx = begin_write(c).await?;
            lock_named(&mut tx, "accrete_migrations").await?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS accrete_migrations (
                    version BIGINT PRIMARY KEY NOT NULL,
                    description TEXT NOT NULL,
                    checksum TEXT NOT NULL,
                    applied_at BIGINT NOT NULL
                )",
            )
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            check_applied(migrator, &applied_migrations(&mut *tx).await?)?;
            tx.commit().await.map_err(err)?;

            for migration in migrator.iter() {
                if migration.migration_type.is_down_migration() {
                    continue;
                }
                // One transaction per migration: a crash leaves it either applied and recorded,
                // or not applied at all.
                let mut tx = begin_write(c).await?;
                lock_named(&mut tx, "accrete_migrations").await?;
                let applied = applied_migrations(&mut *tx).await?;
                check_applied(migrator, &applied)?;
                if applied.iter().any(|row| row.version == migration.version) {
                    continue;
                }
                sqlx::raw_sql(migration.sql.clone())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        $crate::StoreError::unexpected(format!(
                            "migration {} ({}) failed: {}",
                            migration.version,
                            migration.description,
                            $crate::error::one_line(&e.to_string())
                        ))
                    })?;
                let applied_at = $crate::model::to_millis(time::OffsetDateTime::now_utc());
                sqlx::query(
                    "INSERT INTO accrete_migrations (version, description, checksum, applied_at)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(migration.version)
                .bind(migration.description.to_string())
                .bind($crate::sql::rows::hex(&migration.checksum))
                .bind(applied_at)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
                tx.commit().await.map_err(err)?;
            }
            migration_status_with(&mut *c, migrator).await
        }
    };
}

pub(crate) use migration_sql;
