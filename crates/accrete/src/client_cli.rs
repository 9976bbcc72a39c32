//! `accrete client ...`: register, list and delete OpenID Connect clients, on the host.

use std::process::ExitCode;

use accrete_app::client_admin;
use accrete_app::clients::ClientCache;
use accrete_app::settings::{EmailVerification, MfaMode};
use accrete_oidc::client::GrantType;
use accrete_oidc::registration::{Registration, RegistrationProblem, Setting, check_registration};
use accrete_oidc::secrets::random_opaque;
use accrete_server::hosted::theme::Theme;
use accrete_server::secrets::ServerSecrets;
use accrete_store::{Client, Store, StoreError};
use anyhow::{Context as _, anyhow};
use time::OffsetDateTime;

use crate::output::outln;
use crate::settings::{self, Flags};
use crate::store_open::{Locking, open_store, runtime};

/// Client registration commands.
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and, once, its secret.
    Create(Box<CreateArgs>),
    /// List the registered clients.
    List {
        #[command(flatten)]
        flags: Flags,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change which connections a client offers, whether it offers passwords and its account
    /// settings (self sign-up, email verification).
    Update(Box<UpdateArgs>),
    /// Delete a client with its grants and tokens.
    Delete {
        #[command(flatten)]
        flags: Flags,
        /// The client id.
        id: String,
    },
}

/// `accrete client create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: Flags,
    /// A name shown to users on the sign-in page.
    #[arg(long)]
    name: String,
    /// The client id (random when omitted).
    #[arg(long)]
    id: Option<String>,
    /// A redirect URI (repeatable), matched exactly.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// A public client (single-page or native app): no secret, PKCE required.
    #[arg(long)]
    public: bool,
    /// A grant type (repeatable): authorization_code, refresh_token, client_credentials.
    /// Default: authorization_code and refresh_token.
    #[arg(long = "grant", value_name = "TYPE")]
    grants: Vec<String>,
    /// Scopes the client may request (repeatable or space separated).
    /// Default: openid profile email.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Audiences (resource servers) of its client-credentials tokens (repeatable).
    #[arg(long = "audience", value_name = "URI")]
    audiences: Vec<String>,
    /// Where the browser may go after logout (repeatable), matched exactly.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// The ID token signing algorithm: RS256 (default), ES256 or EdDSA.
    #[arg(long = "id-token-alg", value_name = "ALG", default_value = "RS256")]
    id_token_alg: String,
    /// A web origin (`https://app.example`) whose pages may call the self-service API and the
    /// widget with this client's tokens (CORS; repeatable).
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Theme of the hosted pages for this client, a JSON object such as
    /// '{"brand":"Shop","primary":"#0a7d5a"}' (see docs/theming.md).
    #[arg(long, value_name = "JSON")]
    theme: Option<String>,
    /// A connection to an upstream identity provider offered on its sign-in page (repeatable,
    /// in order); by default every enabled connection.
    #[arg(long = "connection", value_name = "NAME")]
    connections: Vec<String>,
    /// Offer no password sign-in (nor sign-up): only the connections.
    #[arg(long)]
    no_password_signin: bool,
    /// Whether people may create their own account through it; `default`: the server's
    /// `accounts.self_signup` (the default).
    #[arg(long, value_name = "on|off|default")]
    self_signup: Option<SelfSignupArg>,
    /// Whether a new account's email address is verified; `default`: the server's
    /// `accounts.email_verification` (the default).
    #[arg(long, value_name = "off|optional|required|default")]
    email_verification: Option<EmailVerificationArg>,
    /// When a second factor is asked; `default`: the server's `accounts.mfa` (the default).
    #[arg(long, value_name = "off|if-enrolled|required|default")]
    mfa: Option<MfaArg>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// `accrete client update`.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    flags: Flags,
    /// The client id.
    id: String,
    /// A connection offered on its sign-in page (repeatable, in order): replaces the list.
    #[arg(
        long = "connection",
        value_name = "NAME",
        conflicts_with = "all_connections"
    )]
    connections: Vec<String>,
    /// Offer every enabled connection (the default).
    #[arg(long)]
    all_connections: bool,
    /// Offer no password sign-in (nor sign-up): only the connections.
    #[arg(long, conflicts_with = "password_signin")]
    no_password_signin: bool,
    /// Offer password sign-in and sign-up again (the default).
    #[arg(long)]
    password_signin: bool,
    /// Whether people may create their own account through it; `default`: the server's
    /// `accounts.self_signup`.
    #[arg(long, value_name = "on|off|default")]
    self_signup: Option<SelfSignupArg>,
    /// Whether a new account's email address is verified; `default`: the server's
    /// `accounts.email_verification`.
    #[arg(long, value_name = "off|optional|required|default")]
    email_verification: Option<EmailVerificationArg>,
    /// When a second factor is asked; `default`: the server's `accounts.mfa`.
    #[arg(long, value_name = "off|if-enrolled|required|default")]
    mfa: Option<MfaArg>,
}

