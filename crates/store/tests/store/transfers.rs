//! Users in and out: an import batch is one transaction, finds users by external id then email,
//! stores values with their provenance and history, counts them, and changes nothing when run
//! again; a dry run leaves nothing; the export pages through every user with its sources.

use std::collections::BTreeMap;
use std::sync::Arc;

use accrete_store::{
    HistoryEntry, ImportOutcome, ImportStep, ImportUser, ImportedSource, Location, NewUser,
    ProfileChange, PromptState, SignIns, Store, UserUpdate,
};
use serde_json::json;
use time::Duration;
use uuid::Uuid;

use crate::common::{stream, t0};

crate::for_each_backend!(
    an_import_creates_users_with_values_sources_history_and_counts,
    importing_the_same_users_again_changes_nothing,
    an_existing_user_is_found_by_email_and_keeps_its_password,
    a_user_is_found_again_by_its_external_id_after_an_email_change,
    an_account_whose_address_is_not_confirmed_is_not_merged_with_an_imported_user,
    a_user_who_moved_to_another_address_in_the_batch_is_not_found_by_the_old_one,
    a_dry_run_stores_nothing,
    a_given_history_sources_sign_ins_and_prompt_state_are_kept,
    a_taken_id_is_replaced_and_a_taken_email_refused,
    the_export_pages_through_every_user_with_sources_and_history,
    one_transaction_for_an_import_commits_once_or_keeps_nothing,
    every_character_of_an_imported_user_is_kept,
    imported_users_take_their_ids_at_the_import,
    a_first_import_of_several_batches_creates_each_in_the_order_of_the_file,
);

fn ada() -> ImportUser {
    ImportUser {
        external_id: Some("auth0|ada".into()),
        email: "Ada@Example.com".into(),
        email_verified: true,
        password_hash: Some("$2b$10$abcdefghijklmnopqrstuu5H0K9qE0qAKYaW4vzP3vB5U8o9wPeW".into()),
        created_at: Some(t0() - Duration::days(400)),
        changes: vec![ProfileChange::set(
            Location::Profile,
            "given_name",
            json!("Ada"),
        )],
        patches: vec![(
            Location::UserMetadata,
            json!({ "company": "Acme", "prefs": { "news": true } }),
        )],
        ..ImportUser::default()
    }
}

async fn import(store: &Arc<dyn Store>, users: Vec<ImportUser>) -> Vec<ImportOutcome> {
    store
        .import_users("auth0", users, t0(), false)
        .await
        .unwrap()
}

fn created(outcome: &ImportOutcome) -> Uuid {
    match outcome {
        ImportOutcome::Created(id) => *id,
        other => panic!("expected a created user, got {other:?}"),
    }
}

async fn an_import_creates_users_with_values_sources_history_and_counts(store: Arc<dyn Store>) {
    let mut grace = ada();
    grace.external_id = Some("auth0|grace".into());
    grace.email = "grace@example.com".into();
    grace.disabled = true;
    grace.password_hash = None;
    let outcomes = import(&store, vec![ada(), grace]).await;
    let ada_id = created(&outcomes[0]);
    let grace_id = created(&outcomes[1]);

    let user = store.get_user(ada_id).await.unwrap();
    assert_eq!(user.email, "Ada@Example.com");
    assert!(user.email_verified);
    assert!(
        user.password_hash
            .as_deref()
            .unwrap()
            .starts_with("$2b$10$")
    );
    assert_eq!(user.created_at, t0() - Duration::days(400));
    assert_eq!(user.profile, json!({ "given_name": "Ada" }));
    assert_eq!(
        user.user_metadata,
        json!({ "company": "Acme", "prefs": { "news": true } })
    );
    assert!(user.disabled_at.is_none());
    assert!(
        store
            .get_user(grace_id)
            .await
            .unwrap()
            .disabled_at
            .is_some()
    );

    let sources: Vec<(Location, String, String)> = store
        .value_provenance(ada_id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.location, p.key, p.source))
        .collect();
    assert_eq!(sources.len(), 3, "{sources:?}");
    assert!(
        sources
            .iter()
            .all(|(_, _, source)| source == "import:auth0")
    );
    let history = store.user_history(ada_id).await.unwrap();
    assert_eq!(history.len(), 3);
    assert!(
        history
            .iter()
            .all(|h| h.old_value.is_none() && h.source == "import:auth0")
    );

    let by_key = store
        .count_users_by_key(Location::UserMetadata)
        .await
        .unwrap();
    assert!(by_key.contains(&("company".to_owned(), 2)), "{by_key:?}");
    let day = (t0() - Duration::days(400)).date();
    let days = store.daily_counts(day, day).await.unwrap();
    assert_eq!(days[0].sign_ups, 2);
    assert_eq!(
        store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap()
            .id,
        ada_id
    );
}

