//! `accrete serve` and `accrete migrate`: open the database, migrate, listen.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;

use accrete_app::App;
use accrete_app::connection_admin::{self, ConnectionAdminError, Upserted};
use accrete_federation::spec::ConnectionSpec;
use accrete_server::{Config, LogFormat, Server};
use anyhow::anyhow;
use tracing_subscriber::EnvFilter;

use crate::output::{self, outln};
use crate::policy_cli::import_at_start;
use crate::settings::{self, Flags, LogFlags, ServeFlags};
use crate::store_open::{Locking, open_store, runtime, sqlite_file};

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
            import_at_start(store.as_ref(), file, config.policy_wins).await?;
        }
        apply_connections(server.app(), &config.connections).await?;
        // Passkeys need a relying party id (a domain) from the public URL: without one the
        // server runs without them, and says so once.
        match accrete_app::passkeys::relying_party(server.app()) {
            Ok(rp) => tracing::info!(rp_id = %rp.id, origin = %rp.origin, "passkeys are offered"),
            Err(why) => tracing::info!("passkeys are off: {why}"),
        }
        let addr = server.local_addr()?;
        // Before the banner, which tells a supervisor the node is up.
        let stop = shutdown_signal();
        // The banner is for the person who started the server: a closed stdout does not stop it.
        let _ = output::line(format_args!(
            "Accrete is serving at http://{addr} (issuer {}, database {})",
            config.issuer(),
            describe_database(&config)
        ));
        server.run(stop).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Creates or replaces the `[[connections]]` of the configuration file (checked when the
/// configuration was resolved; a domain another stored connection holds is refused here). A
/// connection stored with the same definition and secrets is left as it is; connections the
/// file does not name are left too (`accrete connection delete` removes one).
async fn apply_connections(app: &App, connections: &[ConnectionSpec]) -> anyhow::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    for (index, spec) in connections.iter().enumerate() {
        let name = spec.name.clone();
        let done = connection_admin::upsert(app, spec.clone(), now)
            .await
            .map_err(|error| match error {
                ConnectionAdminError::Invalid(problems) => {
                    let each: Vec<String> = problems
                        .iter()
                        .map(|p| format!("{}: {}", p.path, p.message))
                        .collect();
                    anyhow!(
                        "connections[{index}] ({name}) of the configuration file is refused: {}",
                        each.join("; ")
                    )
                }
                other => anyhow!(
                    "cannot store connections[{index}] ({name}) of the configuration file: {other}"
                ),
            })?;
        match done.0 {
            Upserted::Created => {
                tracing::info!(connection = %name, "connection created from the configuration file")
            }
            Upserted::Replaced => {
                tracing::info!(connection = %name, "connection replaced from the configuration file")
            }
            Upserted::Unchanged => {
                tracing::debug!(connection = %name, "connection of the configuration file unchanged")
            }
        }
    }
    Ok(())
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

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when it is called, before the
/// server answers anything: a SIGTERM sent as soon as the node is ready (an orchestrator's
/// stop) is a graceful shutdown, not the signal's default action, which killed the process
/// when it came before the future's first poll.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
