//! `accrete serve` and `accrete migrate`: open the database, migrate, listen.

use std::fs::{File, TryLockError};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use accrete_server::{Config, LogFormat, Server};
use accrete_store::{ConnectOptions, Store};
use anyhow::{Context, anyhow};
use tracing_subscriber::EnvFilter;

use crate::output::{self, outln};
use crate::settings::{self, Flags, LogFlags, ServeFlags};

/// Runs the server until SIGTERM or Ctrl-C.
pub fn serve(flags: ServeFlags) -> anyhow::Result<ExitCode> {
    let (config, warnings) = settings::resolve(&flags)?;
    let config = Arc::new(config);
    init_logging(&config)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    runtime()?.block_on(async {
        let (store, _lock) = open_store(&config, Locking::Exclusive).await?;
        let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "address already in use; stop the other process or choose another address with --listen"
                }
                std::io::ErrorKind::PermissionDenied => {
                    "permission denied; use a port above 1023 or run with the needed privilege"
                }
                _ => "check the address given with --listen",
            };
            anyhow!("cannot listen on {}: {hint} ({e})", config.listen)
        })?;
        // With port 0 the issuer must name the port actually bound.
        let config = match (&config.public_url, listener.local_addr()) {
            (None, Ok(bound)) if bound != config.listen => {
                let mut resolved = (*config).clone();
                resolved.listen = bound;
                Arc::new(resolved)
            }
            _ => config,
        };
        let server = Server::new(listener, config.clone(), store.clone())?;
        // Before saying where it serves: a node that cannot open the stored keys must not start
        // (nor publish its policy file).
        server.load_signing_keys().await?;
        if let Some(file) = &config.policy {
            crate::policy_cli::import_at_start(store.as_ref(), file, config.policy_wins).await?;
        }
        let addr = server.local_addr()?;
        // The banner is for the person who started the server: a closed stdout does not stop it.
        let _ = output::line(format_args!(
            "Accrete is serving at http://{addr} (issuer {}, database {})",
            config.issuer(),
            describe_database(&config)
        ));
        server.run(shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Applies the migrations and exits.
pub fn migrate(flags: (Flags, LogFlags)) -> anyhow::Result<ExitCode> {
    let (config, warnings) = settings::resolve(&flags)?;
    init_logging(&config)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    runtime()?.block_on(async {
        let (store, _lock) = open_store(&config, Locking::Shared).await?;
        let status = store.migration_status().await?;
        outln!(
            "database is current: {} migrations applied ({})",
            status.applied,
            describe_database(&config)
        )?;
        Ok(ExitCode::SUCCESS)
    })
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Holds the embedded database's lock file for as long as the server runs.
pub struct DatabaseLock(#[allow(dead_code)] Option<File>);

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

fn sqlite_file(config: &Config) -> Option<PathBuf> {
    let url = config.effective_database_url();
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (path != ":memory:" && !path.is_empty()).then(|| PathBuf::from(path))
}

fn describe_database(config: &Config) -> String {
    match sqlite_file(config) {
        Some(path) => format!("SQLite {}", path.display()),
        None => accrete_store::mask_url(&config.effective_database_url()),
    }
}

pub(crate) fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log_level)
        .map_err(|e| anyhow!("invalid log_level `{}`: {e}", config.log_level))?;
    // Colours only on a terminal: a file or a pipe gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| anyhow!("cannot initialise logging: {e}"))
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
