//! `LOAD_PREFILL=N`: every server of the run starts on a SQLite database that already holds N
//! users (besides the harness's own), to measure sign-ins against a large database. The users
//! are written once per run, through the store's `import_users` a batch of 500 at a time (the
//! importer's path), into a template database that [`super::boot_with`] copies into each
//! server's data folder. Their values are a few of the example policy's, not every user
//! having every value (as `scripts/scale-users.py` writes them for `scripts/scale-bench`).
//! SQLite only: PostgreSQL servers each get a fresh schema, which would need a fill each.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use accrete_store::{ConnectOptions, ImportUser, Location, ProfileChange};
use serde_json::json;

/// The template database's folder (kept until the process ends).
static TEMPLATE: OnceLock<tempfile::TempDir> = OnceLock::new();

/// How many users `LOAD_PREFILL` asks for (none when unset).
pub(super) fn wanted() -> Option<usize> {
    std::env::var("LOAD_PREFILL")
        .ok()
        .and_then(|n| n.replace('_', "").parse().ok())
        .filter(|&n| n > 0)
}

/// Writes the template database once (a no-op without `LOAD_PREFILL`).
pub(super) async fn prepare() {
    let Some(users) = wanted() else { return };
    assert!(
        !super::on_postgres(),
        "LOAD_PREFILL works on SQLite only (LOAD_DATABASE=postgres gives each server a fresh schema)"
    );
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("accrete.db").display());
    let store = accrete_store::connect(&url, ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
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
