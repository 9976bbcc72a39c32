//! Reading the configuration: flags, `ACCRETE_*` environment, the TOML file.

use std::path::{Path, PathBuf};

use accrete_server::{Config, Layer, LogFormat};
use anyhow::Context;

/// Flags shared by the commands that need the server's configuration.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Flags {
    /// Configuration file (default: `accrete.toml` in the working folder, if present).
    #[arg(long, env = "ACCRETE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Folder for the embedded database and generated keys.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`postgres://...` or `sqlite://PATH`); default: SQLite in the data folder.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Public base URL, used as the OpenID Connect issuer.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Log format: text or json.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,
    /// Log filter, e.g. `info` or `accrete_server=debug,info`.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Policy document (TOML or JSON) to import and publish at start.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

/// Resolves the effective configuration for `flags`; an unknown `ACCRETE_*` variable is printed
/// as a warning on stderr (for commands that do not log).
pub fn load(flags: &Flags) -> anyhow::Result<Config> {
    let (config, warnings) = resolve(flags)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    Ok(config)
}

/// Resolves the effective configuration for `flags`, with the warnings about the environment
/// (for commands that log them once logging is set up).
pub fn resolve(flags: &Flags) -> anyhow::Result<(Config, Vec<String>)> {
    let file = match &flags.config {
        Some(path) => read_file_layer(path)?,
        None if Path::new("accrete.toml").exists() => read_file_layer(Path::new("accrete.toml"))?,
        None => Layer::default(),
    };
    let (env, unknown) = Layer::from_env_noting_unknown(std::env::vars())?;
    let listen = match &flags.listen {
        Some(text) => Some(text.parse().map_err(|_| {
            anyhow::anyhow!("invalid --listen `{text}`: expected IP:PORT such as 127.0.0.1:8080")
        })?),
        None => None,
    };
    let flag_layer = Layer {
        listen,
        data_dir: flags.data_dir.clone(),
        database_url: flags.database_url.clone(),
        public_url: flags.public_url.clone(),
        log_format: flags.log_format.map(|f| match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }),
        log_level: flags.log_level.clone(),
        policy: flags.policy.clone(),
        ..Layer::default()
    };
    let config = Config::resolve(flag_layer, env, file)?;
    Ok((config, unknown.iter().map(ToString::to_string).collect()))
}

fn read_file_layer(path: &Path) -> anyhow::Result<Layer> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))?;
    Ok(Layer::from_toml(path, &text)?)
}