/// `--self-signup`: the client's own value, or the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SelfSignupArg {
    On,
    Off,
    Default,
}

impl SelfSignupArg {
    /// The value to store (`None`: the server's).
    fn stored(self) -> Option<bool> {
        match self {
            SelfSignupArg::On => Some(true),
            SelfSignupArg::Off => Some(false),
            SelfSignupArg::Default => None,
        }
    }
}

/// `--email-verification`: the client's own value, or the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EmailVerificationArg {
    Off,
    Optional,
    Required,
    Default,
}

impl EmailVerificationArg {
    /// The value to store (`None`: the server's).
    fn stored(self) -> Option<String> {
        let value = match self {
            EmailVerificationArg::Off => EmailVerification::Off,
            EmailVerificationArg::Optional => EmailVerification::Optional,
            EmailVerificationArg::Required => EmailVerification::Required,
            EmailVerificationArg::Default => return None,
        };
        Some(value.as_str().to_owned())
    }
}

/// `--mfa`: the client's own rule, or the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MfaArg {
    Off,
    IfEnrolled,
    Required,
    Default,
}

impl MfaArg {
    /// The value to store (`None`: the server's).
    fn stored(self) -> Option<String> {
        let value = match self {
            MfaArg::Off => MfaMode::Off,
            MfaArg::IfEnrolled => MfaMode::IfEnrolled,
            MfaArg::Required => MfaMode::Required,
            MfaArg::Default => return None,
        };
        Some(value.as_str().to_owned())
    }
}

/// Runs a client command.
pub fn run(command: ClientCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClientCommand::Create(args) => create(*args),
        ClientCommand::List { flags, json } => list(&flags, json),
        ClientCommand::Update(args) => update(*args),
        ClientCommand::Delete { flags, id } => delete(&flags, &id),
    }
}

/// A registration refused: one line per problem.
#[derive(Debug)]
struct Refused(Vec<String>);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for Refused {}

/// A problem of the registration as a line naming the option (and the value) concerned.
fn refusal(args: &CreateArgs, scopes: &[String], problem: &RegistrationProblem) -> String {
    let (option, values): (&str, &[String]) = match problem.setting {
        Setting::Id => ("--id", args.id.as_slice()),
        Setting::Name => ("--name", std::slice::from_ref(&args.name)),
        Setting::RedirectUris => ("--redirect-uri", &args.redirect_uris),
        Setting::PostLogoutRedirectUris => (
            "--post-logout-redirect-uri",
            &args.post_logout_redirect_uris,
        ),
        Setting::GrantTypes => ("--grant", &args.grants),
        Setting::Scopes => ("--scope", scopes),
        Setting::AllowedOrigins => ("--allowed-origin", &args.allowed_origins),
        Setting::IdTokenAlg => ("--id-token-alg", std::slice::from_ref(&args.id_token_alg)),
    };
    let value = match (problem.setting, problem.index) {
        (Setting::Id | Setting::Name | Setting::IdTokenAlg, _) => values.first(),
        (_, Some(index)) => values.get(index),
        (_, None) => None,
    };
    match value {
        Some(value) => format!("{option} {value:?}: {}", problem.message),
        None => format!("{option}: {}", problem.message),
    }
}

