//! Search by field value through `user_values` (migration 0027, kept by triggers on `users`):
//! the same users, in the same order, with the same cursors, as the statement that reads every
//! user's JSON, for tricky values, across pages, after updates, removals and deletions, and
//! after the migration's backfill.

use std::sync::Arc;

use accrete_store::testing::{execute_sql, select_text};
use accrete_store::{
    ConnectOptions, FieldFilter, ImportOutcome, ImportStep, ImportUser, Location, NewUser,
    ProfileChange, SignInKind, Store, UserQuery,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common::{stream, stream_result, t0};

crate::for_each_backend!(with_url:
    a_search_by_value_finds_what_reading_every_user_finds,
    the_migration_indexes_the_users_already_there,
    a_sign_in_does_not_rewrite_the_users_values,
    a_whole_file_import_indexes_the_users_it_creates_and_changes,
    a_first_import_leaves_every_index_and_trigger_in_place,
);

const LOCATIONS: [Location; 3] = [
    Location::Profile,
    Location::UserMetadata,
    Location::AppMetadata,
];
const KEYS: [&str; 4] = ["v", "w", "a\"b\\.c", "nobody"];

/// Values that the two backends represent in their own ways, and some the index leaves out
/// (objects, arrays, strings past 256 bytes).
fn values() -> Vec<Value> {
    vec![
        json!("Acme"),
        json!("acme"),
        json!("Ac\"me'"),
        json!("Ünïcødé ✓ \u{1} \\ /"),
        json!(""),
        json!(42),
        json!(42.0),
        json!(-0.5),
        json!(1e300),
        json!(true),
        json!(false),
        json!(null),
        json!({ "nested": "Acme" }),
        json!([1, "Acme"]),
        json!("x".repeat(256)),
        json!("x".repeat(300)),
        json!("é".repeat(129)),
    ]
}

/// Users with every value under several keys of every bag, some sharing a value.
async fn some_users(store: &Arc<dyn Store>) -> Vec<Uuid> {
    let values = values();
    let mut ids = Vec::new();
    for i in 0..24 {
        let mut new =
            NewUser::with_email(format!("u{i}@x.org"), t0() + Duration::seconds(i as i64));
        // Confirmed: an import merges into such an account (not into an unconfirmed one).
        new.email_verified = true;
        let pick = |n: usize| values[(i * n) % values.len()].clone();
        new.profile = json!({ "v": pick(1), "w": pick(3) });
        new.user_metadata = json!({ "v": pick(5), "a\"b\\.c": pick(1) });
        new.app_metadata = if i % 4 == 0 {
            json!({})
        } else {
            json!({ "v": pick(7), "w": pick(1) })
        };
        ids.push(store.create_user(new).await.unwrap().id);
    }
    ids
}

/// The ids that the statement reading every user's JSON finds (the comparison `list_users`
/// made before the index), in id order.
async fn found_by_reading(
    url: &str,
    location: Location,
    key: &str,
    value: &Value,
    after: Option<OffsetDateTime>,
) -> Vec<Uuid> {
    let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
    let comparison = if url.starts_with("sqlite:") {
        // `Conn::json_key`'s path, and the compact JSON text `->` yields.
        let path = format!(
            "$.\"{}\"",
            key.replace('\\', "\\\\").replace('"', "\\u0022")
        );
        format!(
            "({} -> {}) = {}",
            location.as_str(),
            quote(&path),
            quote(&value.to_string())
        )
    } else {
        format!(
            "({} -> {}) = {}::jsonb",
            location.as_str(),
            quote(key),
            quote(&value.to_string())
        )
    };
    let after = after.map_or(String::new(), |at| {
        format!(" AND created_at >= {}", at.unix_timestamp() * 1000)
    });
    let sql = format!("SELECT id FROM users WHERE {comparison}{after} ORDER BY id");
    select_text(url, &sql)
        .await
        .iter()
        .map(|id| id.parse().unwrap())
        .collect()
}

/// Walks the pages of a search by value (two users a page) and checks each page and cursor
/// against reading every user.
async fn search_matches_reading(
    store: &Arc<dyn Store>,
    url: &str,
    location: Location,
    key: &str,
    value: &Value,
    after: Option<OffsetDateTime>,
) {
    let expected = found_by_reading(url, location, key, value, after).await;
    let mut cursor = None;
    let mut seen = 0;
    loop {
        let page = store
            .list_users(UserQuery {
                created_after: after,
                field: Some(FieldFilter {
                    location,
                    key: key.into(),
                    equals: Some(value.clone()),
                }),
                limit: Some(2),
                cursor,
                ..UserQuery::default()
            })
            .await
            .unwrap();
        let ids: Vec<Uuid> = page.items.iter().map(|user| user.id).collect();
        let end = (seen + 2).min(expected.len());
        let context = format!("{location:?} {key:?} = {value} after {after:?}");
        assert_eq!(ids, expected[seen..end], "{context}");
        seen = end;
        let more = seen < expected.len();
        assert_eq!(
            page.next_cursor,
            more.then(|| ids[ids.len() - 1]),
            "{context}"
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
}

async fn every_search_matches_reading(store: &Arc<dyn Store>, url: &str) {
    let mut searched = values();
    searched.extend([json!("nobody has this"), json!(43), json!("ACME")]);
    for location in LOCATIONS {
        for key in KEYS {
            for value in &searched {
                search_matches_reading(store, url, location, key, value, None).await;
            }
        }
    }
    let after = Some(t0() + Duration::seconds(7));
    for value in &searched {
        search_matches_reading(store, url, Location::Profile, "v", value, after).await;
    }
}

async fn a_search_by_value_finds_what_reading_every_user_finds(store: Arc<dyn Store>, url: String) {
    let ids = some_users(&store).await;
    // Not a vacuous comparison: some values are found.
    assert_eq!(
        found_by_reading(&url, Location::Profile, "v", &json!("Acme"), None)
            .await
            .len(),
        2
    );
    every_search_matches_reading(&store, &url).await;

    // A changed value, a removed one (a merge patch's null), a value set to null, a changed
    // nested object, and a deleted user.
    let now = t0() + Duration::days(1);
    store
        .merge_profile_patch(
            ids[0],
            None,
            Location::Profile,
            &json!({ "v": "ACME" }),
            "test",
            now,
        )
        .await
        .unwrap();
    store
        .merge_profile_patch(
            ids[1],
            None,
            Location::Profile,
            &json!({ "v": null }),
            "test",
            now,
        )
        .await
        .unwrap();
    store
        .apply_profile_changes(
            ids[2],
            None,
            &[
                ProfileChange::set(Location::UserMetadata, "v", json!(null)),
                ProfileChange::set(Location::AppMetadata, "w", json!(42)),
            ],
            "test",
            now,
        )
        .await
        .unwrap();
    store
        .merge_profile_patch(
            ids[3],
            None,
            Location::AppMetadata,
            &json!({ "v": { "nested": "Acme" }, "w": "nobody has this" }),
            "test",
            now,
        )
        .await
        .unwrap();
    store.delete_user(ids[5]).await.unwrap();
    every_search_matches_reading(&store, &url).await;
    let left = select_text(
        &url,
        &format!(
            "SELECT location FROM user_values WHERE user_id = '{}'",
            ids[5]
        ),
    )
    .await;
    assert_eq!(left, Vec::<String>::new(), "a deleted user's values stay");
}

async fn the_migration_indexes_the_users_already_there(store: Arc<dyn Store>, url: String) {
    some_users(&store).await;
    drop(store);
    // Back to the database as it was before the migration, with these users in it.
    let undo = if url.starts_with("sqlite:") {
        "DROP TRIGGER user_values_inserted;
         DROP TRIGGER user_values_replaced;
         DROP TRIGGER user_values_updated;
         DROP TRIGGER user_values_deleted;
         DROP TABLE user_values;
         DROP VIEW user_values_of;
         DELETE FROM accrete_migrations WHERE version IN (27, 30, 33);"
    } else {
        "DROP TRIGGER user_values_inserted ON users;
         DROP TRIGGER user_values_updated ON users;
         DROP TRIGGER user_values_deleted ON users;
         DROP FUNCTION user_values_inserted();
         DROP FUNCTION user_values_updated();
         DROP FUNCTION user_values_deleted();
         DROP TABLE user_values;
         DROP FUNCTION user_values_of(JSONB);
         DROP FUNCTION user_value_text(JSONB);
         DELETE FROM accrete_migrations WHERE version IN (27, 29, 33, 34, 35);"
    };
    execute_sql(&url, undo).await;
    let store = accrete_store::connect(&url, ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    every_search_matches_reading(&store, &url).await;
}

async fn a_sign_in_does_not_rewrite_the_users_values(store: Arc<dyn Store>, url: String) {
    let mut new = NewUser::with_email("ada@x.org", t0());
    new.profile = json!({ "v": "Acme" });
    let id = store.create_user(new).await.unwrap().id;
    // The row of the user's value taken out of the index behind the triggers' back: it comes
    // back only when something writes the user's profile values again.
    execute_sql(
        &url,
        &format!("DELETE FROM user_values WHERE user_id = '{id}' AND key = 'v'"),
    )
    .await;
    let acme = || UserQuery {
        field: Some(FieldFilter {
            location: Location::Profile,
            key: "v".into(),
            equals: Some(json!("Acme")),
        }),
        ..UserQuery::default()
    };
    store
        .record_sign_in(id, SignInKind::Sso, t0() + Duration::hours(1))
        .await
        .unwrap();
    store
        .record_sign_in(id, SignInKind::Credentialed, t0() + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(store.list_users(acme()).await.unwrap().items.len(), 0);
    // A change of another bag leaves the profile's values alone too; one of the profile
    // writes them again.
    store
        .merge_profile_patch(
            id,
            None,
            Location::AppMetadata,
            &json!({ "plan": "pro" }),
            "test",
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(store.list_users(acme()).await.unwrap().items.len(), 0);
    store
        .merge_profile_patch(
            id,
            None,
            Location::Profile,
            &json!({ "w": "Initech" }),
            "test",
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(store.list_users(acme()).await.unwrap().items.len(), 1);
}

/// Users `u{first}@x.org` onwards for an import, with every value under several keys of every
/// bag, as `some_users` has them (an email `some_users` already gave is an update).
fn imported_users(first: usize, count: usize) -> Vec<ImportUser> {
    let values = values();
    (first..first + count)
        .map(|i| {
            let pick = |n: usize| values[(i * n + 2) % values.len()].clone();
            ImportUser {
                email: format!("u{i}@x.org"),
                created_at: Some(t0() + Duration::seconds(i as i64)),
                changes: vec![
                    ProfileChange::set(Location::Profile, "v", pick(1)),
                    ProfileChange::set(Location::Profile, "w", pick(3)),
                    ProfileChange::set(Location::UserMetadata, "v", pick(5)),
                    ProfileChange::set(Location::UserMetadata, "a\"b\\.c", pick(1)),
                    ProfileChange::set(Location::AppMetadata, "w", pick(7)),
                ],
                ..ImportUser::default()
            }
        })
        .collect()
}

/// User `i` of [`imported_users`] with `profile.v` set to `value` by a change of its own.
fn changed_user(i: usize, value: &str) -> ImportUser {
    let mut user = imported_users(i, 1).remove(0);
    user.changes
        .push(ProfileChange::set(Location::Profile, "v", json!(value)));
    user
}

/// `users`, each with an id in the system it came from.
fn with_external_ids(users: Vec<ImportUser>) -> Vec<ImportUser> {
    users
        .into_iter()
        .map(|user| ImportUser {
            external_id: Some(format!("source|{}", user.email)),
            ..user
        })
        .collect()
}

/// A user created now with `profile.v` = `value` is found by it (the triggers index it).
async fn a_new_user_is_indexed(store: &Arc<dyn Store>, email: &str, value: &str) {
    let mut new = NewUser::with_email(email, t0());
    new.profile = json!({ "v": value });
    store.create_user(new).await.unwrap();
    assert_eq!(found(store, &json!(value)).await, 1);
}

/// Whether a search by `profile.v` finds anyone with `value`.
async fn found(store: &Arc<dyn Store>, value: &Value) -> usize {
    let query = UserQuery {
        field: Some(FieldFilter {
            location: Location::Profile,
            key: "v".into(),
            equals: Some(value.clone()),
        }),
        ..UserQuery::default()
    };
    store.list_users(query).await.unwrap().items.len()
}

/// A whole-file import indexes the values of the users it creates in one statement at its end
/// on SQLite (its insert trigger set aside meanwhile): the same index as the trigger's, the
/// users it changes included, and the trigger back for the users created after it, whether
/// the import committed or stopped.
async fn a_whole_file_import_indexes_the_users_it_creates_and_changes(
    store: Arc<dyn Store>,
    url: String,
) {
    some_users(&store).await;
    // An import that stops before its commit keeps nothing, and the trigger indexes the next
    // user.
    let batches = stream(&store, vec![ImportStep::batch(imported_users(24, 4), t0())]).await;
    assert!(matches!(batches[0][0], ImportOutcome::Created(_)));
    a_new_user_is_indexed(&store, "after.stop@x.org", "after a stopped import").await;

    // Two batches and the commit: users 20 to 23 exist (updated), 24 to 39 are created, and
    // user 30 is in both batches (created, then updated in the same transaction).
    let mut second = imported_users(32, 8);
    second.push(changed_user(30, "changed in the import"));
    let batches = stream(
        &store,
        vec![
            ImportStep::batch(imported_users(20, 12), t0()),
            ImportStep::batch(second, t0()),
            ImportStep::Commit,
        ],
    )
    .await;
    assert!(
        matches!(batches[0][0], ImportOutcome::Updated { .. }),
        "{batches:?}"
    );
    assert!(
        matches!(batches[0][4], ImportOutcome::Created(_)),
        "{batches:?}"
    );
    assert!(
        matches!(batches[1][8], ImportOutcome::Updated { .. }),
        "{batches:?}"
    );
    assert_eq!(store.count_users().await.unwrap(), 41);
    assert_eq!(found(&store, &json!("changed in the import")).await, 1);
    every_search_matches_reading(&store, &url).await;

    a_new_user_is_indexed(&store, "after.import@x.org", "after an import").await;
}

/// What a first whole-file import sets aside (built again at its end: indexes, triggers, and on
/// PostgreSQL constraints) is all back after it, as it was, whether it committed, stopped or
/// failed; and its users are found by their values. A first import looks nobody up: its users
/// must be distinct (`import_stream`), and one that repeats an address fails, nothing kept.
async fn a_first_import_leaves_every_index_and_trigger_in_place(
    store: Arc<dyn Store>,
    url: String,
) {
    let sql = if url.starts_with("sqlite:") {
        "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY name"
    } else {
        // This test's own schema (each test has one): the tables of the users' values.
        "WITH t AS (SELECT c.oid FROM pg_class c
                    WHERE c.relnamespace = current_schema()::regnamespace
                      AND c.relname IN ('users', 'user_values', 'profile_history',
                                        'user_imports'))
         SELECT 'constraint ' || k.conrelid::regclass::text || ' ' || k.conname || ' '
                || pg_get_constraintdef(k.oid)
         FROM pg_constraint k WHERE k.conrelid IN (SELECT oid FROM t)
         UNION ALL
         SELECT 'index ' || pg_get_indexdef(i.indexrelid)
         FROM pg_index i WHERE i.indrelid IN (SELECT oid FROM t)
         UNION ALL
         SELECT 'trigger ' || g.tgname::text || ' ' || g.tgenabled::text
         FROM pg_trigger g WHERE g.tgrelid IN (SELECT oid FROM t) AND NOT g.tgisinternal
         ORDER BY 1"
    };
    let schema = || select_text(&url, sql);
    let before = schema().await;
    for name in [
        "profile_history_user",
        "user_values_inserted",
        "users_created_at",
    ] {
        assert!(
            before.iter().any(|object| object.contains(name)),
            "{before:?}"
        );
    }
    stream(&store, vec![ImportStep::batch(imported_users(0, 3), t0())]).await;
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert_eq!(schema().await, before, "after a stopped first import");

    // User 2 in both batches, which the importer never sends (it refuses the later line).
    let repeated = stream_result(
        &store,
        vec![
            ImportStep::batch(imported_users(0, 6), t0()),
            ImportStep::batch(vec![changed_user(2, "changed in a first import")], t0()),
            ImportStep::Commit,
        ],
    )
    .await;
    assert!(repeated.is_err(), "{repeated:?}");
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert_eq!(schema().await, before, "after a failed first import");

    let batches = stream(
        &store,
        vec![
            ImportStep::batch(with_external_ids(imported_users(0, 6)), t0()),
            ImportStep::batch(imported_users(6, 2), t0()),
            ImportStep::Commit,
        ],
    )
    .await;
    assert!(
        batches
            .iter()
            .flatten()
            .all(|outcome| matches!(outcome, ImportOutcome::Created(_))),
        "{batches:?}"
    );
    assert_eq!(store.count_users().await.unwrap(), 8);
    assert_eq!(schema().await, before, "after a first import");
    every_search_matches_reading(&store, &url).await;
    a_new_user_is_indexed(&store, "after.first@x.org", "after a first import").await;
    let ImportOutcome::Created(first) = batches[0][0] else {
        panic!("{batches:?}")
    };
    store.delete_user(first).await.unwrap();
    // The foreign keys are back: the user's values and their history went with it.
    let orphans = "SELECT CAST(COUNT(*) AS TEXT) FROM user_values v
                   WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = v.user_id)
                   UNION ALL
                   SELECT CAST(COUNT(*) AS TEXT) FROM profile_history h
                   WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = h.user_id)
                   UNION ALL
                   SELECT CAST(COUNT(*) AS TEXT) FROM user_imports i
                   WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = i.user_id)
                   UNION ALL
                   SELECT CAST(COUNT(*) AS TEXT) FROM user_imports";
    assert_eq!(select_text(&url, orphans).await, ["0", "0", "0", "5"]);
    every_search_matches_reading(&store, &url).await;
}

/// On PostgreSQL, a first whole-file import by a role that may write the users' tables but does
/// not own them sets nothing aside (it could not drop their constraints): it imports row by row,
/// and its users are found by their values as when the tables' owner imports them.
#[tokio::test]
async fn a_first_import_by_a_role_that_does_not_own_the_tables_imports_row_by_row() {
    let Some((url, schema)) = accrete_store::testing::postgres_schema().await else {
        return;
    };
    let owner = accrete_store::connect(&url, ConnectOptions::default())
        .await
        .unwrap();
    owner.migrate().await.unwrap();
    let (schema, role) = (schema.schema(), format!("{}_importer", schema.schema()));
    execute_sql(
        &url,
        &format!(
            "CREATE ROLE {role};
             GRANT USAGE ON SCHEMA {schema} TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"
        ),
    )
    .await;
    let importer = accrete_store::connect(
        &format!("{url}&options[role]={role}"),
        ConnectOptions::default(),
    )
    .await
    .unwrap();
    let batches = stream(
        &importer,
        vec![
            ImportStep::batch(with_external_ids(imported_users(0, 6)), t0()),
            ImportStep::Commit,
        ],
    )
    .await;
    assert!(
        batches[0]
            .iter()
            .all(|outcome| matches!(outcome, ImportOutcome::Created(_))),
        "{batches:?}"
    );
    drop(importer);
    assert_eq!(owner.count_users().await.unwrap(), 6);
    every_search_matches_reading(&owner, &url).await;
    execute_sql(&url, &format!("DROP OWNED BY {role}; DROP ROLE {role}")).await;
}

/// On PostgreSQL, a user whose bags change or who is deleted has their rows of `user_values`
/// found by the table's primary key (the same rule applied to the bags before the change), not
/// by reading the table: with sequential scans forbidden, the transaction's statistics show
/// none of `user_values`, and the rows are gone.
#[tokio::test]
async fn postgres_a_changed_or_deleted_users_values_are_found_by_index() {
    use sqlx::{Connection as _, Row as _};
    let Some((url, _schema)) = accrete_store::testing::postgres_schema().await else {
        return;
    };
    let store = accrete_store::connect(&url, ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let ids = some_users(&store).await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    for sql in [
        "SET LOCAL enable_seqscan = off".to_owned(),
        format!(
            "UPDATE users SET profile = '{{\"v\": \"changed\"}}',
                 app_metadata = '{{}}' WHERE id = '{}'",
            ids[1]
        ),
        format!("DELETE FROM users WHERE id = '{}'", ids[2]),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let scans = sqlx::query(
        "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables
         WHERE relname = 'user_values' AND schemaname = current_schema()",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let (seq, idx): (i64, i64) = (scans.get(0), scans.get(1));
    assert_eq!(seq, 0, "user_values read in full");
    assert!(idx > 0, "no index scan counted");
    tx.commit().await.unwrap();
    let left = select_text(
        &url,
        &format!(
            "SELECT location || ' ' || key || ' ' || value::text FROM user_values
             WHERE user_id = '{}' AND location <> 'user_metadata' OR user_id = '{}'
             ORDER BY 1",
            ids[1], ids[2]
        ),
    )
    .await;
    assert_eq!(left, ["profile v \"changed\""]);
    every_search_matches_reading(&store, &url).await;
}

/// On SQLite, the triggers that delete a user's rows (a bag changed, the user deleted) seek
/// each row by the whole primary key, also with the statistics of a real table, where a value
/// is shared by many users: SQLite may then seek `(location, key, value)` alone and read every
/// user who has the value. Each trigger's statement, read from the schema with the user's id
/// and the change's conditions put in, is planned as it would run (`EXPLAIN QUERY PLAN`).
#[tokio::test]
async fn sqlite_a_users_values_are_deleted_by_their_whole_key_with_real_statistics() {
    use sqlx::{Connection as _, Row as _};
    let (store, dir) = accrete_store::testing::sqlite_store().await;
    drop(store);
    let url = accrete_store::testing::sqlite_url(&dir);
    // The statistics of a million-user import (`ANALYZE`): about five users a value.
    execute_sql(
        &url,
        "ANALYZE;
         DELETE FROM sqlite_stat1 WHERE tbl IN ('user_values', 'users');
         INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
             ('user_values', 'user_values', '5678155 1653 1653 5 1'),
             ('users', 'sqlite_autoindex_users_1', '1000000 1'),
             ('users', 'sqlite_autoindex_users_2', '1000000 1'),
             ('users', 'users_created_at', '1000000 1');",
    )
    .await;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut planned = 0;
    for (name, sql) in sqlx::query_as::<_, (String, String)>(
        "SELECT name, sql FROM sqlite_master
         WHERE type = 'trigger' AND name IN ('user_values_replaced', 'user_values_deleted')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    {
        let start = sql.find("DELETE FROM user_values").unwrap();
        let end = start + sql[start..].find(";\nEND").unwrap();
        let mut statement =
            sql[start..end].replace("OLD.id", "'0190a0a0-0000-7000-8000-000000000001'");
        for bag in ["profile", "user_metadata", "app_metadata"] {
            statement = statement.replace(&format!("OLD.{bag} IS NOT NEW.{bag}"), "1");
        }
        let plan: Vec<String> = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {statement}"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect();
        assert!(
            plan.iter().any(|step| step
                == "SEARCH user_values USING PRIMARY KEY (location=? AND key=? AND value=? AND user_id=?)"),
            "{name}: {plan:#?}"
        );
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN user_values")),
            "{name}: {plan:#?}"
        );
        planned += 1;
    }
    assert_eq!(planned, 2);
}
