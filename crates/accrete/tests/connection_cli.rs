//! `accrete connection ...`, the connections of the configuration file, and the connections a
//! client offers, as a user runs them: on the embedded SQLite database and on PostgreSQL.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const SECRET: &str = "acme-secret-of-the-command-line";

fn accrete(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_accrete"));
    cmd.current_dir(dir)
        .env_remove("ACCRETE_DATABASE_URL")
        .env_remove("ACCRETE_CONFIG")
        .env_remove("RUST_LOG");
    cmd
}

/// Runs `accrete` with `args` in `dir`, on `database` (flags naming it, or none for SQLite).
fn run(dir: &Path, database: &[String], args: &[&str]) -> (Output, String, String) {
    let output = accrete(dir).args(args).args(database).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stdout.contains(SECRET), "{args:?}: {stdout}");
    assert!(!stderr.contains(SECRET), "{args:?}: {stderr}");
    (output, stdout, stderr)
}

fn ok(dir: &Path, database: &[String], args: &[&str]) -> String {
    let (output, stdout, stderr) = run(dir, database, args);
    assert!(output.status.success(), "{args:?}: {stderr}");
    stdout
}

/// The database flags of each backend available: none (SQLite in the folder), and
/// `--database-url` to a schema of its own on PostgreSQL when ACCRETE_TEST_POSTGRES_URL is set.
fn backends(test: &str) -> Vec<Vec<String>> {
    let mut all = vec![Vec::new()];
    match std::env::var("ACCRETE_TEST_POSTGRES_URL") {
        Ok(base) => {
            let schema = format!("cli_{test}_{}", std::process::id());
            let status = Command::new("psql")
                .arg(&base)
                .args([
                    "-qAtc",
                    &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
                ])
                .status()
                .unwrap();
            assert!(status.success());
            let separator = if base.contains('?') { '&' } else { '?' };
            all.push(vec![
                "--database-url".to_owned(),
                format!("{base}{separator}options[search_path]={schema}"),
            ]);
        }
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("ACCRETE_TEST_POSTGRES_URL is required on CI")
        }
        Err(_) => eprintln!("SKIPPED: PostgreSQL, set ACCRETE_TEST_POSTGRES_URL"),
    }
    all
}

#[test]
fn a_connection_is_created_shown_listed_updated_and_deleted_its_secret_never_printed() {
    for database in backends("crud") {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("secret.txt"), format!("{SECRET}\n")).unwrap();
        let created = ok(
            dir,
            &database,
            &[
                "connection",
                "create",
                "acme",
                "--preset",
                "oidc",
                "--issuer",
                "https://login.acme.example",
                "--client-id",
                "accrete",
                "--client-secret-file",
                "secret.txt",
                "--display-name",
                "Acme",
                "--domain",
                "acme.example",
                "--map",
                "/given_name=given_name",
                "--map",
                "/org/name=company:always",
            ],
        );
        assert_eq!(
            created,
            "created connection acme (oidc)\nredirect URI to register at the provider: \
             http://127.0.0.1:8080/login/acme/callback\n"
        );

        let shown = ok(dir, &database, &["connection", "show", "acme"]);
        assert!(
            shown.contains("client secret:          ******** (set"),
            "{shown}"
        );
        assert!(shown.contains("/org/name -> company (always)"), "{shown}");
        assert!(
            shown.contains("domains:                acme.example"),
            "{shown}"
        );
        assert!(
            shown.ends_with(
                "redirect URI to register at the provider: \
                 http://127.0.0.1:8080/login/acme/callback\n"
            ),
            "{shown}"
        );
        let json: Value = serde_json::from_str(&ok(
            dir,
            &database,
            &["connection", "show", "acme", "--json"],
        ))
        .unwrap();
        assert_eq!(json["client_secret"], "********");
        assert_eq!(json["version"], 1);
        assert_eq!(
            json["callback_url"],
            "http://127.0.0.1:8080/login/acme/callback"
        );

        let listed = ok(dir, &database, &["connection", "list"]);
        assert_eq!(
            listed,
            "acme  oidc  enabled  \"Acme\"  http://127.0.0.1:8080/login/acme/callback\n"
        );
        let listed: Value =
            serde_json::from_str(&ok(dir, &database, &["connection", "list", "--json"])).unwrap();
        assert_eq!(listed[0]["name"], "acme");

        // Only what is given changes; the secret is kept.
        let changed = ok(
            dir,
            &database,
            &[
                "connection",
                "update",
                "acme",
                "--issuer",
                "https://login.acme.example/v2",
                "--display-name",
                "",
                "--disabled",
                "--no-domains",
            ],
        );
        assert!(
            changed.starts_with("changed connection acme (version 2)"),
            "{changed}"
        );
        let json: Value = serde_json::from_str(&ok(
            dir,
            &database,
            &["connection", "show", "acme", "--json"],
        ))
        .unwrap();
        assert_eq!(json["issuer"], "https://login.acme.example/v2");
        assert_eq!(json["client_secret"], "********");
        assert_eq!(json["enabled"], false);
        assert!(json.get("display_name").is_none(), "{json}");
        assert!(json.get("domains").is_none(), "{json}");
        assert_eq!(json["mapping"][1]["sync"], "always");
        ok(
            dir,
            &database,
            &["connection", "update", "acme", "--enabled"],
        );

        let deleted = ok(dir, &database, &["connection", "delete", "acme"]);
        assert_eq!(
            deleted,
            "deleted connection acme and the identities linked through it\n"
        );
        let (output, _, stderr) = run(dir, &database, &["connection", "show", "acme"]);
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(stderr, "error: there is no connection acme\n");
        let listed = ok(dir, &database, &["connection", "list"]);
        assert!(listed.starts_with("no connections"), "{listed}");
    }
}

