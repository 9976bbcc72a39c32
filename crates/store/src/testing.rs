//! Fresh stores for tests, migrated and isolated, for both backends.
//!
//! PostgreSQL comes from `ACCRETE_TEST_POSTGRES_URL`; each store gets its own schema, dropped
//! when the [`SchemaGuard`] goes, so tests can run in parallel.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a store that cannot be set up fails the test that asked for it"
)]

use std::sync::Arc;

use sqlx::Connection;
use tempfile::TempDir;

use crate::{ConnectOptions, Health, PostgresStore, SqliteStore, Store};

/// The variable naming the PostgreSQL server used by tests.
pub const POSTGRES_URL_VAR: &str = "ACCRETE_TEST_POSTGRES_URL";

/// A migrated SQLite store on a file in a fresh temporary folder (kept while the `TempDir` lives).
pub async fn sqlite_store() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}", dir.path().join("accrete.db").display());
    let store = SqliteStore::connect(&url, ConnectOptions::default())
        .await
        .expect("open SQLite test database");
    store.migrate().await.expect("migrate SQLite test database");
    (Arc::new(store), dir)
}

/// The URL of a fresh SQLite file in `dir`, for tests that open it several times.
pub fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("accrete.db").display())
}

/// Runs `sql` (one or more statements) on the database at `url` over a connection of its own,
/// behind the back of any store open on it: for what the port cannot do, such as a trigger
/// that makes a write fail.
///
/// # Panics
/// When the database cannot be reached or the SQL fails.
pub async fn execute_sql(url: &str, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url)
            .await
            .expect("open the SQLite test database");
        sqlx::raw_sql(sql)
            .execute(&mut conn)
            .await
            .expect("run SQL on the SQLite test database");
        let _ = conn.close().await;
    } else {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .expect("connect to the PostgreSQL test schema");
        sqlx::raw_sql(sql)
            .execute(&mut conn)
            .await
            .expect("run SQL in the PostgreSQL test schema");
        let _ = conn.close().await;
    }
}

/// The first column, as text, of every row that `sql` returns from the database at `url`:
/// for tests that compare the store's answer with a statement of their own.
///
/// # Panics
/// When the database cannot be reached or the SQL fails.
pub async fn select_text(url: &str, sql: &str) -> Vec<String> {
    use sqlx::Row as _;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url)
            .await
            .expect("open the SQLite test database");
        let rows = sqlx::query(sql)
            .fetch_all(&mut conn)
            .await
            .expect("query the SQLite test database");
        let _ = conn.close().await;
        rows.iter().map(|row| row.get::<String, _>(0)).collect()
    } else {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .expect("connect to the PostgreSQL test schema");
        let rows = sqlx::query(sql)
            .fetch_all(&mut conn)
            .await
            .expect("query the PostgreSQL test schema");
        let _ = conn.close().await;
        rows.iter().map(|row| row.get::<String, _>(0)).collect()
    }
}

/// Every row of every table of the database at `url`, each as one line of text (its table's
/// name, then every column's value): for tests that look for what a deletion left behind.
///
/// # Panics
/// When the database cannot be reached or read.
pub async fn every_row(url: &str) -> Vec<(String, String)> {
    use sqlx::Row as _;
    let mut rows = Vec::new();
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url)
            .await
            .expect("open the SQLite test database");
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             AND name NOT LIKE '_sqlx%'",
        )
        .fetch_all(&mut conn)
        .await
        .expect("list the SQLite tables");
        for (table,) in tables {
            let columns: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{table}')"
            )))
            .fetch_all(&mut conn)
            .await
            .expect("list a table's columns");
            let text = columns
                .iter()
                .map(|(c,)| {
                    format!(
                        "COALESCE(CASE WHEN typeof(\"{c}\") = 'blob' THEN hex(\"{c}\") \
                         ELSE CAST(\"{c}\" AS TEXT) END, '')"
                    )
                })
                .collect::<Vec<_>>()
                .join(" || ' | ' || ");
            let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {text} FROM \"{table}\""
            )))
            .fetch_all(&mut conn)
            .await
            .expect("read a table");
            rows.extend(
                found
                    .iter()
                    .map(|row| (table.clone(), row.get::<String, _>(0))),
            );
        }
        let _ = conn.close().await;
    } else {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .expect("connect to the PostgreSQL test schema");
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
             AND table_name NOT LIKE '_sqlx%'",
        )
        .fetch_all(&mut conn)
        .await
        .expect("list the PostgreSQL tables");
        for (table,) in tables {
            let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT t::text FROM \"{table}\" t"
            )))
            .fetch_all(&mut conn)
            .await
            .expect("read a table");
            rows.extend(
                found
                    .iter()
                    .map(|row| (table.clone(), row.get::<String, _>(0))),
            );
        }
        let _ = conn.close().await;
    }
    rows
}

/// The test PostgreSQL URL, or `None` after saying loudly that PostgreSQL tests are skipped.
///
/// # Panics
/// When the variable is unset and `CI=true`: in CI a missing PostgreSQL is a failure.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!(
                    "CI=true but {POSTGRES_URL_VAR} is not set: the PostgreSQL suite must run in CI"
                );
            }
            eprintln!("SKIPPED: PostgreSQL tests, set {POSTGRES_URL_VAR}");
            None
        }
    }
}

