//! Reading the configuration: flags, `ACCRETE_*` environment, the TOML file.
//!
//! Each command takes only the flags it uses: [`Flags`] (where the configuration and the
//! database are) for every command that opens the database, [`LogFlags`] for the commands that
//! log, and [`ServeFlags`] (all of them, plus the serve-only settings) for `serve` and
//! `config show`.

use std::path::{Path, PathBuf};

use accrete_server::{Config, Layer, LogFormat};
use anyhow::Context;

/// Flags of every command that opens the database.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Flags {
    /// Configuration file (default: `accrete.toml` in the working folder, if present).
    #[arg(long, env = "ACCRETE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder for the embedded database and generated keys.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`postgres://...` or `sqlite://PATH`); default: SQLite in the data folder.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

/// Flags of the commands that write logs (`serve`, `migrate`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogFlags {
    /// Log format: text or json.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,
    /// Log filter, e.g. `info` or `accrete_server=debug,info`.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
}

/// Flags of `serve` (and of `config show`, which prints what `serve` would use).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeFlags {
    #[command(flatten)]
    pub database: Flags,
    #[command(flatten)]
    pub log: LogFlags,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Public base URL, used as the OpenID Connect issuer.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Policy document (TOML or JSON) to import at start when the database has no policy yet.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Publish the --policy file at every start when it differs from the policy in force, even
    /// over a version published since through the API or `policy import`.
    #[arg(long)]
    pub policy_wins: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

/// A set of flags: where the configuration file is, and the settings the flags give.
pub trait SettingFlags {
    /// The database flags (with `--config`).
    fn database(&self) -> &Flags;
    /// The settings given as flags, the top layer.
    fn layer(&self) -> anyhow::Result<Layer>;
}

impl SettingFlags for Flags {
    fn database(&self) -> &Flags {
        self
    }

    fn layer(&self) -> anyhow::Result<Layer> {
        Ok(Layer {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..Layer::default()
        })
    }
}

impl SettingFlags for (Flags, LogFlags) {
    fn database(&self) -> &Flags {
        &self.0
    }

    fn layer(&self) -> anyhow::Result<Layer> {
        Ok(self.1.layer().over(self.0.layer()?))
    }
}

impl LogFlags {
    fn layer(&self) -> Layer {
        Layer {
            log_format: self.log_format.map(|f| match f {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            }),
            log_level: self.log_level.clone(),
            ..Layer::default()
        }
    }
}

impl SettingFlags for ServeFlags {
    fn database(&self) -> &Flags {
        &self.database
    }

    fn layer(&self) -> anyhow::Result<Layer> {
        let listen = match &self.listen {
            Some(text) => Some(text.parse().map_err(|_| {
                anyhow::anyhow!(
                    "invalid --listen `{text}`: expected IP:PORT such as 127.0.0.1:8080"
                )
            })?),
            None => None,
        };
        let serve = Layer {
            listen,
            public_url: self.public_url.clone(),
            policy: self.policy.clone(),
            // Only an explicit flag sets it: without the flag, the environment or file decides.
            policy_wins: self.policy_wins.then_some(true),
            ..Layer::default()
        };
        Ok(serve.over(self.log.layer()).over(self.database.layer()?))
    }
}

/// Resolves the effective configuration for `flags`; an unknown `ACCRETE_*` variable is printed
/// as a warning on stderr (for commands that do not log).
pub fn load(flags: &impl SettingFlags) -> anyhow::Result<Config> {
    let (config, warnings) = resolve(flags)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    Ok(config)
}

/// Resolves the effective configuration for `flags`, with the warnings about the environment
/// (for commands that log them once logging is set up).
pub fn resolve(flags: &impl SettingFlags) -> anyhow::Result<(Config, Vec<String>)> {
    let config_file = &flags.database().config;
    let file = match config_file {
        Some(path) => read_file_layer(path)?,
        None if Path::new("accrete.toml").exists() => read_file_layer(Path::new("accrete.toml"))?,
        None => Layer::default(),
    };
    let (env, unknown) = Layer::from_env_noting_unknown(std::env::vars())?;
    let config = Config::resolve(flags.layer()?, env, file)?;
    Ok((config, unknown.iter().map(ToString::to_string).collect()))
}

fn read_file_layer(path: &Path) -> anyhow::Result<Layer> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))?;
    Ok(Layer::from_toml(path, &text)?)
}