#[test]
fn every_problem_of_a_definition_is_a_line_and_the_exit_code_is_2() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (output, stdout, stderr) = run(
        dir,
        &[],
        &[
            "connection",
            "create",
            "Acme",
            "--preset",
            "oidc",
            "--issuer",
            "http://login.acme.example",
            "--tenant",
            "common",
            "--client-id",
            "c",
            "--map",
            "given_name=given_name",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "name: use 1 to 40 lower-case letters, digits and hyphens, starting with a letter or digit",
            "issuer: use https (http only for localhost, 127.0.0.1 or [::1])",
            "tenant: tenant is not used by oidc: tenants are Microsoft's",
            "client_secret: client_secret is required for oidc",
            "mapping/0/claim: write a JSON pointer such as /given_name or /address/country (~0 for ~, ~1 for /)",
        ]
    );
    // A malformed flag, no preset, an unknown preset.
    for args in [
        &[
            "connection",
            "create",
            "a",
            "--preset",
            "oidc",
            "--map",
            "x",
        ][..],
        &["connection", "create", "a", "--client-id", "c"],
    ] {
        let (output, _, stderr) = run(dir, &[], args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let (output, _, stderr) = run(dir, &[], &["connection", "create", "a", "--preset", "okta"]);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("oidc, oauth2, google"), "{stderr}");

    // A name is taken once; an update of a connection that is not there.
    let google = [
        "connection",
        "create",
        "google",
        "--preset",
        "google",
        "--client-id",
        "1234.apps.googleusercontent.com",
        "--client-secret",
        "g",
    ];
    ok(dir, &[], &google);
    let (output, _, stderr) = run(dir, &[], &google);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: a connection named google exists"),
        "{stderr}"
    );
    let (output, _, stderr) = run(dir, &[], &["connection", "update", "nope", "--enabled"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr, "error: there is no connection nope\n");
    // An update that makes the definition invalid changes nothing.
    let (output, _, stderr) = run(
        dir,
        &[],
        &["connection", "update", "google", "--preset", "github"],
    );
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let (output, _, stderr) = run(
        dir,
        &[],
        &[
            "connection",
            "update",
            "google",
            "--issuer",
            "https://id.example",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr,
        "issuer: issuer is not used by github: its endpoints are configured\n"
    );
}

#[test]
fn a_definition_is_read_from_a_toml_or_json_file() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(
        dir.join("gitlab.toml"),
        "name = \"gitlab\"\npreset = \"gitlab\"\nclient_id = \"c\"\nclient_secret = \"s\"\n\
         scopes = [\"openid\", \"email\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("github.json"),
        r#"{"name": "github", "preset": "github", "client_id": "c", "client_secret": "s",
            "mapping": [{"claim": "/name", "field": "name", "sync": "always"}]}"#,
    )
    .unwrap();
    ok(dir, &[], &["connection", "create", "--file", "gitlab.toml"]);
    let created = ok(
        dir,
        &[],
        &["connection", "create", "--file", "github.json", "--json"],
    );
    let created: Value = serde_json::from_str(&created).unwrap();
    assert_eq!(created["mapping"][0]["sync"], "always");
    let shown = ok(dir, &[], &["connection", "show", "gitlab"]);
    assert!(
        shown.contains("scopes:                 openid email\n"),
        "{shown}"
    );

    std::fs::write(
        dir.join("bad.toml"),
        "name = \"x\"\npreset = \"oidc\"\ncolour = 1\n",
    )
    .unwrap();
    let (output, _, stderr) = run(dir, &[], &["connection", "create", "--file", "bad.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.starts_with("bad.toml: line 3: unknown field `colour`"),
        "{stderr}"
    );
    let (output, _, stderr) = run(
        dir,
        &[],
        &[
            "connection",
            "create",
            "--file",
            "gitlab.toml",
            "--preset",
            "oidc",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "a file takes no flags: {stderr}"
    );
}

#[test]
fn a_clients_own_self_sign_up_and_email_verification_are_set_and_reset_on_the_command_line() {
    for database in backends("client_accounts") {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let created = ok(
            dir,
            &database,
            &[
                "client",
                "create",
                "--id",
                "shop",
                "--name",
                "Shop",
                "--redirect-uri",
                "https://shop.example/cb",
                "--self-signup",
                "off",
                "--email-verification",
                "required",
                "--json",
            ],
        );
        let created: Value = serde_json::from_str(&created).unwrap();
        assert_eq!(created["self_signup"], false);
        assert_eq!(created["email_verification"], "required");

        let changed = ok(
            dir,
            &database,
            &[
                "client",
                "update",
                "shop",
                "--self-signup",
                "default",
                "--email-verification",
                "off",
            ],
        );
        assert!(
            changed.contains("self sign-up: the server's; email verification: off"),
            "{changed}"
        );
        let listed: Value =
            serde_json::from_str(&ok(dir, &database, &["client", "list", "--json"])).unwrap();
        assert_eq!(listed[0]["self_signup"], Value::Null);
        assert_eq!(listed[0]["email_verification"], "off");

        let (output, _, stderr) = run(
            dir,
            &database,
            &[
                "client",
                "update",
                "shop",
                "--email-verification",
                "sometimes",
            ],
        );
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--email-verification"), "{stderr}");
    }
}

#[test]
fn a_client_offers_the_connections_it_names_and_may_drop_passwords() {
    for database in backends("client") {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        for name in ["acme", "beta"] {
            ok(
                dir,
                &database,
                &[
                    "connection",
                    "create",
                    name,
                    "--preset",
                    "gitlab",
                    "--client-id",
                    "c",
                    "--client-secret",
                    "s",
                ],
            );
        }
        let created = ok(
            dir,
            &database,
            &[
                "client",
                "create",
                "--id",
                "shop",
                "--name",
                "Shop",
                "--redirect-uri",
                "https://shop.example/cb",
                "--connection",
                "beta",
                "--connection",
                "acme",
                "--no-password-signin",
                "--json",
            ],
        );
        let created: Value = serde_json::from_str(&created).unwrap();
        assert_eq!(created["connections"], serde_json::json!(["beta", "acme"]));
        assert_eq!(created["password_signin"], false);

        let (output, _, stderr) = run(
            dir,
            &database,
            &[
                "client",
                "create",
                "--name",
                "Other",
                "--redirect-uri",
                "https://shop.example/cb",
                "--connection",
                "nope",
            ],
        );
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(
            stderr,
            "error: --connection \"nope\": there is no connection \"nope\"\n"
        );

        let changed = ok(
            dir,
            &database,
            &["client", "update", "shop", "--connection", "acme"],
        );
        assert!(
            changed.starts_with("changed client shop: connections: acme; password sign-in: off"),
            "{changed}"
        );
        let changed = ok(
            dir,
            &database,
            &[
                "client",
                "update",
                "shop",
                "--all-connections",
                "--password-signin",
            ],
        );
        assert!(
            changed.starts_with(
                "changed client shop: connections: every enabled connection; password sign-in: on"
            ),
            "{changed}"
        );
        let listed: Value =
            serde_json::from_str(&ok(dir, &database, &["client", "list", "--json"])).unwrap();
        assert_eq!(listed[0]["connections"], Value::Null);
        assert_eq!(listed[0]["password_signin"], true);

        let (output, _, stderr) = run(dir, &database, &["client", "update", "shop"]);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        let (output, _, stderr) = run(
            dir,
            &database,
            &[
                "client",
                "update",
                "shop",
                "--connection",
                "acme",
                "--connection",
                "nope",
            ],
        );
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(
            stderr,
            "error: --connection \"nope\": there is no connection \"nope\"\n"
        );
        let (output, _, stderr) = run(
            dir,
            &database,
            &["client", "update", "gone", "--all-connections"],
        );
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(stderr, "error: there is no client gone\n");
    }
}

/// A running `accrete serve` and the base URL it printed.
struct Running {
    child: Child,
    base: String,
}

impl Running {
    fn start(dir: &Path, database: &[String]) -> Result<Running, String> {
        let mut child = accrete(dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "info"])
            .args(database)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        match line.split_whitespace().find(|w| w.starts_with("http://")) {
            Some(url) => {
                wait_ready(url);
                Ok(Running {
                    child,
                    base: url.to_owned(),
                })
            }
            None => {
                let output = child.wait_with_output().unwrap();
                Err(String::from_utf8_lossy(&output.stderr).into_owned())
            }
        }
    }

    /// Stops the server (SIGTERM) and waits for it.
    fn stop(mut self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        assert!(self.child.wait().unwrap().success());
    }
}

