//! The embedded SQLite backend.

mod connections;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use crate::error::one_line;
use crate::{ConnectOptions, StoreError};
use connections::{Connections, Lease};

/// Accrete's storage on an SQLite file (WAL journal, foreign keys on).
///
/// Two sets of connections on the one file: every write goes through a single connection
/// (`write`), reads through query-only connections (`read`). SQLite lets one writer in at a
/// time anyway; with one writing connection, writers wait their turn for it rather than on the
/// file lock (`BEGIN IMMEDIATE` never has to sleep in the busy handler), and that connection's
/// page cache stays valid from one write to the next. A connection whose cache another one made
/// stale must re-read every page it touches, which was most of the CPU of a small write.
/// The sets are [`connections::Connections`], not sqlx pools: see there why.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    reads: Arc<Connections>,
    writes: Arc<Connections>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at a `sqlite://path` URL.
    pub async fn connect(url: &str, opts: ConnectOptions) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid {
                message: format!("bad SQLite database URL: {}", one_line(&e.to_string())),
            })?
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // The writer first: it creates the file and puts it in WAL mode (kept in the file).
        let writer = options
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let writes = Connections::open(writer, 1, opts.connect_timeout).await?;
        let reader = options.pragma("query_only", "ON");
        let reads = Connections::open(reader, opts.max_connections, opts.connect_timeout).await?;
        Ok(Self {
            reads: Arc::new(reads),
            writes: Arc::new(writes),
        })
    }

    /// A query-only connection.
    async fn read(&self) -> Result<Lease<'_>, StoreError> {
        self.reads.acquire().await
    }

    /// The one connection that writes.
    async fn write(&self) -> Result<Lease<'_>, StoreError> {
        self.writes.acquire().await
    }

    /// A file that is locked or unreadable is not a server that went away: nothing to remember.
    pub(crate) fn connection_lost(&self, _error: &StoreError) {}

    /// The migrations embedded in this binary for this backend.
    pub fn migrator() -> &'static sqlx::migrate::Migrator {
        &queries::MIGRATOR
    }

    /// Runs another set of migrations with the same runner (tests use it to break a migration
    /// halfway and check that nothing of it remains).
    #[doc(hidden)]
    pub async fn migrate_with(
        &self,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<crate::MigrationStatus, StoreError> {
        queries::migrate_with(&mut *self.write().await?, migrator).await
    }

    /// The connection that writes, for tests and tools (every other write waits for it).
    pub async fn connection(
        &self,
    ) -> Result<impl std::ops::DerefMut<Target = sqlx::SqliteConnection> + '_, StoreError> {
        self.write().await
    }
}

pub(crate) mod queries {
    use sqlx::Transaction;

    use crate::StoreError;

    pub(crate) type Db = sqlx::Sqlite;
    pub(crate) type Conn = sqlx::SqliteConnection;
    pub(crate) const BACKEND: &str = "SQLite";
    pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
    const MIGRATIONS_TABLE_EXISTS: &str =
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'accrete_migrations'";

    pub(crate) fn err(error: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &error {
            // SQLITE_BUSY (5) and its extended codes: another writer held the lock for longer
            // than the busy timeout. Transient, so report it as unavailable rather than a bug.
            let primary = db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .map(|c| c & 0xff);
            if primary == Some(5) {
                return StoreError::Unavailable {
                    backend: BACKEND,
                    message: "the database stayed locked by another writer for longer than the \
                              busy timeout; retry, and check that no other process holds it"
                        .into(),
                };
            }
        }
        crate::error::from_sqlx(BACKEND, error)
    }

    /// `BEGIN IMMEDIATE` takes the write lock up front: concurrent writers wait (busy timeout)
    /// instead of failing when a read transaction tries to become a write transaction.
    pub(crate) async fn begin_write(c: &mut Conn) -> Result<Transaction<'_, Db>, StoreError> {
        sqlx::Connection::begin_with(c, "BEGIN IMMEDIATE")
            .await
            .map_err(err)
    }

    /// Nothing to do: `BEGIN IMMEDIATE` already serialises writers.
    async fn lock_named(
        _tx: &mut Transaction<'_, Db>,
        _name: &'static str,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    const LOCK_USER: &str = "SELECT * FROM users WHERE id = $1";

    /// Claims refresh token `$1` of client `$5` at `$2` and stores its successor `$3` (expiry
    /// `$4`; grant, user and scopes of the parent): the insert's trigger marks the parent used
    /// (migration 0005). Returns the successor; no row when the parent cannot be claimed.
    const ROTATE_REFRESH: &str = "
        INSERT INTO refresh_tokens
            (hash, grant_id, client_id, user_id, scopes, created_at, expires_at, parent_hash)
        SELECT $3, t.grant_id, t.client_id, t.user_id, t.scopes, $2, $4, t.hash
        FROM refresh_tokens t
        WHERE t.hash = $1 AND t.client_id = $5
          AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > $2
          AND EXISTS (SELECT 1 FROM grants g WHERE g.id = t.grant_id AND g.revoked_at IS NULL)
        RETURNING *";

    /// SQLite's `->` yields minified JSON text, so values are compared as compact JSON text.
    fn json_param(value: serde_json::Value) -> String {
        value.to_string()
    }

    /// The right operand of `bag -> key` naming exactly the top-level `key`. SQLite reads a text
    /// operand as a JSON path (`$...`, or `$.<text>` for any other text), so the key is written
    /// as a quoted path label. A quoted label ends at the first `"` and is compared after
    /// decoding JSON escapes, so `\` becomes `\\` and `"` becomes `\u0022`.
    fn json_key_param(key: String) -> String {
        let mut path = String::with_capacity(key.len() + 4);
        path.push_str("$.\"");
        for c in key.chars() {
            match c {
                '"' => path.push_str("\\u0022"),
                '\\' => path.push_str("\\\\"),
                other => path.push(other),
            }
        }
        path.push('"');
        path
    }

    crate::sql::migrations::migration_sql!();
    crate::sql::profile::profile_sql!();
    crate::sql::users::user_sql!();
    crate::sql::health::health_sql!();
    crate::sql::clients::client_sql!();
    crate::sql::sessions::session_sql!();
    crate::sql::grants::grant_sql!();
    crate::sql::profiling::profiling_sql!();
    crate::sql::throttle::throttle_sql!();
}

crate::stamp::impl_store!(SqliteStore, queries);
