//! Load harness: boots a release server (SQLite, or PostgreSQL) in a child process and reports the SERVER's CPU
//! milliseconds per operation (the sum of its threads' exact run times from
//! `/proc/<pid>/task/*/schedstat`, before and after N operations), and its peak resident memory
//! (`VmHWM`) under 256 concurrent sign-ins.
//!
//! Run: `cargo bench -p accrete-server --bench load` (environment: `LOAD_N` scales the counts;
//! `LOAD_DATABASE=postgres` runs every server on a fresh schema of `ACCRETE_TEST_POSTGRES_URL`;
//! `LOAD_ID_TOKEN_ALG=ES256` gives the round trip's client ES256 ID tokens instead of RS256).
//! `LOAD_ONLY` names the phases to run, comma-separated: `tokens` (client credentials, code round
//! trip, refresh), `password` (sign-ins against Argon2id, in rounds of a fresh server and a fresh
//! reference process, then peak memory), `profiling` (pairs of servers with and without the
//! example policy, `examples/policy.toml`, CPU per sign-in for a user with nothing due),
//! `federation` (a sign-in through an upstream Accrete in a process of its own, whose CPU is
//! not counted), `passkey` (a sign-in with a passkey of a software authenticator, see
//! `load/passkey.rs`), `console` (the admin console's overview, user search and a user's page
//! with 100,000 users, see `load/console.rs`), `webhooks` (deliveries per second of a backlog, the
//! delay from a change to its delivery, see `load/webhooks.rs`), `companion` (the check call of
//! companion mode, see `load/companion.rs`).
//! `LOAD_PREFILL=N` starts every server on a database already holding N users (written once per
//! run through the importer, see `load/prefill.rs`), e.g.
//! `LOAD_PREFILL=1000000 LOAD_ONLY=profiling` for sign-ins against a million users; with
//! `LOAD_DATABASE=postgres` each server then has a copy of that database, and `profiling` also
//! reports the CPU of PostgreSQL's backends for it (`/proc/<pid>/schedstat` of each backend
//! connected to it: the harness must run on the database's machine).
//! `LOAD_PERF_MARKS=1` prints `SSO-START pid` and `SSO-END pid` around each measured SSO phase of
//! `profiling`, pausing 1.5 s at each, for a profiler to attach to that server for that phase.
//! The same binary is the server and the reference: started with `ACCRETE_TEST_LOAD_CHILD=1` it
//! serves and prints its address, with `ACCRETE_TEST_LOAD_REFERENCE=1` it verifies a password per
//! line of input, so nothing but the measured work runs in a measured process.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark set-up: a failure ends the run"
)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

#[path = "load/companion.rs"]
mod companion;
#[path = "load/console.rs"]
mod console;
#[path = "load/passkey.rs"]
mod passkey;
#[path = "load/prefill.rs"]
mod prefill;
#[path = "load/webhooks.rs"]
mod webhooks;

use accrete_server::{Config, Layer, Server};
use accrete_store::testing::{DatabaseGuard, SchemaGuard};
use accrete_store::{Client, ConnectOptions};
use serde_json::Value;
use time::OffsetDateTime;

const MASTER_KEY: &str = "bG9hZC1oYXJuZXNzLW1hc3Rlci1rZXktb2YtYWNjcmV0ZSEh";
const PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "http://localhost:9999/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0sDHfUTg4hbVuvR5RnZcPuLfHbi8XVnQ";

fn main() {
    if std::env::var("ACCRETE_TEST_LOAD_CHILD").is_ok() {
        serve_child();
        return;
    }
    if std::env::var("ACCRETE_TEST_LOAD_REFERENCE").is_ok() {
        reference_child();
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

/// The measured process: a server on the SQLite database of `ACCRETE_TEST_LOAD_DIR`.
fn serve_child() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = std::path::PathBuf::from(std::env::var("ACCRETE_TEST_LOAD_DIR").unwrap());
        let url = std::env::var("ACCRETE_TEST_LOAD_DATABASE_URL")
            .unwrap_or_else(|_| format!("sqlite://{}", dir.join("accrete.db").display()));
        let store = accrete_store::connect(&url, ConnectOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let listen = std::env::var("ACCRETE_TEST_LOAD_LISTEN").unwrap_or("127.0.0.1:0".into());
        let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flags = Layer {
            listen: Some(addr),
            // Passkeys need a domain name as the relying party.
            public_url: Some(match std::env::var("ACCRETE_TEST_LOAD_LOCALHOST") {
                Ok(_) => format!("http://localhost:{}", addr.port()),
                Err(_) => format!("http://{addr}"),
            }),
            data_dir: Some(dir),
            master_key: Some(MASTER_KEY.to_owned()),
            companions: std::env::var("ACCRETE_TEST_LOAD_COMPANION")
                .is_ok()
                .then(companion::companions),
            ..Layer::default()
        };
        let env = Layer::from_env(std::env::vars()).unwrap();
        let config = Arc::new(Config::resolve(flags, env, Layer::default()).unwrap());
        register_clients(store.as_ref()).await;
        add_complete_user(store.as_ref()).await;
        if let Ok(downstream) = std::env::var("ACCRETE_TEST_LOAD_DOWNSTREAM") {
            become_upstream(store.as_ref(), &downstream).await;
        }
        if let Ok(issuer) = std::env::var("ACCRETE_TEST_LOAD_UPSTREAM") {
            connect_upstream(&store, &format!("http://{addr}"), &issuer).await;
        }
        if let Ok(url) = std::env::var("ACCRETE_TEST_LOAD_WEBHOOK_URL") {
            let backlog = std::env::var("ACCRETE_TEST_LOAD_WEBHOOK_BACKLOG").unwrap();
            webhooks::seed(&store, &url, backlog.parse().unwrap()).await;
        }
        if std::env::var("ACCRETE_TEST_LOAD_COMPANION").is_ok() {
            companion::seed(&store).await;
        }
        if let Ok(users) = std::env::var("ACCRETE_TEST_LOAD_CONSOLE_USERS") {
            console::seed(store.as_ref(), users.parse().unwrap()).await;
        }
        if std::env::var("ACCRETE_TEST_LOAD_POLICY").is_ok() {
            let policy = accrete_core::Policy::from_toml_str(EXAMPLE_POLICY).unwrap();
            let document = serde_json::to_value(&policy).unwrap();
            let now = OffsetDateTime::now_utc();
            store
                .publish_policy(&document, Some("example"), now)
                .await
                .unwrap();
        }
        let server = Server::new(listener, config, store).unwrap();
        println!("LISTEN {addr}");
        server.run(std::future::pending()).await.unwrap();
    });
}

