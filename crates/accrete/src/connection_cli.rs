//! `accrete connection ...`: connections to upstream identity providers, on the host, through
//! the same use-cases as the API (`accrete_app::connection_admin`), with the server's master
//! key (configured, or `master.key` in the data folder): what one creates, the other reads.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use accrete_app::App;
use accrete_app::connection_admin::{self, ConnectionAdminError, ConnectionView};
use accrete_federation::spec::{AppleKey, ClaimMapping, ConnectionSpec, Preset, REDACTED, Sync};
use accrete_server::Config;
use accrete_server::secrets::ServerSecrets;
use anyhow::anyhow;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::output::outln;
use crate::settings::{self, Flags};
use crate::store_open::{DatabaseLock, Locking, open_store, runtime};

/// The exit code of a definition refused (each problem printed as `path: message`).
const INVALID: u8 = 2;

/// Connection commands.
#[derive(Debug, clap::Subcommand)]
pub enum ConnectionCommand {
    /// Create a connection from flags, or from a file (`--file`, TOML or JSON); prints the
    /// redirect URI to register at the provider.
    Create(Box<CreateArgs>),
    /// List the connections.
    List {
        #[command(flatten)]
        flags: Flags,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a connection (its secrets never) and the redirect URI to register at the provider.
    Show {
        #[command(flatten)]
        flags: Flags,
        /// The connection's name.
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Change a connection: only what the flags give (a secret left out is kept).
    Update(Box<UpdateArgs>),
    /// Delete a connection and the identities linked through it (their users stay).
    Delete {
        #[command(flatten)]
        flags: Flags,
        /// The connection's name.
        name: String,
    },
    /// Reach the provider as a sign-in would (discovery and keys, or the endpoints' hosts) and
    /// print what was found, or what is wrong, in one line; exits 1 on a problem.
    Test {
        #[command(flatten)]
        flags: Flags,
        /// The connection's name.
        name: String,
    },
}

/// The settings of a definition as flags (`create`, `update`).
#[derive(Debug, Default, clap::Args)]
pub struct SpecFlags {
    /// Which kind of provider.
    #[arg(long, value_name = "PRESET", value_parser = presets())]
    preset: Option<String>,
    /// The OpenID Connect issuer (required for oidc; overrides the preset's for google,
    /// microsoft, apple, gitlab).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// Microsoft Entra ID's tenant: common (default), organizations, consumers, a tenant id or
    /// domain.
    #[arg(long, value_name = "TENANT")]
    tenant: Option<String>,
    /// The OAuth 2 authorization endpoint (oauth2; overrides GitHub's).
    #[arg(long, value_name = "URL")]
    authorization_endpoint: Option<String>,
    /// The OAuth 2 token endpoint (oauth2; overrides GitHub's).
    #[arg(long, value_name = "URL")]
    token_endpoint: Option<String>,
    /// The endpoint answering with the user's profile (oauth2; overrides GitHub's).
    #[arg(long, value_name = "URL")]
    userinfo_endpoint: Option<String>,
    /// The client id registered at the provider.
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    client_id: Option<String>,
    /// The client secret (prefer --client-secret-file: a command line is seen by others).
    #[arg(
        long,
        value_name = "SECRET",
        conflicts_with = "client_secret_file",
        allow_hyphen_values = true
    )]
    client_secret: Option<String>,
    /// A file holding the client secret (a final line break is ignored).
    #[arg(long, value_name = "PATH")]
    client_secret_file: Option<PathBuf>,
    /// Sign in with Apple: the Apple Developer team id.
    #[arg(long, value_name = "ID")]
    apple_team_id: Option<String>,
    /// Sign in with Apple: the key's id.
    #[arg(long, value_name = "ID")]
    apple_key_id: Option<String>,
    /// Sign in with Apple: the key downloaded from Apple (.p8).
    #[arg(long, value_name = "PATH")]
    apple_private_key_file: Option<PathBuf>,
    /// The text of the sign-in button ("Continue with ..."); by default the preset's or the
    /// connection's name.
    #[arg(long, value_name = "TEXT")]
    display_name: Option<String>,
    /// A scope to ask for (repeatable or space separated); by default the preset's.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// An email domain whose users go to this provider (repeatable).
    #[arg(long = "domain", value_name = "DOMAIN")]
    domains: Vec<String>,
    /// A claim (JSON pointer) into a field of the policy, `:always` to refresh it at each
    /// sign-in (repeatable); by default the standard claims into fields of the same key.
    #[arg(long = "map", value_name = "CLAIM=FIELD[:always]")]
    maps: Vec<String>,
    /// Do not offer the connection.
    #[arg(long)]
    disabled: bool,
}