async fn importing_the_same_users_again_changes_nothing(store: Arc<dyn Store>) {
    let id = created(&import(&store, vec![ada()]).await[0]);
    let before = store.get_user(id).await.unwrap();
    let history = store.user_history(id).await.unwrap().len();
    assert_eq!(
        import(&store, vec![ada()]).await,
        vec![ImportOutcome::Unchanged(id)]
    );
    let after = store.get_user(id).await.unwrap();
    assert_eq!(after.version, before.version);
    assert_eq!(store.user_history(id).await.unwrap().len(), history);
    assert_eq!(store.count_users().await.unwrap(), 1);
    let by_key = store
        .count_users_by_key(Location::UserMetadata)
        .await
        .unwrap();
    assert!(by_key.contains(&("company".to_owned(), 1)), "{by_key:?}");
}

async fn an_existing_user_is_found_by_email_and_keeps_its_password(store: Arc<dyn Store>) {
    let mut new = NewUser::with_email("ada@example.com", t0());
    new.password_hash = Some("$argon2id$accrete".into());
    new.email_verified = true;
    let existing = store.create_user(new).await.unwrap();
    let outcomes = import(&store, vec![ada()]).await;
    assert_eq!(
        outcomes,
        vec![ImportOutcome::Updated {
            id: existing.id,
            password_hash_stored: false
        }]
    );
    let user = store.get_user(existing.id).await.unwrap();
    assert_eq!(user.password_hash.as_deref(), Some("$argon2id$accrete"));
    assert_eq!(
        user.email, "ada@example.com",
        "found by email: the email stays as it was"
    );
    assert_eq!(user.user_metadata["company"], json!("Acme"));
    // Found by its external id from now on.
    assert_eq!(
        import(&store, vec![ada()]).await,
        vec![ImportOutcome::Unchanged(existing.id)]
    );
}

