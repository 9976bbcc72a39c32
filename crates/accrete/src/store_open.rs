//! Opening the configured store, shared by `serve`, `migrate` and the administrative commands
//! (client, policy, keys): the async runtime, the data folder, migrations, and the embedded
//! database's lock file.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use accrete_server::Config;
use accrete_store::{ConnectOptions, Store};
use anyhow::{Context as _, anyhow};

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Holds the embedded database's lock file for as long as the server runs.
pub struct DatabaseLock(
    #[expect(
        dead_code,
        reason = "never read: held so that the lock lasts as long as its holder"
    )]
    Option<File>,
);

/// Whether to hold the embedded database's lock: servers do, so that a second server on the same
/// file refuses to start; administrative commands (client, policy, keys) don't, so that they can
/// run beside a live server (SQLite in WAL mode serialises the writers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locking {
    Exclusive,
    Shared,
}

/// Opens and migrates the configured database, creating the data folder of the embedded SQLite
/// database if needed.
pub(crate) async fn open_store(
    config: &Config,
    locking: Locking,
) -> anyhow::Result<(Arc<dyn Store>, DatabaseLock)> {
    let lock = match sqlite_file(config) {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow!("cannot create data folder {}: {e}; choose a writable folder with --data-dir", dir.display())
                })?;
            }
            match locking {
                Locking::Exclusive => DatabaseLock(Some(lock_database(&path)?)),
                Locking::Shared => DatabaseLock(None),
            }
        }
        None => DatabaseLock(None),
    };
    let url = config.effective_database_url();
    let store = accrete_store::connect(&url, ConnectOptions::default()).await?;
    store.migrate().await?;
    Ok((store, lock))
}

fn lock_database(db: &Path) -> anyhow::Result<File> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            anyhow!(
                "cannot write to {}: {e}; choose a writable folder with --data-dir",
                lock_path.display()
            )
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(anyhow!(
            "another accrete process is using {}; stop it first, or use PostgreSQL (--database-url) to run several servers",
            db.display()
        )),
        Err(TryLockError::Error(e)) => Err(anyhow!("cannot lock {}: {e}", lock_path.display())),
    }
}

pub(crate) fn sqlite_file(config: &Config) -> Option<PathBuf> {
    let url = config.effective_database_url();
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (path != ":memory:" && !path.is_empty()).then(|| PathBuf::from(path))
}