/// The ID-token algorithm of the `web` client: `LOAD_ID_TOKEN_ALG` (`RS256` unless set; `ES256`
/// measures the round trip without RSA's signing cost).
fn id_token_alg() -> String {
    std::env::var("LOAD_ID_TOKEN_ALG").unwrap_or_else(|_| "RS256".to_owned())
}

/// A confidential client of the harness: secret `<id>-secret`, redirect URI [`REDIRECT`].
fn bench_client(id: &str, grants: &[&str], scopes: &[&str]) -> Client {
    let hasher = accrete_server::secrets::ServerSecrets::derive(&base64_decode(MASTER_KEY))
        .unwrap()
        .token_hasher;
    let now = OffsetDateTime::now_utc();
    Client {
        id: id.to_owned(),
        secret_hash: Some(hasher.hash(&format!("{id}-secret"))),
        name: id.to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        post_logout_redirect_uris: vec![],
        grant_types: grants.iter().map(|s| (*s).to_owned()).collect(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        audience: vec![],
        public: false,
        id_token_alg: id_token_alg(),
        allowed_origins: vec![],
        theme: serde_json::json!({}),
        connections: None,
        password_signin: true,
        self_signup: None,
        email_verification: None,
        mfa: None,
        created_at: now,
        updated_at: now,
    }
}

async fn register_clients(store: &dyn accrete_store::Store) {
    let client = bench_client;
    store
        .create_client(client(
            "backend",
            &["client_credentials"],
            &["reports:read"],
        ))
        .await
        .unwrap();
    store
        .create_client(client(
            "web",
            &["authorization_code", "refresh_token"],
            &["openid", "email", "profile"],
        ))
        .await
        .unwrap();
}

/// The upstream of the federation phase: the downstream server registered as its client, and
/// the user who signs in through it.
async fn become_upstream(store: &dyn accrete_store::Store, downstream: &str) {
    let hasher = accrete_server::secrets::ServerSecrets::derive(&base64_decode(MASTER_KEY))
        .unwrap()
        .token_hasher;
    let now = OffsetDateTime::now_utc();
    store
        .create_client(Client {
            id: "downstream".to_owned(),
            secret_hash: Some(hasher.hash("downstream-secret")),
            name: "downstream".to_owned(),
            redirect_uris: vec![format!("{downstream}/login/up/callback")],
            post_logout_redirect_uris: vec![],
            grant_types: vec!["authorization_code".to_owned()],
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            audience: vec![],
            public: false,
            // The upstream's ID token is RS256 (the target is stated for it).
            id_token_alg: "RS256".to_owned(),
            allowed_origins: vec![],
            theme: serde_json::json!({}),
            connections: None,
            password_signin: true,
            self_signup: None,
            email_verification: None,
            mfa: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    let mut user = accrete_store::NewUser::with_email(FEDERATED_USER, now);
    user.email_verified = true;
    user.password_hash = Some(accrete_oidc::password::hash_password(PASSWORD).unwrap());
    user.profile = serde_json::json!({"given_name": "Fed", "family_name": "Rated"});
    store.create_user(user).await.unwrap();
}

/// The downstream of the federation phase: the connection `up` to `issuer`.
async fn connect_upstream(store: &Arc<dyn accrete_store::Store>, base: &str, issuer: &str) {
    let secrets =
        accrete_server::secrets::ServerSecrets::derive(&base64_decode(MASTER_KEY)).unwrap();
    let upstream =
        accrete_federation::Upstream::new(accrete_federation::HttpOptions::default()).unwrap();
    let federation = accrete_app::connections::Federation::new(
        upstream,
        &secrets.key_encryption_key,
        secrets.federation_hasher.clone(),
    )
    .unwrap();
    let app = accrete_app::App::new(
        store.clone(),
        base.to_owned(),
        accrete_app::hashing::HashingPool::new(1, 1),
        federation,
    );
    let spec = serde_json::from_value(serde_json::json!({
        "name": "up", "preset": "oidc", "issuer": issuer,
        "client_id": "downstream", "client_secret": "downstream-secret",
    }))
    .unwrap();
    accrete_app::connection_admin::create(&app, spec, OffsetDateTime::now_utc())
        .await
        .unwrap();
}

/// The user of the upstream in the federation phase.
const FEDERATED_USER: &str = "fed@example.com";

/// The example policy of the repository, for the profiling-overhead phase.
const EXAMPLE_POLICY: &str = include_str!("../../../examples/policy.toml");
/// A user for whom the example policy has nothing due at an ordinary sign-in.
const COMPLETE_USER: &str = "ann@example.com";

/// Creates [`COMPLETE_USER`] with a password and every value the example policy asks for.
async fn add_complete_user(store: &dyn accrete_store::Store) {
    use accrete_store::{Location, NewUser, ProfileChange};
    use serde_json::json;
    let now = OffsetDateTime::now_utc();
    let user = store
        .create_user(NewUser {
            password_hash: Some(accrete_oidc::password::hash_password(PASSWORD).unwrap()),
            ..NewUser::with_email(COMPLETE_USER, now)
        })
        .await
        .unwrap();
    let values = [
        (Location::Profile, "given_name", json!("Ann")),
        (Location::Profile, "family_name", json!("Lee")),
        (Location::Profile, "phone_number", json!("+33612345678")),
        (Location::Profile, "birthdate", json!("1990-05-17")),
        (Location::Profile, "website", json!("https://example.com")),
        (
            Location::UserMetadata,
            "terms",
            json!({"accepted": true, "version": "2026-01"}),
        ),
        (Location::UserMetadata, "company", json!("Acme")),
        (Location::UserMetadata, "job_title", json!("CTO")),
        (Location::UserMetadata, "interests", json!(["identity"])),
        (Location::UserMetadata, "country", json!("FR")),
        (Location::UserMetadata, "bio", json!("Hi")),
        (Location::UserMetadata, "newsletter", json!(true)),
        (
            Location::UserMetadata,
            "work_email",
            json!("ann@acme.example"),
        ),
        (Location::UserMetadata, "team_size", json!(12)),
        (Location::UserMetadata, "annual_budget", json!(1000)),
        (Location::AppMetadata, "company_size", json!("11-50")),
        (Location::AppMetadata, "employee_id", json!("AB1234")),
    ];
    let changes: Vec<ProfileChange> = values
        .into_iter()
        .map(|(location, key, value)| ProfileChange::set(location, key, value))
        .collect();
    store
        .apply_profile_changes(user.id, None, &changes, "admin", now)
        .await
        .unwrap();
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// CPU time of a process, in milliseconds: the sum of its threads' exact run times (see
/// [`thread_cpu_ns`]). `/proc/<pid>/stat` counts whole clock ticks (10 ms), too coarse for the
/// short windows of the alternating phases; a thread that ended would be missing from the sum,
/// but the server's threads live as long as it does ([`run`] compares both totals at the end).
fn cpu_ms(pid: u32) -> f64 {
    threads_cpu_ns(pid).values().sum::<u64>() as f64 / 1e6
}

/// CPU time (user + system) of a process from `/proc/<pid>/stat`, in milliseconds (ticks).
fn stat_cpu_ms(pid: u32) -> f64 {
    ticks_ms(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap())
}

/// CPU time of the server's threads by kind (their name without its number), in nanoseconds.
fn threads_cpu_ns(pid: u32) -> std::collections::BTreeMap<String, u64> {
    let mut total = std::collections::BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let kind = name
            .trim()
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
        *total.entry(kind.to_owned()).or_default() += thread_cpu_ns(&path);
    }
    total
}

/// The server's CPU per operation since `before`, by kind of thread (threads that ended in
/// between are missing).
fn by_thread(pid: u32, before: &std::collections::BTreeMap<String, u64>, n: usize) -> String {
    let parts: Vec<String> = threads_cpu_ns(pid)
        .into_iter()
        .map(|(kind, ns)| {
            let spent = ns - before.get(&kind).copied().unwrap_or(0);
            format!("{kind} {:.3}", spent as f64 / 1e6 / n as f64)
        })
        .collect();
    format!("  by server thread, ms per operation: {}", parts.join(", "))
}

/// The time a thread has run (`/proc/<pid>/task/<tid>/schedstat`, first field), in
/// nanoseconds: exact, where `stat` counts clock ticks. Read it while the thread is waiting
/// (the kernel brings it up to date when the thread stops running).
fn thread_cpu_ns(task: &std::path::Path) -> u64 {
    let stat = std::fs::read_to_string(task.join("schedstat")).unwrap();
    stat.split(' ').next().unwrap().parse().unwrap()
}

/// The Argon2id reference process: verifies [`PASSWORD`] once per line read on stdin and
/// answers a line, so that, like a hashing thread of the server, it wakes up for one
/// verification at a time and keeps its Argon2 memory between them.
fn reference_child() {
    let stored = accrete_oidc::password::hash_password(PASSWORD).unwrap();
    for line in std::io::stdin().lines() {
        if line.is_err() {
            break;
        }
        accrete_oidc::password::verify_password(PASSWORD, &stored).unwrap();
        println!("OK");
    }
}

/// A reference process of this run ([`reference_child`]). A fresh one per round, like the
/// servers: where a process's 19 MiB of Argon2 memory lands changes its speed by a few percent
/// from one process to the next, so one long-lived reference would tilt every ratio one way.
struct ReferenceHasher {
    child: Child,
    requests: std::process::ChildStdin,
    answers: BufReader<std::process::ChildStdout>,
}

impl ReferenceHasher {
    fn start() -> ReferenceHasher {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("ACCRETE_TEST_LOAD_REFERENCE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let requests = child.stdin.take().unwrap();
        let answers = BufReader::new(child.stdout.take().unwrap());
        ReferenceHasher {
            child,
            requests,
            answers,
        }
    }

    /// One verification in the reference process; returns when it is done.
    fn verify(&mut self) {
        use std::io::Write as _;
        writeln!(self.requests, "verify").unwrap();
        self.requests.flush().unwrap();
        let mut line = String::new();
        self.answers.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "OK");
    }

    /// The reference process's CPU time so far, in milliseconds.
    fn cpu_ms(&self) -> f64 {
        cpu_ms(self.child.id())
    }
}

impl Drop for ReferenceHasher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CPU time (utime + stime) of a `/proc/.../stat` line, in milliseconds.
fn ticks_ms(stat: &str) -> f64 {
    // Fields after the command name (which may contain spaces) start at the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 1000.0 / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    // Linux reports CPU time in USER_HZ, 100 on every mainstream architecture.
    100.0
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn print_rss(pid: u32) {
    println!(
        "  server RSS {:.1} MB, peak so far (VmHWM) {:.1} MB",
        status_kib(pid, "VmRSS:") as f64 / 1024.0,
        status_kib(pid, "VmHWM:") as f64 / 1024.0
    );
}

struct ServerProcess {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
    /// The server's PostgreSQL schema (with `LOAD_DATABASE=postgres`), dropped after the server.
    _schema: Option<SchemaGuard>,
    /// Or, with `LOAD_PREFILL` too, its database of its own (a copy of the template).
    database: Option<DatabaseGuard>,
}

/// Whether the servers run on PostgreSQL (`LOAD_DATABASE=postgres`, a fresh schema of
/// `ACCRETE_TEST_POSTGRES_URL` per server, written with `synchronous_commit=off` like the store
/// tests) instead of SQLite in their data folder.
fn on_postgres() -> bool {
    std::env::var("LOAD_DATABASE").is_ok_and(|db| db == "postgres")
}

/// With `LOAD_PREFILL` on PostgreSQL, a copy of the template database for one server: its URL
/// and the guard that drops it (made as [`postgres_schema`]).
fn postgres_copy() -> Option<(String, DatabaseGuard)> {
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(prefill::postgres_copy())
    })
    .join()
    .unwrap()
}

/// The CPU of the PostgreSQL backends serving a server's own database (`LOAD_PREFILL` on
/// PostgreSQL), by process id, in nanoseconds; empty otherwise.
async fn database_cpu_ns(server: &ServerProcess) -> std::collections::BTreeMap<u32, u64> {
    let Some(database) = &server.database else {
        return Default::default();
    };
    accrete_store::testing::postgres_backends(database.name())
        .await
        .into_iter()
        .filter_map(|pid| {
            let path = std::path::PathBuf::from(format!("/proc/{pid}"));
            // A backend that ended meanwhile is left out.
            path.join("schedstat")
                .exists()
                .then(|| (pid, thread_cpu_ns(&path)))
        })
        .collect()
}

/// The database's CPU since `before` ([`database_cpu_ns`]), in milliseconds.
async fn database_ms_since(
    server: &ServerProcess,
    before: &std::collections::BTreeMap<u32, u64>,
) -> f64 {
    let after = database_cpu_ns(server).await;
    let spent: u64 = after
        .iter()
        .map(|(pid, ns)| ns - before.get(pid).copied().unwrap_or(0).min(*ns))
        .sum();
    spent as f64 / 1e6
}

/// Whether each server has a PostgreSQL database of its own ([`postgres_copy`]), whose
/// backends' CPU is measured too.
fn servers_have_databases() -> bool {
    on_postgres() && prefill::wanted().is_some()
}

/// A fresh PostgreSQL schema for one server: its URL and the guard that drops it.
fn postgres_schema() -> (String, SchemaGuard) {
    // Made on a thread with a runtime of its own: the harness's runtime cannot be blocked on.
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(accrete_store::testing::postgres_schema())
    })
    .join()
    .unwrap()
    .expect("LOAD_DATABASE=postgres needs ACCRETE_TEST_POSTGRES_URL")
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn boot() -> ServerProcess {
    boot_with(&[])
}

/// A server child with extra environment variables.
fn boot_with(env: &[(&str, &str)]) -> ServerProcess {
    let dir = tempfile::tempdir().unwrap();
    prefill::copy_into(dir.path());
    let database = on_postgres().then(postgres_copy).flatten();
    let schema = (on_postgres() && database.is_none()).then(postgres_schema);
    let url = schema
        .as_ref()
        .map(|(url, _)| url)
        .or(database.as_ref().map(|(url, _)| url));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .envs(env.iter().copied())
        .envs(url.map(|url| ("ACCRETE_TEST_LOAD_DATABASE_URL", url.as_str())))
        .env("ACCRETE_TEST_LOAD_CHILD", "1")
        .env("ACCRETE_TEST_LOAD_DIR", dir.path())
        .env("ACCRETE_RATE_LIMIT__PER_IP_PER_MINUTE", "0")
        .env("ACCRETE_RATE_LIMIT__PER_ACCOUNT_PER_MINUTE", "0")
        .env("ACCRETE_HASHING__QUEUE", "512")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().strip_prefix("LISTEN ").unwrap().to_owned();
    ServerProcess {
        child,
        base: format!("http://{addr}"),
        dir,
        _schema: schema.map(|(_, guard)| guard),
        database: database.map(|(_, guard)| guard),
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap()
}

/// The body of a page, fetched with `browser` (its cookies sent and kept).
async fn page(browser: &reqwest::Client, url: &str) -> String {
    browser.get(url).send().await.unwrap().text().await.unwrap()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_owned()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Runs `op` `n` times with `concurrency` tasks; returns the server CPU ms per operation.
async fn measure<F, Fut>(pid: u32, n: usize, concurrency: usize, op: F) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let before = cpu_ms(pid);
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while i < n {
                op(i).await;
                i += concurrency;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (cpu_ms(pid) - before) / n as f64
}

/// The authorization request of client `web` (PKCE, nonce, state).
fn authorize_url(base: &str) -> String {
    format!(
        "{base}/authorize?response_type=code&client_id=web&redirect_uri={}&scope=openid%20email&state=s&nonce=n&code_challenge={}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        accrete_oidc::pkce::s256(VERIFIER),
    )
}

/// A sign-in through an authorization request: `/authorize`, the sign-in form, its post and the
/// resumed request; returns where that sends the browser (the redirect URI with a code when nothing is due).
async fn authorize_sign_in(base: &str, browser: &reqwest::Client, email: &str) -> String {
    let login = location(&browser.get(authorize_url(base)).send().await.unwrap());
    assert!(login.starts_with("/login"), "{login}");
    let page = page(browser, &format!("{base}{login}")).await;
    let response = browser
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("tx", hidden(&page, "tx").as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    // The post resumes the authorization request, which issues the code or shows a prompt.
    let resume = location(&response);
    location(&browser.get(format!("{base}{resume}")).send().await.unwrap())
}

/// Server CPU per sign-in (password through `/authorize`, then SSO) with the example policy
/// loaded and nothing due, against a server without a policy, in this run. Each round boots a
/// fresh pair of servers (in alternating order): one process can be a few percent faster than
/// another for reasons of its own (where its memory landed), which one long-lived pair would
/// charge to the policy.
async fn profiling_overhead(scale: usize) {
    let (rounds, passwords, ssos) = (6 * scale, 10, 200);
    let mut ms = [[0.0f64; 2]; 2]; // [password, sso][with, without]
    // The database's backends (PostgreSQL with `LOAD_PREFILL`: each server has a database).
    let mut database_ms = [[0.0f64; 2]; 2];
    let mut sso_threads: [std::collections::BTreeMap<String, u64>; 2] = Default::default();
    for round in 0..rounds {
        let servers = if round % 2 == 0 {
            let with = boot_with(&[("ACCRETE_TEST_LOAD_POLICY", "1")]);
            [with, boot()]
        } else {
            let without = boot();
            [boot_with(&[("ACCRETE_TEST_LOAD_POLICY", "1")]), without]
        };
        let sessions = [browser(), browser()];
        for i in [0, 1] {
            warm_up(&servers[i], &sessions[i]).await;
            past_first_wal(&servers[i], &sessions[i]).await;
        }
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let (server, pid) = (&servers[i], servers[i].child.id());
            let before = cpu_ms(pid);
            let database = database_cpu_ns(server).await;
            for _ in 0..passwords {
                let back = authorize_sign_in(&server.base, &browser(), COMPLETE_USER).await;
                assert!(back.contains("code="), "{back}");
            }
            ms[0][i] += cpu_ms(pid) - before;
            database_ms[0][i] += database_ms_since(server, &database).await;
            perf_mark("SSO-START", pid);
            let database = database_cpu_ns(server).await;
            let before = cpu_ms(pid);
            let threads = threads_cpu_ns(pid);
            let url = authorize_url(&server.base);
            for _ in 0..ssos {
                let back = location(&sessions[i].get(&url).send().await.unwrap());
                assert!(back.contains("code="), "{back}");
            }
            ms[1][i] += cpu_ms(pid) - before;
            database_ms[1][i] += database_ms_since(server, &database).await;
            for (kind, ns) in threads_cpu_ns(pid) {
                let spent = ns - threads.get(&kind).copied().unwrap_or(0);
                *sso_threads[i].entry(kind).or_insert(0) += spent;
            }
            perf_mark("SSO-END", pid);
        }
    }
    for (row, name, n) in [
        (0, "password sign-in via /authorize", rounds * passwords),
        (1, "SSO sign-in (/authorize with a session)", rounds * ssos),
    ] {
        let (a, b) = (ms[row][0] / n as f64, ms[row][1] / n as f64);
        println!(
            "{name}: {a:.3} ms CPU with the example policy, {b:.3} ms without; ratio {:.3} (n = {n} each, {rounds} pairs of servers)",
            a / b
        );
        if servers_have_databases() {
            let (a, b) = (
                database_ms[row][0] / n as f64,
                database_ms[row][1] / n as f64,
            );
            println!(
                "  and PostgreSQL's backends for its database: {a:.3} ms with the policy, {b:.3} ms without"
            );
        }
    }
    let n = (rounds * ssos) as f64;
    for (i, name) in [(0, "with"), (1, "without")] {
        let parts: Vec<String> = sso_threads[i]
            .iter()
            .map(|(kind, ns)| format!("{kind} {:.3}", *ns as f64 / 1e6 / n))
            .collect();
        println!(
            "  SSO sign-in {name} the policy, ms by server thread: {}",
            parts.join(", ")
        );
    }
}

/// Server CPU of a second factor: `POST /mfa` with an authenticator-app code, after a password
/// sign-in through `/authorize` (not counted). A code works once per factor and 30-second
/// step, so each operation is another user's, each with an app set up through the pages.
async fn mfa_phase(scale: usize) {
    let server = boot();
    let (base, pid) = (server.base.clone(), server.child.id());
    let n = 100 * scale;
    let mut secrets = Vec::with_capacity(n);
    for i in 0..n {
        let email = format!("mfa{i}@example.com");
        let b = browser();
        let csrf = hidden(&page(&b, &format!("{base}/signup")).await, "csrf");
        let form = [
            ("csrf", csrf.as_str()),
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("action", "submit"),
        ];
        let status = b
            .post(format!("{base}/signup"))
            .form(&form)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_redirection(), "sign-up: {status}");
        let setup = page(&b, &format!("{base}/mfa/setup")).await;
        let marker = "id=\"totp-secret\">";
        let start = setup.find(marker).unwrap() + marker.len();
        let typed = &setup[start..start + setup[start..].find('<').unwrap()];
        let secret = accrete_oidc::mfa::secret_from_typing(typed).unwrap();
        let code = totp_now(&secret, 0);
        let form = [("csrf", hidden(&setup, "csrf")), ("code", code)];
        let done = b
            .post(format!("{base}/mfa/setup"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 200);
        secrets.push(secret);
    }
    let mut spent_ns = 0u64;
    for (i, secret) in secrets.iter().enumerate() {
        let b = browser();
        let email = format!("mfa{i}@example.com");
        let target = authorize_sign_in(&base, &b, &email).await;
        assert!(target.starts_with("/mfa?tx="), "{target}");
        let html = page(&b, &format!("{base}{target}")).await;
        let form = [
            ("csrf", hidden(&html, "csrf")),
            ("tx", hidden(&html, "tx")),
            ("method", "totp".to_owned()),
            // The next step's code: the set-up used this one (a code works once).
            ("code", totp_now(secret, 1)),
        ];
        let before: u64 = threads_cpu_ns(pid).values().sum();
        let response = b
            .post(format!("{base}/mfa"))
            .form(&form)
            .send()
            .await
            .unwrap();
        spent_ns += threads_cpu_ns(pid).values().sum::<u64>() - before;
        assert!(response.status().is_redirection(), "{}", response.status());
    }
    println!(
        "second factor (POST /mfa with an authenticator-app code, checked and its step recorded): {:.3} ms CPU (n = {n})",
        spent_ns as f64 / 1e6 / n as f64
    );
}

/// The code an authenticator app holding `secret` shows `steps_ahead` 30-second steps from now.
fn totp_now(secret: &[u8], steps_ahead: i64) -> String {
    let generator = accrete_oidc::mfa::totp(secret, "Accrete", "load@example.com").unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    accrete_oidc::mfa::totp_code(&generator, now + 30 * steps_ahead)
}

/// Signs the complete user in on `server` (opening `session`'s SSO session) and checks that
/// nothing is asked, by password and by single sign-on.
async fn warm_up(server: &ServerProcess, session: &reqwest::Client) {
    let issued = |back: &str| back.starts_with(REDIRECT) && back.contains("code=");
    let back = authorize_sign_in(&server.base, session, COMPLETE_USER).await;
    assert!(issued(&back), "{back}");
    for _ in 0..3 {
        let back = authorize_sign_in(&server.base, &browser(), COMPLETE_USER).await;
        assert!(issued(&back), "{back}");
        let url = authorize_url(&server.base);
        let back = location(&session.get(&url).send().await.unwrap());
        assert!(issued(&back), "{back}");
    }
}

/// With `LOAD_PERF_MARKS` set, says on stderr that the server `pid` starts or ended a measured
/// phase, and waits 1.5 s (outside the phase) so that a profiler started on that line
/// (`perf record -p PID`) sees the whole phase. docs/scaling.md, Sign-in, used it.
fn perf_mark(what: &str, pid: u32) {
    if std::env::var_os("LOAD_PERF_MARKS").is_some() {
        eprintln!("{what} {pid}");
        std::thread::sleep(std::time::Duration::from_millis(1500));
    }
}

/// Signs in by SSO on `server` until its SQLite write-ahead log has been filled once, so that
/// what is measured next is a server in its steady state. A fresh server's log is a new file:
/// until its first checkpoint (at 1,000 pages, about 4.1 MB) every commit appends to it, and the
/// file system allocates and zeroes the new blocks on the committing thread; afterwards the log
/// is written again from its start, over blocks it already has. Without this, the SSO phase was
/// the log's first pass (1.5 to 4.1 MB), and that allocation, whose cost the file system decides
/// (about 0.1 ms per SSO sign-in on average over a million-user run, none in some of its servers
/// and nearly none at a thousand users: `perf record` of the servers), was charged to the
/// sign-ins. No-op on PostgreSQL.
async fn past_first_wal(server: &ServerProcess, session: &reqwest::Client) {
    const FULL_LOG: u64 = 1_000 * 4_096;
    let log = server.dir.path().join("accrete.db-wal");
    if on_postgres() {
        return;
    }
    let url = authorize_url(&server.base);
    for _ in 0..5_000 {
        if std::fs::metadata(&log).is_ok_and(|m| m.len() >= FULL_LOG) {
            return;
        }
        let back = location(&session.get(&url).send().await.unwrap());
        assert!(back.contains("code="), "{back}");
    }
    panic!("{} did not reach {FULL_LOG} bytes", log.display());
}

async fn sign_in(base: &str, client: &reqwest::Client, email: &str) -> u16 {
    let csrf = hidden(&page(client, &format!("{base}/login")).await, "csrf");
    client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
            ("action", "submit"),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn run() {
    let scale: usize = std::env::var("LOAD_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    // `LOAD_ONLY=tokens,password,profiling,federation,mfa` (any of them) runs only those phases.
    let only = std::env::var("LOAD_ONLY").unwrap_or_default();
    let wanted = |phase: &str| only.is_empty() || only.split(',').any(|p| p.trim() == phase);
    // Kept until the run ends: the PostgreSQL template database, dropped then.
    let _template = prefill::prepare().await;
    let server = boot();
    let pid = server.child.id();
    let base = server.base.clone();
    let idle_kib = status_kib(pid, "VmRSS:");
    let database = if on_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "server pid {pid} at {base} on {database}; idle RSS {:.1} MB",
        idle_kib as f64 / 1024.0
    );

    // One user, signed up through the hosted page.
    let signup = browser();
    let csrf = hidden(&page(&signup, &format!("{base}/signup")).await, "csrf");
    let status = signup
        .post(format!("{base}/signup"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "load@example.com"),
            ("password", PASSWORD),
            ("action", "submit"),
        ])
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_redirection(), "sign-up: {status}");

    if wanted("tokens") {
        token_phases(&server, &signup, scale).await;
    }
    if wanted("password") {
        password_phases(&server, scale).await;
    }
    println!(
        "server CPU over the run: {:.0} ms as the sum of its threads, {:.0} ms by /proc/{pid}/stat",
        cpu_ms(pid),
        stat_cpu_ms(pid)
    );
    drop(server);
    if wanted("profiling") {
        profiling_overhead(scale).await;
    }
    if wanted("federation") {
        federation_phase(scale).await;
    }
    if wanted("mfa") {
        mfa_phase(scale).await;
    }
    if wanted("passkey") {
        passkey::passkey_phase(scale).await;
    }
    if wanted("console") {
        console::console_phase(scale).await;
    }
    if wanted("webhooks") {
        webhooks::webhooks_phase(scale).await;
    }
    if wanted("companion") {
        companion::companion_phase(scale).await;
    }
}

/// Server CPU of a sign-in through an upstream provider (another Accrete, in a process of its
/// own on 127.0.0.2, whose time is not counted): `/authorize?prompt=login&connection=up` to the
/// code, the upstream answering from its own SSO session. Each operation is the downstream's
/// whole share: the transaction, the round trip's state, the code exchange at the upstream's
/// token endpoint, the RS256 ID token checked against the (cached) JWKS, userinfo, the identity
/// and its values in one unit of work, the session and the code.
async fn federation_phase(scale: usize) {
    let upstream_addr = {
        let probe = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        probe.local_addr().unwrap()
    };
    let issuer = format!("http://{upstream_addr}");
    let down = boot_with(&[
        ("ACCRETE_TEST_LOAD_UPSTREAM", issuer.as_str()),
        ("ACCRETE_FEDERATION__ALLOW_LOOPBACK_HTTP", "true"),
    ]);
    let listen = upstream_addr.to_string();
    let up = boot_with(&[
        ("ACCRETE_TEST_LOAD_LISTEN", listen.as_str()),
        ("ACCRETE_TEST_LOAD_DOWNSTREAM", down.base.as_str()),
    ]);
    assert_eq!(up.base, issuer);
    let pid = down.child.id();
    let authorize = format!("{}&prompt=login&connection=up", authorize_url(&down.base));
    let concurrency = 4;
    // One browser per worker, signed in at the upstream once (its SSO session answers later).
    let browsers: Vec<reqwest::Client> = (0..concurrency).map(|_| browser()).collect();
    let sign_in = {
        let (browsers, authorize, up_base) = (browsers.clone(), authorize.clone(), up.base.clone());
        move |i: usize| {
            let (browser, authorize, up_base) = (
                browsers[i % browsers.len()].clone(),
                authorize.clone(),
                up_base.clone(),
            );
            async move {
                let back = federated_sign_in(&browser, &authorize, &up_base).await;
                assert!(
                    back.starts_with(REDIRECT) && back.contains("code="),
                    "{back}"
                );
            }
        }
    };
    measure(pid, concurrency * 5, concurrency, sign_in.clone()).await; // warm-up
    let n = 500 * scale;
    let threads = threads_cpu_ns(pid);
    let ms = measure(pid, n, concurrency, sign_in).await;
    println!(
        "sign-in through an upstream OpenID provider (RS256 ID token, userinfo; upstream CPU not counted): {ms:.3} ms CPU (n = {n})"
    );
    println!("{}", by_thread(pid, &threads, n));
    drop(up);
}

/// Follows one federated sign-in from `authorize` to the client's redirect URI, signing in at
/// the upstream (`up_base`) with a password when it asks.
async fn federated_sign_in(browser: &reqwest::Client, authorize: &str, up_base: &str) -> String {
    let mut url = authorize.to_owned();
    for _ in 0..12 {
        if url.starts_with(REDIRECT) {
            return url;
        }
        let response = browser.get(&url).send().await.unwrap();
        if response.status().is_redirection() {
            url = url::Url::parse(&url)
                .unwrap()
                .join(&location(&response))
                .unwrap()
                .to_string();
            continue;
        }
        let html = response.text().await.unwrap();
        assert!(
            url.starts_with(&format!("{up_base}/login")),
            "{url}: {html}"
        );
        let posted = browser
            .post(format!("{up_base}/login"))
            .form(&[
                ("csrf", hidden(&html, "csrf").as_str()),
                ("tx", hidden(&html, "tx").as_str()),
                ("email", FEDERATED_USER),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        url = url::Url::parse(&url)
            .unwrap()
            .join(&location(&posted))
            .unwrap()
            .to_string();
    }
    panic!("too many redirects from {authorize}");
}

/// Client credentials, the authorization-code round trip with an SSO session (`signup` holds
/// it), and refresh.
async fn token_phases(server: &ServerProcess, signup: &reqwest::Client, scale: usize) {
    let (pid, base) = (server.child.id(), server.base.clone());
    // Client credentials (ES256 access token).
    let http = browser();
    let n = 5000 * scale;
    let cc = {
        let (http, base) = (http.clone(), base.clone());
        move |_| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let response = http
                    .post(format!("{base}/token"))
                    .basic_auth("backend", Some("backend-secret"))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let _ = response.bytes().await;
            }
        }
    };
    measure(pid, 200, 4, cc.clone()).await; // warm-up
    let threads = threads_cpu_ns(pid);
    let cc_ms = measure(pid, n, 4, cc).await;
    println!("client-credentials token (ES256): {cc_ms:.3} ms CPU per token (n = {n})");
    println!("{}", by_thread(pid, &threads, n));
    print_rss(pid);

    // Authorization-code round trip with an SSO session: /authorize → code → /token.
    let round_trips = 1000 * scale;
    let authorize = authorize_url(&base);
    let refresh_tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
    let round_trip = {
        let (signup, base, authorize, refresh_tokens) = (
            signup.clone(),
            base.clone(),
            authorize.clone(),
            refresh_tokens.clone(),
        );
        move |_| {
            let (signup, base, authorize, refresh_tokens) = (
                signup.clone(),
                base.clone(),
                authorize.clone(),
                refresh_tokens.clone(),
            );
            async move {
                let back = location(&signup.get(&authorize).send().await.unwrap());
                let code = url::Url::parse(&back)
                    .unwrap()
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_else(|| panic!("no code: {back}"));
                let tokens: Value = signup
                    .post(format!("{base}/token"))
                    .basic_auth("web", Some("web-secret"))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", VERIFIER),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
                refresh_tokens.lock().unwrap().push(refresh);
            }
        }
    };
    let threads = threads_cpu_ns(pid);
    let code_ms = measure(pid, round_trips, 4, round_trip).await;
    println!(
        "authorization-code round trip with SSO (authorize + token, {} ID token): {code_ms:.3} ms CPU (n = {round_trips})",
        id_token_alg()
    );
    println!("{}", by_thread(pid, &threads, round_trips));
    print_rss(pid);

    // Refresh: each family rotated once per operation (the families from the round trips).
    let families: Vec<String> = std::mem::take(&mut *refresh_tokens.lock().unwrap());
    let families = Arc::new(std::sync::Mutex::new(families));
    let refreshes = families.lock().unwrap().len();
    let refresh = {
        let (http, base, families) = (http.clone(), base.clone(), families.clone());
        move |_| {
            let (http, base, families) = (http.clone(), base.clone(), families.clone());
            async move {
                let token = families.lock().unwrap().pop().unwrap();
                let response = http
                    .post(format!("{base}/token"))
                    .basic_auth("web", Some("web-secret"))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let _ = response.bytes().await;
            }
        }
    };
    let threads = threads_cpu_ns(pid);
    let refresh_ms = measure(pid, refreshes, 4, refresh).await;
    println!("refresh (rotation, ES256 access token): {refresh_ms:.3} ms CPU (n = {refreshes})");
    println!("{}", by_thread(pid, &threads, refreshes));
    print_rss(pid);
}

/// Password sign-in against one Argon2id verification, and peak memory under 256 at once.
async fn password_phases(server: &ServerProcess, scale: usize) {
    // Password sign-in against one Argon2id verification measured in this run, in a process
    // that, like the server's hashing threads, wakes up for one verification at a time: each
    // sign-in follows one reference verification, so both see the same drift of the machine's
    // speed and the same idle gaps (a thread that slept finds its 19 MiB of Argon2 memory colder
    // in the caches than one verifying back to back). Each round has a fresh server and a fresh
    // reference process (see `ReferenceHasher`); the figure is over every round.
    let (rounds, per_round) = (4 * scale, 20);
    let (mut argon_ms, mut sign_in_ms) = (0.0, 0.0);
    let mut threads: std::collections::BTreeMap<String, u64> = Default::default();
    let mut ratios = Vec::new();
    let mut back_to_back_ms = 0.0;
    for round in 0..rounds {
        let server = boot();
        let pid = server.child.id();
        let mut reference = ReferenceHasher::start();
        // Both allocate their Argon2 memory once, before measuring.
        reference.verify();
        let back = authorize_sign_in(&server.base, &browser(), COMPLETE_USER).await;
        assert!(back.contains("code="), "{back}");
        let (argon_before, server_before, threads_before) =
            (reference.cpu_ms(), cpu_ms(pid), threads_cpu_ns(pid));
        for _ in 0..per_round {
            reference.verify();
            // One at a time, like the reference: two Argon2id computations at once on a 2-core
            // machine slow each other down, which would be charged to the server.
            let status = sign_in(&server.base, &browser(), COMPLETE_USER).await;
            assert_eq!(status, 303);
        }
        let argon = reference.cpu_ms() - argon_before;
        let signed_in = cpu_ms(pid) - server_before;
        argon_ms += argon;
        sign_in_ms += signed_in;
        ratios.push(format!("{:.3}", signed_in / argon));
        for (kind, ns) in threads_cpu_ns(pid) {
            *threads.entry(kind.clone()).or_insert(0) +=
                ns - threads_before.get(&kind).copied().unwrap_or(0);
        }
        if round == 0 {
            // For comparison, the same verification back to back, as a benchmark loop would
            // time it.
            let before = reference.cpu_ms();
            for _ in 0..10 {
                reference.verify();
            }
            back_to_back_ms = (reference.cpu_ms() - before) / 10.0;
        }
    }
    let sign_ins = rounds * per_round;
    let per = |total: f64| total / sign_ins as f64;
    let (argon_ms, sign_in_ms) = (per(argon_ms), per(sign_in_ms));
    println!(
        "one Argon2id verification (m = 19 MiB, t = 2, p = 1): {argon_ms:.2} ms CPU one at a time between sign-ins (n = {sign_ins}); {back_to_back_ms:.2} ms back to back (n = 10)"
    );
    println!(
        "password sign-in (GET form + POST): {sign_in_ms:.2} ms CPU = {:.3} x one Argon2id verification (n = {sign_ins}, each after one reference verification; {rounds} rounds of a fresh server and reference: {})",
        sign_in_ms / argon_ms,
        ratios.join(", ")
    );
    let parts: Vec<String> = threads
        .iter()
        .map(|(kind, ns)| format!("{kind} {:.3}", per(*ns as f64 / 1e6)))
        .collect();
    println!("  by server thread, ms per operation: {}", parts.join(", "));

    let (pid, base) = (server.child.id(), server.base.clone());
    // Peak RSS under 256 concurrent sign-ins.
    print_rss(pid);
    let mut tasks = Vec::new();
    for _ in 0..256 {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            sign_in(&base, &browser(), "load@example.com").await
        }));
    }
    let mut ok = 0;
    let mut busy = 0;
    for task in tasks {
        match task.await.unwrap() {
            303 => ok += 1,
            503 => busy += 1,
            other => panic!("sign-in answered {other}"),
        }
    }
    let peak_kib = status_kib(pid, "VmHWM:");
    println!(
        "256 concurrent sign-ins: {ok} signed in, {busy} refused with 503; peak RSS (VmHWM) {:.1} MB",
        peak_kib as f64 / 1024.0
    );
}
