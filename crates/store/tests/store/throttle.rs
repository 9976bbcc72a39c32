//! Failed-credential counters of the sign-in throttle.

use std::sync::Arc;

use accrete_store::{EmailChange, NewUser, Store, UserUpdate};
use time::Duration;

use crate::common::t0;

crate::for_each_backend!(
    failures_are_counted_per_source_and_per_account,
    a_counter_idle_past_forget_before_starts_again,
    clearing_forgets_only_that_source,
    a_user_who_leaves_an_address_leaves_no_counter_under_it
);

/// The failed sign-ins counted against an address are the person's data: when their account
/// moves to another address, those of the one it leaves are forgotten (another address's stay,
/// and a change of case only is no move); when the account is deleted, those of its address.
async fn a_user_who_leaves_an_address_leaves_no_counter_under_it(store: Arc<dyn Store>) {
    let user = store
        .create_user(NewUser::with_email("Ann@example.com", t0()))
        .await
        .unwrap();
    let fail = |account: &'static str| {
        let store = store.clone();
        async move {
            store
                .record_credential_failure(account, "192.0.2.1", t0(), t0() - Duration::hours(1))
                .await
                .unwrap()
        }
    };
    let counted = |account: &'static str| {
        let store = store.clone();
        async move {
            store
                .credential_failures(account, "192.0.2.1")
                .await
                .unwrap()
                .on_account
                .map_or(0, |c| c.failures)
        }
    };
    let move_to = |email: &str| UserUpdate {
        email: Some(EmailChange {
            email: email.to_owned(),
            verified: true,
        }),
        ..UserUpdate::default()
    };
    fail("ann@example.com").await;
    fail("bob@example.com").await;
    store
        .update_user(user.id, None, &move_to("ANN@example.com"), "test", t0())
        .await
        .unwrap();
    assert_eq!(counted("ann@example.com").await, 1, "the same address");

    store
        .update_user(user.id, None, &move_to("ann@new.example"), "test", t0())
        .await
        .unwrap();
    assert_eq!(counted("ann@example.com").await, 0);
    assert_eq!(counted("bob@example.com").await, 1);

    fail("ann@new.example").await;
    store.delete_user(user.id).await.unwrap();
    assert_eq!(counted("ann@new.example").await, 0);
    assert_eq!(counted("bob@example.com").await, 1);
}

async fn failures_are_counted_per_source_and_per_account(store: Arc<dyn Store>) {
    let empty = store
        .credential_failures("ann@example.com", "192.0.2.1")
        .await
        .unwrap();
    assert_eq!(empty.from_source, None);
    assert_eq!(empty.on_account, None);
    let forget = t0() - Duration::hours(1);
    for i in 0..3 {
        store
            .record_credential_failure(
                "ann@example.com",
                "192.0.2.1",
                t0() + Duration::seconds(i),
                forget,
            )
            .await
            .unwrap();
    }
    let after = store
        .record_credential_failure(
            "ann@example.com",
            "192.0.2.2",
            t0() + Duration::seconds(9),
            forget,
        )
        .await
        .unwrap();
    assert_eq!(after.from_source.unwrap().failures, 1);
    assert_eq!(after.on_account.unwrap().failures, 4);
    let seen = store
        .credential_failures("ann@example.com", "192.0.2.1")
        .await
        .unwrap();
    let from_source = seen.from_source.unwrap();
    assert_eq!(from_source.failures, 3);
    assert_eq!(from_source.last_failure_at, t0() + Duration::seconds(2));
    assert_eq!(seen.on_account.unwrap().failures, 4);
    assert_eq!(
        seen.on_account.unwrap().last_failure_at,
        t0() + Duration::seconds(9)
    );
    let other = store
        .credential_failures("bob@example.com", "192.0.2.1")
        .await
        .unwrap();
    assert_eq!(other.from_source, None);
    assert_eq!(other.on_account, None);
}

async fn a_counter_idle_past_forget_before_starts_again(store: Arc<dyn Store>) {
    for _ in 0..3 {
        store
            .record_credential_failure(
                "ann@example.com",
                "192.0.2.1",
                t0(),
                t0() - Duration::hours(1),
            )
            .await
            .unwrap();
    }
    let later = t0() + Duration::hours(2);
    let counters = store
        .record_credential_failure(
            "ann@example.com",
            "192.0.2.1",
            later,
            later - Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(counters.from_source.unwrap().failures, 1);
    assert_eq!(counters.on_account.unwrap().failures, 1);
    assert_eq!(counters.on_account.unwrap().last_failure_at, later);
}

async fn clearing_forgets_only_that_source(store: Arc<dyn Store>) {
    let forget = t0() - Duration::hours(1);
    store
        .record_credential_failure("ann@example.com", "192.0.2.1", t0(), forget)
        .await
        .unwrap();
    store
        .record_credential_failure("ann@example.com", "192.0.2.2", t0(), forget)
        .await
        .unwrap();
    store
        .clear_credential_failures("ann@example.com", "192.0.2.1")
        .await
        .unwrap();
    let cleared = store
        .credential_failures("ann@example.com", "192.0.2.1")
        .await
        .unwrap();
    assert_eq!(cleared.from_source, None);
    assert_eq!(
        cleared.on_account.unwrap().failures,
        2,
        "the account-wide count stays"
    );
    let kept = store
        .credential_failures("ann@example.com", "192.0.2.2")
        .await
        .unwrap();
    assert_eq!(kept.from_source.unwrap().failures, 1);
}
