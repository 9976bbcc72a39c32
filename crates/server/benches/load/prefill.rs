//! `LOAD_PREFILL=N`: every server of the run starts on a SQLite database that already holds N
//! users (besides the harness's own), to measure sign-ins against a large database. The users
//! are written once per run, through the store's `import_users` a batch of 500 at a time (the
//! importer's path), into a template database that [`super::boot_with`] copies into each
//! server's data folder. Their values are a few of the example policy's, not every user
//! having every value (as `scripts/scale-users.py` writes them for `scripts/scale-bench`).
//! On PostgreSQL (`LOAD_DATABASE=postgres`) the template is a database of its own, filled in
//! one transaction (`accrete users import --single-transaction`'s path), and each server gets a
//! copy of it (`CREATE DATABASE ... TEMPLATE`) instead of a fresh schema; the harness then also
//! reads the CPU of that database's backends.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use accrete_store::testing::DatabaseGuard;
use accrete_store::{
    ConnectOptions, ImportOutcome, ImportScope, ImportStep, ImportUser, Location, ProfileChange,
};
use serde_json::json;

/// The template database's folder (kept until the process ends).
static TEMPLATE: OnceLock<tempfile::TempDir> = OnceLock::new();

/// PostgreSQL: the template database (dropped when the harness's run ends).
static POSTGRES_TEMPLATE: OnceLock<String> = OnceLock::new();

/// How many users `LOAD_PREFILL` asks for (none when unset).
pub(super) fn wanted() -> Option<usize> {
    std::env::var("LOAD_PREFILL")
        .ok()
        .and_then(|n| n.replace('_', "").parse().ok())
        .filter(|&n| n > 0)
}

/// Writes the template database once (a no-op without `LOAD_PREFILL`). On PostgreSQL, returns
/// the guard that drops it, for the run to keep.
pub(super) async fn prepare() -> Option<DatabaseGuard> {
    let users = wanted()?;
    if super::on_postgres() {
        return Some(prepare_postgres(users).await);
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("accrete.db").display());
    let store = migrated(&url).await;
    let now = time::OffsetDateTime::now_utc();
    let started = Instant::now();
    let mut batch = Vec::with_capacity(500);
    for i in 0..users {
        batch.push(user(i, now));
        if batch.len() == 500 || i + 1 == users {
            let outcomes = store
                .import_users("jsonl", std::mem::take(&mut batch), now, false)
                .await
                .unwrap();
            assert!(
                outcomes
                    .iter()
                    .all(|o| matches!(o, accrete_store::ImportOutcome::Created(_))),
                "{outcomes:?}"
            );
        }
    }
    drop(store);
    eprintln!(
        "LOAD_PREFILL: {users} users written in {:.1} s; every server starts with them",
        started.elapsed().as_secs_f64()
    );
    TEMPLATE.set(dir).unwrap();
    None
}

/// A store on the template database at `url`, its migrations applied.
async fn migrated(url: &str) -> std::sync::Arc<dyn accrete_store::Store> {
    let store = accrete_store::connect(url, ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

/// The PostgreSQL template: a database of its own, its users imported in one transaction.
async fn prepare_postgres(users: usize) -> DatabaseGuard {
    let (url, guard) = accrete_store::testing::postgres_database(None)
        .await
        .expect("LOAD_DATABASE=postgres needs ACCRETE_TEST_POSTGRES_URL");
    let store = migrated(&url).await;
    let now = time::OffsetDateTime::now_utc();
    let started = Instant::now();
    let (steps, receiver) = tokio::sync::mpsc::channel(2);
    let (outcomes, mut results) = tokio::sync::mpsc::unbounded_channel();
    let import = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .import_stream("jsonl", ImportScope::Whole, false, receiver, outcomes)
                .await
        }
    });
    let check = tokio::spawn(async move {
        while let Some(batch) = results.recv().await {
            assert!(
                batch.iter().all(|o| matches!(o, ImportOutcome::Created(_))),
                "{batch:?}"
            );
        }
    });
    for first in (0..users).step_by(500) {
        let batch = (first..users.min(first + 500))
            .map(|i| user(i, now))
            .collect();
        steps.send(ImportStep::batch(batch, now)).await.unwrap();
    }
    steps.send(ImportStep::Commit).await.unwrap();
    drop(steps);
    import.await.unwrap().unwrap();
    check.await.unwrap();
    store.analyze_users().await.unwrap();
    drop(store);
    eprintln!(
        "LOAD_PREFILL: {users} users written in {:.1} s into database {}; every server starts on a copy",
        started.elapsed().as_secs_f64(),
        guard.name()
    );
    POSTGRES_TEMPLATE.set(guard.name().to_owned()).unwrap();
    guard
}