/// Anyone may sign up with the address of a person about to be migrated, and not confirm it:
/// the import does not give that account the person's values, roles and id in the source. A
/// user an import made, unconfirmed in the source, is still found again by its address.
async fn an_account_whose_address_is_not_confirmed_is_not_merged_with_an_imported_user(
    store: Arc<dyn Store>,
) {
    let mut new = NewUser::with_email("ada@example.com", t0());
    new.password_hash = Some("$argon2id$someone".into());
    let squatter = store.create_user(new).await.unwrap();
    let mut admin = ada();
    admin
        .patches
        .push((Location::AppMetadata, json!({ "roles": ["admin"] })));
    for _ in 0..2 {
        match &import(&store, vec![admin.clone()]).await[0] {
            ImportOutcome::Refused(reason) => assert!(reason.contains("not confirmed"), "{reason}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    let after = store.get_user(squatter.id).await.unwrap();
    assert_eq!(after.app_metadata, json!({}));
    assert_eq!(after.user_metadata, json!({}));
    assert_eq!(after.password_hash.as_deref(), Some("$argon2id$someone"));
    // Once confirmed, the address is the account's owner's: the import finds it.
    let confirmed = UserUpdate {
        email: Some(accrete_store::EmailChange {
            email: "ada@example.com".into(),
            verified: true,
        }),
        ..UserUpdate::default()
    };
    store
        .update_user(squatter.id, None, &confirmed, "account", t0())
        .await
        .unwrap();
    assert!(matches!(
        import(&store, vec![admin]).await[0],
        ImportOutcome::Updated { id, password_hash_stored: false } if id == squatter.id
    ));

    // Imported without an id in the source and unconfirmed there: the same user again.
    let mut grace = ImportUser {
        email: "grace@example.com".into(),
        changes: vec![ProfileChange::set(
            Location::Profile,
            "given_name",
            json!("Grace"),
        )],
        ..ImportUser::default()
    };
    let id = created(&import(&store, vec![grace.clone()]).await[0]);
    assert_eq!(
        import(&store, vec![grace.clone()]).await,
        vec![ImportOutcome::Unchanged(id)]
    );
    grace.changes = vec![ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("G."),
    )];
    assert!(matches!(
        import(&store, vec![grace]).await[0],
        ImportOutcome::Updated { id: found, .. } if found == id
    ));
}

async fn a_user_is_found_again_by_its_external_id_after_an_email_change(store: Arc<dyn Store>) {
    let id = created(&import(&store, vec![ada()]).await[0]);
    let mut moved = ada();
    moved.email = "ada@new.example".into();
    moved.changes = vec![ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("Ada L."),
    )];
    assert_eq!(
        import(&store, vec![moved]).await,
        vec![ImportOutcome::Updated {
            id,
            password_hash_stored: false
        }]
    );
    let user = store.get_user(id).await.unwrap();
    assert_eq!(user.email, "ada@new.example");
    assert_eq!(user.profile["given_name"], json!("Ada L."));
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn a_user_who_moved_to_another_address_in_the_batch_is_not_found_by_the_old_one(
    store: Arc<dyn Store>,
) {
    let alice = created(&import(&store, vec![ada()]).await[0]);
    // In one batch: Alice moves to a new address, then another person of the source has the
    // address she left.
    let mut moved = ada();
    moved.email = "ada@new.example".into();
    let mut carol = ada();
    carol.external_id = Some("auth0|carol".into());
    carol.changes = vec![ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("Carol"),
    )];
    let outcomes = import(&store, vec![moved, carol]).await;
    assert!(
        matches!(outcomes[0], ImportOutcome::Updated { id, .. } if id == alice),
        "{outcomes:?}"
    );
    let carol = created(&outcomes[1]);
    assert_ne!(carol, alice);
    let alice = store.get_user(alice).await.unwrap();
    assert_eq!(alice.email, "ada@new.example");
    assert_ne!(alice.profile["given_name"], json!("Carol"));
    let carol = store.get_user(carol).await.unwrap();
    assert_eq!(carol.email.to_lowercase(), "ada@example.com");
    assert_eq!(carol.profile["given_name"], json!("Carol"));
}

async fn a_dry_run_stores_nothing(store: Arc<dyn Store>) {
    let outcomes = store
        .import_users("auth0", vec![ada()], t0(), true)
        .await
        .unwrap();
    assert!(matches!(outcomes[0], ImportOutcome::Created(_)));
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert!(
        store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .count_users_by_key(Location::UserMetadata)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_given_history_sources_sign_ins_and_prompt_state_are_kept(store: Arc<dyn Store>) {
    let id = Uuid::now_v7();
    let mut user = ada();
    user.id = Some(id);
    user.sources = BTreeMap::from([(
        (Location::Profile, "given_name".to_owned()),
        ImportedSource {
            source: "signup".to_owned(),
            at: Some(t0() - Duration::days(2)),
        },
    )]);
    user.updated_at = Some(t0() - Duration::days(1));
    user.disabled = true;
    user.disabled_at = Some(t0() - Duration::hours(5));
    user.sign_ins = SignIns {
        credentialed: 3,
        sso: 4,
        last_at: Some(t0() - Duration::hours(6)),
    };
    let skipped = PromptState {
        step: "work".into(),
        shown: 2,
        skipped: 1,
        answered: 0,
        last_shown_at: Some(t0() - Duration::hours(7)),
        last_skipped_at: Some(t0() - Duration::hours(7)),
        last_answered_at: None,
        logins_at_last_skip: Some(3),
        declined: vec!["company_size".into()],
    };
    user.prompts = vec![skipped.clone()];
    let entry = |value: &str, at| HistoryEntry {
        seq: 0,
        user_id: Uuid::nil(),
        location: Location::Profile,
        key: "given_name".into(),
        old_value: None,
        new_value: Some(json!(value)),
        source: "signup".into(),
        changed_at: at,
    };
    user.history = vec![
        entry("Ad", t0() - Duration::days(3)),
        entry("Ada", t0() - Duration::days(2)),
    ];
    assert_eq!(created(&import(&store, vec![user]).await[0]), id);
    let history = store.user_history(id).await.unwrap();
    assert_eq!(
        history.len(),
        2,
        "the given history, not one entry per value"
    );
    assert_eq!(history[1].new_value, Some(json!("Ada")));
    assert_eq!(history[1].changed_at, t0() - Duration::days(2));
    let sources = store.value_provenance(id).await.unwrap();
    let given = sources.iter().find(|p| p.key == "given_name").unwrap();
    assert_eq!(given.source, "signup");
    assert_eq!(given.updated_at, t0() - Duration::days(2));
    let company = sources.iter().find(|p| p.key == "company").unwrap();
    assert_eq!(company.source, "import:auth0");
    assert_eq!(company.updated_at, t0());

    let stored = store.get_user(id).await.unwrap();
    assert_eq!(stored.updated_at, t0() - Duration::days(1));
    assert_eq!(stored.disabled_at, Some(t0() - Duration::hours(5)));
    assert_eq!(
        (
            stored.credentialed_logins,
            stored.sso_logins,
            stored.last_login_at
        ),
        (3, 4, Some(t0() - Duration::hours(6)))
    );
    assert_eq!(
        store.prompt_states(id).await.unwrap(),
        vec![skipped.clone()]
    );
    // And out again, a page at a time.
    let page = store.export_users(None, 10, false).await.unwrap();
    let exported = page.iter().find(|u| u.user.id == id).unwrap();
    assert_eq!(exported.prompts, vec![skipped]);
}

async fn a_taken_id_is_replaced_and_a_taken_email_refused(store: Arc<dyn Store>) {
    let other = store
        .create_user(NewUser::with_email("grace@example.com", t0()))
        .await
        .unwrap();
    let mut user = ada();
    user.id = Some(other.id);
    let id = created(&import(&store, vec![user]).await[0]);
    assert_ne!(id, other.id);
    // The user imported as auth0|ada now says it has Grace's address.
    let mut clash = ada();
    clash.email = "GRACE@example.com".into();
    match &import(&store, vec![clash]).await[0] {
        ImportOutcome::Refused(reason) => {
            assert!(reason.contains("another user"), "{reason}");
            assert!(reason.contains(&other.id.to_string()), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(store.get_user(id).await.unwrap().email, "Ada@Example.com");
}

async fn the_export_pages_through_every_user_with_sources_and_history(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let user = store
            .create_user(NewUser::with_email(format!("u{i}@example.com"), t0()))
            .await
            .unwrap();
        let update = UserUpdate {
            changes: vec![ProfileChange::set(
                Location::Profile,
                "given_name",
                json!(format!("U{i}")),
            )],
            ..UserUpdate::default()
        };
        store
            .update_user(user.id, None, &update, "signup", t0())
            .await
            .unwrap();
        ids.push(user.id);
    }
    ids.sort();
    let first = store.export_users(None, 2, true).await.unwrap();
    assert_eq!(
        first.iter().map(|u| u.user.id).collect::<Vec<_>>(),
        ids[..2]
    );
    assert_eq!(first[0].provenance.len(), 1);
    assert_eq!(first[0].provenance[0].source, "signup");
    assert_eq!(first[0].history.len(), 1);
    let rest = store.export_users(Some(ids[1]), 10, false).await.unwrap();
    assert_eq!(rest.iter().map(|u| u.user.id).collect::<Vec<_>>(), ids[2..]);
    assert!(rest[0].history.is_empty(), "history only when asked for");
    assert!(
        store
            .export_users(Some(ids[4]), 10, true)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn one_transaction_for_an_import_commits_once_or_keeps_nothing(store: Arc<dyn Store>) {
    let user = |n: i64, company: &str| ImportUser {
        email: format!("user{n}@example.com"),
        created_at: Some(t0() - Duration::days(n)),
        patches: vec![(Location::UserMetadata, json!({ "company": company }))],
        ..ImportUser::default()
    };
    // Steps that end without `Commit` (the importer stopped): nothing is kept.
    let batches = stream(
        &store,
        vec![ImportStep::batch(
            vec![user(1, "Acme"), user(2, "Acme")],
            t0(),
        )],
    )
    .await;
    assert_eq!(batches.len(), 1);
    assert!(matches!(batches[0][0], ImportOutcome::Created(_)));
    assert_eq!(store.count_users().await.unwrap(), 0);
    let first = (t0() - Duration::days(3)).date();
    let days = store.daily_counts(first, t0().date()).await.unwrap();
    assert!(days.iter().all(|d| d.sign_ups == 0), "{days:?}");

    // Two batches and the commit: both are kept, with their counters (days and values). A user
    // exists before: this is not a first import, whose users must be distinct
    // (`import_stream`), so the same user in two of its batches is found.
    store
        .create_user(NewUser::with_email(
            "before@example.com",
            t0() - Duration::days(30),
        ))
        .await
        .unwrap();
    let batches = stream(
        &store,
        vec![
            ImportStep::batch(vec![user(1, "Acme"), user(2, "Acme")], t0()),
            // The same user again, in the next batch of the same transaction: found.
            ImportStep::batch(vec![user(3, "Initech"), user(1, "Globex")], t0()),
            ImportStep::Commit,
        ],
    )
    .await;
    assert_eq!(batches.len(), 2);
    assert!(
        matches!(batches[1][1], ImportOutcome::Updated { .. }),
        "{batches:?}"
    );
    assert_eq!(store.count_users().await.unwrap(), 4);
    let days = store.daily_counts(first, t0().date()).await.unwrap();
    let sign_ups: Vec<(time::Date, i64)> = days
        .iter()
        .filter(|d| d.sign_ups > 0)
        .map(|d| (d.day, d.sign_ups))
        .collect();
    assert_eq!(
        sign_ups,
        [3, 2, 1].map(|n| ((t0() - Duration::days(n)).date(), 1)),
    );
    let by_key = store
        .count_users_by_key(Location::UserMetadata)
        .await
        .unwrap();
    assert!(by_key.contains(&("company".to_owned(), 3)), "{by_key:?}");
}

/// What the batches' rows carry as JSON text comes back as it went in: quotes, commas, line
/// breaks, backslashes, `\N`, empty strings and absent values, in every column an import
/// writes.
async fn every_character_of_an_imported_user_is_kept(store: Arc<dyn Store>) {
    let awkward = "Zoë \"Z\", the\r\nsecond\\N \\ , ; \t end";
    let hash = "$pbkdf2-sha256$i=1,l=32$c2FsdA$\"quoted\",\n\\N";
    let metadata = json!({
        " ": "",
        "a,b\"c\nd\\e": awkward,
        "\\N": "\\N",
        "NULL": null,
        "nested": { "\"": ["", "\n", 0] },
    });
    let user = ImportUser {
        email: "o'brien+\"x\"@example.com".into(),
        password_hash: Some(hash.into()),
        changes: vec![ProfileChange::set(
            Location::Profile,
            "given_name",
            json!(awkward),
        )],
        patches: vec![(Location::UserMetadata, metadata.clone())],
        ..ImportUser::default()
    };
    let entry = |key: &str, old_value, new_value| HistoryEntry {
        seq: 0,
        user_id: Uuid::nil(),
        location: Location::UserMetadata,
        key: key.into(),
        old_value,
        new_value,
        source: "a \"source\",\n\\N".into(),
        changed_at: t0(),
    };
    let mut with_history = user.clone();
    with_history.email = "second@example.com".into();
    with_history.history = vec![
        entry(" ", None, Some(json!(""))),
        entry("\\N", Some(json!("\\N")), None),
        entry("a,b\"c\nd\\e", Some(json!(null)), Some(json!(awkward))),
    ];
    let outcomes = import(&store, vec![user, with_history.clone()]).await;
    let (id, second) = (created(&outcomes[0]), created(&outcomes[1]));

    let stored = store.get_user(id).await.unwrap();
    assert_eq!(stored.email, "o'brien+\"x\"@example.com");
    assert_eq!(stored.password_hash.as_deref(), Some(hash));
    assert_eq!(stored.profile, json!({ "given_name": awkward }));
    // A null in a merge patch removes the key (RFC 7396).
    let mut expected = metadata;
    expected.as_object_mut().unwrap().remove("NULL");
    assert_eq!(stored.user_metadata, expected);
    let mut keys: Vec<String> = store
        .value_provenance(id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.key)
        .collect();
    keys.sort();
    assert_eq!(keys, [" ", "\\N", "a,b\"c\nd\\e", "given_name", "nested"]);
    let history: Vec<(String, Option<serde_json::Value>)> = store
        .user_history(id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.key, h.new_value))
        .collect();
    assert!(
        history.contains(&(" ".into(), Some(json!("")))),
        "{history:?}"
    );
    assert!(
        history.contains(&("a,b\"c\nd\\e".into(), Some(json!(awkward)))),
        "{history:?}"
    );

    let kept: Vec<_> = store
        .user_history(second)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.key, h.old_value, h.new_value, h.source))
        .collect();
    // A JSON null in a given history is an absent value.
    let given: Vec<_> = with_history
        .history
        .into_iter()
        .map(|h| {
            (
                h.key,
                h.old_value.filter(|v| !v.is_null()),
                h.new_value,
                h.source,
            )
        })
        .collect();
    assert_eq!(kept, given);
}

/// An imported user's id is made at the import, whatever its creation date in the source (kept
/// as `created_at`): ids follow the order users came to this server, so a client that lists
/// users after the last id it saw finds every imported user. The import is the first thing this
/// test's process makes ids for, as in `accrete users import`.
async fn imported_users_take_their_ids_at_the_import(store: Arc<dyn Store>) {
    let created_on = |days: i64, email: &str| ImportUser {
        email: email.into(),
        created_at: Some(t0() - Duration::days(days)),
        ..ImportUser::default()
    };
    let outcomes = import(
        &store,
        vec![
            created_on(400, "old@example.com"),
            created_on(800, "older@example.com"),
        ],
    )
    .await;
    let ids: Vec<Uuid> = outcomes.iter().map(created).collect();
    let import_ms = u64::try_from(t0().unix_timestamp()).unwrap() * 1000;
    for id in &ids {
        let (seconds, nanos) = id.get_timestamp().unwrap().to_unix();
        let ms = seconds * 1000 + u64::from(nanos) / 1_000_000;
        assert!(ms >= import_ms, "{id} was made at {ms}, before the import");
    }
    assert!(ids[0] < ids[1], "ids in the order of the file: {ids:?}");
    let older = store.get_user(ids[1]).await.unwrap();
    assert_eq!(older.created_at, t0() - Duration::days(800));
}

/// PostgreSQL, where other writers run beside an import: a sign-up (here a transaction left
/// open) creates a user with the address of a new line after the batch looked it up and before
/// it inserts. The batch waits for that transaction, then finds its user and updates it; it
/// stopped on the unique key before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_user_created_beside_a_batch_is_updated_not_a_failed_import() {
    use sqlx::Connection as _;
    let Some((store, schema)) = accrete_store::testing::postgres_store().await else {
        return;
    };
    let mut other = sqlx::PgConnection::connect(&schema.url()).await.unwrap();
    let (signup_pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(&mut other)
        .await
        .unwrap();
    let mut signup = other.begin().await.unwrap();
    let theirs = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO users (id, email, email_normalized, email_verified, created_at, updated_at)
         VALUES ($1, 'ada@example.com', 'ada@example.com', TRUE, 0, 0)",
    )
    .bind(theirs.to_string())
    .execute(&mut *signup)
    .await
    .unwrap();
    let importing = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let grace = ImportUser {
                email: "grace@example.com".into(),
                ..ImportUser::default()
            };
            store
                .import_users("auth0", vec![ada(), grace], t0(), false)
                .await
        })
    };
    // The import's insert waits for the sign-up's transaction: a backend that it blocks. (A
    // condition polled, not a delay assumed.)
    let mut watch = sqlx::PgConnection::connect(&schema.url()).await.unwrap();
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
        )
        .bind(signup_pid)
        .fetch_one(&mut watch)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            !importing.is_finished(),
            "the import did not wait for the sign-up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    signup.commit().await.unwrap();
    let outcomes = importing.await.unwrap().expect("the import goes on");
    assert!(
        matches!(outcomes[0], ImportOutcome::Updated { id, .. } if id == theirs),
        "{outcomes:?}"
    );
    let grace = created(&outcomes[1]);
    let ada = store.get_user(theirs).await.unwrap();
    assert_eq!(ada.profile["given_name"], json!("Ada"));
    assert_eq!(ada.user_metadata["company"], json!("Acme"));
    assert_eq!(
        store.get_user(grace).await.unwrap().email,
        "grace@example.com"
    );
}

