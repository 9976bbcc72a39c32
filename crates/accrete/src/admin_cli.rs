//! `accrete admin ...`: the console's administrators, on the host (docs/console.md). Each change
//! is recorded in the audit log as made by `cli`.

use std::process::ExitCode;

use accrete_app::admins::{self, Actor, AdminError, Role};
use accrete_server::secrets::ServerSecrets;
use anyhow::anyhow;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::output::outln;
use crate::settings::{self, Flags};
use crate::store_open::{Locking, open_store, runtime};

/// Administrator commands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Make the account with EMAIL an administrator (the account signs up first).
    Create {
        #[command(flatten)]
        flags: Flags,
        /// The account's email address.
        email: String,
        /// owner (everything), editor (policy, clients, theme), support (users) or viewer.
        #[arg(long, default_value = "owner")]
        role: String,
    },
    /// List the administrators and their roles.
    List {
        #[command(flatten)]
        flags: Flags,
    },
    /// Take EMAIL's administrator role away (never the last owner's).
    Revoke {
        #[command(flatten)]
        flags: Flags,
        email: String,
    },
}

/// Runs an admin command.
pub fn run(command: AdminCommand) -> anyhow::Result<ExitCode> {
    match command {
        AdminCommand::Create { flags, email, role } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow!("unknown role `{role}`: use owner, editor, support or viewer")
            })?;
            change(&flags, &email, Some(role))
        }
        AdminCommand::List { flags } => list(&flags),
        AdminCommand::Revoke { flags, email } => change(&flags, &email, None),
    }
}

fn change(flags: &Flags, email: &str, role: Option<Role>) -> anyhow::Result<ExitCode> {
    let config = settings::load(flags)?;
    let secrets = ServerSecrets::load(config.master_key.as_deref(), &config.data_dir)?;
    let now = OffsetDateTime::now_utc();
    runtime()?.block_on(async {
        let (store, _lock) = open_store(&config, Locking::Shared).await?;
        let app = accrete_server::build_app(&config, store, &secrets)?;
        match admins::set_role(&app, &Actor::cli(), email, role, now).await {
            Ok(user) => match role {
                Some(role) => outln!("{} is {}", user.email, role.as_str()),
                None => outln!("{} is no administrator any more", user.email),
            },
            Err(AdminError::Store(error)) => Err(error.into()),
            Err(refused) => Err(anyhow!("{refused}")),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn list(flags: &Flags) -> anyhow::Result<ExitCode> {
    let config = settings::load(flags)?;
    let rows = runtime()?.block_on(async {
        let (store, _lock) = open_store(&config, Locking::Shared).await?;
        anyhow::Ok(store.list_admins().await?)
    })?;
    if rows.is_empty() {
        outln!(
            "no administrators yet: `accrete admin create EMAIL`, or the setup link the server prints"
        )?;
    }
    for row in rows {
        let since = row.granted_at.format(&Rfc3339).unwrap_or_default();
        outln!(
            "{}\t{}\tsince {} (by {})",
            row.email,
            row.role,
            since,
            row.granted_by
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
