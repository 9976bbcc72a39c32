//! The database itself: which backend, whether it answers, and its migrations (applied by
//! our own runner, which re-reads what is applied inside each migration's transaction, so two
//! processes starting on one database both succeed and each migration runs once).

use async_trait::async_trait;

use crate::backend::{Backend, Conn, query, query_as};
use crate::{MigrationStatus, StoreError};

/// The database itself: liveness and migrations.
#[async_trait]
pub trait Health: Send + Sync {
    /// `SQLite` or `PostgreSQL`.
    fn backend(&self) -> &'static str;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies the embedded migrations that are not applied yet, each in its own transaction.
    /// Safe to run concurrently from several processes; a second run is a no-op.
    ///
    /// Fails with [`StoreError::SchemaTooNew`] when the database has migrations this binary
    /// does not know.
    async fn migrate(&self) -> Result<MigrationStatus, StoreError>;

    /// Where the database stands against the embedded migrations, without changing anything.
    async fn migration_status(&self) -> Result<MigrationStatus, StoreError>;
}

#[async_trait]
impl<B: Backend> Health for B {
    fn backend(&self) -> &'static str {
        B::Conn::BACKEND
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.read().await?;
        let result = sql::ping(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn migrate(&self) -> Result<MigrationStatus, StoreError> {
        let mut c = self.write().await?;
        let result = sql::migrate(&mut *c).await;
        self.settle(&mut c, result)
    }

    async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        let mut c = self.read().await?;
        let result = sql::migration_status(&mut *c).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn ping<C: Conn>(c: &mut C) -> Result<(), StoreError> {
        query("SELECT 1").execute(&mut *c).await?;
        Ok(())
    }

    /// Highest migration version embedded in this binary.
    fn known_version(migrator: &sqlx::migrate::Migrator) -> i64 {
        migrator.iter().map(|m| m.version).max().unwrap_or(0)
    }

    async fn applied_migrations<C: Conn>(c: &mut C) -> Result<Vec<MigrationRow>, StoreError> {
        query_as::<MigrationRow>(
            "SELECT version, checksum FROM accrete_migrations ORDER BY version",
        )
        .fetch_all(c)
        .await
    }

    /// Refuses a database that has migrations this binary does not know, or whose applied
    /// migrations were edited since.
    fn check_applied(
        migrator: &sqlx::migrate::Migrator,
        applied: &[MigrationRow],
    ) -> Result<(), StoreError> {
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
            return Err(StoreError::SchemaTooNew {
                database: newest,
                binary: known,
            });
        }
        for row in applied {
            let same = migrator
                .iter()
                .find(|m| m.version == row.version)
                .is_some_and(|m| hex(&m.checksum) == row.checksum);
            if !same {
                return Err(StoreError::Invalid {
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

    fn status_of(migrator: &sqlx::migrate::Migrator, applied: &[MigrationRow]) -> MigrationStatus {
        let known = known_version(migrator);
        let newest = applied.iter().map(|row| row.version).max().unwrap_or(0);
        let current = migrator
            .iter()
            .all(|m| applied.iter().any(|row| row.version == m.version))
            && applied
                .iter()
                .all(|row| migrator.version_exists(row.version));
        MigrationStatus {
            applied: newest,
            known,
            current,
        }
    }

    pub(crate) async fn migration_status<C: Conn>(
        c: &mut C,
    ) -> Result<MigrationStatus, StoreError> {
        migration_status_with(&mut *c, C::migrator()).await
    }

    pub(crate) async fn migrate<C: Conn>(c: &mut C) -> Result<MigrationStatus, StoreError> {
        migrate_with(&mut *c, C::migrator()).await
    }

    pub(crate) async fn migration_status_with<C: Conn>(
        c: &mut C,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<MigrationStatus, StoreError> {
        let (exists,) = query_as::<(i64,)>(C::MIGRATIONS_TABLE_EXISTS)
            .fetch_one(&mut *c)
            .await?;
        if exists == 0 {
            return Ok(status_of(migrator, &[]));
        }
        let applied = applied_migrations(&mut *c).await?;
        Ok(status_of(migrator, &applied))
    }

    pub(crate) async fn migrate_with<C: Conn>(
        c: &mut C,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<MigrationStatus, StoreError> {
        let mut tx = c.begin_write().await?;
        tx.lock_named("accrete_migrations").await?;
        query(
            "CREATE TABLE IF NOT EXISTS accrete_migrations (
                version BIGINT PRIMARY KEY NOT NULL,
                description TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )",
        )
        .execute(&mut *tx)
        .await?;
        check_applied(migrator, &applied_migrations(&mut *tx).await?)?;
        C::commit(tx).await?;

        for migration in migrator.iter() {
            if migration.migration_type.is_down_migration() {
                continue;
            }
            // One transaction per migration: a crash leaves it either applied and recorded,
            // or not applied at all.
            let mut tx = c.begin_write().await?;
            tx.lock_named("accrete_migrations").await?;
            let applied = applied_migrations(&mut *tx).await?;
            check_applied(migrator, &applied)?;
            if applied.iter().any(|row| row.version == migration.version) {
                continue;
            }
            tx.execute_script(migration.sql.clone())
                .await
                .map_err(|e| {
                    StoreError::unexpected(format!(
                        "migration {} ({}) failed: {}",
                        migration.version,
                        migration.description,
                        crate::error::one_line(&e)
                    ))
                })?;
            let applied_at = crate::model::to_millis(time::OffsetDateTime::now_utc());
            query(
                "INSERT INTO accrete_migrations (version, description, checksum, applied_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(migration.version)
            .bind(migration.description.to_string())
            .bind(hex(&migration.checksum))
            .bind(applied_at)
            .execute(&mut *tx)
            .await?;
            C::commit(tx).await?;
        }
        migration_status_with(&mut *c, migrator).await
    }
}

/// A row of the migrations bookkeeping table.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MigrationRow {
    pub version: i64,
    pub checksum: String,
}

/// Hex form of a migration checksum, as stored.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
