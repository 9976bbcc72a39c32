//! Companion mode's write-back: the writes of a visit's answers to the provider, recorded with
//! the visit's completion, leased by one worker at a time, retried, forgotten once done, and
//! deleted with their user.

use std::collections::HashSet;
use std::sync::Arc;

use accrete_store::{
    CompanionWriteOutcome, NewAuthTransaction, NewCompanionWrite, NewUser, Store, User,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common::t0;
use crate::oidc::client;

crate::for_each_backend!(
    a_completed_visit_records_its_write_in_the_same_unit_of_work_once,
    a_visit_that_cannot_complete_records_nothing,
    a_leased_write_is_held_by_one_worker_until_settled_or_its_lease_expires,
    concurrent_workers_never_lease_the_same_write,
    deleting_the_user_deletes_its_writes,
);

async fn visit(store: &Arc<dyn Store>, at: OffsetDateTime) -> Uuid {
    store
        .create_transaction(NewAuthTransaction {
            client_id: "shop".into(),
            request: json!({ "companion": "auth0" }),
            state: json!({ "companion": { "name": "auth0" } }),
            now: at,
            expires_at: at + Duration::minutes(30),
        })
        .await
        .unwrap()
        .id
}

async fn user(store: &Arc<dyn Store>, email: &str) -> User {
    store
        .create_user(NewUser::with_email(email, t0()))
        .await
        .unwrap()
}

fn write(user: &User, at: OffsetDateTime) -> NewCompanionWrite {
    NewCompanionWrite {
        companion: "auth0".into(),
        user_id: user.id,
        subject: "auth0|65f0".into(),
        fields: vec!["given_name".into(), "nickname".into()],
        now: at,
    }
}

async fn a_completed_visit_records_its_write_in_the_same_unit_of_work_once(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let ada = user(&store, "ada@example.com").await;
    let tx = visit(&store, t0()).await;
    let at = t0() + Duration::minutes(1);
    assert!(
        store
            .complete_companion_visit(tx, at, Some(write(&ada, at)))
            .await
            .unwrap()
    );
    let writes = store.list_companion_writes(10).await.unwrap();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let recorded = &writes[0];
    assert_eq!(recorded.companion, "auth0");
    assert_eq!(recorded.user_id, ada.id);
    assert_eq!(recorded.subject, "auth0|65f0");
    assert_eq!(recorded.fields, vec!["given_name", "nickname"]);
    assert_eq!((recorded.created_at, recorded.next_attempt_at), (at, at));
    assert_eq!(recorded.attempts, 0);
    assert_eq!(recorded.lease, None);
    // The transaction is completed: a second completion (a double submit) records nothing.
    let completed = store.get_transaction(tx).await.unwrap().unwrap();
    assert!(completed.completed_at.is_some());
    assert!(
        !store
            .complete_companion_visit(tx, at, Some(write(&ada, at)))
            .await
            .unwrap()
    );
    assert_eq!(store.list_companion_writes(10).await.unwrap().len(), 1);
}

async fn a_visit_that_cannot_complete_records_nothing(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let ada = user(&store, "ada@example.com").await;
    // Expired: nothing is completed, nothing recorded.
    let tx = visit(&store, t0()).await;
    let late = t0() + Duration::hours(1);
    assert!(
        !store
            .complete_companion_visit(tx, late, Some(write(&ada, late)))
            .await
            .unwrap()
    );
    // No write to record: the visit completes alone.
    let tx = visit(&store, t0()).await;
    assert!(
        store
            .complete_companion_visit(tx, t0(), None)
            .await
            .unwrap()
    );
    assert!(store.list_companion_writes(10).await.unwrap().is_empty());
    // An unknown transaction.
    assert!(
        !store
            .complete_companion_visit(Uuid::new_v4(), t0(), Some(write(&ada, t0())))
            .await
            .unwrap()
    );
    assert!(store.list_companion_writes(10).await.unwrap().is_empty());
}

async fn a_leased_write_is_held_by_one_worker_until_settled_or_its_lease_expires(
    store: Arc<dyn Store>,
) {
    store.create_client(client("shop")).await.unwrap();
    let ada = user(&store, "ada@example.com").await;
    let tx = visit(&store, t0()).await;
    store
        .complete_companion_visit(tx, t0(), Some(write(&ada, t0())))
        .await
        .unwrap();
    let lease = Duration::minutes(5);
    // Not due before it was recorded.
    let early = t0() - Duration::seconds(1);
    assert!(
        store
            .lease_companion_writes("a", early, early + lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let leased = store
        .lease_companion_writes("a", t0(), t0() + lease, 10)
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    let id = leased[0].id;
    assert_eq!(leased[0].lease, Some(("a".to_owned(), t0() + lease)));
    // Another worker gets nothing, and cannot settle what it does not hold.
    assert!(
        store
            .lease_companion_writes("b", t0(), t0() + lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .settle_companion_write(id, "b", CompanionWriteOutcome::Done)
            .await
            .unwrap()
    );
    // A retry: due later, the attempt counted, the lease let go.
    let later = t0() + Duration::minutes(1);
    let retry = CompanionWriteOutcome::Retry {
        at: later,
        attempted: true,
        error: "answered 503".into(),
    };
    assert!(store.settle_companion_write(id, "a", retry).await.unwrap());
    let listed = store.list_companion_writes(10).await.unwrap();
    assert_eq!(listed[0].attempts, 1);
    assert_eq!(listed[0].next_attempt_at, later);
    assert_eq!(listed[0].last_error.as_deref(), Some("answered 503"));
    assert_eq!(listed[0].lease, None);
    assert!(
        store
            .lease_companion_writes("b", t0(), t0() + lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    // Held back without a request of its own: not an attempt.
    let leased = store
        .lease_companion_writes("b", later, later + lease, 10)
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    let held = CompanionWriteOutcome::Retry {
        at: later + Duration::seconds(30),
        attempted: false,
        error: "rate limited".into(),
    };
    assert!(store.settle_companion_write(id, "b", held).await.unwrap());
    assert_eq!(
        store.list_companion_writes(10).await.unwrap()[0].attempts,
        1
    );
    // A worker that died: its lease expires and another takes the write over.
    let due = later + Duration::seconds(30);
    assert_eq!(
        store
            .lease_companion_writes("b", due, due + lease, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let after = due + lease;
    let taken = store
        .lease_companion_writes("a", after, after + lease, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert!(
        !store
            .settle_companion_write(id, "b", CompanionWriteOutcome::Done)
            .await
            .unwrap(),
        "the lease of the dead worker is gone"
    );
    assert!(
        store
            .settle_companion_write(id, "a", CompanionWriteOutcome::Done)
            .await
            .unwrap()
    );
    assert!(store.list_companion_writes(10).await.unwrap().is_empty());
}

async fn concurrent_workers_never_lease_the_same_write(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    for n in 0..12 {
        let someone = user(&store, &format!("user{n}@example.com")).await;
        let tx = visit(&store, t0()).await;
        store
            .complete_companion_visit(tx, t0(), Some(write(&someone, t0())))
            .await
            .unwrap();
    }
    let until = t0() + Duration::minutes(5);
    let workers = ["a", "b", "c"].map(|owner| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .lease_companion_writes(owner, t0(), until, 12)
                .await
                .unwrap()
        })
    });
    let mut seen = HashSet::new();
    for worker in workers {
        for leased in worker.await.unwrap() {
            assert!(seen.insert(leased.id), "{} leased twice", leased.id);
        }
    }
    assert_eq!(seen.len(), 12);
}

async fn deleting_the_user_deletes_its_writes(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let ada = user(&store, "ada@example.com").await;
    let bob = user(&store, "bob@example.com").await;
    for someone in [&ada, &bob] {
        let tx = visit(&store, t0()).await;
        store
            .complete_companion_visit(tx, t0(), Some(write(someone, t0())))
            .await
            .unwrap();
    }
    store.delete_user(ada.id).await.unwrap();
    let left = store.list_companion_writes(10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].user_id, bob.id);
}
