//! `accrete users import|export`: bringing users in from Auth0, Keycloak, CSV or JSONL files and
//! taking them all out as JSONL, through the use-cases `accrete_app::import` and
//! `accrete_app::export` (docs/import-export.md). The import shows a progress bar on a terminal,
//! writes what it left out to a report file, and ends with a summary; it is recorded in the
//! audit log as made by `cli`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use accrete_app::admins::{self, Actor};
use accrete_app::export;
use accrete_app::import::{self, Format, ImportProblem, ImportScope, Mapping, Observer, Summary};
use anyhow::{Context as _, anyhow};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use time::OffsetDateTime;

use crate::connection_cli::{config_and_secrets, open};
use crate::output::outln;
use crate::settings::Flags;
use crate::store_open::runtime;

/// The exit code of an import that left something out (see its report).
const INCOMPLETE: u8 = 3;

/// The exit code of an import stopped by Ctrl-C (128 + SIGINT, as the shell says it).
const INTERRUPTED: u8 = 130;

/// User commands.
#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Import users from a file (Auth0 export NDJSON, Keycloak realm export, CSV, JSONL). Running
    /// the same import again changes nothing.
    Import {
        #[command(flatten)]
        flags: Flags,
        /// The file to read.
        file: PathBuf,
        /// What the file is.
        #[arg(long, value_parser = ["auth0", "keycloak", "csv", "jsonl"])]
        format: String,
        /// Check and count everything, store nothing.
        #[arg(long)]
        dry_run: bool,
        /// The whole file in one database transaction: all or nothing (an error or Ctrl-C
        /// keeps none of it) and several times faster, but the database's other writers wait
        /// until it ends (a running server's sign-ins fail; on PostgreSQL a first import also
        /// holds the users' tables for reading): for a first import, or with the server
        /// stopped.
        #[arg(long)]
        single_transaction: bool,
        /// A TOML file naming, for each CSV column or JSON pointer, the field it goes to.
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
        /// Where to write what was left out, and why (CSV: line, what, reason); default
        /// `<FILE>.report.csv`.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Write every user as JSON, one a line, in the schema `users import --format jsonl` reads.
    Export {
        #[command(flatten)]
        flags: Flags,
        /// The only format (and the default).
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl"])]
        format: String,
        /// Every change of each value (who or what made it, and when).
        #[arg(long)]
        with_history: bool,
        /// The password hashes, so that users keep their passwords in the next system. The
        /// file is then a secret.
        #[arg(long)]
        with_password_hashes: bool,
        /// Write to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Runs a user command.
pub fn run(command: UsersCommand) -> anyhow::Result<ExitCode> {
    match command {
        UsersCommand::Import {
            flags,
            file,
            format,
            dry_run,
            single_transaction,
            mapping,
            report,
        } => {
            let scope = if single_transaction {
                ImportScope::Whole
            } else {
                ImportScope::Batches
            };
            import(
                &flags,
                &file,
                &format,
                (scope, dry_run),
                mapping.as_deref(),
                report,
            )
        }
        UsersCommand::Export {
            flags,
            format: _,
            with_history,
            with_password_hashes,
            output,
        } => export(
            &flags,
            export::Options {
                with_history,
                with_password_hashes,
            },
            output.as_deref(),
        ),
    }
}

/// The report file and the progress bar.
struct Reporting {
    report: csv::Writer<BufWriter<File>>,
    written: u64,
    error: Option<std::io::Error>,
    bar: ProgressBar,
    started: std::time::Instant,
    /// The figures after the last batch stored: what an import that stops has done.
    last: Summary,
}

impl Observer for Reporting {
    fn problem(&mut self, problem: &ImportProblem) {
        if self.error.is_some() {
            return;
        }
        let line = problem.line.to_string();
        match self
            .report
            .write_record([line.as_str(), &problem.path, &problem.message])
        {
            Ok(()) => self.written += 1,
            Err(e) => self.error = Some(e.into()),
        }
    }

    fn progress(&mut self, summary: &Summary) {
        self.last = summary.clone();
        let users = summary.read;
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        self.bar
            .set_message(format!("{users} users, {:.0}/s", users as f64 / seconds));
    }
}

fn import(
    flags: &Flags,
    file: &Path,
    format: &str,
    (scope, dry_run): (ImportScope, bool),
    mapping: Option<&Path>,
    report: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let format = Format::parse(format).ok_or_else(|| anyhow!("unknown format {format}"))?;
    let mapping = mapping
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Mapping::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
        })
        .transpose()?;
    let input = File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let report_path = report.unwrap_or_else(|| {
        let mut name = file.as_os_str().to_owned();
        name.push(".report.csv");
        PathBuf::from(name)
    });
    // Written beside it and put in its place at the end: the report of an earlier run stays
    // until this one has something to say.
    let part_path = {
        let mut name = report_path.as_os_str().to_owned();
        name.push(".part");
        PathBuf::from(name)
    };
    let mut writer = csv::Writer::from_writer(BufWriter::new(
        File::create(&part_path)
            .with_context(|| format!("cannot write {}", report_path.display()))?,
    ));
    writer.write_record(["line", "what", "reason"])?;
    let bar = ProgressBar::with_draw_target(
        Some(size),
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} (eta {eta})",
        )
        .map_err(|e| anyhow!("progress bar: {e}"))?,
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut reporting = Reporting {
        report: writer,
        written: 0,
        error: None,
        bar: bar.clone(),
        started: std::time::Instant::now(),
        last: Summary::default(),
    };
    let (config, secrets) = config_and_secrets(flags)?;
    let input = bar.wrap_read(input);
    let outcome = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await.map_err(Stop::Failed)?;
        // Ctrl-C drops the import where it is: its open transaction rolls back, the batches
        // committed before stay (all of them are one transaction with --single-transaction).
        let outcome = tokio::select! {
            summary = import::run(
                &opened.app,
                input,
                format,
                mapping,
                (scope, dry_run),
                &mut reporting,
            ) => summary.map_err(|e| {
                Stop::Failed(anyhow::Error::new(e).context(format!("import of {}", file.display())))
            }),
            _ = tokio::signal::ctrl_c() => Err(Stop::Interrupted),
        };
        // What was stored is recorded, whether the import ended or stopped after some batches.
        let stored = match &outcome {
            Ok(summary) => Some(summary),
            Err(_) if scope == ImportScope::Batches => Some(&reporting.last),
            Err(_) => None,
        };
        if let Some(summary) = stored.filter(|s| !dry_run && (outcome.is_ok() || stored_any(s))) {
            let mut after = summary_json(summary);
            if outcome.is_err() {
                after["stopped"] = json!(true);
            }
            let target = Some(format!("import:{}", format.as_str()));
            admins::audit(
                &opened.app,
                &Actor::cli(),
                "users.imported",
                target,
                (None, Some(after)),
                OffsetDateTime::now_utc(),
            )
            .await
            .map_err(|e| Stop::Failed(e.into()))?;
        }
        outcome
    });
    bar.finish_and_clear();
    let Reporting {
        mut report,
        written,
        error,
        last,
        ..
    } = reporting;
    report.flush()?;
    drop(report);
    if let Some(error) = error {
        let _ = std::fs::remove_file(&part_path);
        return Err(
            anyhow::Error::new(error).context(format!("cannot write {}", report_path.display()))
        );
    }
    // The report of this run replaces an earlier one when it says something, or when the run
    // ended (an empty report is not worth keeping); a run that stopped with nothing to say
    // leaves the earlier one.
    if written > 0 {
        std::fs::rename(&part_path, &report_path)
            .with_context(|| format!("cannot write {}", report_path.display()))?;
    } else {
        let _ = std::fs::remove_file(&part_path);
        if outcome.is_ok() {
            let _ = std::fs::remove_file(&report_path);
        }
    }
    let summary = match outcome {
        Ok(summary) => summary,
        Err(stop) => {
            let stored = match scope {
                _ if dry_run => "nothing was stored (dry run)".to_owned(),
                ImportScope::Whole => "nothing was stored (one transaction)".to_owned(),
                ImportScope::Batches if !stored_any(&last) => "nothing was stored".to_owned(),
                ImportScope::Batches => format!(
                    "the batches stored before it stopped are kept ({} users created, {} \
                     updated), nothing after them",
                    last.created, last.updated
                ),
            };
            let report = if written > 0 {
                format!(
                    "; {written} problems and notes: see {}",
                    report_path.display()
                )
            } else {
                String::new()
            };
            return match stop {
                Stop::Interrupted => {
                    eprintln!("interrupted: {stored}{report}");
                    Ok(ExitCode::from(INTERRUPTED))
                }
                Stop::Failed(error) => {
                    eprintln!("stopped: {stored}{report}");
                    Err(error)
                }
            };
        }
    };
    outln!(
        "{}{} read: {} created, {} updated, {} unchanged, {} not imported",
        if dry_run {
            "dry run (nothing stored): "
        } else {
            ""
        },
        summary.read,
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.refused,
    )?;
    if summary.with_password > 0 {
        outln!(
            "{} with a password hash, replaced by Accrete's own at their first sign-in",
            summary.with_password
        )?;
    }
    if summary.identities_not_linked > 0 {
        outln!(
            "{} sign-in methods of other providers not linked (linked at the first sign-in \
             through a connection of this server that proves the address)",
            summary.identities_not_linked
        )?;
    }
    if written > 0 {
        outln!(
            "{written} problems and notes ({} values left out): see {}",
            summary.values_refused,
            report_path.display()
        )?;
        if summary.refused > 0 || summary.values_refused > 0 {
            return Ok(ExitCode::from(INCOMPLETE));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Why an import ended before its file did.
enum Stop {
    /// Ctrl-C.
    Interrupted,
    /// The file, the database or the configuration: the error says which.
    Failed(anyhow::Error),
}

/// Whether an import stopped after storing some of its users.
fn stored_any(summary: &Summary) -> bool {
    summary.created + summary.updated > 0
}

fn summary_json(summary: &Summary) -> serde_json::Value {
    json!({
        "read": summary.read,
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "refused": summary.refused,
        "values_refused": summary.values_refused,
    })
}

fn export(
    flags: &Flags,
    options: export::Options,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (config, secrets) = config_and_secrets(flags)?;
    let mut out: Box<dyn std::io::Write> = match output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let bar = if output.is_some() && std::io::stderr().is_terminal() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    let written = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        let written = export::users(&opened.app, options, &mut out, &mut |n| {
            bar.set_message(format!("{n} users"));
        })
        .await;
        if let Ok(count) = &written {
            admins::audit(
                &opened.app,
                &Actor::cli(),
                "users.exported",
                None,
                (
                    None,
                    Some(json!({
                        "users": count,
                        "with_history": options.with_history,
                        "with_password_hashes": options.with_password_hashes,
                    })),
                ),
                OffsetDateTime::now_utc(),
            )
            .await?;
        }
        written.map_err(|e| match e {
            export::ExportError::Write(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
                anyhow::Error::new(crate::output::StdoutClosed)
            }
            other => anyhow::Error::new(other),
        })
    })?;
    bar.finish_and_clear();
    if output.is_some() {
        eprintln!("exported {written} users");
    }
    Ok(ExitCode::SUCCESS)
}