/// PostgreSQL: a copy of the template database for one server (`None` without `LOAD_PREFILL`).
pub(super) async fn postgres_copy() -> Option<(String, DatabaseGuard)> {
    let template = POSTGRES_TEMPLATE.get()?;
    accrete_store::testing::postgres_database(Some(template)).await
}

/// Copies the template database (and its write-ahead log, if any) into a server's data folder,
/// and writes the copy out to the disk before the server starts. A deployment's database has
/// been on its disk for a while; a fresh copy is a file of dirty pages in the operating system's
/// cache, and the server's first checkpoint would pay for writing all of them out (its `fsync`),
/// charged to the sign-ins being measured: at a million users, a third to a half of the SQLite
/// thread's CPU of the SSO sign-ins was that write-back (`perf record` of the servers during
/// the SSO phase).
pub(super) fn copy_into(data_dir: &Path) {
    let Some(template) = TEMPLATE.get() else {
        return;
    };
    for name in ["accrete.db", "accrete.db-wal"] {
        let from: PathBuf = template.path().join(name);
        if from.exists() {
            let to = data_dir.join(name);
            std::fs::copy(&from, &to).unwrap();
            std::fs::File::open(&to).unwrap().sync_all().unwrap();
        }
    }
}

/// The `i`th user: an address, a creation date within three years, and some of the example
/// policy's values (a deterministic mix: user `i` always gets the same).
fn user(i: usize, now: time::OffsetDateTime) -> ImportUser {
    const GIVEN: [&str; 8] = [
        "Ada", "Alan", "Grace", "Linus", "Chloe", "Hugo", "Priya", "Kofi",
    ];
    const FAMILY: [&str; 6] = ["Lovelace", "Turing", "Hopper", "Dubois", "Patel", "Okafor"];
    const COUNTRIES: [&str; 6] = ["US", "FR", "DE", "GB", "JP", "BR"];
    const SIZES: [&str; 4] = ["1-10", "11-50", "51-500", "500+"];
    // A cheap, well-spread hash of `i` decides which values the user has.
    let h = (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(29);
    let bit = |n: u32, per_cent: u64| (h >> n) % 100 < per_cent;
    let mut changes = vec![ProfileChange::set(
        Location::AppMetadata,
        "plan",
        json!(if bit(0, 80) { "free" } else { "pro" }),
    )];
    let mut set = |location, key: &str, value| {
        changes.push(ProfileChange::set(location, key, value));
    };
    if bit(3, 95) {
        set(Location::Profile, "given_name", json!(GIVEN[i % 8]));
    }
    if bit(7, 90) {
        set(Location::Profile, "family_name", json!(FAMILY[i % 6]));
    }
    if bit(11, 25) {
        set(
            Location::Profile,
            "phone_number",
            json!(format!("+3361{:07}", i % 10_000_000)),
        );
    }
    if bit(13, 90) {
        set(
            Location::UserMetadata,
            "terms",
            json!({"accepted": true, "version": "2026-01"}),
        );
    }
    if bit(17, 40) {
        let company = format!("Company {}", 1 + (h >> 40) % 5000);
        set(Location::UserMetadata, "company", json!(company));
    }
    if bit(19, 30) {
        set(Location::UserMetadata, "country", json!(COUNTRIES[i % 6]));
    }
    if bit(23, 20) {
        set(Location::AppMetadata, "company_size", json!(SIZES[i % 4]));
    }
    ImportUser {
        email: format!("prefill{i}@example.com"),
        email_verified: bit(31, 85),
        created_at: Some(now - time::Duration::seconds(((h >> 8) % (3 * 365 * 86_400)) as i64)),
        changes,
        ..ImportUser::default()
    }
}
