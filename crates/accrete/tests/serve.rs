//! The `accrete` binary as a user runs it: start-up, configuration errors, shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
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
    let refused = Running::start(
        accrete(dir.path())
            .args(serve)
            .env("ACCRETE_MASTER_KEY", MASTER_KEY_B),
    );
    let stderr = refused
        .err()
        .expect("a node with another master key must not start");
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