fn presets() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Preset::ALL.map(Preset::as_str))
}

/// `accrete connection create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: Flags,
    /// The connection's name: lower-case letters, digits and hyphens (with --file, the file's).
    #[arg(required_unless_present = "file")]
    name: Option<String>,
    /// The whole definition in a file: TOML (as a `[[connections]]` table of the configuration
    /// file, without the header), or JSON when it ends in `.json`.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["name", "SpecFlags"])]
    file: Option<PathBuf>,
    #[command(flatten)]
    spec: SpecFlags,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// `accrete connection update`.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    flags: Flags,
    /// The connection's name.
    name: String,
    #[command(flatten)]
    spec: SpecFlags,
    /// Offer the connection again.
    #[arg(long, conflicts_with = "disabled")]
    enabled: bool,
    /// Ask for the preset's scopes again.
    #[arg(long, conflicts_with = "scopes")]
    default_scopes: bool,
    /// Bind no email domain any more.
    #[arg(long, conflicts_with = "domains")]
    no_domains: bool,
    /// Map the standard claims again.
    #[arg(long, conflicts_with = "maps")]
    default_mapping: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs a connection command.
pub fn run(command: ConnectionCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConnectionCommand::Create(args) => create(*args),
        ConnectionCommand::List { flags, json } => list(&flags, json),
        ConnectionCommand::Show { flags, name, json } => show(&flags, &name, json),
        ConnectionCommand::Update(args) => update(*args),
        ConnectionCommand::Delete { flags, name } => delete(&flags, &name),
        ConnectionCommand::Test { flags, name } => test(&flags, &name),
    }
}

/// A definition refused: its problems, each as `path: message`.
#[derive(Debug)]
struct Refused(Vec<String>);

/// Prints the problems, one a line, and gives the exit code of invalid input.
fn refused(lines: &[String]) -> ExitCode {
    for line in lines {
        eprintln!("{line}");
    }
    ExitCode::from(INVALID)
}

/// The use-cases over the configured store with the master key, while the store is open.
pub(crate) struct Opened {
    pub(crate) app: App,
    _lock: DatabaseLock,
}

/// The effective configuration and the master key's secrets (also of `accrete webhook`).
pub(crate) fn config_and_secrets(flags: &Flags) -> anyhow::Result<(Config, ServerSecrets)> {
    let config = settings::load(flags)?;
    let secrets = ServerSecrets::load(config.master_key.as_deref(), &config.data_dir)?;
    Ok((config, secrets))
}

/// The use-cases over the configured store, sealing and opening secrets as the server does.
pub(crate) async fn open(config: &Config, secrets: &ServerSecrets) -> anyhow::Result<Opened> {
    let (store, lock) = open_store(config, Locking::Shared).await?;
    let app = accrete_server::build_app(config, store, secrets)?;
    Ok(Opened { app, _lock: lock })
}

