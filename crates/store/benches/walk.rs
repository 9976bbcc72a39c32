//! Time to walk every user with their prompt state and provenance, page by page, as an impact
//! preview does. Seeds `ACCRETE_BENCH_USERS` users (default 100,000) into a fresh SQLite file,
//! and into a PostgreSQL schema when `ACCRETE_TEST_POSTGRES_URL` is set.
//!
//! `cargo bench -p accrete-store --bench walk`
#![expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: a failure ends the run"
)]

use std::sync::Arc;
use std::time::Instant;

use accrete_store::{EventKind, Location, NewEvent, NewUser, ProfileChange, Store, UserQuery};
use serde_json::json;
use time::OffsetDateTime;

async fn seed(store: &Arc<dyn Store>, users: usize) {
    let now = OffsetDateTime::now_utc();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (chunk..users).step_by(8) {
                let mut new = NewUser::with_email(format!("user{i}@example.org"), now);
                new.profile = json!({ "given_name": "Ada", "family_name": "Lovelace" });
                let user = store.create_user(new).await.unwrap();
                if i % 3 == 0 {
                    let change = [ProfileChange::set(
                        Location::UserMetadata,
                        "company",
                        json!("Acme"),
                    )];
                    store
                        .apply_profile_changes(user.id, None, &change, "prompt:work", now)
                        .await
                        .unwrap();
                    let event = NewEvent {
                        kind: EventKind::PromptShown,
                        user_id: user.id,
                        step: Some("work".into()),
                        client_id: None,
                        at: now,
                        logins: None,
                        data: json!({}),
                    };
                    store.record_prompt_event(event).await.unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    eprintln!(
        "  seeded {users} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn walk(name: &str, store: Arc<dyn Store>, users: usize) {
    eprintln!("{name}:");
    seed(&store, users).await;
    let started = Instant::now();
    let mut query = UserQuery {
        limit: Some(UserQuery::MAX_LIMIT),
        ..UserQuery::default()
    };
    let mut seen = 0;
    loop {
        let page = store.list_users(query.clone()).await.unwrap();
        seen += page.items.len();
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    eprintln!(
        "  listed {seen} users (records only) in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    for _ in 0..2 {
        let started = Instant::now();
        let mut query = UserQuery {
            limit: Some(UserQuery::MAX_LIMIT),
            ..UserQuery::default()
        };
        let (mut seen, mut prompts) = (0, 0);
        loop {
            let page = store.list_user_states(query.clone()).await.unwrap();
            seen += page.items.len();
            prompts += page.items.iter().map(|s| s.prompts.len()).sum::<usize>();
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        assert_eq!(seen, users);
        eprintln!(
            "  walked {seen} users ({prompts} prompt states) in {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
}

fn main() {
    let users = std::env::var("ACCRETE_BENCH_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (sqlite, _dir) = accrete_store::testing::sqlite_store().await;
        walk("sqlite", sqlite, users).await;
        if let Some((postgres, _schema)) = accrete_store::testing::postgres_store().await {
            walk("postgres", postgres, users).await;
        }
    });
}
