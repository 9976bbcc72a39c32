//! An imported user's values keep their history in the user's own row (`users.import_history_at`,
//! migration 0032): read back as one entry per value, turned into rows by the first write of
//! the user's values, exported, and purged with the retention like rows.

use std::sync::Arc;

use accrete_store::testing::select_text;
use accrete_store::{
    HistoryEntry, ImportOutcome, ImportUser, Location, ProfileChange, Store, UserUpdate,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common::t0;

crate::for_each_backend!(with_url:
    an_imported_users_history_is_in_its_row_until_its_values_are_written,
    a_value_set_twice_by_its_import_keeps_both_entries_as_rows,
    the_export_and_the_retention_see_the_history_an_imported_users_row_holds,
    an_import_read_before_a_write_it_replaces_is_dated_after_it,
);

fn ada(email: &str) -> ImportUser {
    ImportUser {
        email: email.into(),
        changes: vec![
            ProfileChange::set(Location::Profile, "given_name", json!("Ada")),
            ProfileChange::set(Location::AppMetadata, "plan", json!("pro")),
        ],
        patches: vec![(
            Location::UserMetadata,
            json!({ "company": "Acme", "prefs": { "news": true } }),
        )],
        ..ImportUser::default()
    }
}

async fn import(store: &Arc<dyn Store>, user: ImportUser, at: OffsetDateTime) -> Uuid {
    match &store
        .import_users("csv", vec![user], at, false)
        .await
        .unwrap()[..]
    {
        [ImportOutcome::Created(id)] => *id,
        other => panic!("expected a created user, got {other:?}"),
    }
}

async fn rows_of(url: &str, id: Uuid) -> Vec<String> {
    select_text(
        url,
        &format!(
            "SELECT location || '.' || key || '=' || coalesce(CAST(new_value AS TEXT), '-') || ' from ' || source
             FROM profile_history WHERE user_id = '{id}' ORDER BY seq"
        ),
    )
    .await
}

/// The user's `given_name` set to "Ada L." from the account page at `at`.
async fn rename(store: &Arc<dyn Store>, id: Uuid, at: OffsetDateTime) {
    let update = UserUpdate {
        changes: vec![ProfileChange::set(
            Location::Profile,
            "given_name",
            json!("Ada L."),
        )],
        ..UserUpdate::default()
    };
    store
        .update_user(id, None, &update, "account", at)
        .await
        .unwrap();
}

/// What an entry says, without its sequence number.
fn said(entry: &HistoryEntry) -> (Location, String, Option<serde_json::Value>, String, i128) {
    (
        entry.location,
        entry.key.clone(),
        entry.new_value.clone(),
        entry.source.clone(),
        entry.changed_at.unix_timestamp_nanos(),
    )
}

async fn an_imported_users_history_is_in_its_row_until_its_values_are_written(
    store: Arc<dyn Store>,
    url: String,
) {
    let id = import(&store, ada("ada@example.com"), t0()).await;
    assert_eq!(rows_of(&url, id).await, Vec::<String>::new());
    let imported = store.user_history(id).await.unwrap();
    let expected = [
        (Location::Profile, "given_name", json!("Ada")),
        (Location::UserMetadata, "company", json!("Acme")),
        (Location::UserMetadata, "prefs", json!({ "news": true })),
        (Location::AppMetadata, "plan", json!("pro")),
    ];
    assert_eq!(imported.len(), expected.len(), "{imported:?}");
    for (entry, (location, key, value)) in imported.iter().zip(expected.clone()) {
        assert_eq!(
            said(entry),
            said(&HistoryEntry {
                seq: 0,
                user_id: id,
                location,
                key: key.into(),
                old_value: None,
                new_value: Some(value),
                source: "import:csv".into(),
                changed_at: t0(),
            })
        );
        assert_eq!((entry.user_id, entry.old_value.as_ref()), (id, None));
    }

    // A value written: the import's entries become rows, before the write's own.
    let later = t0() + Duration::days(3);
    rename(&store, id, later).await;
    let history = store.user_history(id).await.unwrap();
    assert_eq!(history.len(), expected.len() + 1, "{history:?}");
    for (kept, before) in history.iter().zip(&imported) {
        assert_eq!(said(kept), said(before));
        assert!(kept.seq > 0, "a row has its own sequence number");
    }
    let last = history.last().unwrap();
    assert_eq!(
        (
            last.old_value.clone(),
            last.new_value.clone(),
            last.source.as_str()
        ),
        (Some(json!("Ada")), Some(json!("Ada L.")), "account")
    );
    assert_eq!(last.changed_at, later);
    let stored: Vec<String> = rows_of(&url, id)
        .await
        .iter()
        .map(|r| normalize(r))
        .collect();
    let expected_rows = [
        r#"profile.given_name="Ada" from import:csv"#,
        r#"user_metadata.company="Acme" from import:csv"#,
        r#"user_metadata.prefs={"news": true} from import:csv"#,
        r#"app_metadata.plan="pro" from import:csv"#,
        r#"profile.given_name="Ada L." from account"#,
    ];
    assert_eq!(stored, expected_rows.map(normalize));
    // Written again: nothing more to turn into rows.
    let update = UserUpdate {
        changes: vec![ProfileChange::delete(Location::AppMetadata, "plan")],
        ..UserUpdate::default()
    };
    store
        .update_user(id, None, &update, "admin", later)
        .await
        .unwrap();
    assert_eq!(
        store.user_history(id).await.unwrap().len(),
        expected.len() + 2
    );
    assert_eq!(rows_of(&url, id).await.len(), expected.len() + 2);
}

/// A stored row without spaces (PostgreSQL's `jsonb` puts one after a colon, SQLite none).
fn normalize(row: &str) -> String {
    row.replace(' ', "")
}

async fn a_value_set_twice_by_its_import_keeps_both_entries_as_rows(
    store: Arc<dyn Store>,
    url: String,
) {
    let mut user = ada("ada@example.com");
    user.changes.push(ProfileChange::set(
        Location::UserMetadata,
        "company",
        json!("Initech"),
    ));
    let id = import(&store, user, t0()).await;
    let history = store.user_history(id).await.unwrap();
    let company: Vec<_> = history
        .iter()
        .filter(|entry| entry.key == "company")
        .map(|entry| (entry.old_value.clone(), entry.new_value.clone()))
        .collect();
    assert_eq!(
        company,
        [
            (None, Some(json!("Initech"))),
            (Some(json!("Initech")), Some(json!("Acme")))
        ]
    );
    assert_eq!(rows_of(&url, id).await.len(), history.len());
}

async fn the_export_and_the_retention_see_the_history_an_imported_users_row_holds(
    store: Arc<dyn Store>,
    url: String,
) {
    let old = import(&store, ada("old@example.com"), t0() - Duration::days(400)).await;
    let recent = import(&store, ada("recent@example.com"), t0() - Duration::days(10)).await;
    let exported = store.export_users(None, 10, true).await.unwrap();
    for user in &exported {
        let history = store.user_history(user.user.id).await.unwrap();
        assert_eq!(user.history.len(), 4);
        assert_eq!(user.history, history);
    }
    assert!(
        store.export_users(None, 10, false).await.unwrap()[0]
            .history
            .is_empty()
    );

    // Four entries of the old user's row, and nothing of the recent one.
    let before = t0() - Duration::days(365);
    assert_eq!(store.purge_history(before).await.unwrap(), 4);
    assert_eq!(store.user_history(old).await.unwrap(), Vec::new());
    assert_eq!(store.user_history(recent).await.unwrap().len(), 4);
    // The values and their sources stay; a later write has no entry of the import to keep.
    assert_eq!(store.value_provenance(old).await.unwrap().len(), 4);
    assert_eq!(
        store.get_user(old).await.unwrap().profile["given_name"],
        json!("Ada")
    );
    rename(&store, old, t0()).await;
    assert_eq!(rows_of(&url, old).await.len(), 1);
    assert_eq!(store.purge_history(before).await.unwrap(), 0);
}

/// A batch is dated when the importer read it; a write that reached the user while the batch
/// waited (an API call) is replaced by the batch's value, which must read as the later one: the
/// history's last entry is the value the user has, and the value's source time is not before
/// the write it replaced.
async fn an_import_read_before_a_write_it_replaces_is_dated_after_it(
    store: Arc<dyn Store>,
    _url: String,
) {
    let id = import(&store, ada("ada@example.com"), t0()).await;
    let api_write = t0() + Duration::hours(2);
    rename(&store, id, api_write).await;
    // The next run's batch, read an hour before the API's write and written after it.
    let again = ImportUser {
        changes: vec![ProfileChange::set(
            Location::Profile,
            "given_name",
            json!("Ada (import)"),
        )],
        ..ada("ada@example.com")
    };
    let read_at = t0() + Duration::hours(1);
    let outcomes = store
        .import_users("csv", vec![again], read_at, false)
        .await
        .unwrap();
    assert!(
        matches!(outcomes[..], [ImportOutcome::Updated { .. }]),
        "{outcomes:?}"
    );
    let history = store.user_history(id).await.unwrap();
    let given: Vec<_> = history
        .iter()
        .filter(|entry| entry.key == "given_name")
        .collect();
    let last = given
        .iter()
        .max_by_key(|entry| (entry.changed_at, entry.seq))
        .unwrap();
    assert_eq!(last.new_value, Some(json!("Ada (import)")), "{given:?}");
    assert!(last.changed_at >= api_write, "{given:?}");
    let user = store.get_user(id).await.unwrap();
    assert_eq!(user.profile["given_name"], "Ada (import)");
    assert!(user.updated_at >= api_write);
}