/// Checks the arguments and builds the client to store (its secret hash is set by the caller);
/// a refusal lists every problem, a line each ([`Refused`]).
fn client_from(args: &CreateArgs, now: OffsetDateTime) -> anyhow::Result<Client> {
    let grant_types = if args.grants.is_empty() {
        [GrantType::AuthorizationCode, GrantType::RefreshToken]
            .map(|grant| grant.as_str().to_owned())
            .to_vec()
    } else {
        args.grants.clone()
    };
    let scopes: Vec<String> = args
        .scopes
        .iter()
        .flat_map(|s| s.split([' ', ',']))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut refused: Vec<String> = check_registration(&Registration {
        id: args.id.as_deref(),
        name: &args.name,
        redirect_uris: &args.redirect_uris,
        post_logout_redirect_uris: &args.post_logout_redirect_uris,
        grant_types: &grant_types,
        public: args.public,
        scopes: &scopes,
        allowed_origins: &args.allowed_origins,
        id_token_alg: &args.id_token_alg,
    })
    .iter()
    .map(|problem| refusal(args, &scopes, problem))
    .collect();
    let theme = match &args.theme {
        Some(text) => match serde_json::from_str(text) {
            Ok(value) => match Theme::from_json(&value) {
                Ok(theme) => serde_json::to_value(theme)?,
                Err(problems) => {
                    let each: Vec<String> = problems.iter().map(ToString::to_string).collect();
                    refused.push(format!("--theme refused: {}", each.join("; ")));
                    serde_json::Value::Null
                }
            },
            Err(error) => {
                refused.push(format!("--theme is not JSON: {error}"));
                serde_json::Value::Null
            }
        },
        None => serde_json::json!({}),
    };
    if !refused.is_empty() {
        return Err(Refused(refused).into());
    }
    let mut grants: Vec<String> = Vec::new();
    for grant in grant_types {
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    let mut unique_scopes: Vec<String> = Vec::new();
    for scope in scopes {
        if !unique_scopes.contains(&scope) {
            unique_scopes.push(scope);
        }
    }
    if unique_scopes.is_empty() {
        unique_scopes = ["openid", "profile", "email"].map(String::from).to_vec();
    }
    let id = match &args.id {
        Some(id) => id.clone(),
        None => random_opaque().chars().take(22).collect(),
    };
    Ok(Client {
        id,
        secret_hash: None,
        name: args.name.trim().to_owned(),
        redirect_uris: args.redirect_uris.clone(),
        post_logout_redirect_uris: args.post_logout_redirect_uris.clone(),
        grant_types: grants,
        scopes: unique_scopes,
        audience: args.audiences.clone(),
        public: args.public,
        id_token_alg: args.id_token_alg.clone(),
        allowed_origins: args.allowed_origins.clone(),
        theme,
        connections: (!args.connections.is_empty()).then(|| args.connections.clone()),
        password_signin: !args.no_password_signin,
        self_signup: args.self_signup.and_then(SelfSignupArg::stored),
        email_verification: args
            .email_verification
            .and_then(EmailVerificationArg::stored),
        mfa: args.mfa.and_then(MfaArg::stored),
        created_at: now,
        updated_at: now,
    })
}

fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    let config = settings::load(&args.flags)?;
    let now = OffsetDateTime::now_utc();
    let mut client = match client_from(&args, now) {
        Ok(client) => client,
        Err(error) => match error.downcast::<Refused>() {
            Ok(Refused(lines)) => {
                for line in &lines {
                    eprintln!("error: {line}");
                }
                return Ok(ExitCode::FAILURE);
            }
            Err(error) => return Err(error),
        },
    };
    let secret = if client.public {
        None
    } else {
        let secrets = ServerSecrets::load(config.master_key.as_deref(), &config.data_dir)?;
        let secret = random_opaque();
        client.secret_hash = Some(secrets.token_hasher.hash(&secret));
        Some(secret)
    };
    let client = runtime()?.block_on(async {
        let (store, _lock) = open_store(&config, Locking::Shared).await?;
        let problems = connection_problems(store.as_ref(), client.connections.as_deref()).await?;
        if !problems.is_empty() {
            return Ok(Err(problems));
        }
        store
            .create_client(client)
            .await
            .map(Ok)
            .map_err(|e| match e {
                StoreError::Conflict { .. } => anyhow!("a client with this id already exists"),
                other => anyhow::Error::from(other),
            })
    })?;
    let client = match client {
        Ok(client) => client,
        Err(problems) => {
            for problem in problems {
                eprintln!("error: {problem}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    if args.json {
        let mut value = describe(&client);
        if let (Some(secret), Some(object)) = (&secret, value.as_object_mut()) {
            object.insert("client_secret".into(), secret.clone().into());
        }
        outln!("{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        outln!("client_id:     {}", client.id)?;
        match &secret {
            Some(secret) => {
                outln!("client_secret: {secret}")?;
                outln!(
                    "(the secret is shown only now: store it in the application's configuration)"
                )?;
            }
            None => outln!("public client: no secret, PKCE (S256) required")?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(client: &Client) -> serde_json::Value {
    serde_json::json!({
        "client_id": client.id,
        "name": client.name,
        "public": client.public,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types,
        "scopes": client.scopes,
        "audience": client.audience,
        "id_token_alg": client.id_token_alg,
        "allowed_origins": client.allowed_origins,
        "theme": client.theme,
        "connections": client.connections,
        "password_signin": client.password_signin,
        "self_signup": client.self_signup,
        "email_verification": client.email_verification,
        "mfa": client.mfa,
    })
}

/// The problems of a client's connections, each a line naming the option and the name.
async fn connection_problems(
    store: &dyn Store,
    names: Option<&[String]>,
) -> anyhow::Result<Vec<String>> {
    let problems = client_admin::connection_problems(store, names).await?;
    Ok(problems
        .iter()
        .map(|problem| {
            let index = problem
                .path
                .rsplit('/')
                .next()
                .and_then(|i| i.parse::<usize>().ok());
            match index.and_then(|i| names.and_then(|n| n.get(i))) {
                Some(name) => format!("--connection {name:?}: {}", problem.message),
                None => format!("--connection: {}", problem.message),
            }
        })
        .collect())
}

fn update(args: UpdateArgs) -> anyhow::Result<ExitCode> {
    if args.connections.is_empty()
        && !args.all_connections
        && !args.no_password_signin
        && !args.password_signin
        && args.self_signup.is_none()
        && args.email_verification.is_none()
        && args.mfa.is_none()
    {
        eprintln!(
            "error: nothing to change: give --connection NAME, --all-connections, \
             --no-password-signin, --password-signin, --self-signup on|off|default, \
             --email-verification off|optional|required|default or \
             --mfa off|if-enrolled|required|default"
        );
        return Ok(ExitCode::from(2));
    }
    let config = settings::load(&args.flags)?;
    let client = runtime()?.block_on(async {
        let (store, _lock) = open_store(&config, Locking::Shared).await?;
        let Some(mut client) = store.get_client(&args.id).await? else {
            return Err(anyhow!("there is no client {}", args.id));
        };
        if !args.connections.is_empty() {
            client.connections = Some(args.connections.clone());
        }
        if args.all_connections {
            client.connections = None;
        }
        if args.no_password_signin {
            client.password_signin = false;
        }
        if args.password_signin {
            client.password_signin = true;
        }
        if let Some(self_signup) = args.self_signup {
            client.self_signup = self_signup.stored();
        }
        if let Some(email_verification) = args.email_verification {
            client.email_verification = email_verification.stored();
        }
        if let Some(mfa) = args.mfa {
            client.mfa = mfa.stored();
        }
        let problems = connection_problems(store.as_ref(), client.connections.as_deref()).await?;
        if !problems.is_empty() {
            return Ok(Err(problems));
        }
        client.updated_at = OffsetDateTime::now_utc();
        Ok(Ok(store.update_client(client).await?))
    })?;
    let client = match client {
        Ok(client) => client,
        Err(problems) => {
            for problem in problems {
                eprintln!("error: {problem}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    outln!(
        "changed client {}: connections: {}; password sign-in: {}; self sign-up: {}; \
         email verification: {}; second factor: {} (running servers use it within 5 seconds)",
        client.id,
        match &client.connections {
            Some(names) if names.is_empty() => "none".to_owned(),
            Some(names) => names.join(", "),
            None => "every enabled connection".to_owned(),
        },
        if client.password_signin { "on" } else { "off" },
        match client.self_signup {
            Some(true) => "on",
            Some(false) => "off",
            None => "the server's",
        },
        client
            .email_verification
            .as_deref()
            .unwrap_or("the server's"),
        client.mfa.as_deref().unwrap_or("the server's"),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn list(flags: &Flags, json: bool) -> anyhow::Result<ExitCode> {
    let config = settings::load(flags)?;
    let clients = runtime()?.block_on(async {
        let (store, _lock) = open_store(&config, Locking::Shared).await?;
        store.list_clients().await.context("cannot list clients")
    })?;
    if json {
        let all: Vec<serde_json::Value> = clients.iter().map(describe).collect();
        outln!("{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if clients.is_empty() {
        outln!(
            "no clients; register one with `accrete client create --name NAME --redirect-uri URI`"
        )?;
    }
    for client in &clients {
        outln!(
            "{}  {}  {}  grants: {}  redirect URIs: {}",
            client.id,
            client.name,
            if client.public {
                "public"
            } else {
                "confidential"
            },
            client.grant_types.join(","),
            client.redirect_uris.join(" ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn delete(flags: &Flags, id: &str) -> anyhow::Result<ExitCode> {
    let config = settings::load(flags)?;
    runtime()?.block_on(async {
        let (store, _lock) = open_store(&config, Locking::Shared).await?;
        // The same use-case as the API; running servers notice within their client cache's time.
        match ClientCache::default().delete(store.as_ref(), id).await {
            Ok(()) => {
                outln!(
                    "deleted client {id} with its grants and tokens \
                     (running servers refuse its access tokens within 5 seconds)"
                )?;
                Ok(ExitCode::SUCCESS)
            }
            Err(StoreError::NotFound) => Err(anyhow!("there is no client {id}")),
            Err(error) => Err(error.into()),
        }
    })
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

    fn args(line: &[&str]) -> CreateArgs {
        let mut full = vec!["create"];
        full.extend_from_slice(line);
        Wrapper::try_parse_from(full).unwrap().args
    }

    #[test]
    fn a_web_client_gets_code_and_refresh_grants_and_default_scopes() {
        let client = client_from(
            &args(&[
                "--name",
                "Shop",
                "--redirect-uri",
                "https://shop.example/cb",
            ]),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(client.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(client.scopes, ["openid", "profile", "email"]);
        assert_eq!(client.id.len(), 22);
        assert_eq!(client.id_token_alg, "RS256");
    }

    #[test]
    fn scopes_may_be_space_separated_or_repeated() {
        let client = client_from(
            &args(&[
                "--name",
                "Api",
                "--grant",
                "client_credentials",
                "--scope",
                "read write",
                "--scope",
                "admin",
            ]),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(client.scopes, ["read", "write", "admin"]);
    }

    #[test]
    fn a_scope_with_a_control_character_or_non_ascii_is_refused() {
        for bad in [
            "ctl\u{1}",
            "caf\u{e9}",
            "quote\"",
            "back\\slash",
            "del\u{7f}",
        ] {
            let line = args(&[
                "--name",
                "x",
                "--grant",
                "client_credentials",
                "--scope",
                bad,
            ]);
            assert!(
                client_from(&line, OffsetDateTime::UNIX_EPOCH).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn public_clients_cannot_use_client_credentials_and_code_needs_a_redirect_uri() {
        let public = args(&["--name", "x", "--public", "--grant", "client_credentials"]);
        assert!(client_from(&public, OffsetDateTime::UNIX_EPOCH).is_err());
        let no_redirect = args(&["--name", "x"]);
        assert!(client_from(&no_redirect, OffsetDateTime::UNIX_EPOCH).is_err());
    }

    #[test]
    fn every_problem_is_a_line_naming_the_option_and_value() {
        let line = args(&[
            "--name",
            " ",
            "--id",
            "a b",
            "--public",
            "--grant",
            "client_credentials",
            "--grant",
            "password",
            "--redirect-uri",
            "https://shop.example/cb",
            "--redirect-uri",
            "myapp://cb",
            "--scope",
            "openid caf\u{e9}",
            "--id-token-alg",
            "HS256",
        ]);
        let error = client_from(&line, OffsetDateTime::UNIX_EPOCH).unwrap_err();
        let lines: Vec<String> = error.downcast_ref::<Refused>().unwrap().0.clone();
        assert_eq!(
            lines,
            [
                "--id \"a b\": use 1 to 128 letters, digits, '-', '_' or '.'",
                "--name \" \": use 1 to 200 characters, not only spaces",
                "--redirect-uri \"myapp://cb\": a private-use redirect URI scheme must be a \
                 reverse domain name, such as com.example.app",
                "--grant \"password\": unknown grant type: use authorization_code, refresh_token \
                 or client_credentials",
                "--grant: a public client cannot use client_credentials (it holds no secret)",
                "--scope \"caf\u{e9}\": not a scope token: use printable ASCII without spaces, \
                 `\"` or `\\`",
                "--id-token-alg \"HS256\": unknown algorithm: use RS256, ES256 or EdDSA",
            ]
        );
    }

    #[test]
    fn the_name_is_stored_trimmed() {
        let line = args(&[
            "--name",
            " Shop ",
            "--redirect-uri",
            "https://shop.example/cb",
        ]);
        let client = client_from(&line, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(client.name, "Shop");
    }

    #[test]
    fn plain_http_redirect_uris_are_refused_except_on_loopback() {
        let bad = args(&["--name", "x", "--redirect-uri", "http://shop.example/cb"]);
        assert!(client_from(&bad, OffsetDateTime::UNIX_EPOCH).is_err());
        let local = args(&["--name", "x", "--redirect-uri", "http://localhost:3000/cb"]);
        assert!(client_from(&local, OffsetDateTime::UNIX_EPOCH).is_ok());
    }

    #[test]
    fn allowed_origins_are_stored_and_anything_else_is_refused() {
        let base = ["--name", "x", "--redirect-uri", "https://shop.example/cb"];
        let good = args(&[&base[..], &["--allowed-origin", "https://shop.example"]].concat());
        let client = client_from(&good, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            client.allowed_origins,
            vec!["https://shop.example".to_owned()]
        );
        let bad = args(&[&base[..], &["--allowed-origin", "https://shop.example/app"]].concat());
        let err = client_from(&bad, OffsetDateTime::UNIX_EPOCH)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an origin"), "{err}");
    }

    #[test]
    fn a_theme_is_checked_and_stored_without_unset_fields() {
        let themed = args(&[
            "--name",
            "x",
            "--redirect-uri",
            "https://shop.example/cb",
            "--theme",
            r##"{"brand":"Shop","primary":"#0a7d5a","css":null}"##,
        ]);
        let client = client_from(&themed, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(
            client.theme,
            serde_json::json!({"brand": "Shop", "primary": "#0a7d5a"})
        );
        let bad = args(&[
            "--name",
            "x",
            "--redirect-uri",
            "https://shop.example/cb",
            "--theme",
            r#"{"primary":"green"}"#,
        ]);
        let err = client_from(&bad, OffsetDateTime::UNIX_EPOCH)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--theme refused: primary: `green`"),
            "{err}"
        );
        let not_json = args(&[
            "--name",
            "x",
            "--public",
            "--grant",
            "refresh_token",
            "--theme",
            "{",
        ]);
        let err = client_from(&not_json, OffsetDateTime::UNIX_EPOCH)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--theme is not JSON"), "{err}");
    }
}
