//! The embedded SQLite backend.

mod connections;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use crate::backend::Backend;
use crate::error::one_line;
use crate::outbox_signal::{OutboxHooks, OutboxSignal};
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
    /// Rung when a write that inserted outbox events commits (`crate::outbox_signal`).
    outbox: Arc<tokio::sync::Notify>,
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
        // Every write goes through this connection, so its commit hook sees every event
        // written to the outbox.
        let hooks = Arc::new(OutboxHooks::default());
        let outbox = hooks.bell();
        let writes =
            Connections::open_with_hooks(writer, 1, opts.connect_timeout, Some(hooks)).await?;
        let reader = options.pragma("query_only", "ON");
        let reads = Connections::open(reader, opts.max_connections, opts.connect_timeout).await?;
        Ok(Self {
            reads: Arc::new(reads),
            writes: Arc::new(writes),
            outbox,
        })
    }

    /// The migrations embedded in this binary for this backend.
    pub fn migrator() -> &'static sqlx::migrate::Migrator {
        <sqlx::SqliteConnection as crate::backend::Conn>::migrator()
    }

    /// Runs another set of migrations with the same runner (tests use it to break a migration
    /// halfway and check that nothing of it remains).
    #[doc(hidden)]
    pub async fn migrate_with(
        &self,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<crate::MigrationStatus, StoreError> {
        crate::aggregates::health::sql::migrate_with(&mut *self.write().await?, migrator).await
    }

    /// The connection that writes, for tests and tools (every other write waits for it).
    pub async fn connection(
        &self,
    ) -> Result<impl std::ops::DerefMut<Target = sqlx::SqliteConnection> + '_, StoreError> {
        self.write().await
    }
}

impl Backend for SqliteStore {
    type Conn = sqlx::SqliteConnection;
    type Lease<'a> = Lease<'a>;

    /// A query-only connection.
    async fn read(&self) -> Result<Lease<'_>, StoreError> {
        self.reads.acquire().await
    }

    /// The one connection that writes.
    async fn write(&self) -> Result<Lease<'_>, StoreError> {
        self.writes.acquire().await
    }

    /// The next borrower of the connection's slot opens a new one.
    fn discard(lease: &mut Lease<'_>) {
        lease.discard();
    }

    /// A file that is locked or unreadable is not a server that went away: nothing to remember.
    fn connection_lost(&self, _error: &StoreError) {}

    /// Rung by the writing connection's commit hook.
    async fn outbox_signal(&self) -> Result<OutboxSignal, StoreError> {
        Ok(OutboxSignal::local(Arc::clone(&self.outbox)))
    }
}

/// The SQLite side of the shared SQL.
mod queries {
    use serde_json::Value;
    use sqlx::sqlite::SqliteArguments;
    use sqlx::types::Json;
    use sqlx::{Arguments as _, Sqlite, SqliteConnection};

    use crate::StoreError;
    use crate::backend::{Conn, FromRows, Param};

    pub(crate) const BACKEND: &str = super::connections::BACKEND;
    static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

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

    fn arguments(params: Vec<Param>) -> Result<SqliteArguments, StoreError> {
        let mut arguments = SqliteArguments::default();
        for param in params {
            match param {
                Param::Text(value) => arguments.add(value),
                Param::Int(value) => arguments.add(value),
                Param::Bool(value) => arguments.add(value),
                Param::Bytes(value) => arguments.add(value),
                Param::Json(value) => arguments.add(value.map(Json)),
                Param::Column(_) => Err("an array parameter is PostgreSQL's alone".into()),
            }
            .map_err(StoreError::Unexpected)?;
        }
        Ok(arguments)
    }

    impl Conn for SqliteConnection {
        const BACKEND: &'static str = BACKEND;

        /// Already serialised by `BEGIN IMMEDIATE`.
        const LOCK_USER: &'static str = "SELECT * FROM users WHERE id = $1";

        /// The insert's trigger marks the parent used (migration 0005).
        const ROTATE_REFRESH: &'static str = "
            INSERT INTO refresh_tokens
                (hash, grant_id, client_id, user_id, scopes, created_at, expires_at, parent_hash)
            SELECT $3, t.grant_id, t.client_id, t.user_id, t.scopes, $2,
                CASE WHEN $4 < g.created_at + $6 THEN $4 ELSE g.created_at + $6 END, t.hash
            FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id
            WHERE t.hash = $1 AND t.client_id = $5
              AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > $2
              AND g.revoked_at IS NULL AND g.created_at + $6 > $2
            RETURNING *";

        const MIGRATIONS_TABLE_EXISTS: &'static str = "SELECT COUNT(*) FROM sqlite_master
             WHERE type = 'table' AND name = 'accrete_migrations'";

        type Tx<'c> = sqlx::Transaction<'c, Sqlite>;

        fn migrator() -> &'static sqlx::migrate::Migrator {
            &MIGRATOR
        }

        /// `BEGIN IMMEDIATE` takes the write lock up front: concurrent writers wait (busy
        /// timeout) instead of failing when a read transaction tries to become a write
        /// transaction.
        async fn begin_write(&mut self) -> Result<Self::Tx<'_>, StoreError> {
            sqlx::Connection::begin_with(self, "BEGIN IMMEDIATE")
                .await
                .map_err(err)
        }

        async fn commit(tx: Self::Tx<'_>) -> Result<(), StoreError> {
            tx.commit().await.map_err(err)
        }

        /// Nothing to do: `BEGIN IMMEDIATE` already serialises writers.
        async fn lock_named(&mut self, _name: &'static str) -> Result<(), StoreError> {
            Ok(())
        }

        async fn execute(
            &mut self,
            sql: &'static str,
            params: Vec<Param>,
        ) -> Result<u64, StoreError> {
            let done = sqlx::query_with(sql, arguments(params)?)
                .execute(self)
                .await
                .map_err(err)?;
            Ok(done.rows_affected())
        }

        async fn fetch_optional<R: FromRows>(
            &mut self,
            sql: &'static str,
            params: Vec<Param>,
        ) -> Result<Option<R>, StoreError> {
            sqlx::query_as_with::<Sqlite, R, _>(sql, arguments(params)?)
                .fetch_optional(self)
                .await
                .map_err(err)
        }

        async fn fetch_all<R: FromRows>(
            &mut self,
            sql: &'static str,
            params: Vec<Param>,
        ) -> Result<Vec<R>, StoreError> {
            sqlx::query_as_with::<Sqlite, R, _>(sql, arguments(params)?)
                .fetch_all(self)
                .await
                .map_err(err)
        }

        async fn execute_script(&mut self, sql: sqlx::SqlStr) -> Result<(), String> {
            sqlx::raw_sql(sql)
                .execute(self)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }

        /// SQLite's `->` yields minified JSON text, so values are compared as compact JSON
        /// text.
        fn json_param(value: Option<Value>) -> Param {
            Param::Text(value.map(|value| value.to_string()))
        }

        /// SQLite reads a text right operand of `->` as a JSON path (`$...`, or `$.<text>` for
        /// any other text), so the key is written as a quoted path label. A quoted label ends at
        /// the first `"` and is compared after decoding JSON escapes, so `\` becomes `\\` and
        /// `"` becomes `\u0022`.
        fn json_key(key: String) -> String {
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
    }
}
