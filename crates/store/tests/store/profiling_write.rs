//! One step of profiling as one unit of work: the transaction update, the value changes and
//! the event land together or not at all.

use std::sync::Arc;

use accrete_store::{
    AuthTransaction, EventKind, Location, NewAuthTransaction, NewEvent, ProfileChange,
    ProfilingWrite, Store, StoreError, User,
};
use serde_json::json;
use time::Duration;

use crate::common::t0;
use crate::oidc::{client, user};

crate::for_each_backend!(
    with_url:
    a_profiling_write_updates_the_transaction_the_values_and_the_prompt_state,
    a_failure_after_the_values_are_written_leaves_nothing_behind,
    a_stale_transaction_version_writes_nothing,
    changes_of_an_unknown_user_write_nothing,
);

/// A user with one value and a shown step, and a transaction of theirs at version 1.
async fn seeded(store: &Arc<dyn Store>) -> (User, AuthTransaction) {
    store.create_client(client("shop")).await.unwrap();
    let user = user(store).await;
    let user = store
        .apply_profile_changes(
            user.id,
            None,
            &[ProfileChange::set(
                Location::Profile,
                "company",
                json!("Initech"),
            )],
            "signup",
            t0(),
        )
        .await
        .unwrap();
    store
        .record_prompt_event(event(EventKind::PromptShown, &user, 1))
        .await
        .unwrap();
    let transaction = store
        .create_transaction(NewAuthTransaction {
            client_id: "shop".into(),
            request: json!({ "scope": "openid" }),
            state: json!({ "step": "work" }),
            now: t0(),
            expires_at: t0() + Duration::minutes(30),
        })
        .await
        .unwrap();
    (user, transaction)
}

fn event(kind: EventKind, user: &User, minutes: i64) -> NewEvent {
    NewEvent {
        kind,
        user_id: user.id,
        step: Some("work".into()),
        client_id: Some("shop".into()),
        at: t0() + Duration::minutes(minutes),
        logins: None,
        data: json!({ "fields": ["company", "job_title"] }),
    }
}

/// An answer to the "work" step: the transaction moves on, two values change, the answer is
/// recorded.
fn answer(user: &User, transaction: &AuthTransaction) -> ProfilingWrite {
    let mut transaction = transaction.clone();
    transaction.user_id = Some(user.id);
    transaction.state = json!({ "step": "done" });
    ProfilingWrite {
        user_id: user.id,
        transaction: Some(transaction),
        changes: vec![
            ProfileChange::set(Location::Profile, "company", json!("Acme")),
            ProfileChange::set(Location::Profile, "job_title", json!("Engineer")),
        ],
        source: "prompt:work".into(),
        event: Some(event(EventKind::PromptAnswered, user, 2)),
        now: t0() + Duration::minutes(2),
    }
}

/// Everything a profiling write may change, to compare before and after.
async fn everything(
    store: &Arc<dyn Store>,
    user: &User,
    transaction: &AuthTransaction,
) -> impl PartialEq + std::fmt::Debug {
    (
        store.get_user(user.id).await.unwrap(),
        store.user_history(user.id).await.unwrap(),
        store.value_provenance(user.id).await.unwrap(),
        store.prompt_states(user.id).await.unwrap(),
        store.list_events(0, 100).await.unwrap(),
        store.get_transaction(transaction.id).await.unwrap(),
    )
}