/// Waits until the server answers `/readyz` (then it also handles SIGTERM).
fn wait_ready(base: &str) {
    use std::io::{Read as _, Write as _};
    let addr = base.trim_start_matches("http://");
    for _ in 0..100 {
        if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
            let _ = stream.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{base} never became ready");
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A client-credentials token of a client with the connection scopes, registered on the
/// command line.
async fn token(dir: &Path, database: &[String], base: &str) -> String {
    let scopes = "connections:read connections:write";
    let created = ok(
        dir,
        database,
        &[
            "client",
            "create",
            "--name",
            "Admin",
            "--grant",
            "client_credentials",
            "--scope",
            scopes,
            "--json",
        ],
    );
    let created: Value = serde_json::from_str(&created).unwrap();
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scopes)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_connection_created_on_the_command_line_is_used_by_the_server() {
    for database in backends("served") {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(
            dir.join("accrete.toml"),
            "[federation]\nallow_loopback_http = true\n",
        )
        .unwrap();
        let server = Running::start(dir, &database).unwrap();
        // The server is an OpenID provider: the connection's provider is itself.
        ok(
            dir,
            &database,
            &[
                "connection",
                "create",
                "self",
                "--preset",
                "oidc",
                "--issuer",
                &server.base,
                "--client-id",
                "c",
                "--client-secret",
                SECRET,
            ],
        );
        let tested = ok(dir, &database, &["connection", "test", "self"]);
        assert!(tested.starts_with("ok: "), "{tested}");
        assert_eq!(tested.lines().count(), 1, "{tested}");

        let token = token(dir, &database, &server.base).await;
        let http = reqwest::Client::new();
        let read = http
            .get(format!("{}/api/v1/connections/self", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200);
        let text = read.text().await.unwrap();
        assert!(!text.contains(SECRET), "{text}");
        let read: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            read["client_secret"], "********",
            "the server opens the secret the command line sealed: {read}"
        );
        let found: Value = http
            .post(format!("{}/api/v1/connections/self/test", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found["ok"], true, "{found}");

        // A provider that is not there: one line, exit 1.
        ok(
            dir,
            &database,
            &[
                "connection",
                "update",
                "self",
                "--issuer",
                "http://127.0.0.1:9",
            ],
        );
        let (output, _, stderr) = run(dir, &database, &["connection", "test", "self"]);
        assert_eq!(output.status.code(), Some(1));
        assert!(stderr.starts_with("error: self: "), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        server.stop();
    }
}

const GOOGLE: &str = r#"
[[connections]]
name = "google"
preset = "google"
client_id = "1234.apps.googleusercontent.com"
client_secret = "google-secret-in-the-file"
domains = ["example.com"]
"#;

/// The bytes of the embedded database, its write-ahead log included.
fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for file in ["accrete-data/accrete.db", "accrete-data/accrete.db-wal"] {
        if let Ok(read) = std::fs::read(dir.join(file)) {
            bytes.extend(read);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn the_connections_of_the_configuration_file_are_created_at_start_and_replaced_when_changed() {
    for database in backends("config") {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("accrete.toml"), GOOGLE).unwrap();
        let shown = ok(dir, &database, &["config", "show"]);
        assert!(shown.contains("[[connections]]"), "{shown}");
        assert!(shown.contains("client_secret = \"********\""), "{shown}");
        assert!(!shown.contains("google-secret-in-the-file"), "{shown}");

        Running::start(dir, &database).unwrap().stop();
        let json: Value = serde_json::from_str(&ok(
            dir,
            &database,
            &["connection", "show", "google", "--json"],
        ))
        .unwrap();
        assert_eq!(json["client_id"], "1234.apps.googleusercontent.com");
        assert_eq!(json["client_secret"], "********");
        assert_eq!(json["domains"], serde_json::json!(["example.com"]));
        assert_eq!(json["version"], 1);
        if database.is_empty() {
            assert!(
                !contains(&database_bytes(dir), "google-secret-in-the-file"),
                "the secret is sealed"
            );
        }

        // Started again with the same file: nothing is written.
        Running::start(dir, &database).unwrap().stop();
        let json: Value = serde_json::from_str(&ok(
            dir,
            &database,
            &["connection", "show", "google", "--json"],
        ))
        .unwrap();
        assert_eq!(json["version"], 1);

        // A changed file replaces it.
        std::fs::write(
            dir.join("accrete.toml"),
            GOOGLE
                .replace("1234.apps", "5678.apps")
                .replace("domains = [\"example.com\"]", "enabled = false"),
        )
        .unwrap();
        Running::start(dir, &database).unwrap().stop();
        let json: Value = serde_json::from_str(&ok(
            dir,
            &database,
            &["connection", "show", "google", "--json"],
        ))
        .unwrap();
        assert_eq!(json["client_id"], "5678.apps.googleusercontent.com");
        assert_eq!(json["enabled"], false);
        assert_eq!(json["version"], 2);
        assert!(json.get("domains").is_none(), "{json}");
    }
}

#[test]
fn a_refused_connection_of_the_configuration_file_stops_the_server_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(
        dir.join("accrete.toml"),
        GOOGLE.replace(
            "preset = \"google\"",
            "preset = \"oidc\"\nissuer = \"http://a.example\"",
        ),
    )
    .unwrap();
    let (output, _, stderr) = run(dir, &[], &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr,
        "error: connections[0].issuer: use https (http only for localhost, 127.0.0.1 or [::1])\n"
    );

    // A domain another stored connection holds is refused at start.
    std::fs::write(dir.join("accrete.toml"), GOOGLE).unwrap();
    ok(
        dir,
        &[],
        &[
            "connection",
            "create",
            "other",
            "--preset",
            "gitlab",
            "--client-id",
            "c",
            "--client-secret",
            "s",
            "--domain",
            "example.com",
        ],
    );
    let (output, _, stderr) = run(dir, &[], &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr.lines().last().unwrap(),
        "error: connections[0] (google) of the configuration file is refused: domains/0: \
         example.com is already bound to connection other"
    );
}