/// A migrated PostgreSQL store in a schema of its own, or `None` when PostgreSQL tests are
/// skipped (see [`postgres_url`]).
pub async fn postgres_store() -> Option<(Arc<dyn Store>, SchemaGuard)> {
    let (url, guard) = postgres_schema().await?;
    Some((Arc::new(migrated_postgres(&url).await), guard))
}

/// A store on the PostgreSQL schema of `url`, migrated.
async fn migrated_postgres(url: &str) -> PostgresStore {
    let store = PostgresStore::connect(url, ConnectOptions::default())
        .await
        .expect("connect to the PostgreSQL test schema");
    store
        .migrate()
        .await
        .expect("migrate PostgreSQL test schema");
    store
}

/// A migrated PostgreSQL store in a schema of its own, with a connection of the test's to the
/// same schema (to read what the store cannot say, such as a transaction's statistics), or
/// `None` when PostgreSQL tests are skipped.
pub async fn postgres_store_and_connection()
-> Option<(PostgresStore, sqlx::PgConnection, SchemaGuard)> {
    let (url, guard) = postgres_schema().await?;
    let store = migrated_postgres(&url).await;
    let conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("connect to the PostgreSQL test schema");
    Some((store, conn, guard))
}

/// The tables among `tables` that the current transaction of `conn` read in full, each with
/// how many times (`pg_stat_xact_user_tables`): none when its statements sought by index.
pub async fn read_in_full(conn: &mut sqlx::PgConnection, tables: &[&str]) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT relname::text, seq_scan FROM pg_stat_xact_user_tables
         WHERE relname = ANY($1) AND seq_scan > 0 AND schemaname = current_schema()
         ORDER BY relname",
    )
    .bind(tables)
    .fetch_all(conn)
    .await
    .expect("read the transaction's statistics")
}

/// A fresh, empty schema: the URL selecting it and the guard dropping it. Not migrated.
pub async fn postgres_schema() -> Option<(String, SchemaGuard)> {
    let base = postgres_url()?;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at {POSTGRES_URL_VAR}: {e}; is the server running?")
        });
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create test schema");
    let _ = conn.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    // Throwaway data: skip the fsync on commit. A session left idle in a transaction (a server's
    // background task frozen mid-transaction while the test's runtime blocks on dropping this
    // schema) is ended after a few seconds instead of blocking the drop for ever.
    let url = format!(
        "{base}{separator}options[search_path]={schema}&options[synchronous_commit]=off\
         &options[idle_in_transaction_session_timeout]=5000"
    );
    Some((url.clone(), SchemaGuard { base, schema, url }))
}

/// A fresh PostgreSQL database on the server of the test URL, created as a copy of `template`
/// when one is named (`CREATE DATABASE ... TEMPLATE`, a copy of its files): its URL and the
/// guard that drops it. The load harness gives each server a copy of a database filled once
/// (`LOAD_PREFILL` on PostgreSQL), and reads the CPU of that database's backends.
pub async fn postgres_database(template: Option<&str>) -> Option<(String, DatabaseGuard)> {
    let base = postgres_url()?;
    let name = format!("accrete_load_{}", uuid::Uuid::new_v4().simple());
    let copy = template.map_or(String::new(), |template| {
        format!(" TEMPLATE {template} STRATEGY FILE_COPY")
    });
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {POSTGRES_URL_VAR}: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}{copy}")))
        .execute(&mut conn)
        .await
        .expect("create a database");
    let _ = conn.close().await;
    let (server, query) = base.split_once('?').unwrap_or((&base, ""));
    let server = server.rsplit_once('/').map_or(server, |(server, _)| server);
    let separator = if query.is_empty() { "" } else { "&" };
    let url = format!("{server}/{name}?{query}{separator}options[synchronous_commit]=off");
    Some((url.clone(), DatabaseGuard { base, name, url }))
}

/// The process ids of the PostgreSQL backends connected to database `name` (the asking
/// connection left out).
pub async fn postgres_backends(name: &str) -> Vec<u32> {
    let Some(base) = postgres_url() else {
        return Vec::new();
    };
    let Ok(mut conn) = sqlx::PgConnection::connect(&base).await else {
        return Vec::new();
    };
    let pids: Vec<(i32,)> = sqlx::query_as(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    let _ = conn.close().await;
    pids.into_iter()
        .filter_map(|(pid,)| u32::try_from(pid).ok())
        .collect()
}

/// Drops its database (ending its connections) when dropped.
#[derive(Debug)]
pub struct DatabaseGuard {
    base: String,
    name: String,
    url: String,
}

impl DatabaseGuard {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        execute_from_drop(self.base.clone(), sql);
    }
}

/// Drops its test schema when dropped.
#[derive(Debug)]
pub struct SchemaGuard {
    base: String,
    schema: String,
    url: String,
}

impl SchemaGuard {
    /// The schema's name.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The URL selecting the schema (for a second pool, as another node would have).
    pub fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        execute_from_drop(self.base.clone(), sql);
    }
}

/// Runs `sql` on a connection of its own to `base`, from a guard's `drop`: drop runs inside the
/// test's runtime, which cannot be blocked on, so on a thread with a runtime of its own. Errors
/// are ignored (what is dropped may be gone already).
fn execute_from_drop(base: String, sql: String) {
    let done = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async move {
            let mut conn = sqlx::PgConnection::connect(&base).await.ok()?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .ok()?;
            conn.close().await.ok()
        })
    });
    let _ = done.join();
}