async fn a_profiling_write_updates_the_transaction_the_values_and_the_prompt_state(
    store: Arc<dyn Store>,
    _url: String,
) {
    let (user, transaction) = seeded(&store).await;
    let written = store
        .write_profiling(answer(&user, &transaction))
        .await
        .unwrap();

    let updated = written.transaction.unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.state, json!({ "step": "done" }));
    assert_eq!(updated.user_id, Some(user.id));
    assert_eq!(
        store.get_transaction(transaction.id).await.unwrap(),
        Some(updated)
    );

    let changed = written.user.unwrap();
    assert_eq!(changed.version, user.version + 1);
    assert_eq!(changed.profile["company"], json!("Acme"));
    assert_eq!(changed.profile["job_title"], json!("Engineer"));
    assert_eq!(store.get_user(user.id).await.unwrap(), changed);
    let history = store.user_history(user.id).await.unwrap();
    let recorded: Vec<_> = history
        .iter()
        .map(|entry| (entry.key.as_str(), entry.source.as_str()))
        .collect();
    assert_eq!(
        recorded,
        [
            ("company", "signup"),
            ("company", "prompt:work"),
            ("job_title", "prompt:work")
        ]
    );
    let sources: Vec<_> = store
        .value_provenance(user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|provenance| (provenance.key, provenance.source))
        .collect();
    assert_eq!(
        sources,
        [
            ("company".to_owned(), "prompt:work".to_owned()),
            ("job_title".to_owned(), "prompt:work".to_owned())
        ]
    );

    let prompt = written.prompt.unwrap();
    assert_eq!((prompt.shown, prompt.answered), (1, 1));
    assert_eq!(store.prompt_states(user.id).await.unwrap(), [prompt]);
    let events = store.list_events(0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|event| event.kind).collect();
    assert_eq!(kinds, [EventKind::PromptShown, EventKind::PromptAnswered]);
}

async fn a_failure_after_the_values_are_written_leaves_nothing_behind(
    store: Arc<dyn Store>,
    url: String,
) {
    let (user, transaction) = seeded(&store).await;
    let before = everything(&store, &user, &transaction).await;
    // The event is written last: a trigger refusing it fails the write after the transaction
    // and the values were written, inside the same database transaction.
    let trigger = if url.starts_with("sqlite:") {
        "CREATE TRIGGER inject_failure BEFORE INSERT ON prompt_events
         BEGIN SELECT RAISE(ABORT, 'injected'); END;"
    } else {
        "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$;
         CREATE TRIGGER inject_failure BEFORE INSERT ON prompt_events
             FOR EACH ROW EXECUTE FUNCTION inject_failure();"
    };
    accrete_store::testing::execute_sql(&url, trigger).await;

    let failed = store.write_profiling(answer(&user, &transaction)).await;
    assert!(
        failed
            .as_ref()
            .is_err_and(|error| error.to_string().contains("injected")),
        "{failed:?}"
    );
    assert_eq!(everything(&store, &user, &transaction).await, before);
    // The store is still usable: the same write succeeds once the failure is gone.
    let drop = if url.starts_with("sqlite:") {
        "DROP TRIGGER inject_failure"
    } else {
        "DROP TRIGGER inject_failure ON prompt_events"
    };
    accrete_store::testing::execute_sql(&url, drop).await;
    store
        .write_profiling(answer(&user, &transaction))
        .await
        .unwrap();
}

async fn a_stale_transaction_version_writes_nothing(store: Arc<dyn Store>, _url: String) {
    let (user, transaction) = seeded(&store).await;
    store.update_transaction(transaction.clone()).await.unwrap();
    let stale = transaction;
    let current = store.get_transaction(stale.id).await.unwrap().unwrap();
    let before = everything(&store, &user, &current).await;

    let refused = store.write_profiling(answer(&user, &stale)).await;
    assert!(
        matches!(
            refused,
            Err(StoreError::VersionMismatch {
                expected: 1,
                found: 2
            })
        ),
        "{refused:?}"
    );
    assert_eq!(everything(&store, &user, &current).await, before);
}

async fn changes_of_an_unknown_user_write_nothing(store: Arc<dyn Store>, _url: String) {
    let (user, transaction) = seeded(&store).await;
    let before = everything(&store, &user, &transaction).await;
    let mut write = answer(&user, &transaction);
    write.user_id = uuid::Uuid::now_v7();
    write.event = None;

    let refused = store.write_profiling(write).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert_eq!(everything(&store, &user, &transaction).await, before);
}