/// A use-case's error as the command says it; a refused definition is [`Refused`].
fn failure(name: &str, error: ConnectionAdminError) -> anyhow::Error {
    match error {
        ConnectionAdminError::Invalid(problems) => Refused(
            problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
        )
        .into(),
        ConnectionAdminError::NotFound => anyhow!("there is no connection {name}"),
        ConnectionAdminError::Exists => anyhow!(
            "a connection named {name} exists; change it with `accrete connection update {name}`"
        ),
        ConnectionAdminError::Stale { .. } => {
            anyhow!("connection {name} changed meanwhile; run the command again")
        }
        other => anyhow::Error::new(other).context(format!("connection {name}")),
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for Refused {}

/// A command's outcome, a [`Refused`] turned into its lines and the exit code of invalid input.
fn exit(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match result {
        Err(error) => match error.downcast::<Refused>() {
            Ok(Refused(lines)) => Ok(refused(&lines)),
            Err(error) => Err(error),
        },
        done => done,
    }
}

fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    exit(create_refusing(args))
}

fn create_refusing(args: CreateArgs) -> anyhow::Result<ExitCode> {
    let spec = match &args.file {
        Some(path) => read_file(path)?,
        None => {
            let name = args.name.clone().unwrap_or_default();
            let Some(preset) = &args.spec.preset else {
                return Err(Refused(vec![format!(
                    "preset: choose one with --preset: {}",
                    Preset::ALL.map(Preset::as_str).join(", ")
                )])
                .into());
            };
            let mut spec = ConnectionSpec {
                name,
                display_name: None,
                preset: parse_preset(preset)?,
                issuer: None,
                tenant: None,
                authorization_endpoint: None,
                token_endpoint: None,
                userinfo_endpoint: None,
                client_id: String::new(),
                client_secret: None,
                apple: None,
                scopes: None,
                domains: Vec::new(),
                mapping: None,
                enabled: true,
            };
            args.spec.apply(&mut spec)?;
            spec
        }
    };
    let (config, secrets) = config_and_secrets(&args.flags)?;
    let name = spec.name.clone();
    let view = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        connection_admin::create(&opened.app, spec, OffsetDateTime::now_utc())
            .await
            .map_err(|e| failure(&name, e))
    })?;
    if args.json {
        print_json(&view)?;
    } else {
        outln!(
            "created connection {} ({})",
            view.spec.name,
            view.spec.preset
        )?;
        outln!(
            "redirect URI to register at the provider: {}",
            view.callback_url
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A definition in a file: JSON when it ends in `.json`, TOML otherwise.
fn read_file(path: &Path) -> anyhow::Result<ConnectionSpec> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parsed = if json {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        toml::from_str(&text).map_err(|e| describe_toml_error(&e, &text))
    };
    parsed.map_err(|message| Refused(vec![format!("{}: {message}", path.display())]).into())
}

fn describe_toml_error(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

fn parse_preset(name: &str) -> anyhow::Result<Preset> {
    Preset::ALL
        .into_iter()
        .find(|preset| preset.as_str() == name)
        .ok_or_else(|| Refused(vec![format!("preset: unknown preset {name}")]).into())
}

/// An optional value as the flags write it: empty removes it.
fn optional(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

impl SpecFlags {
    /// Writes the given flags into `spec`; what is not given is left as it is. Empty values of
    /// optional settings (`--issuer ""`) remove them.
    fn apply(&self, spec: &mut ConnectionSpec) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        if let Some(preset) = &self.preset {
            spec.preset = parse_preset(preset)?;
        }
        for (value, target) in [
            (&self.display_name, &mut spec.display_name),
            (&self.issuer, &mut spec.issuer),
            (&self.tenant, &mut spec.tenant),
            (
                &self.authorization_endpoint,
                &mut spec.authorization_endpoint,
            ),
            (&self.token_endpoint, &mut spec.token_endpoint),
            (&self.userinfo_endpoint, &mut spec.userinfo_endpoint),
        ] {
            if let Some(value) = value {
                *target = optional(value);
            }
        }
        if let Some(id) = &self.client_id {
            spec.client_id.clone_from(id);
        }
        if let Some(secret) = &self.client_secret {
            spec.client_secret = Some(secret.clone());
        }
        if let Some(path) = &self.client_secret_file {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    spec.client_secret = Some(text.trim_end_matches(['\n', '\r']).to_owned());
                }
                Err(e) => problems.push(format!(
                    "client_secret: cannot read {}: {e}",
                    path.display()
                )),
            }
        }
        if self.apple_team_id.is_some()
            || self.apple_key_id.is_some()
            || self.apple_private_key_file.is_some()
        {
            let apple = spec.apple.get_or_insert_with(|| AppleKey {
                team_id: String::new(),
                key_id: String::new(),
                private_key: String::new(),
            });
            if let Some(team) = &self.apple_team_id {
                apple.team_id.clone_from(team);
            }
            if let Some(key) = &self.apple_key_id {
                apple.key_id.clone_from(key);
            }
            if let Some(path) = &self.apple_private_key_file {
                match std::fs::read_to_string(path) {
                    Ok(text) => apple.private_key = text,
                    Err(e) => problems.push(format!(
                        "apple/private_key: cannot read {}: {e}",
                        path.display()
                    )),
                }
            }
        }
        if !self.scopes.is_empty() {
            spec.scopes = Some(
                self.scopes
                    .iter()
                    .flat_map(|s| s.split(' '))
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
        if !self.domains.is_empty() {
            spec.domains.clone_from(&self.domains);
        }
        if !self.maps.is_empty() {
            let mut mapping = Vec::new();
            for (index, text) in self.maps.iter().enumerate() {
                match parse_map(text) {
                    Some(map) => mapping.push(map),
                    None => problems.push(format!(
                        "mapping/{index}: write CLAIM=FIELD or CLAIM=FIELD:always (such as \
                         /given_name=given_name), not {text:?}"
                    )),
                }
            }
            spec.mapping = Some(mapping);
        }
        if self.disabled {
            spec.enabled = false;
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Refused(problems).into())
        }
    }
}

/// `CLAIM=FIELD`, `CLAIM=FIELD:always` or `CLAIM=FIELD:if_empty`.
fn parse_map(text: &str) -> Option<ClaimMapping> {
    let (claim, rest) = text.split_once('=')?;
    let (field, sync) = match rest.rsplit_once(':') {
        Some((field, "always")) => (field, Sync::Always),
        Some((field, "if_empty")) => (field, Sync::IfEmpty),
        _ => (rest, Sync::IfEmpty),
    };
    Some(ClaimMapping {
        claim: claim.to_owned(),
        field: field.to_owned(),
        sync,
    })
}

fn update(args: UpdateArgs) -> anyhow::Result<ExitCode> {
    exit(update_refusing(args))
}

fn update_refusing(args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let (config, secrets) = config_and_secrets(&args.flags)?;
    let name = args.name.clone();
    let view = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        let current = connection_admin::get(&opened.app, &name)
            .await
            .map_err(|e| failure(&name, e))?;
        // The definition as shown: secrets read `********`, which the replacement keeps.
        let mut spec = current.spec.clone();
        args.spec.apply(&mut spec)?;
        if args.enabled {
            spec.enabled = true;
        }
        if args.default_scopes {
            spec.scopes = None;
        }
        if args.no_domains {
            spec.domains.clear();
        }
        if args.default_mapping {
            spec.mapping = None;
        }
        connection_admin::replace(
            &opened.app,
            &name,
            spec,
            Some(current.version),
            OffsetDateTime::now_utc(),
        )
        .await
        .map_err(|e| failure(&name, e))
    })?;
    if args.json {
        print_json(&view)?;
    } else {
        outln!(
            "changed connection {} (version {}); running servers use it within 5 seconds",
            view.spec.name,
            view.version
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn list(flags: &Flags, json: bool) -> anyhow::Result<ExitCode> {
    let (config, secrets) = config_and_secrets(flags)?;
    let views = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        connection_admin::list(&opened.app)
            .await
            .map_err(|e| anyhow::Error::new(e).context("cannot list connections"))
    })?;
    if json {
        let all: Vec<serde_json::Value> = views.iter().map(describe).collect();
        outln!("{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if views.is_empty() {
        outln!(
            "no connections; create one with `accrete connection create NAME --preset PRESET \
             --client-id ID ...`"
        )?;
    }
    for view in &views {
        outln!(
            "{}  {}  {}  \"{}\"  {}",
            view.spec.name,
            view.spec.preset,
            if view.spec.enabled {
                "enabled"
            } else {
                "disabled"
            },
            view.spec.display_name_or_default(),
            view.callback_url
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn show(flags: &Flags, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let (config, secrets) = config_and_secrets(flags)?;
    let view = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        connection_admin::get(&opened.app, name)
            .await
            .map_err(|e| failure(name, e))
    })?;
    if json {
        print_json(&view)?;
        return Ok(ExitCode::SUCCESS);
    }
    let spec = &view.spec;
    let set = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    outln!("name:                   {}", spec.name)?;
    outln!("preset:                 {}", spec.preset)?;
    outln!("display name:           {}", spec.display_name_or_default())?;
    outln!(
        "enabled:                {}",
        if spec.enabled { "yes" } else { "no" }
    )?;
    match spec.preset {
        Preset::OAuth2 | Preset::GitHub => {
            outln!(
                "authorization endpoint: {}",
                set(&spec.authorization_endpoint)
            )?;
            outln!("token endpoint:         {}", set(&spec.token_endpoint))?;
            outln!("userinfo endpoint:      {}", set(&spec.userinfo_endpoint))?;
        }
        _ => outln!("issuer:                 {}", set(&spec.issuer))?,
    }
    if let Some(tenant) = &spec.tenant {
        outln!("tenant:                 {tenant}")?;
    }
    outln!("client id:              {}", spec.client_id)?;
    if let Some(secret) = &spec.client_secret {
        outln!("client secret:          {secret} (set, never shown)")?;
    }
    if let Some(apple) = &spec.apple {
        outln!("apple team id:          {}", apple.team_id)?;
        outln!("apple key id:           {}", apple.key_id)?;
        if apple.private_key == REDACTED {
            outln!("apple private key:      {REDACTED} (set, never shown)")?;
        }
    }
    let scopes = spec.scopes_or_default().join(" ");
    let default = if spec.scopes.is_none() {
        " (the preset's)"
    } else {
        ""
    };
    outln!("scopes:                 {scopes}{default}")?;
    outln!(
        "domains:                {}",
        if spec.domains.is_empty() {
            "-".to_owned()
        } else {
            spec.domains.join(" ")
        }
    )?;
    match &spec.mapping {
        None => outln!("mapping:                the standard claims into fields of the same key")?,
        Some(mapping) if mapping.is_empty() => outln!("mapping:                none")?,
        Some(mapping) => {
            for (index, map) in mapping.iter().enumerate() {
                let sync = match map.sync {
                    Sync::IfEmpty => "if_empty",
                    Sync::Always => "always",
                };
                let label = if index == 0 { "mapping:" } else { "" };
                outln!("{label:<24}{} -> {} ({sync})", map.claim, map.field)?;
            }
        }
    }
    outln!(
        "version:                {} (updated {})",
        view.version,
        rfc3339(view.updated_at)
    )?;
    outln!(
        "redirect URI to register at the provider: {}",
        view.callback_url
    )?;
    Ok(ExitCode::SUCCESS)
}

fn delete(flags: &Flags, name: &str) -> anyhow::Result<ExitCode> {
    let (config, secrets) = config_and_secrets(flags)?;
    runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        connection_admin::delete(&opened.app, name)
            .await
            .map_err(|e| failure(name, e))
    })?;
    outln!("deleted connection {name} and the identities linked through it")?;
    Ok(ExitCode::SUCCESS)
}

