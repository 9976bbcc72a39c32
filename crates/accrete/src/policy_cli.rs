//! `accrete policy ...`: validate a policy document and simulate decisions, on the host;
//! import (validate and publish) and export the policy in force in the database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use accrete_core::{CompiledPolicy, Moment, Policy, UserFacts, decide};
use accrete_store::{PolicyPublication, Store};
use anyhow::{Context as _, anyhow, bail};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::output::{self, outln};
use crate::settings::{self, Flags};
use crate::store_open::{Locking, open_store, runtime};

/// Policy document commands.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Check a policy document (.toml or .json) and list every problem.
    Validate {
        /// The policy file.
        file: PathBuf,
    },
    /// Show what the engine would decide for a user at a moment.
    Simulate {
        /// The policy file (.toml or .json).
        file: PathBuf,
        /// The user's facts (JSON, see docs/decision.md).
        #[arg(long, value_name = "USER.json")]
        user: PathBuf,
        /// The moment (JSON, see docs/decision.md).
        #[arg(long, value_name = "MOMENT.json")]
        moment: PathBuf,
        /// The time of the decision (RFC 3339); now by default.
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
        /// Print readable text instead of JSON.
        #[arg(long)]
        human: bool,
    },
    /// Validate a policy document and publish it as the next version (nothing is published
    /// when it equals the version in force).
    Import {
        #[command(flatten)]
        flags: Flags,
        /// The policy file (.toml or .json).
        file: PathBuf,
        /// A note kept with the version.
        #[arg(long)]
        note: Option<String>,
    },
    /// Print the policy in force (TOML by default); importing it again changes nothing.
    Export {
        #[command(flatten)]
        flags: Flags,
        /// Print JSON instead of TOML.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a policy command; exit code 1 when the policy has problems.
pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Validate { file } => {
            let Some(policy) = load(&file)? else {
                return Ok(ExitCode::FAILURE);
            };
            outln!(
                "ok: {} fields, {} steps",
                policy.fields().len(),
                policy.steps().len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Simulate {
            file,
            user,
            moment,
            now,
            human,
        } => {
            let Some(policy) = load(&file)? else {
                return Ok(ExitCode::FAILURE);
            };
            let facts: UserFacts = serde_json::from_str(&read(&user)?)
                .with_context(|| format!("{} is not valid user facts", user.display()))?;
            let moment: Moment = serde_json::from_str(&read(&moment)?)
                .with_context(|| format!("{} is not a valid moment", moment.display()))?;
            let now = match now {
                Some(text) => OffsetDateTime::parse(&text, &Rfc3339)
                    .with_context(|| format!("--now {text:?} is not an RFC 3339 time"))?,
                None => OffsetDateTime::now_utc(),
            };
            let decision = decide(&policy, &facts, &moment, now).with_sources(&policy, &facts);
            if human {
                output::text(&accrete_core::decision_text(&decision))?;
            } else {
                let json = accrete_core::decision_json(&decision);
                outln!("{}", serde_json::to_string_pretty(&json)?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Import { flags, file, note } => {
            let Some(policy) = load(&file)? else {
                return Ok(ExitCode::FAILURE);
            };
            let config = settings::load(&flags)?;
            runtime()?.block_on(async {
                let (store, _lock) = open_store(&config, Locking::Shared).await?;
                let note = note.unwrap_or_else(|| format!("imported from {}", file.display()));
                let outcome = publish(store.as_ref(), &policy, &note).await?;
                outln!("{outcome}")?;
                Ok(ExitCode::SUCCESS)
            })
        }
        PolicyCommand::Export { flags, json } => {
            let config = settings::load(&flags)?;
            runtime()?.block_on(async {
                let (store, _lock) = open_store(&config, Locking::Shared).await?;
                let published = store
                    .published_policy()
                    .await?
                    .ok_or_else(|| anyhow!("no policy is published yet"))?;
                let policy = Policy::from_json_str(&published.document.to_string())
                    .context("the published policy is unreadable")?;
                if json {
                    outln!("{}", policy.to_json_string()?)?;
                } else {
                    output::text(&policy.to_toml_string()?)?;
                }
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

/// What [`publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Published {
    /// A new version was published.
    New(i64),
    /// The document equals the version in force.
    Unchanged(i64),
}

impl std::fmt::Display for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Published::New(v) => write!(f, "published policy version {v}"),
            Published::Unchanged(v) => write!(
                f,
                "unchanged: the policy in force (version {v}) is the same"
            ),
        }
    }
}

/// Publishes a compiled policy unless the version in force is the same document.
pub(crate) async fn publish(
    store: &dyn Store,
    policy: &CompiledPolicy,
    note: &str,
) -> anyhow::Result<Published> {
    let document = serde_json::to_value(policy.policy())?;
    // One atomic step in the store: nodes importing the same file at once publish it once.
    let outcome = store
        .publish_policy_if_changed(&document, Some(note), OffsetDateTime::now_utc())
        .await?;
    Ok(match outcome {
        PolicyPublication::New(version) => Published::New(version.version),
        PolicyPublication::Unchanged(version) => Published::Unchanged(version.version),
    })
}

/// `accrete serve --policy FILE`: imports the file at start when the database has no policy yet.
/// When a different policy is in force (perhaps published since through the API or `policy
/// import`), it stays in force and the log says why, unless `wins` (`--policy-wins`, config
/// `policy_wins`) makes the file win. An invalid file stops the server from starting.
pub(crate) async fn import_at_start(
    store: &dyn Store,
    file: &Path,
    wins: bool,
) -> anyhow::Result<()> {
    let policy = load(file)?.ok_or_else(|| anyhow!("{}: invalid policy", file.display()))?;
    let shown = file.display();
    if !wins
        && let Some(current) = store.published_policy().await?
        && current.document != serde_json::to_value(policy.policy())?
    {
        let published = current
            .published_at
            .format(&Rfc3339)
            .unwrap_or_else(|_| current.published_at.to_string());
        tracing::warn!(
            file = %shown,
            version = current.version,
            "policy file {shown} not imported: the policy in force, version {} published {published}, \
             differs from it and stays in force; publish the file with `accrete policy import \
             {shown}`, or start with --policy-wins to make the file win at every start",
            current.version
        );
        return Ok(());
    }
    let outcome = publish(store, &policy, &format!("imported at start from {shown}")).await?;
    match outcome {
        Published::New(version) => {
            tracing::info!(
                file = %shown,
                version,
                "policy file {shown} imported as version {version}"
            );
        }
        Published::Unchanged(version) => {
            tracing::info!(
                file = %shown,
                version,
                "policy file {shown} equals the policy in force (version {version})"
            );
        }
    }
    Ok(())
}

/// Reads and compiles a policy; prints every problem and returns `None` when there are any.
fn load(file: &Path) -> anyhow::Result<Option<CompiledPolicy>> {
    let text = read(file)?;
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let parsed = match extension.as_deref() {
        Some("toml") => Policy::from_toml_str(&text),
        Some("json") => Policy::from_json_str(&text),
        _ => bail!("{}: expected a .toml or .json policy file", file.display()),
    };
    let policy = match parsed {
        Ok(policy) => policy,
        Err(error) => {
            eprintln!("{}: {error}", file.display());
            return Ok(None);
        }
    };
    match policy.compile() {
        Ok(compiled) => Ok(Some(compiled)),
        Err(problems) => {
            for problem in &problems.problems {
                eprintln!("{}: {problem}", file.display());
            }
            eprintln!("{} problem(s) found", problems.problems.len());
            Ok(None)
        }
    }
}

fn read(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_publishes_once_and_export_round_trips_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy.toml");
        runtime().unwrap().block_on(async {
            let url = format!("sqlite://{}", dir.path().join("accrete.db").display());
            let store = accrete_store::connect(&url, accrete_store::ConnectOptions::default())
                .await
                .unwrap();
            store.migrate().await.unwrap();
            let policy = load(&file).unwrap().unwrap();
            assert_eq!(
                publish(store.as_ref(), &policy, "first").await.unwrap(),
                Published::New(1)
            );
            // What `export` prints, imported again, is the same document: nothing published.
            let published = store.published_policy().await.unwrap().unwrap();
            let exported = Policy::from_json_str(&published.document.to_string())
                .unwrap()
                .to_toml_string()
                .unwrap();
            let again = Policy::from_toml_str(&exported).unwrap();
            assert_eq!(&again, policy.policy());
            let again = again.compile().unwrap();
            assert_eq!(
                publish(store.as_ref(), &again, "again").await.unwrap(),
                Published::Unchanged(1)
            );
            import_at_start(store.as_ref(), &file, false).await.unwrap();
            assert_eq!(store.list_policy_versions().await.unwrap().len(), 1);
        });
    }

    /// Nodes importing the same file at once, on SQLite and (when `ACCRETE_TEST_POSTGRES_URL` is
    /// set) on a PostgreSQL schema of its own, whose pool runs the imports truly in parallel.
    #[test]
    fn nodes_importing_the_same_file_at_once_publish_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut urls = vec![format!(
            "sqlite://{}",
            dir.path().join("accrete.db").display()
        )];
        let base = std::env::var("ACCRETE_TEST_POSTGRES_URL").ok();
        let schema = format!("cli_policy_{}", std::process::id());
        let psql = |base: &str, sql: String| {
            std::process::Command::new("psql")
                .arg(base)
                .args(["-qAtc", &sql])
                .status()
                .unwrap()
        };
        if let Some(base) = &base {
            assert!(
                psql(
                    base,
                    format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
                )
                .success()
            );
            let separator = if base.contains('?') { '&' } else { '?' };
            urls.push(format!("{base}{separator}options[search_path]={schema}"));
        }
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy.toml");
        runtime().unwrap().block_on(async {
            for url in urls {
                let store = accrete_store::connect(&url, accrete_store::ConnectOptions::default())
                    .await
                    .unwrap();
                store.migrate().await.unwrap();
                let imports: Vec<_> = (0..6)
                    .map(|_| {
                        let (store, file) = (store.clone(), file.clone());
                        tokio::spawn(
                            async move { import_at_start(store.as_ref(), &file, false).await },
                        )
                    })
                    .collect();
                for import in imports {
                    import.await.unwrap().unwrap();
                }
                assert_eq!(
                    store.list_policy_versions().await.unwrap().len(),
                    1,
                    "{url}"
                );
            }
        });
        if let Some(base) = &base {
            psql(base, format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}
