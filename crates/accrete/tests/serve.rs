//! The `accrete` binary as a user runs it: start-up, configuration errors, shutdown.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

fn accrete(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_accrete"));
    cmd.current_dir(dir)
        .env_remove("ACCRETE_DATABASE_URL")
        .env_remove("ACCRETE_CONFIG")
        .env_remove("RUST_LOG");
    cmd
}

fn run(cmd: &mut Command) -> (Output, String) {
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stderr)
}

/// A running `accrete serve` and the base URL it printed.
struct Running {
    child: Child,
    base: String,
}

impl Running {
    fn start(cmd: &mut Command) -> Result<Running, String> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        match line.split_whitespace().find(|w| w.starts_with("http://")) {
            Some(url) => Ok(Running {
                child,
                base: url.to_owned(),
            }),
            None => {
                let output = child.wait_with_output().unwrap();
                Err(String::from_utf8_lossy(&output.stderr).into_owned())
            }
        }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

async fn status_of(url: String) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn serve_in_an_empty_folder_creates_its_data_and_becomes_ready() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let server =
        Running::start(accrete(dir.path()).args(["serve", "--listen", "127.0.0.1:0"])).unwrap();
    assert_eq!(status_of(format!("{}/healthz", server.base)).await, 200);
    assert_eq!(status_of(format!("{}/readyz", server.base)).await, 200);
    eprintln!("ready after {:?}", started.elapsed());
    assert!(dir.path().join("accrete-data/accrete.db").exists());
    let status = server.terminate();
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}

#[tokio::test]
async fn serve_runs_on_postgresql_when_given_a_database_url() {
    let Some(base) = postgres_url() else { return };
    // A schema of its own, so the test never touches what other runs left in `public`.
    let schema = format!("cli_{}", std::process::id());
    let psql = |sql: String| {
        Command::new("psql")
            .arg(&base)
            .args(["-qAtc", &sql])
            .status()
            .unwrap()
    };
    assert!(
        psql(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .success()
    );
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(accrete(dir.path()).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
    ]))
    .unwrap();
    assert_eq!(status_of(format!("{}/readyz", server.base)).await, 200);
    assert!(
        !dir.path().join("accrete-data/accrete.db").exists(),
        "no SQLite file when running on PostgreSQL"
    );
    assert!(server.terminate().success());
    psql(format!("DROP SCHEMA {schema} CASCADE"));
}

#[test]
fn a_second_server_on_the_same_sqlite_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let _first =
        Running::start(accrete(dir.path()).args(["serve", "--listen", "127.0.0.1:0"])).unwrap();
    let err = Running::start(accrete(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]))
        .err()
        .unwrap();
    assert!(err.contains("another accrete process is using"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
}

#[test]
fn migrate_applies_migrations_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(accrete(dir.path()).arg("migrate"));
    assert!(output.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("database is current"));
    let (again, stderr) = run(accrete(dir.path()).arg("migrate"));
    assert!(again.status.success(), "second run is a no-op: {stderr}");
}

#[test]
fn unknown_key_in_the_configuration_file_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("accrete.toml"),
        "listen = \"127.0.0.1:0\"\nlsten = 3\n",
    )
    .unwrap();
    let (output, stderr) = run(accrete(dir.path()).arg("serve"));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("accrete.toml: line 2: unknown field `lsten`"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn wrong_type_in_the_configuration_file_says_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("custom.toml"),
        "[hashing]\nconcurrency = \"lots\"\n",
    )
    .unwrap();
    let (output, stderr) =
        run(accrete(dir.path()).args(["config", "show", "--config", "custom.toml"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("custom.toml: line 2"), "{stderr}");
    assert!(stderr.contains("expected usize"), "{stderr}");
}

#[test]
fn an_invalid_theme_in_the_configuration_file_is_a_one_line_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("accrete.toml"),
        "[theme]\nbrand = \"Acme\"\nprimary = \"green\"\n",
    )
    .unwrap();
    let (output, stderr) = run(accrete(dir.path()).args(["config", "show"]));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr.trim(),
        "error: theme.primary: `green` is not a CSS hex colour: use #rgb or #rrggbb"
    );
}