fn test(flags: &Flags, name: &str) -> anyhow::Result<ExitCode> {
    let (config, secrets) = config_and_secrets(flags)?;
    let outcome = runtime()?.block_on(async {
        let opened = open(&config, &secrets).await?;
        connection_admin::test(&opened.app, name)
            .await
            .map_err(|e| failure(name, e))
    })?;
    match outcome {
        Ok(summary) => {
            outln!("ok: {summary}")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => Err(anyhow!("{name}: {problem}")),
    }
}

/// A connection as JSON: what the API shows.
fn describe(view: &ConnectionView) -> serde_json::Value {
    let mut value = serde_json::to_value(&view.spec).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("callback_url".into(), view.callback_url.clone().into());
        object.insert("created_at".into(), rfc3339(view.created_at).into());
        object.insert("updated_at".into(), rfc3339(view.updated_at).into());
        object.insert("version".into(), view.version.into());
    }
    value
}

fn print_json(view: &ConnectionView) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(&describe(view))?)
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: CreateArgs,
    }

    fn args(line: &[&str]) -> Result<CreateArgs, clap::Error> {
        let mut full = vec!["create"];
        full.extend_from_slice(line);
        Wrapper::try_parse_from(full).map(|w| w.args)
    }

    fn spec_of(line: &[&str]) -> Result<ConnectionSpec, Vec<String>> {
        let args = args(line).unwrap();
        let mut spec = ConnectionSpec {
            name: args.name.clone().unwrap(),
            display_name: None,
            preset: Preset::Oidc,
            issuer: None,
            tenant: None,
            authorization_endpoint: None,
            token_endpoint: None,
            userinfo_endpoint: None,
            client_id: String::new(),
            client_secret: None,
            apple: None,
            scopes: None,
            domains: Vec::new(),
            mapping: None,
            enabled: true,
        };
        match args.spec.apply(&mut spec) {
            Ok(()) => Ok(spec),
            Err(error) => Err(error.downcast::<Refused>().unwrap().0),
        }
    }

    #[test]
    fn flags_write_a_definition() {
        let spec = spec_of(&[
            "acme",
            "--preset",
            "oidc",
            "--issuer",
            "https://login.acme.example",
            "--client-id",
            "accrete",
            "--client-secret",
            "s3cret",
            "--scope",
            "openid email",
            "--scope",
            "profile",
            "--domain",
            "acme.example",
            "--map",
            "/given_name=given_name",
            "--map",
            "/org/name=company:always",
            "--disabled",
        ])
        .unwrap();
        assert_eq!(spec.issuer.as_deref(), Some("https://login.acme.example"));
        assert_eq!(spec.client_secret.as_deref(), Some("s3cret"));
        assert_eq!(spec.scopes.clone().unwrap(), ["openid", "email", "profile"]);
        assert_eq!(spec.domains, ["acme.example"]);
        assert!(spec.check().is_ok());
        let mapping = spec.mapping.unwrap();
        assert_eq!(
            (mapping[1].claim.as_str(), mapping[1].field.as_str()),
            ("/org/name", "company")
        );
        assert_eq!(
            (mapping[0].sync, mapping[1].sync),
            (Sync::IfEmpty, Sync::Always)
        );
        assert!(!spec.enabled);
    }

    #[test]
    fn a_malformed_mapping_is_a_problem_at_its_index() {
        let refused = spec_of(&["a", "--map", "/a=a", "--map", "given_name"]).unwrap_err();
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0].starts_with("mapping/1: write CLAIM=FIELD"),
            "{refused:?}"
        );
    }

    #[test]
    fn an_unknown_preset_and_a_file_with_flags_are_usage_errors() {
        assert!(args(&["a", "--preset", "okta"]).is_err());
        assert!(args(&["--file", "a.toml", "--preset", "oidc"]).is_err());
        assert!(args(&["a", "--file", "a.toml"]).is_err());
        assert!(args(&[]).is_err());
        assert!(args(&["--file", "a.toml"]).is_ok());
        assert!(args(&["a", "--client-secret", "s", "--client-secret-file", "f"]).is_err());
    }

    #[test]
    fn a_secret_or_client_id_that_starts_with_a_dash_is_taken_as_given() {
        // Providers hand out base64url secrets: one in 32 starts with "-".
        let parsed = args(&["a", "--client-id", "-id", "--client-secret", "-IEP-8-Y4ya"]).unwrap();
        assert_eq!(parsed.spec.client_id.as_deref(), Some("-id"));
        assert_eq!(parsed.spec.client_secret.as_deref(), Some("-IEP-8-Y4ya"));
    }
}
