//! `accrete webhook ...`: webhook endpoints, on the host, through the same use-cases as the API
//! (`accrete_app::webhooks`), their secrets sealed with the server's master key. Changes are
//! recorded in the audit log as made by `cli`.

use std::process::ExitCode;

use accrete_app::admins::{self, Actor};
use accrete_app::webhooks::{self, NewWebhook, WebhookError, WebhookView};
use anyhow::anyhow;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::connection_cli::{config_and_secrets, open};
use crate::output::outln;
use crate::settings::Flags;
use crate::store_open::runtime;

/// The exit code of values refused (each problem printed as `path: message`).
const INVALID: u8 = 2;

/// Webhook commands.
#[derive(Debug, clap::Subcommand)]
pub enum WebhookCommand {
    /// Register an endpoint; prints its signing secret, which is never shown again.
    Add {
        #[command(flatten)]
        flags: Flags,
        /// Where events are POSTed (`https://...`).
        url: String,
        /// An event type to send (repeat it; none: every type): user.created, user.updated,
        /// signin.failed... (docs/webhooks.md lists them).
        #[arg(long = "event", value_name = "TYPE")]
        events: Vec<String>,
        /// What it is for, one line.
        #[arg(long)]
        description: Option<String>,
        /// Send the new values of `user.updated` changes (otherwise only which fields changed).
        #[arg(long)]
        include_values: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the endpoints.
    List {
        #[command(flatten)]
        flags: Flags,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send again every delivery of an endpoint whose event occurred in [--from, --to).
    Replay {
        #[command(flatten)]
        flags: Flags,
        /// The endpoint's id (from `accrete webhook list`).
        id: Uuid,
        /// The start of the range, included (RFC 3339: 2026-01-01T00:00:00Z).
        #[arg(long)]
        from: String,
        /// The end of the range, excluded (RFC 3339).
        #[arg(long)]
        to: String,
    },
    /// Delete an endpoint and its deliveries.
    Remove {
        #[command(flatten)]
        flags: Flags,
        /// The endpoint's id (from `accrete webhook list`).
        id: Uuid,
    },
}

/// Runs a webhook command.
pub fn run(command: WebhookCommand) -> anyhow::Result<ExitCode> {
    match command {
        WebhookCommand::Add {
            flags,
            url,
            events,
            description,
            include_values,
            json,
        } => add(
            &flags,
            NewWebhook {
                url,
                events,
                description,
                include_values,
            },
            json,
        ),
        WebhookCommand::List { flags, json } => list(&flags, json),
        WebhookCommand::Remove { flags, id } => remove(&flags, id),
        WebhookCommand::Replay {
            flags,
            id,
            from,
            to,
        } => replay(&flags, id, &from, &to),
    }
}

/// A use-case's error as the command says it; refused values are printed, one a line.
fn failure(error: WebhookError) -> Result<ExitCode, anyhow::Error> {
    match error {
        WebhookError::Invalid(problems) => {
            for problem in problems {
                eprintln!("{}: {}", problem.path, problem.message);
            }
            Ok(ExitCode::from(INVALID))
        }
        WebhookError::NotFound => Err(anyhow!("there is no such webhook")),
        other => Err(anyhow::Error::new(other)),
    }
}

fn describe(view: &WebhookView) -> serde_json::Value {
    json!({
        "id": view.id,
        "url": view.url,
        "events": view.events,
        "description": view.description,
        "enabled": view.enabled,
        "disabled_reason": view.disabled_reason,
        "include_values": view.include_values,
    })
}

fn add(flags: &Flags, new: NewWebhook, as_json: bool) -> anyhow::Result<ExitCode> {
    let (config, secrets) = config_and_secrets(flags)?;
    let made = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        let now = OffsetDateTime::now_utc();
        let made = webhooks::create(&opened.app, new, now).await;
        if let Ok(made) = &made {
            let change = (None, Some(describe(&made.webhook)));
            let target = Some(format!("webhook:{}", made.webhook.id));
            admins::audit(
                &opened.app,
                &Actor::cli(),
                "webhook.created",
                target,
                change,
                now,
            )
            .await?;
        }
        anyhow::Ok(made)
    })?;
    let made = match made {
        Ok(made) => made,
        Err(error) => return failure(error),
    };
    if as_json {
        let mut value = describe(&made.webhook);
        value["secret"] = made.secret.into();
        outln!("{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        outln!("added webhook {} -> {}", made.webhook.id, made.webhook.url)?;
        outln!("signing secret (shown once): {}", made.secret)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn list(flags: &Flags, as_json: bool) -> anyhow::Result<ExitCode> {
    let (config, secrets) = config_and_secrets(flags)?;
    let views = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        webhooks::list(&opened.app)
            .await
            .map_err(|e| anyhow::Error::new(e).context("cannot list webhooks"))
    })?;
    if as_json {
        let all: Vec<serde_json::Value> = views.iter().map(describe).collect();
        outln!("{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if views.is_empty() {
        outln!("no webhooks; add one with `accrete webhook add https://...`")?;
    }
    for view in &views {
        let events = if view.events.is_empty() {
            "every event".to_owned()
        } else {
            view.events.join(",")
        };
        let state = match (&view.enabled, &view.disabled_reason) {
            (true, _) => "enabled".to_owned(),
            (false, Some(reason)) => format!("disabled ({reason})"),
            (false, None) => "disabled".to_owned(),
        };
        outln!("{}  {}  {}  {}", view.id, view.url, events, state)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(flags: &Flags, id: Uuid) -> anyhow::Result<ExitCode> {
    let (config, secrets) = config_and_secrets(flags)?;
    let outcome = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        let before = webhooks::get(&opened.app, id).await;
        let deleted = webhooks::delete(&opened.app, id).await;
        if let (Ok(before), Ok(())) = (&before, &deleted) {
            let change = (Some(describe(before)), None);
            let target = Some(format!("webhook:{id}"));
            let now = OffsetDateTime::now_utc();
            admins::audit(
                &opened.app,
                &Actor::cli(),
                "webhook.deleted",
                target,
                change,
                now,
            )
            .await?;
        }
        anyhow::Ok(deleted)
    })?;
    if let Err(error) = outcome {
        return failure(error);
    }
    outln!("removed webhook {id} and its deliveries")?;
    Ok(ExitCode::SUCCESS)
}

fn replay(flags: &Flags, id: Uuid, from: &str, to: &str) -> anyhow::Result<ExitCode> {
    let (config, secrets) = config_and_secrets(flags)?;
    let outcome = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        let now = OffsetDateTime::now_utc();
        let replayed = webhooks::replay_range(&opened.app, id, from, to, now).await;
        if let Ok(replayed) = &replayed {
            let change = (
                None,
                Some(json!({ "from": from, "to": to, "replayed": replayed })),
            );
            let target = Some(format!("webhook:{id}"));
            admins::audit(
                &opened.app,
                &Actor::cli(),
                "webhook.deliveries_replayed",
                target,
                change,
                now,
            )
            .await?;
        }
        anyhow::Ok(replayed)
    })?;
    match outcome {
        Ok(replayed) => {
            outln!("{replayed} deliveries of webhook {id} will be sent again")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => failure(error),
    }
}
