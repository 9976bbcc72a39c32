//! What happens when the database is missing, shared, or newer than the binary.

use std::time::Duration;

use accrete_store::prelude::*;
use accrete_store::testing::{postgres_schema, sqlite_url};
use accrete_store::{ConnectOptions, NewUser, PostgresStore, SqliteStore, Store, StoreError};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, Connection as _, SqlSafeStr};

use crate::common::t0;

fn quick() -> ConnectOptions {
    ConnectOptions {
        max_connections: 2,
        connect_timeout: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_with_a_one_line_message() {
    let result = accrete_store::connect("postgres://postgres@127.0.0.1:1/accrete", quick()).await;
    let Err(error) = result else {
        panic!("connected to a closed port")
    };
    assert!(
        matches!(
            error,
            StoreError::Unavailable {
                backend: "PostgreSQL",
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(
        message.contains("check that PostgreSQL is running"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unwritable_sqlite_folder_is_unavailable_with_a_one_line_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("missing/folder/accrete.db").display()
    );
    let Err(error) = accrete_store::connect(&url, quick()).await else {
        panic!("opened a database in a missing folder")
    };
    assert!(
        matches!(
            error,
            StoreError::Unavailable {
                backend: "SQLite",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.to_string().contains('\n'), "{error}");
}

#[tokio::test]
async fn an_unknown_url_scheme_is_invalid() {
    let result = accrete_store::connect("mysql://root:hunter2@db/accrete", quick()).await;
    let Err(error) = result else {
        panic!("accepted mysql")
    };
    assert!(matches!(error, StoreError::Invalid { .. }), "{error:?}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[tokio::test]
async fn a_sqlite_database_with_an_unknown_newer_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&sqlite_url(&dir), quick())
        .await
        .unwrap();
    let status = store.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO accrete_migrations (version, description, checksum, applied_at)
         VALUES (99999999, 'from the future', '00', 0)",
    )
    .execute(&mut *store.connection().await.unwrap())
    .await
    .unwrap();
    assert_schema_too_new(&store, status.known).await;
}

#[tokio::test]
async fn a_postgres_database_with_an_unknown_newer_migration_is_refused() {
    let Some((url, _schema)) = postgres_schema().await else {
        return;
    };
    let store = PostgresStore::connect(&url, quick()).await.unwrap();
    let status = store.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO accrete_migrations (version, description, checksum, applied_at)
         VALUES (99999999, 'from the future', '00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    assert_schema_too_new(&store, status.known).await;
}

async fn assert_schema_too_new(store: &dyn Store, known: i64) {
    let error = store.migrate().await.unwrap_err();
    let StoreError::SchemaTooNew { database, binary } = error else {
        panic!("expected SchemaTooNew, got {error:?}")
    };
    assert_eq!((database, binary), (99_999_999, known));
    assert!(error_mentions_upgrade(&StoreError::SchemaTooNew {
        database,
        binary
    }));
    let status = store.migration_status().await.unwrap();
    assert!(!status.current);
    assert_eq!(status.applied, 99_999_999);
}

fn error_mentions_upgrade(error: &StoreError) -> bool {
    let message = error.to_string();
    message.contains("upgrade") && !message.contains('\n')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_migrating_one_sqlite_file_concurrently_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let a = SqliteStore::connect(&url, quick()).await.unwrap();
    let b = SqliteStore::connect(&url, quick()).await.unwrap();
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a.migrate().await.map(|s| (s, a)) }),
        tokio::spawn(async move { b.migrate().await.map(|s| (s, b)) }),
    );
    let (status_a, a) = ra.unwrap().unwrap();
    let (status_b, b) = rb.unwrap().unwrap();
    assert!(status_a.current && status_b.current);
    let user = a
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    assert_eq!(b.get_user(user.id).await.unwrap(), user);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_migrating_one_postgres_schema_concurrently_both_succeed() {
    let Some((url, _schema)) = postgres_schema().await else {
        return;
    };
    let a = PostgresStore::connect(&url, quick()).await.unwrap();
    let b = PostgresStore::connect(&url, quick()).await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    assert!(ra.unwrap().current && rb.unwrap().current);
    let user = a
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    assert_eq!(b.get_user(user.id).await.unwrap(), user);
}

#[tokio::test]
async fn a_fresh_database_reports_pending_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&sqlite_url(&dir), quick())
        .await
        .unwrap();
    let status = store.migration_status().await.unwrap();
    assert_eq!(status.applied, 0);
    assert!(!status.current);
    assert!(store.migrate().await.unwrap().current);
}

/// The embedded migrations plus one that fails halfway, after creating a table.
fn with_a_broken_migration(base: &Migrator) -> Migrator {
    let mut migrations: Vec<Migration> = base.iter().cloned().collect();
    let sql = "CREATE TABLE half_done (a BIGINT); INSERT INTO no_such_table VALUES (1);";
    migrations.push(Migration::new(
        99_999_999,
        "broken".into(),
        MigrationType::Simple,
        AssertSqlSafe(sql.to_owned()).into_sql_str(),
        false,
    ));
    Migrator::with_migrations(migrations)
}

#[tokio::test]
async fn a_sqlite_migration_failing_halfway_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&sqlite_url(&dir), quick())
        .await
        .unwrap();
    let broken = with_a_broken_migration(SqliteStore::migrator());
    let error = store.migrate_with(&broken).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("migration 99999999 (broken) failed"),
        "{error}"
    );
    let half: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'")
            .fetch_one(&mut *store.connection().await.unwrap())
            .await
            .unwrap();
    assert_eq!(half, 0);
    let status = store.migration_status().await.unwrap();
    assert!(
        status.current,
        "the good migrations are applied: {status:?}"
    );
    assert_eq!(store.migrate().await.unwrap(), status);
}

#[tokio::test]
async fn a_postgres_migration_failing_halfway_leaves_nothing_behind() {
    let Some((url, _schema)) = postgres_schema().await else {
        return;
    };
    let store = PostgresStore::connect(&url, quick()).await.unwrap();
    let broken = with_a_broken_migration(PostgresStore::migrator());
    let error = store.migrate_with(&broken).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("migration 99999999 (broken) failed"),
        "{error}"
    );
    let half: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_name = 'half_done'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(half, 0);
    let status = store.migration_status().await.unwrap();
    assert!(
        status.current,
        "the good migrations are applied: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_writing_one_sqlite_file_at_once_lose_nothing() {
    use accrete_store::{Location, ProfileChange};
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let a: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(SqliteStore::connect(&url, quick()).await.unwrap());
    let b: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(SqliteStore::connect(&url, quick()).await.unwrap());
    a.migrate().await.unwrap();
    b.migrate().await.unwrap();
    let user = a
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let change = [ProfileChange::set(
                    Location::AppMetadata,
                    format!("k{i}"),
                    serde_json::json!(i),
                )];
                store
                    .apply_profile_changes(user.id, None, &change, "admin", t0())
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let user = b.get_user(user.id).await.unwrap();
    assert_eq!(user.app_metadata.as_object().unwrap().len(), 60);
    assert_eq!(user.version, 61);
}

#[tokio::test]
async fn a_missing_postgres_database_is_unavailable_with_a_one_line_message() {
    let Some(base) = accrete_store::testing::postgres_url() else {
        return;
    };
    let Some((prefix, _)) = base.rsplit_once('/') else {
        panic!("no database in {base}")
    };
    let url = format!("{prefix}/accrete_no_such_database");
    let Err(error) = accrete_store::connect(&url, quick()).await else {
        panic!("connected to a database that does not exist")
    };
    assert!(
        matches!(
            error,
            StoreError::Unavailable {
                backend: "PostgreSQL",
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains("accrete_no_such_database"), "{message}");
}

#[tokio::test]
async fn a_write_locked_out_by_another_process_is_unavailable_and_the_next_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let ours = SqliteStore::connect(&url, quick()).await.unwrap();
    ours.migrate().await.unwrap();
    let other = SqliteStore::connect(&url, quick()).await.unwrap();
    let mut held = other.connection().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *held)
        .await
        .unwrap();
    // Held for longer than the busy timeout (5 s).
    let error = ours
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::Unavailable { backend: "SQLite", message }
            if message.contains("locked by another writer")),
        "{error:?}"
    );
    sqlx::query("ROLLBACK").execute(&mut *held).await.unwrap();
    drop(held);
    let user = ours
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    assert_eq!(
        ours.get_user(user.id).await.unwrap().email,
        "ada@example.com"
    );
}

#[tokio::test]
async fn a_postgres_connection_the_server_ended_fails_as_unavailable_and_the_next_method_succeeds()
{
    let Some((url, _schema)) = postgres_schema().await else {
        return;
    };
    let one = ConnectOptions {
        max_connections: 1,
        ..quick()
    };
    let store = PostgresStore::connect(&url, one).await.unwrap();
    store.migrate().await.unwrap();
    let user = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    // The pool's only connection, just used and back in the pool: ended by the server (as a
    // restart or an administrator would), it is lent again without a ping.
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(backend)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(ended);
    match store.get_user(user.id).await {
        // The method that meets the ended connection fails cleanly, as retryable.
        Err(StoreError::Unavailable {
            backend: "PostgreSQL",
            message,
        }) => assert!(!message.contains('\n'), "{message}"),
        // Or the connection was already found dead and replaced.
        Ok(found) => assert_eq!(found.id, user.id),
        Err(other) => panic!("an ended connection gave {other:?}"),
    }
    // The ended connection is not lent again.
    assert_eq!(store.get_user(user.id).await.unwrap().id, user.id);
    let now: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_ne!(now, backend);
}
