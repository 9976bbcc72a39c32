//! Each value's source lives in its user's row (`users.sources`, migration 0031): every write
//! of values keeps it, `value_provenance` reads it back, and the migration carries over what
//! the table `profile_provenance` held before it.

use std::sync::Arc;

use accrete_store::testing::{execute_sql, select_text};
use accrete_store::{ConnectOptions, Location, NewUser, ProfileChange, Provenance, Store};
use serde_json::json;
use time::Duration;
use uuid::Uuid;

use crate::common::t0;

crate::for_each_backend!(with_url:
    the_migration_moves_every_source_into_its_users_row,
    a_value_keeps_the_source_of_its_last_write_until_it_is_removed,
);

/// Five users with values from two sources, and one without values.
async fn some_users(store: &Arc<dyn Store>) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..6 {
        let at = t0() + Duration::minutes(i);
        let user = store
            .create_user(NewUser::with_email(format!("u{i}@example.com"), at))
            .await
            .unwrap();
        ids.push(user.id);
        if i == 5 {
            continue;
        }
        let changes = [
            ProfileChange::set(Location::Profile, "given_name", json!(format!("U{i}"))),
            ProfileChange::set(Location::UserMetadata, "company", json!("Acme")),
        ];
        store
            .apply_profile_changes(user.id, None, &changes[..=(i as usize % 2)], "signup", at)
            .await
            .unwrap();
        let plan = [ProfileChange::set(
            Location::AppMetadata,
            "plan",
            json!("pro"),
        )];
        store
            .apply_profile_changes(user.id, None, &plan, "api:shop", at + Duration::hours(1))
            .await
            .unwrap();
    }
    ids
}

fn millis(provenance: &Provenance) -> i128 {
    provenance.updated_at.unix_timestamp_nanos() / 1_000_000
}

async fn the_migration_moves_every_source_into_its_users_row(store: Arc<dyn Store>, url: String) {
    let ids = some_users(&store).await;
    let mut before = Vec::new();
    for id in &ids {
        before.push(store.value_provenance(*id).await.unwrap());
    }
    assert_eq!(before.iter().map(Vec::len).sum::<usize>(), 5 + 2 + 5);
    drop(store);
    // Back to the database as it was before migration 0031, with these sources in the table.
    let rows: Vec<String> = ids
        .iter()
        .zip(&before)
        .flat_map(|(id, provenance)| {
            provenance.iter().map(move |p| {
                format!(
                    "('{id}', '{}', '{}', '{}', {})",
                    p.location.as_str(),
                    p.key,
                    p.source,
                    millis(p)
                )
            })
        })
        .collect();
    let without_rowid = if url.starts_with("sqlite:") {
        "WITHOUT ROWID"
    } else {
        ""
    };
    execute_sql(
        &url,
        &format!(
            "CREATE TABLE profile_provenance (
                 user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                 location TEXT NOT NULL, key TEXT NOT NULL, source TEXT NOT NULL,
                 updated_at BIGINT NOT NULL, PRIMARY KEY (user_id, location, key)
             ) {without_rowid};
             INSERT INTO profile_provenance VALUES {};
             ALTER TABLE users DROP COLUMN sources;
             DELETE FROM accrete_migrations WHERE version = 31;",
            rows.join(", ")
        ),
    )
    .await;
    let store = accrete_store::connect(&url, ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    for (id, before) in ids.iter().zip(before) {
        assert_eq!(store.value_provenance(*id).await.unwrap(), before);
    }
    let left = if url.starts_with("sqlite:") {
        "SELECT CAST(COUNT(*) AS TEXT) FROM sqlite_master WHERE name = 'profile_provenance'"
    } else {
        "SELECT COUNT(*)::text FROM pg_class
         WHERE relname = 'profile_provenance'
           AND relnamespace = current_schema()::regnamespace"
    };
    assert_eq!(select_text(&url, left).await, ["0"]);
    let empty = format!(
        "SELECT CAST(sources AS TEXT) FROM users WHERE id = '{}'",
        ids[5]
    );
    assert_eq!(select_text(&url, &empty).await, ["{}"]);
    // Writes go on from what was carried over.
    let change = [ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("Ada"),
    )];
    let later = t0() + Duration::days(1);
    store
        .apply_profile_changes(ids[0], None, &change, "account", later)
        .await
        .unwrap();
    let sources: Vec<(String, String)> = store
        .value_provenance(ids[0])
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.key, p.source))
        .collect();
    assert_eq!(
        sources,
        [
            ("plan".to_owned(), "api:shop".to_owned()),
            ("given_name".to_owned(), "account".to_owned()),
        ]
    );
}

async fn a_value_keeps_the_source_of_its_last_write_until_it_is_removed(
    store: Arc<dyn Store>,
    _url: String,
) {
    let ids = some_users(&store).await;
    let id = ids[1];
    let provenance = store.value_provenance(id).await.unwrap();
    let found: Vec<(Location, &str, &str)> = provenance
        .iter()
        .map(|p| (p.location, p.key.as_str(), p.source.as_str()))
        .collect();
    // By location, then key.
    assert_eq!(
        found,
        [
            (Location::AppMetadata, "plan", "api:shop"),
            (Location::Profile, "given_name", "signup"),
            (Location::UserMetadata, "company", "signup"),
        ]
    );
    assert_eq!(
        provenance[0].updated_at,
        t0() + Duration::minutes(1) + Duration::hours(1)
    );
    let later = t0() + Duration::days(2);
    let remove = [
        ProfileChange::delete(Location::UserMetadata, "company"),
        ProfileChange::set(Location::Profile, "given_name", json!("Grace")),
    ];
    store
        .apply_profile_changes(id, None, &remove, "admin", later)
        .await
        .unwrap();
    let provenance = store.value_provenance(id).await.unwrap();
    let found: Vec<(&str, &str)> = provenance
        .iter()
        .map(|p| (p.key.as_str(), p.source.as_str()))
        .collect();
    assert_eq!(found, [("plan", "api:shop"), ("given_name", "admin")]);
    assert_eq!(provenance[1].updated_at, later);
    // The history still has every write.
    assert_eq!(store.user_history(id).await.unwrap().len(), 5);
    // A user who is not there has no sources.
    assert!(
        store
            .value_provenance(Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
}
