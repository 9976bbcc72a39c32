//! A fixed set of SQLite connections, each lent to one caller at a time.
//!
//! sqlx's pool tests every connection it takes back (a ping: one more round trip to the
//! connection's worker thread) from a task it spawns for that, so each query cost two thread
//! hand-offs and a spawn instead of one hand-off. A connection to a local file does not go
//! stale and an SQLite error leaves its connection usable, so the test buys nothing here: this
//! set lends a connection, takes it back as it is, and opens one only when every open one is
//! busy. A transaction dropped unfinished queues its rollback on the connection's worker, ahead of
//! whatever the next borrower sends. A connection that failed as unavailable (its worker thread
//! gone, an I/O error, the busy timeout) is discarded and the next borrower of its slot opens a
//! new one, as the pool's test would have done.

/// The backend's name in errors (its store module names itself with this one).
pub(crate) const BACKEND: &str = "SQLite";

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::ConnectOptions as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard, Semaphore, SemaphorePermit};

use crate::StoreError;
use crate::error::one_line;

/// At most `slots.len()` connections on one database file, opened on first need.
#[derive(Debug)]
pub(crate) struct Connections {
    options: SqliteConnectOptions,
    slots: Box<[Slot]>,
    /// One permit per slot: holding one guarantees an unlocked slot.
    free: Semaphore,
    wait: Duration,
    /// Installed on each connection opened (the writing connection's outbox hooks).
    hooks: Option<std::sync::Arc<crate::outbox_signal::OutboxHooks>>,
}

/// Room for one connection, open or not yet.
#[derive(Debug, Default)]
struct Slot {
    connection: Mutex<Option<SqliteConnection>>,
    /// Set by `Lent::discard` on a lease: the next borrower closes this connection and opens another.
    discarded: AtomicBool,
}

/// A borrowed connection; it goes back to its slot when dropped.
pub(crate) struct Lease<'a> {
    // Fields drop in order: the slot is unlocked before its permit is given back, so whoever
    // takes the permit finds a slot to lock.
    connection: MappedMutexGuard<'a, SqliteConnection>,
    discarded: &'a AtomicBool,
    _permit: SemaphorePermit<'a>,
}

impl Lease<'_> {
    /// Marks the connection as not to be lent again: the next borrower of the slot opens a new
    /// one.
    pub(crate) fn discard(&mut self) {
        self.discarded.store(true, Ordering::Relaxed);
    }
}

impl Connections {
    /// A set of `size` connections (at least one); the first is opened now, so that a database
    /// that cannot be opened is reported at start rather than at the first query.
    pub(crate) async fn open(
        options: SqliteConnectOptions,
        size: u32,
        wait: Duration,
    ) -> Result<Self, StoreError> {
        Self::open_with_hooks(options, size, wait, None).await
    }

    /// [`Connections::open`], with `hooks` installed on every connection it opens.
    pub(crate) async fn open_with_hooks(
        options: SqliteConnectOptions,
        size: u32,
        wait: Duration,
        hooks: Option<std::sync::Arc<crate::outbox_signal::OutboxHooks>>,
    ) -> Result<Self, StoreError> {
        let size = usize::try_from(size.max(1)).unwrap_or(1);
        let connections = Self {
            options,
            slots: (0..size).map(|_| Slot::default()).collect(),
            free: Semaphore::new(size),
            wait,
            hooks,
        };
        drop(connections.acquire().await?);
        Ok(connections)
    }

    /// Borrows a connection: the lowest free slot, so that under light load the same few
    /// connections (and their page caches) serve every query. Waits at most `wait` for one.
    pub(crate) async fn acquire(&self) -> Result<Lease<'_>, StoreError> {
        let permit = tokio::time::timeout(self.wait, self.free.acquire())
            .await
            .map_err(|_| StoreError::Unavailable {
                backend: BACKEND,
                message: format!(
                    "all {} connections to {} stayed busy for {} s",
                    self.slots.len(),
                    self.path(),
                    self.wait.as_secs_f64()
                ),
            })?
            .map_err(|_| StoreError::unexpected("the SQLite connection set is closed"))?;
        let (mut connection, discarded) = self
            .slots
            .iter()
            .find_map(|slot| Some((slot.connection.try_lock().ok()?, &slot.discarded)))
            .ok_or_else(|| StoreError::unexpected("no free SQLite connection under a permit"))?;
        if discarded.swap(false, Ordering::Relaxed) {
            // Dropping it stops its worker thread and closes the database handle.
            *connection = None;
        }
        if connection.is_none() {
            let mut opened = self
                .options
                .connect()
                .await
                .map_err(|e| self.unavailable(&e))?;
            if let Some(hooks) = &self.hooks {
                hooks
                    .install(&mut opened)
                    .await
                    .map_err(|e| self.unavailable(&e))?;
            }
            *connection = Some(opened);
        }
        let connection = MutexGuard::try_map(connection, Option::as_mut)
            .map_err(|_| StoreError::unexpected("an SQLite connection slot is empty"))?;
        Ok(Lease {
            connection,
            discarded,
            _permit: permit,
        })
    }

    fn path(&self) -> String {
        self.options.get_filename().display().to_string()
    }

    /// The error for a connection that could not be opened.
    fn unavailable(&self, error: &sqlx::Error) -> StoreError {
        StoreError::Unavailable {
            backend: BACKEND,
            message: format!(
                "cannot open {}: {}; check that the folder exists and is writable",
                self.path(),
                one_line(&error.to_string())
            ),
        }
    }
}