/// A first whole-file import (no user before it) whose batches are written one after another
/// while the next is made ready (PostgreSQL plans a batch without ids of its own ahead, on a
/// thread of its own): every user is created in the order of the file, with the id given to it
/// unless an earlier user has it, its values, its id in the source and its counters; stopped
/// before `Commit`, nothing is kept.
async fn a_first_import_of_several_batches_creates_each_in_the_order_of_the_file(
    store: Arc<dyn Store>,
) {
    let user = |n: u32| ImportUser {
        external_id: Some(format!("auth0|{n}")),
        email: format!("User{n}@Example.com"),
        created_at: Some(t0() - Duration::days(i64::from(n))),
        patches: vec![(
            Location::UserMetadata,
            json!({ "company": "Acme", "seats": n }),
        )],
        ..ImportUser::default()
    };
    let given = |n: u32| ImportUser {
        id: Some(Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_0000_0000 + u128::from(n),
        )),
        ..user(n)
    };
    let batches = || {
        vec![
            ImportStep::batch(vec![user(1), user(2)], t0()),
            ImportStep::batch(vec![given(3), user(4)], t0()),
            ImportStep::batch(vec![user(5), user(6)], t0()),
            // The id of user 3 again: taken by then, so user 7 gets one of its own.
            ImportStep::batch(
                vec![ImportUser {
                    id: given(3).id,
                    ..user(7)
                }],
                t0(),
            ),
        ]
    };
    // Stopped before the commit, with batches planned ahead: nothing is kept.
    let stopped = stream(&store, batches()).await;
    assert_eq!(stopped.len(), 4);
    assert_eq!(store.count_users().await.unwrap(), 0);

    let mut steps = batches();
    steps.push(ImportStep::Commit);
    let outcomes: Vec<ImportOutcome> = stream(&store, steps).await.concat();
    let ids: Vec<Uuid> = outcomes.iter().map(created).collect();
    assert_eq!(ids.len(), 7);
    assert_eq!(ids[2], given(3).id.unwrap());
    // New ids are made in the order of the file, batch after batch.
    let made: Vec<Uuid> = [0, 1, 3, 4, 5].map(|i| ids[i]).to_vec();
    assert!(made.is_sorted(), "{made:?}");
    assert_ne!(ids[6], ids[2]);
    for (n, id) in (1..=7).zip(&ids) {
        let stored = store
            .find_user_by_email(&format!("user{n}@example.com"))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("user {n} was not created"));
        assert_eq!(stored.id, *id);
        assert_eq!(
            stored.user_metadata,
            json!({ "company": "Acme", "seats": n })
        );
        assert_eq!(stored.created_at, t0() - Duration::days(i64::from(n)));
    }
    let by_key = store
        .count_users_by_key(Location::UserMetadata)
        .await
        .unwrap();
    assert!(by_key.contains(&("company".to_owned(), 7)), "{by_key:?}");
    // Each user's id in the source was kept: the next import finds user 6 by it, at a new
    // address.
    let moved = ImportUser {
        email: "six@example.com".into(),
        ..user(6)
    };
    let again = stream(
        &store,
        vec![ImportStep::batch(vec![moved], t0()), ImportStep::Commit],
    )
    .await
    .concat();
    assert!(
        matches!(again[0], ImportOutcome::Updated { id, .. } if id == ids[5]),
        "{again:?}"
    );
}
