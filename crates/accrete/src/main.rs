//! The `accrete` command: run the server and administer it from its host.

mod admin_cli;
mod client_cli;
mod connection_cli;
mod keys_cli;
mod output;
mod policy_cli;
mod serve;
mod settings;
mod store_open;
mod users_cli;
mod webhook_cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::{Flags, LogFlags, ServeFlags};

/// Accrete: an OpenID Connect identity server with progressive profiling.
#[derive(Debug, Parser)]
#[command(name = "accrete", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (embedded SQLite in ./accrete-data unless a database URL is given).
    Serve(ServeFlags),
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: Flags,
        #[command(flatten)]
        log: LogFlags,
    },
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Validate, simulate, import (publish) and export policy documents.
    #[command(subcommand)]
    Policy(policy_cli::PolicyCommand),
    /// Register, list and delete OpenID Connect clients.
    #[command(subcommand)]
    Client(client_cli::ClientCommand),
    /// List and rotate the signing keys.
    #[command(subcommand)]
    Keys(keys_cli::KeysCommand),
    /// Create, list, show, change, delete and test connections to upstream identity providers.
    #[command(subcommand)]
    Connection(connection_cli::ConnectionCommand),
    /// Make, list and revoke the console's administrators.
    #[command(subcommand)]
    Admin(admin_cli::AdminCommand),
    /// Import users from Auth0, Keycloak, CSV or JSONL files; export them all as JSONL (see
    /// docs/import-export.md).
    #[command(subcommand)]
    Users(users_cli::UsersCommand),
    /// Add, list and remove webhook endpoints (see docs/webhooks.md).
    #[command(subcommand)]
    Webhook(webhook_cli::WebhookCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (flags > environment > file > defaults), secrets
    /// masked; it takes the flags of `serve`, to show what `serve` would use.
    Show(ServeFlags),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(flags) => serve::serve(flags),
        Command::Migrate { database, log } => serve::migrate((database, log)),
        Command::Config(ConfigCommand::Show(flags)) => settings::load(&flags).and_then(|config| {
            output::text(&config.to_masked_toml())?;
            Ok(ExitCode::SUCCESS)
        }),
        Command::Policy(cmd) => policy_cli::run(cmd),
        Command::Client(cmd) => client_cli::run(cmd),
        Command::Admin(cmd) => admin_cli::run(cmd),
        Command::Keys(cmd) => keys_cli::run(cmd),
        Command::Connection(cmd) => connection_cli::run(cmd),
        Command::Webhook(cmd) => webhook_cli::run(cmd),
        Command::Users(cmd) => users_cli::run(cmd),
    };
    match outcome {
        Ok(code) => code,
        // `accrete ... | head`: the reader has what it wanted; no error, no panic.
        Err(error) if error.chain().any(|e| e.is::<output::StdoutClosed>()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, the whole chain of causes, no backtrace.
            eprintln!("error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

fn one_line(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}
