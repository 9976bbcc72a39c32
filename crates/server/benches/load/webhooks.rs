//! `LOAD_ONLY=webhooks`: webhook delivery (docs/webhooks.md). A receiver in this process
//! (axum on 127.0.0.1) records when each delivery arrives. Two measures on one server:
//!
//! - **throughput**: the server child writes a backlog of `LOAD_WEBHOOK_BACKLOG` events (20,000
//!   unless set, times `LOAD_N`) to the outbox before it serves, with one endpoint wanting them;
//!   its worker fans them out and delivers them from its start. Deliveries per second from the
//!   moment the server is up to the last arrival, and the server's CPU per delivery (fan-out,
//!   leases, signing, the POST, the recorded attempt).
//! - **delay**: users created through `POST /api/v1/users` (one at a time, then 16 at once);
//!   for each, the time from the event's `timestamp` (taken by the use-case in the transaction
//!   that creates the user, just before it commits) to its arrival at the receiver: median, p95,
//!   p99, max.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::{MASTER_KEY, base64_decode, boot_with, cpu_ms};

/// The client that creates users in the delay measure.
const ADMIN_CLIENT: &str = "hooks-admin";

/// Registers the endpoint `url` and writes `backlog` events (called by the server child
/// before it serves).
pub(super) async fn seed(store: &Arc<dyn accrete_store::Store>, url: &str, backlog: usize) {
    use accrete_store::NewWebhookEvent;
    let secrets =
        accrete_server::secrets::ServerSecrets::derive(&base64_decode(MASTER_KEY)).unwrap();
    let settings = accrete_app::webhooks::WebhookSettings {
        allow_private: true,
        allow_http: true,
        ..accrete_app::webhooks::WebhookSettings::default()
    };
    let keys = accrete_app::webhooks::WebhookKeys::new(&secrets.key_encryption_key).unwrap();
    let federation = accrete_app::connections::Federation::new(
        accrete_federation::Upstream::new(accrete_federation::HttpOptions::default()).unwrap(),
        &secrets.key_encryption_key,
        secrets.federation_hasher.clone(),
    )
    .unwrap();
    let app = accrete_app::App::new(
        store.clone(),
        "http://localhost".to_owned(),
        accrete_app::hashing::HashingPool::new(1, 1),
        federation,
    )
    .with_webhooks(settings, keys);
    let now = time::OffsetDateTime::now_utc();
    let new = accrete_app::webhooks::NewWebhook {
        url: url.to_owned(),
        events: vec!["user.created".to_owned()],
        description: Some("load".to_owned()),
        include_values: false,
    };
    accrete_app::webhooks::create(&app, new, now).await.unwrap();
    let started = Instant::now();
    for i in 0..backlog {
        let event = NewWebhookEvent {
            kind: "user.created",
            payload: json!({"user": {"id": format!("backlog-{i}"), "email": format!("b{i}@example.com"), "email_verified": false}}),
            at: time::OffsetDateTime::now_utc(),
        };
        store.record_webhook_event(event).await.unwrap();
    }
    eprintln!(
        "wrote {backlog} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let client = super::bench_client(ADMIN_CLIENT, &["client_credentials"], &["users:write"]);
    store.create_client(client).await.unwrap();
}

/// One delivery as it arrived.
struct Arrival {
    /// Unix milliseconds, when it arrived here.
    at_ms: f64,
    /// Unix milliseconds, the event's `timestamp`.
    occurred_ms: f64,
    /// The `data.user.email`.
    email: String,
}

#[derive(Default)]
struct Arrivals {
    all: Mutex<Vec<Arrival>>,
    count: std::sync::atomic::AtomicUsize,
}

fn unix_ms(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// The receiver: answers 204 and records each arrival.
async fn receiver() -> (String, Arc<Arrivals>) {
    let arrivals = Arc::new(Arrivals::default());
    let state = Arc::clone(&arrivals);
    let route = axum::routing::post(move |body: axum::body::Bytes| {
        let arrivals = Arc::clone(&state);
        async move {
            let at_ms = unix_ms(SystemTime::now());
            let body: Value = serde_json::from_slice(&body).unwrap();
            let occurred = time::OffsetDateTime::parse(
                body["timestamp"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            let occurred_ms = (occurred.unix_timestamp_nanos() / 1_000) as f64 / 1000.0;
            let email = body["data"]["user"]["email"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            arrivals.all.lock().unwrap().push(Arrival {
                at_ms,
                occurred_ms,
                email,
            });
            arrivals
                .count
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/hook", route))
            .await
            .unwrap();
    });
    (format!("http://{addr}/hook"), arrivals)
}

/// Waits until `n` deliveries arrived (at most five minutes).
async fn arrived(arrivals: &Arrivals, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while arrivals.count.load(std::sync::atomic::Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "deliveries missing after 5 min");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The delays of the arrivals of `emails`, sorted, in milliseconds.
fn delays(arrivals: &Arrivals, prefix: &str) -> Vec<f64> {
    let mut delays: Vec<f64> = arrivals
        .all
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.email.starts_with(prefix))
        .map(|a| a.at_ms - a.occurred_ms)
        .collect();
    delays.sort_by(f64::total_cmp);
    delays
}

fn say_delays(name: &str, delays: &[f64]) {
    println!(
        "  {name}: delay from the event to its arrival, n = {}: median {:.1} ms, p95 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms",
        delays.len(),
        percentile(delays, 0.5),
        percentile(delays, 0.95),
        percentile(delays, 0.99),
        delays[delays.len() - 1]
    );
}

/// Creates a user through the API.
async fn create_user(http: &reqwest::Client, base: &str, token: &str, email: String) {
    let created = http
        .post(format!("{base}/api/v1/users"))
        .bearer_auth(token)
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
}

pub(super) async fn webhooks_phase(scale: usize) {
    let backlog: usize = std::env::var("LOAD_WEBHOOK_BACKLOG")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
        * scale;
    let (url, arrivals) = receiver().await;
    let backlog_text = backlog.to_string();
    let server = boot_with(&[
        ("ACCRETE_TEST_LOAD_WEBHOOK_URL", url.as_str()),
        ("ACCRETE_TEST_LOAD_WEBHOOK_BACKLOG", backlog_text.as_str()),
        ("ACCRETE_WEBHOOKS__ALLOW_PRIVATE", "true"),
        ("ACCRETE_WEBHOOKS__ALLOW_HTTP", "true"),
    ]);
    // The worker starts as the server serves: from here on it delivers the backlog.
    let started = Instant::now();
    let (base, pid) = (server.base.clone(), server.child.id());
    let before = cpu_ms(pid);
    let concurrency = std::env::var("ACCRETE_WEBHOOKS__CONCURRENCY").unwrap_or("64".into());
    println!(
        "webhooks (SQLite unless LOAD_DATABASE=postgres; {concurrency} attempts in flight), \
         a backlog of {backlog} events to one endpoint:"
    );
    arrived(&arrivals, backlog).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = (cpu_ms(pid) - before) / backlog as f64;
    println!(
        "  {:.0} deliveries per second ({backlog} in {wall:.2} s), {cpu:.3} ms server CPU per \
         delivery",
        backlog as f64 / wall
    );

    // Users created through the API, each delivered as it commits.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let token: Value = http
        .post(format!("{base}/token"))
        .basic_auth(ADMIN_CLIENT, Some(format!("{ADMIN_CLIENT}-secret")))
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
    let token = token["access_token"].as_str().unwrap().to_owned();
    let one_by_one = 200 * scale;
    // The backlog (nothing is written to the outbox before the endpoint exists).
    let mut expected = backlog;
    for i in 0..one_by_one {
        create_user(&http, &base, &token, format!("one{i}@example.com")).await;
        expected += 1;
        // One at a time: each delivered before the next user is created.
        arrived(&arrivals, expected).await;
    }
    say_delays("users created one at a time", &delays(&arrivals, "one"));

    let together = 4000 * scale;
    let in_flight = 16;
    let before = cpu_ms(pid);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..in_flight {
        let (http, token, base) = (http.clone(), token.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while i < together {
                create_user(&http, &base, &token, format!("many{i}@example.com")).await;
                i += in_flight;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    arrived(&arrivals, expected + together).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = (cpu_ms(pid) - before) / together as f64;
    say_delays(
        &format!("{together} users created {in_flight} at a time"),
        &delays(&arrivals, "many"),
    );
    println!(
        "  ({:.0} users created and delivered per second; {cpu:.3} ms server CPU per user \
         created and delivered)",
        together as f64 / wall
    );
}
