//! Measurements of the API (ignored: run explicitly, in release mode):
//!
//! `cargo test --release -p accrete-server --test server -- --ignored --nocapture api_measure`
//!
//! The server runs in this process; the client runs on a thread of its own, whose CPU time is
//! subtracted from the process's, so the figures are the server's CPU per request.

use std::sync::Arc;

use accrete_store::NewUser;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api_client::{Api, admin, pricing_policy, stored_user};
use crate::support::{Backend, TestApp};

/// CPU time (user + system) in milliseconds from a `/proc/.../stat` line.
fn cpu_ms(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 10.0
}

/// Runs `rounds` requests built by `request` on a client thread; returns the server's CPU
/// milliseconds per request.
fn server_cpu_per_request(
    rounds: usize,
    request: Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>,
) -> f64 {
    let process_before = cpu_ms("/proc/self/stat");
    let client_cpu = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let start = cpu_ms("/proc/thread-self/stat");
        runtime.block_on(async {
            let client = reqwest::Client::new();
            for _ in 0..rounds {
                let response = request(&client).send().await.unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                let _ = response.bytes().await.unwrap();
            }
        });
        cpu_ms("/proc/thread-self/stat") - start
    })
    .join()
    .unwrap();
    let process = cpu_ms("/proc/self/stat") - process_before;
    (process - client_cpu) / rounds as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run explicitly, in release mode"]
async fn api_measure_server_cpu_per_get_user_and_per_event_with_nothing_due() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2000);
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (tokens, api) = admin(&app).await;
    api.publish(&pricing_policy()).await;
    let user = stored_user(&app, "ada@example.com").await;
    api.patch(
        &format!("/users/{}", user.id),
        &json!({"user_metadata": {"company_size": "1-10", "team": {"size": 3}}}),
    )
    .await;
    let me = Api {
        app: &app,
        token: tokens.user(&app, &user, "shop").await,
    };
    let nothing: Value = me
        .post("/me/events", &json!({"name": "cta:pricing"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(nothing["step"].is_null());

    let url = api.url(&format!("/users/{}", user.id));
    let token = api.token.clone();
    let get_user = server_cpu_per_request(
        rounds,
        Arc::new(move |c: &reqwest::Client| c.get(&url).bearer_auth(&token)),
    );
    let url = me.url("/me/events");
    let token = me.token.clone();
    let event = server_cpu_per_request(
        rounds,
        Arc::new(move |c: &reqwest::Client| {
            c.post(&url)
                .bearer_auth(&token)
                .json(&json!({"name": "cta:pricing"}))
        }),
    );
    println!("server CPU per GET /api/v1/users/{{id}}: {get_user:.3} ms ({rounds} requests)");
    println!(
        "server CPU per POST /api/v1/me/events, nothing due: {event:.3} ms ({rounds} requests)"
    );
    assert!(get_user > 0.0 && event > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run explicitly, in release mode"]
async fn api_measure_impact_preview_on_100000_users() {
    let users: usize = std::env::var("USERS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100_000);
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (_tokens, api) = admin(&app).await;
    api.publish(&pricing_policy()).await;
    let now = OffsetDateTime::now_utc();
    let seeding = std::time::Instant::now();
    for i in 0..users {
        let mut new = NewUser::with_email(format!("u{i}@example.com"), now);
        if i % 3 == 0 {
            new.user_metadata = json!({"company_size": "11-50"});
        }
        app.store.create_user(new).await.unwrap();
    }
    let seeded = seeding.elapsed();
    let mut draft = pricing_policy();
    draft["steps"].as_array_mut().unwrap().push(json!({
        "id": "job", "title": {"en": "Job"}, "fields": ["job_title"], "mode": "required",
        "trigger": {"moments": ["login"]}
    }));
    assert_eq!(api.put("/policy/draft", &draft).await.status(), 200);
    for moment in ["login", "event&event=cta:pricing"] {
        let started = std::time::Instant::now();
        let impact: Value = api
            .get(&format!("/policy/draft/impact?moment={moment}"))
            .await
            .json()
            .await
            .unwrap();
        let wall = started.elapsed();
        assert_eq!(impact["users"], users);
        println!(
            "impact preview ({moment}) on {users} users: {} ms in the handler, {:.0} ms end to end; \
             draft prompts {}, published prompts {} (seeding took {:.1} s)",
            impact["elapsed_ms"],
            wall.as_secs_f64() * 1000.0,
            impact["draft_prompted"],
            impact["published_prompted"],
            seeded.as_secs_f64()
        );
    }
}