#[test]
fn a_missing_theme_template_folder_stops_serve_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("accrete.toml"),
        "listen = \"127.0.0.1:0\"\n[theme]\ntemplates = \"no-such-folder\"\n",
    )
    .unwrap();
    let (output, stderr) = run(accrete(dir.path()).arg("serve"));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: theme.templates no-such-folder:"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn config_show_prints_the_theme() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("accrete.toml"),
        "[theme]\nbrand = \"Acme\"\n",
    )
    .unwrap();
    let (output, stderr) = run(accrete(dir.path())
        .args(["config", "show"])
        .env("ACCRETE_THEME__PRIMARY", "#0a7d5a"));
    assert!(output.status.success(), "{stderr}");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("[theme]"), "{shown}");
    assert!(shown.contains("brand = \"Acme\""), "{shown}");
    assert!(shown.contains("primary = \"#0a7d5a\""), "{shown}");
}

#[test]
fn invalid_listen_address_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(accrete(dir.path()).args(["serve", "--listen", "localhost:eighty"]));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr.trim(),
        "error: invalid --listen `localhost:eighty`: expected IP:PORT such as 127.0.0.1:8080"
    );
}

#[test]
fn a_port_in_use_is_reported_with_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (output, stderr) = run(accrete(dir.path()).args(["serve", "--listen", &addr]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains(&format!("cannot listen on {addr}: address already in use")),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .trim()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn an_unwritable_data_folder_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain-file"), "x").unwrap();
    let (output, stderr) =
        run(accrete(dir.path()).args(["serve", "--data-dir", "plain-file/data"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("cannot create data folder plain-file/data"),
        "{stderr}"
    );
    assert!(stderr.contains("--data-dir"), "{stderr}");
}

#[test]
fn an_unreachable_database_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(accrete(dir.path()).args([
        "migrate",
        "--database-url",
        "postgres://postgres@127.0.0.1:1/none",
    ]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn environment_overrides_the_file_and_flags_override_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("accrete.toml"),
        "listen = \"127.0.0.1:1111\"\nlog_level = \"warn\"\n",
    )
    .unwrap();
    let (output, stderr) = run(accrete(dir.path())
        .args(["config", "show", "--log-level", "debug"])
        .env("ACCRETE_LISTEN", "127.0.0.1:2222")
        .env("ACCRETE_LOG_LEVEL", "error")
        .env(
            "ACCRETE_DATABASE_URL",
            "postgres://app:hunter2@db.example/accrete",
        ));
    assert!(output.status.success(), "{stderr}");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("listen = \"127.0.0.1:2222\""), "{shown}");
    assert!(shown.contains("log_level = \"debug\""), "{shown}");
    assert!(
        shown.contains("postgres://app:********@db.example/accrete"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

fn postgres_url() -> Option<String> {
    match std::env::var("ACCRETE_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("ACCRETE_TEST_POSTGRES_URL is required on CI")
        }
        Err(_) => {
            eprintln!("SKIPPED: PostgreSQL test, set ACCRETE_TEST_POSTGRES_URL");
            None
        }
    }
}

#[test]
fn an_unknown_accrete_variable_in_the_environment_is_a_warning_naming_the_closest_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(accrete(dir.path())
        .args(["config", "show"])
        .env("ACCRETE_LISTN", "127.0.0.1:1")
        .env("ACCRETE_HASHING__QUEU", "5"));
    assert!(output.status.success(), "{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("ACCRETE_LISTN"))
        .unwrap_or_else(|| panic!("a warning names the variable: {stderr}"));
    assert!(warning.starts_with("warning: "), "{warning}");
    assert!(warning.contains("ACCRETE_LISTEN"), "{warning}");
    assert!(
        stderr.contains("ACCRETE_HASHING__QUEUE"),
        "nested keys too: {stderr}"
    );
    assert!(
        !stderr.contains("127.0.0.1:1"),
        "values are not shown: {stderr}"
    );
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("listen = \"127.0.0.1:8080\""), "{shown}");
}

#[test]
fn the_scripts_accrete_bin_variable_does_not_disturb_any_command() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(accrete(dir.path())
        .args(["config", "show"])
        .env("ACCRETE_BIN", "/x"));
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn a_wrong_value_of_a_known_setting_in_the_environment_is_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(accrete(dir.path())
        .args(["config", "show"])
        .env("ACCRETE_HASHING__QUEUE", "many"));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: environment variable ACCRETE_HASHING__QUEUE:"),
        "{stderr}"
    );
}

fn help(args: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(accrete(dir.path()).args(args).arg("--help"));
    assert!(output.status.success(), "{args:?}: {stderr}");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_serve_only_flag_on_another_command_is_a_usage_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(accrete(dir.path()).args(["client", "list", "--policy", "x.toml"]));
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--policy"), "{stderr}");
    assert!(
        !dir.path().join("accrete-data").exists(),
        "nothing was opened"
    );
}

#[test]
fn each_command_lists_only_the_flags_it_uses_in_its_help() {
    let serve_only = ["--listen", "--public-url", "--policy"];
    let database = ["--config", "--data-dir", "--database-url"];
    for command in [&["serve"][..], &["config", "show"]] {
        let words = help(command);
        for flag in serve_only.iter().chain(&database).chain(&["--log-level"]) {
            assert!(words.iter().any(|w| w == flag), "{command:?} lists {flag}");
        }
    }
    for command in [
        &["migrate"][..],
        &["client", "create"],
        &["client", "list"],
        &["client", "delete"],
        &["client", "update"],
        &["connection", "create"],
        &["connection", "list"],
        &["connection", "show"],
        &["connection", "update"],
        &["connection", "delete"],
        &["connection", "test"],
        &["keys", "list"],
        &["keys", "rotate"],
        &["policy", "import"],
        &["policy", "export"],
    ] {
        let words = help(command);
        for flag in database {
            assert!(words.iter().any(|w| w == flag), "{command:?} lists {flag}");
        }
        for flag in serve_only {
            assert!(!words.iter().any(|w| w == flag), "{command:?} hides {flag}");
        }
    }
    for command in [&["policy", "validate"][..], &["policy", "simulate"]] {
        let words = help(command);
        for flag in serve_only.iter().chain(&database) {
            assert!(!words.iter().any(|w| w == flag), "{command:?} hides {flag}");
        }
    }
    let policy = help(&["policy"]).join(" ");
    assert!(policy.contains("import"), "{policy}");
    assert!(policy.contains("export"), "{policy}");
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
        .display()
        .to_string()
}

/// A pipe whose reading end is already closed, as after `| head` has read enough.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let policy = repo("examples/policy.toml");
    let (output, stderr) = run(accrete(dir.path()).args(["policy", "import", &policy]));
    assert!(output.status.success(), "{stderr}");
    let simulate = [
        "policy",
        "simulate",
        &policy,
        "--user",
        &repo("examples/facts/third-login-user.json"),
        "--moment",
        &repo("examples/facts/moment-login.json"),
    ];
    let commands: Vec<Vec<&str>> = vec![
        simulate.to_vec(),
        [&simulate[..], &["--human"]].concat(),
        vec!["policy", "export", "--json"],
        vec!["policy", "export"],
        vec!["policy", "validate", &policy],
        vec!["config", "show"],
        vec!["client", "list", "--json"],
        vec!["keys", "list"],
        vec!["migrate"],
    ];
    for args in commands {
        let output = accrete(dir.path())
            .args(&args)
            .stdout(closed_pipe())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

#[test]
fn every_command_output_ends_with_a_newline() {
    let dir = tempfile::tempdir().unwrap();
    let policy = repo("examples/policy.toml");
    let simulate = [
        "policy",
        "simulate",
        &policy,
        "--user",
        &repo("examples/facts/third-login-user.json"),
        "--moment",
        &repo("examples/facts/moment-login.json"),
    ];
    let client = [
        "client",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example/cb",
    ];
    let commands: Vec<Vec<&str>> = vec![
        vec!["migrate"],
        vec!["config", "show"],
        vec!["policy", "validate", &policy],
        simulate.to_vec(),
        [&simulate[..], &["--human"]].concat(),
        vec!["policy", "import", &policy],
        vec!["policy", "import", &policy],
        vec!["policy", "export"],
        vec!["policy", "export", "--json"],
        vec!["client", "list"],
        vec!["client", "list", "--json"],
        client.to_vec(),
        [&client[..], &["--json"]].concat(),
        [&client[..], &["--public", "--id", "spa"]].concat(),
        [&client[..], &["--public", "--id", "spa2", "--json"]].concat(),
        vec!["client", "list"],
        vec!["client", "list", "--json"],
        vec!["client", "delete", "spa"],
        vec!["connection", "list"],
        vec![
            "connection",
            "create",
            "google",
            "--preset",
            "google",
            "--client-id",
            "c",
            "--client-secret",
            "s",
        ],
        vec!["connection", "list"],
        vec!["connection", "list", "--json"],
        vec!["connection", "show", "google"],
        vec!["connection", "show", "google", "--json"],
        vec!["connection", "update", "google", "--disabled"],
        vec!["client", "update", "spa2", "--connection", "google"],
        vec!["connection", "delete", "google"],
        vec!["keys", "rotate", "--alg", "ES256"],
        vec!["keys", "list"],
    ];
    for args in commands {
        let (output, stderr) = run(accrete(dir.path()).args(&args));
        assert!(output.status.success(), "{args:?}: {stderr}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!stdout.is_empty(), "{args:?} prints something");
        assert!(
            stdout.ends_with('\n'),
            "{args:?} ends its output with a newline: {stdout:?}"
        );
    }
}

impl Running {
    /// Stops the server (SIGTERM) and returns what it wrote to stderr.
    fn stop_with_log(mut self) -> String {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let mut log = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        self.child.wait().unwrap();
        log
    }
}

/// A small policy unlike examples/policy.toml: one optional-free step asking a team.
const TEAM_POLICY: &str = r#"version = 1

[[fields]]
key = "team"
kind = "text"
labels = { en = "Team" }
storage = "user_metadata"

[[steps]]
id = "team"
title = { en = "Your team" }
fields = ["team"]
mode = "required"
trigger = { moments = ["login"] }
"#;

fn exported_steps(dir: &Path) -> Vec<String> {
    let (output, stderr) = run(accrete(dir).args(["policy", "export", "--json"]));
    assert!(output.status.success(), "{stderr}");
    let policy: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    policy["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn serve_with_a_policy_file_keeps_a_policy_published_since_and_logs_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo("examples/policy.toml");
    let serve = ["serve", "--listen", "127.0.0.1:0", "--policy", &file];
    let first = Running::start(accrete(dir.path()).args(serve)).unwrap();
    let log = first.stop_with_log();
    assert!(log.contains("imported"), "{log}");
    assert_eq!(
        exported_steps(dir.path()).len(),
        8,
        "the file was imported into an empty database"
    );

    std::fs::write(dir.path().join("team.toml"), TEAM_POLICY).unwrap();
    let (output, stderr) = run(accrete(dir.path()).args(["policy", "import", "team.toml"]));
    assert!(output.status.success(), "{stderr}");

    let again = Running::start(accrete(dir.path()).args(serve)).unwrap();
    let log = again.stop_with_log();
    assert_eq!(
        exported_steps(dir.path()),
        ["team"],
        "what was published since stays in force"
    );
    let line = log
        .lines()
        .find(|l| l.contains("not imported"))
        .unwrap_or_else(|| panic!("the log says the file was not imported: {log}"));
    assert!(line.contains("version 2"), "{line}");
    assert!(
        line.contains("--policy-wins"),
        "says how to make the file win: {line}"
    );

    let wins = Running::start(accrete(dir.path()).args(serve).arg("--policy-wins")).unwrap();
    let log = wins.stop_with_log();
    assert!(log.contains("version 3"), "{log}");
    assert_eq!(
        exported_steps(dir.path()).len(),
        8,
        "with --policy-wins the file wins"
    );
}

#[tokio::test]
async fn each_request_is_logged_once_with_its_route_status_and_id_and_no_query_or_colours() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        Running::start(accrete(dir.path()).args(["serve", "--listen", "127.0.0.1:0"])).unwrap();
    let http = reqwest::Client::new();
    let discovery = http
        .get(format!("{}/.well-known/openid-configuration", server.base))
        .header("x-request-id", "req-discovery-1")
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.status().as_u16(), 200);
    let authorize = http
        .get(format!(
            "{}/authorize?client_id=nobody&code=SECRETCODE&response_type=code",
            server.base
        ))
        .header("x-request-id", "req-authorize-2")
        .send()
        .await
        .unwrap();
    let authorize_status = authorize.status().as_u16().to_string();
    assert_eq!(status_of(format!("{}/healthz", server.base)).await, 200);
    let log = server.stop_with_log();

    assert!(
        !log.contains('\u{1b}'),
        "no colour codes in a pipe: {log:?}"
    );
    assert!(
        !log.contains("SECRETCODE"),
        "query strings are never logged: {log}"
    );
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("req-discovery-1"))
        .collect();
    assert_eq!(lines.len(), 1, "one line per request: {log}");
    for word in [
        " INFO ",
        "GET",
        "route=/.well-known/openid-configuration",
        "status=200",
        "duration_ms=",
    ] {
        assert!(lines[0].contains(word), "{word} in {}", lines[0]);
    }
    let line = log
        .lines()
        .find(|l| l.contains("req-authorize-2"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("route=/authorize"), "{line}");
    assert!(
        line.contains(&format!("status={authorize_status}")),
        "{line}"
    );
    assert!(
        !log.contains("route=/healthz"),
        "probes are logged at debug: {log}"
    );
}

#[tokio::test]
async fn sign_up_and_sign_in_are_logged_with_the_user_and_client_but_not_the_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stderr) = run(accrete(dir.path()).args([
        "client",
        "create",
        "--name",
        "Shop",
        "--id",
        "shop",
        "--public",
        "--redirect-uri",
        "http://localhost:3000/cb",
    ]));
    assert!(output.status.success(), "{stderr}");
    let server =
        Running::start(accrete(dir.path()).args(["serve", "--listen", "127.0.0.1:0"])).unwrap();
    let base = server.base.clone();
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let email = "ada.logged@example.com";
    let password = "correct horse battery staple";
    for page in ["signup", "login"] {
        let authorize = browser
            .get(format!(
                "{base}/authorize?client_id=shop&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb\
                 &response_type=code&scope=openid&state=s&prompt=login\
                 &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
            ))
            .send()
            .await
            .unwrap();
        let location = authorize.headers()["location"].to_str().unwrap().to_owned();
        let tx = location.split("tx=").nth(1).unwrap().to_owned();
        let form = browser
            .get(format!("{base}/{page}?tx={tx}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = form
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        let posted = browser
            .post(format!("{base}/{page}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("tx", tx.as_str()),
                ("email", email),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status().as_u16(), 303, "{page} succeeds");
    }
    // Back at the application without prompt=login: the session is reused (single sign-on).
    let sso = browser
        .get(format!(
            "{base}/authorize?client_id=shop&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcb\
             &response_type=code&scope=openid&state=s\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        ))
        .send()
        .await
        .unwrap();
    let location = sso.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:3000/cb?code="),
        "{location}"
    );
    let log = server.stop_with_log();
    for event in [
        "sign-up succeeded",
        "sign-in succeeded",
        "sign-in succeeded by single sign-on",
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("{event} user_id=")))
            .unwrap_or_else(|| panic!("{event} is logged: {log}"));
        assert!(line.contains("user_id="), "{line}");
        assert!(line.contains("client_id=shop"), "{line}");
    }
    assert!(!log.contains(email), "no email in the log: {log}");
    assert!(!log.contains("horse"), "no password in the log: {log}");
}

const MASTER_KEY_A: &str = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=";
const MASTER_KEY_B: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";

/// Starts a server with `cmd`, checks that it is ready, and stops it.
async fn start_ready_and_stop(cmd: &mut Command) {
    let server = Running::start(cmd).unwrap();
    assert_eq!(status_of(format!("{}/readyz", server.base)).await, 200);
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_node_with_another_master_key_refuses_to_start_on_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let serve = ["serve", "--listen", "127.0.0.1:0"];
    start_ready_and_stop(
        accrete(dir.path())
            .args(serve)
            .env("ACCRETE_MASTER_KEY", MASTER_KEY_A),
    )
    .await;
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy.toml");
    let refused = Running::start(
        accrete(dir.path())
            .args(serve)
            .arg("--policy")
            .arg(&policy)
            .env("ACCRETE_MASTER_KEY", MASTER_KEY_B),
    );
    let stderr = refused
        .err()
        .expect("a node with another master key must not start");
    // ...and publishes nothing before it stops.
    let (exported, export_err) = run(accrete(dir.path())
        .args(["policy", "export"])
        .env("ACCRETE_MASTER_KEY", MASTER_KEY_A));
    assert!(!exported.status.success(), "nothing was published");
    assert!(
        export_err.contains("no policy is published yet"),
        "{export_err}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one-line error: {stderr}");
    assert!(stderr.contains("another master key"), "{stderr}");
    assert!(
        stderr.contains("same ACCRETE_MASTER_KEY on every node"),
        "{stderr}"
    );
    assert!(!stderr.contains(MASTER_KEY_A) && !stderr.contains(MASTER_KEY_B));
    // The node that has the right key still starts.
    start_ready_and_stop(
        accrete(dir.path())
            .args(serve)
            .env("ACCRETE_MASTER_KEY", MASTER_KEY_A),
    )
    .await;
}

#[tokio::test]
async fn a_node_whose_generated_master_key_file_is_gone_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    // The database lives outside the data folder, as PostgreSQL would.
    std::fs::create_dir(dir.path().join("db")).unwrap();
    let database = format!("sqlite://{}", dir.path().join("db/accrete.db").display());
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &database,
    ];
    start_ready_and_stop(
        accrete(dir.path())
            .args(serve)
            .env_remove("ACCRETE_MASTER_KEY"),
    )
    .await;
    std::fs::remove_dir_all(dir.path().join("accrete-data")).unwrap();
    let refused = Running::start(
        accrete(dir.path())
            .args(serve)
            .env_remove("ACCRETE_MASTER_KEY"),
    );
    let stderr = refused
        .err()
        .expect("a node with a new master key file must not start");
    assert_eq!(stderr.trim().lines().count(), 1, "one-line error: {stderr}");
    assert!(stderr.contains("another master key"), "{stderr}");
    assert!(stderr.contains("accrete-data/master.key"), "{stderr}");
    assert!(stderr.contains("ACCRETE_MASTER_KEY"), "{stderr}");
}

/// A supervisor may stop a node as soon as it says where it serves: that SIGTERM is a graceful
/// shutdown (exit status 0, "stopped" logged), never the signal's default action. The handler
/// was installed on the shutdown future's first poll, after the banner: a CI run under load
/// saw a node killed by a SIGTERM sent right after it was ready.
#[test]
fn a_sigterm_as_soon_as_the_node_says_where_it_serves_stops_it_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..5 {
        let server =
            Running::start(accrete(dir.path()).args(["serve", "--listen", "127.0.0.1:0"])).unwrap();
        let status = server.terminate();
        assert!(status.success(), "{status:?}");
    }
}
