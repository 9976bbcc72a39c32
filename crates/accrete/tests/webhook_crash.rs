//! Webhooks lose nothing when a node dies (docs/webhooks.md, "Several nodes"): the real
//! `accrete serve` is killed with SIGKILL while deliveries are pending, and every event still
//! reaches a real HTTP receiver started here, at least once. On SQLite the restarted node
//! delivers them; on PostgreSQL a second node takes over the rows the dead one had leased once
//! their lease expires.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const MASTER_KEY: &str = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=";
/// Users created, each one `user.created` event.
const USERS: usize = 20;

/// Loopback receivers over http; quick retries; leases of six seconds (attempts may take five),
/// so that a dead node's leases expire soon.
const SETTINGS: &str = "[webhooks]
allow_private = true
allow_http = true
first_retry_ms = 50
poll_interval_ms = 100
timeout_seconds = 5
lease_seconds = 6
";

/// How the receiver answers.
const FAIL: usize = 0;
/// Holds each request unanswered (the attempt stays in flight, its delivery leased).
const HOLD: usize = 1;
const ACCEPT: usize = 2;

fn accrete(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_accrete"));
    cmd.current_dir(dir)
        .env_remove("ACCRETE_DATABASE_URL")
        .env_remove("ACCRETE_CONFIG")
        .env_remove("RUST_LOG")
        .env("ACCRETE_MASTER_KEY", MASTER_KEY)
        .env("ACCRETE_RATE_LIMIT__PER_IP_PER_MINUTE", "0");
    cmd
}

/// A running `accrete serve`.
struct Node {
    child: Child,
    base: String,
}

impl Node {
    fn start(dir: &Path, database: &[String]) -> Node {
        let mut child = accrete(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(database)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("the server did not start: {line}"))
            .to_owned();
        Node { child, base }
    }

    /// SIGKILL: no shutdown, no chance to record anything.
    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    /// Requests answered 500.
    failed: AtomicUsize,
    /// Requests held unanswered.
    held: AtomicUsize,
    /// [`FAIL`], [`HOLD`] or [`ACCEPT`].
    mode: AtomicUsize,
    /// Releases the held requests.
    release: tokio::sync::Notify,
    /// Per `webhook-id` answered 200: how many times, and the user id of its body.
    accepted: Mutex<BTreeMap<String, (usize, String)>>,
}

impl Seen {
    fn distinct(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }
}