impl Deref for Lease<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.connection
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.connection
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn options(dir: &tempfile::TempDir) -> SqliteConnectOptions {
        let url = format!("sqlite://{}", dir.path().join("set.db").display());
        SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
    }

    async fn set(dir: &tempfile::TempDir, size: u32, wait: Duration) -> Connections {
        Connections::open(options(dir), size, wait).await.unwrap()
    }

    /// How many slots hold an open connection (every slot must be free).
    fn opened(set: &Connections) -> usize {
        set.slots
            .iter()
            .filter(|slot| slot.connection.try_lock().unwrap().is_some())
            .count()
    }

    #[tokio::test]
    async fn a_connection_is_opened_only_when_every_open_one_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let set = set(&dir, 3, Duration::from_secs(5)).await;
        assert_eq!(opened(&set), 1, "the first is opened at start");
        for _ in 0..3 {
            drop(set.acquire().await.unwrap());
        }
        assert_eq!(opened(&set), 1, "one borrower at a time reuses the first");
        let first = set.acquire().await.unwrap();
        let second = set.acquire().await.unwrap();
        drop((first, second));
        assert_eq!(opened(&set), 2);
    }

    #[tokio::test]
    async fn a_discarded_connection_is_replaced_by_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let set = set(&dir, 1, Duration::from_secs(5)).await;
        let mut lease = set.acquire().await.unwrap();
        sqlx::query("CREATE TEMP TABLE mine (x INTEGER)")
            .execute(&mut *lease)
            .await
            .unwrap();
        lease.discard();
        drop(lease);
        // A temporary table lives as long as its connection: gone means a new connection.
        let mut lease = set.acquire().await.unwrap();
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_temp_master WHERE name = 'mine'")
                .fetch_one(&mut *lease)
                .await
                .unwrap();
        assert_eq!(left, 0);
        drop(lease);
        assert_eq!(opened(&set), 1);
    }

    #[tokio::test]
    async fn a_borrower_waits_its_turn_and_gives_up_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let set = set(&dir, 1, Duration::from_millis(50)).await;
        let held = set.acquire().await.unwrap();
        let error = set.acquire().await.err().unwrap();
        assert!(
            matches!(&error, StoreError::Unavailable { message, .. }
                if message.contains("all 1 connections to") && message.contains("stayed busy")),
            "{error}"
        );
        // The waiter is served as soon as the holder gives the connection back.
        let waiter = set.acquire();
        drop(held);
        let mut lease = waiter.await.unwrap();
        let one: i64 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *lease)
            .await
            .unwrap();
        assert_eq!(one, 1);
    }

    #[tokio::test]
    async fn a_transaction_left_unfinished_is_rolled_back_before_the_next_borrower() {
        let dir = tempfile::tempdir().unwrap();
        let set = set(&dir, 1, Duration::from_secs(5)).await;
        {
            let mut lease = set.acquire().await.unwrap();
            sqlx::query("CREATE TABLE t (x INTEGER)")
                .execute(&mut *lease)
                .await
                .unwrap();
            let mut tx = sqlx::Connection::begin_with(&mut *lease, "BEGIN IMMEDIATE")
                .await
                .unwrap();
            sqlx::query("INSERT INTO t VALUES (1)")
                .execute(&mut *tx)
                .await
                .unwrap();
            // Dropped without commit, as when a request is cancelled halfway.
        }
        let mut lease = set.acquire().await.unwrap();
        let mut tx = sqlx::Connection::begin_with(&mut *lease, "BEGIN IMMEDIATE")
            .await
            .unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(rows, 0);
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_opened_is_reported_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("no/such/dir/x.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let error = Connections::open(options, 2, Duration::from_secs(1))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(&error, StoreError::Unavailable { message, .. }
                if message.contains("cannot open") && message.contains("writable")),
            "{error}"
        );
    }
}