/// A receiver on 127.0.0.1 answering 500 until told to accept.
async fn receiver() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let state = Arc::clone(&seen);
    let route = axum::routing::post(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let seen = Arc::clone(&state);
            async move {
                match seen.mode.load(Ordering::SeqCst) {
                    FAIL => {
                        seen.failed.fetch_add(1, Ordering::SeqCst);
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    HOLD => {
                        let released = seen.release.notified();
                        seen.held.fetch_add(1, Ordering::SeqCst);
                        released.await;
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    _ => {}
                }
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                let user = body["data"]["user"]["id"].as_str().unwrap_or_default();
                let mut accepted = seen.accepted.lock().unwrap();
                accepted.entry(id).or_insert((0, user.to_owned())).0 += 1;
                axum::http::StatusCode::OK
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/hook", route))
            .await
            .unwrap();
    });
    (format!("http://{addr}/hook"), seen)
}

/// Waits until `done` holds, for at most `seconds`.
async fn until(seconds: u64, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not after {seconds} s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs a command of the CLI; its standard output.
fn cli(dir: &Path, database: &[String], args: &[&str]) -> String {
    let output = accrete(dir).args(args).args(database).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A client-credentials token with `users:write`, of a client registered on the command line.
async fn token(dir: &Path, database: &[String], base: &str) -> String {
    let created = cli(
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
            "users:write",
            "--json",
        ],
    );
    let created: Value = serde_json::from_str(&created).unwrap();
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(
            created["client_id"].as_str().unwrap(),
            created["client_secret"].as_str(),
        )
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "users:write"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// Creates [`USERS`] users through the API; their ids.
async fn create_users(base: &str, token: &str) -> BTreeSet<String> {
    let http = reqwest::Client::new();
    let mut ids = BTreeSet::new();
    for i in 0..USERS {
        let created = http
            .post(format!("{base}/api/v1/users"))
            .bearer_auth(token)
            .json(&json!({"email": format!("user{i}@example.com")}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        ids.insert(created["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Every user's event arrived; how many events arrived more than once, and how often in all.
fn every_event_arrived(seen: &Seen, users: &BTreeSet<String>) -> (usize, usize) {
    let accepted = seen.accepted.lock().unwrap();
    let delivered: BTreeSet<String> = accepted.values().map(|(_, user)| user.clone()).collect();
    assert_eq!(&delivered, users, "an event was lost");
    let repeated = accepted.values().filter(|(n, _)| *n > 1).count();
    let total = accepted.values().map(|(n, _)| n).sum();
    (repeated, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_with_pending_deliveries_delivers_every_event_after_its_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("accrete.toml"), SETTINGS).unwrap();
    let (url, seen) = receiver().await;
    let none: Vec<String> = Vec::new();
    cli(
        dir,
        &none,
        &["webhook", "add", &url, "--event", "user.created"],
    );
    let node = Node::start(dir, &none);
    let token = token(dir, &none, &node.base).await;
    let users = create_users(&node.base, &token).await;
    // Every delivery attempted (answered 500), then retried and held in flight: leased.
    until(30, "every event attempted", || {
        seen.failed.load(Ordering::SeqCst) >= USERS
    })
    .await;
    seen.mode.store(HOLD, Ordering::SeqCst);
    until(30, "every delivery in flight", || {
        seen.held.load(Ordering::SeqCst) >= USERS
    })
    .await;
    node.kill_9();
    seen.mode.store(ACCEPT, Ordering::SeqCst);
    seen.release.notify_waiters();
    let delivered_before = seen.distinct();

    // The restarted node takes the dead one's leased deliveries once their lease expires.
    let _restarted = Node::start(dir, &none);
    until(30, "every event delivered after the restart", || {
        seen.distinct() >= USERS
    })
    .await;
    let (repeated, total) = every_event_arrived(&seen, &users);
    eprintln!(
        "SQLite: {USERS} events, {delivered_before} accepted before the kill, all {USERS} \
         after the restart; {total} accepted deliveries, {repeated} events delivered twice or more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_second_node_delivers_what_a_killed_node_had_leased() {
    let Ok(base) = std::env::var("ACCRETE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "ACCRETE_TEST_POSTGRES_URL is required on CI"
        );
        eprintln!("SKIPPED: PostgreSQL, set ACCRETE_TEST_POSTGRES_URL");
        return;
    };
    let schema = format!("cli_webhook_crash_{}", std::process::id());
    let psql = |sql: String| {
        Command::new("psql")
            .arg(&base)
            .env("PGOPTIONS", "--client-min-messages=warning")
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
    let database = vec![
        "--database-url".to_owned(),
        format!("{base}{separator}options[search_path]={schema}"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("accrete.toml"), SETTINGS).unwrap();
    let (url, seen) = receiver().await;
    cli(
        dir,
        &database,
        &["webhook", "add", &url, "--event", "user.created"],
    );
    let first = Node::start(dir, &database);
    let token = token(dir, &database, &first.base).await;
    let users = create_users(&first.base, &token).await;
    // The first node alone has attempted every delivery, then holds each in flight: leased.
    until(30, "every event attempted by the first node", || {
        seen.failed.load(Ordering::SeqCst) >= USERS
    })
    .await;
    seen.mode.store(HOLD, Ordering::SeqCst);
    until(30, "every delivery in flight at the first node", || {
        seen.held.load(Ordering::SeqCst) >= USERS
    })
    .await;
    let second = Node::start(dir, &database);
    first.kill_9();
    seen.mode.store(ACCEPT, Ordering::SeqCst);
    seen.release.notify_waiters();
    let delivered_before = seen.distinct();
    until(30, "every event delivered by the second node", || {
        seen.distinct() >= USERS
    })
    .await;
    let (repeated, total) = every_event_arrived(&seen, &users);
    eprintln!(
        "PostgreSQL, two nodes: {USERS} events, {delivered_before} accepted before the kill, all \
         {USERS} after it; {total} accepted deliveries, {repeated} events delivered twice or more"
    );
    drop(second);
    psql(format!("DROP SCHEMA {schema} CASCADE"));
}
