//! The overview's counters: completeness per key and sign-ups / sign-ins per day stay exact
//! across every write that changes them, and the migration backfills them.

use std::sync::Arc;

use accrete_store::{
    ConnectOptions, DayCounts, Location, NewUser, ProfileChange, SignInKind, Store, UserUpdate,
};
use serde_json::json;
use time::Duration;

use crate::common::t0;

crate::for_each_backend!(
    completeness_counts_follow_every_write_and_deletion,
    concurrent_writes_of_one_key_are_all_counted,
    sign_ups_and_sign_ins_are_counted_per_day,
);

/// The counters of `location`, checked against a scan of the users for each key.
async fn counts(store: &Arc<dyn Store>, location: Location) -> Vec<(String, i64)> {
    let counted = store.count_users_by_key(location).await.unwrap();
    for (key, users) in &counted {
        let scanned = store.count_users_with_value(location, key).await.unwrap();
        assert_eq!(
            *users, scanned,
            "{location:?} {key}: counter and scan disagree"
        );
    }
    counted
}

fn pairs(expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    expected
        .iter()
        .map(|(k, n)| ((*k).to_owned(), *n))
        .collect()
}

async fn completeness_counts_follow_every_write_and_deletion(store: Arc<dyn Store>) {
    let mut new = NewUser::with_email("ada@x.org", t0());
    new.profile = json!({ "given_name": "Ada", "nickname": null });
    new.user_metadata = json!({ "company": "Acme", "size": { "min": 1 } });
    let ada = store.create_user(new).await.unwrap();
    let mut new = NewUser::with_email("bob@x.org", t0());
    new.user_metadata = json!({ "company": "Initech" });
    let bob = store.create_user(new).await.unwrap();
    // A user created with values in the same transaction.
    let update = UserUpdate {
        changes: vec![ProfileChange::set(
            Location::AppMetadata,
            "plan",
            json!("pro"),
        )],
        ..UserUpdate::default()
    };
    let cy = store
        .create_user_with(NewUser::with_email("cy@x.org", t0()), &update, "api")
        .await
        .unwrap();
    assert_eq!(
        counts(&store, Location::Profile).await,
        pairs(&[("given_name", 1)])
    );
    assert_eq!(
        counts(&store, Location::UserMetadata).await,
        pairs(&[("company", 2), ("size", 1)])
    );
    assert_eq!(
        counts(&store, Location::AppMetadata).await,
        pairs(&[("plan", 1)])
    );

    // Setting a value a user already has, and changing it, leave the count alone; a new one
    // counts; a removed one (absent or `null`) no longer does.
    let changes = [
        ProfileChange::set(Location::UserMetadata, "company", json!("Acme")),
        ProfileChange::set(Location::Profile, "given_name", json!("Ada L.")),
        ProfileChange::set(Location::Profile, "family_name", json!("Lovelace")),
        ProfileChange::delete(Location::UserMetadata, "size"),
    ];
    store
        .apply_profile_changes(ada.id, None, &changes, "admin", t0())
        .await
        .unwrap();
    store
        .merge_profile_patch(
            bob.id,
            None,
            Location::UserMetadata,
            &json!({ "company": null, "team": "Ops" }),
            "api",
            t0(),
        )
        .await
        .unwrap();
    store
        .apply_profile_changes(
            bob.id,
            None,
            &[ProfileChange::set(
                Location::Profile,
                "given_name",
                json!(null),
            )],
            "api",
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        counts(&store, Location::Profile).await,
        pairs(&[("family_name", 1), ("given_name", 1)])
    );
    assert_eq!(
        counts(&store, Location::UserMetadata).await,
        pairs(&[("company", 1), ("team", 1)])
    );

    // A refused update changes nothing.
    let refused = store
        .apply_profile_changes(
            bob.id,
            Some(99),
            &[ProfileChange::set(
                Location::Profile,
                "given_name",
                json!("B"),
            )],
            "api",
            t0(),
        )
        .await;
    assert!(refused.is_err());
    assert_eq!(
        counts(&store, Location::Profile).await,
        pairs(&[("family_name", 1), ("given_name", 1)])
    );

    // Deleting users takes their values out, whichever way the user goes.
    store.delete_user(ada.id).await.unwrap();
    store.delete_account(cy.id, t0(), None).await.unwrap();
    assert!(counts(&store, Location::Profile).await.is_empty());
    assert_eq!(
        counts(&store, Location::UserMetadata).await,
        pairs(&[("team", 1)])
    );
    assert!(counts(&store, Location::AppMetadata).await.is_empty());
    store.delete_user(bob.id).await.unwrap();
    assert!(counts(&store, Location::UserMetadata).await.is_empty());
}

async fn concurrent_writes_of_one_key_are_all_counted(store: Arc<dyn Store>) {
    let mut users = Vec::new();
    for i in 0..16 {
        let mut new = NewUser::with_email(format!("u{i}@x.org"), t0());
        new.profile = json!({ "locale": "en" });
        users.push(store.create_user(new).await.unwrap());
    }
    // Each sets two shared keys, in opposite orders for half of them.
    let mut tasks = Vec::new();
    for (i, user) in users.into_iter().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut changes = vec![
                ProfileChange::set(Location::Profile, "given_name", json!("A")),
                ProfileChange::set(Location::Profile, "family_name", json!("B")),
                ProfileChange::delete(Location::Profile, "locale"),
            ];
            if i % 2 == 0 {
                changes.reverse();
            }
            store
                .apply_profile_changes(user.id, None, &changes, "api", t0())
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        counts(&store, Location::Profile).await,
        pairs(&[("family_name", 16), ("given_name", 16)])
    );
}

fn day(days: i64, sign_ups: i64, credentialed: i64, sso: i64) -> DayCounts {
    DayCounts {
        day: (t0() + Duration::days(days)).date(),
        sign_ups,
        credentialed_sign_ins: credentialed,
        sso_sign_ins: sso,
    }
}

async fn sign_ups_and_sign_ins_are_counted_per_day(store: Arc<dyn Store>) {
    let first = store
        .create_user(NewUser::with_email("a@x.org", t0()))
        .await
        .unwrap();
    let late = t0() + Duration::hours(23) + Duration::minutes(59);
    let second = store
        .create_user(NewUser::with_email("b@x.org", late))
        .await
        .unwrap();
    let next_day = t0() + Duration::days(1);
    store
        .create_user(NewUser::with_email("c@x.org", next_day))
        .await
        .unwrap();
    for (user, kind, at) in [
        (first.id, SignInKind::Credentialed, t0()),
        (first.id, SignInKind::Sso, late),
        (second.id, SignInKind::Credentialed, next_day),
        (second.id, SignInKind::Credentialed, next_day),
        (second.id, SignInKind::Sso, t0() + Duration::days(3)),
    ] {
        store.record_sign_in(user, kind, at).await.unwrap();
    }
    // A deleted user's sign-up stays on its day.
    store.delete_user(second.id).await.unwrap();
    let last = (t0() + Duration::days(3)).date();
    assert_eq!(
        store.daily_counts(t0().date(), last).await.unwrap(),
        vec![day(0, 2, 1, 1), day(1, 1, 2, 0), day(3, 0, 0, 1)]
    );
    // Only the days asked for.
    let second_day = next_day.date();
    assert_eq!(
        store.daily_counts(second_day, second_day).await.unwrap(),
        vec![day(1, 1, 2, 0)]
    );
    // A sign-in of a user that does not exist is refused and not counted.
    assert!(
        store
            .record_sign_in(second.id, SignInKind::Credentialed, t0())
            .await
            .is_err()
    );
    assert_eq!(
        store.daily_counts(t0().date(), t0().date()).await.unwrap(),
        vec![day(0, 2, 1, 1)]
    );
}

/// The migration, applied to a database that already has users.
mod migration {
    use super::*;

    crate::for_each_backend!(with_url: the_migration_backfills_the_counters_from_the_users);

    async fn the_migration_backfills_the_counters_from_the_users(
        store: Arc<dyn Store>,
        url: String,
    ) {
        for (i, at) in [t0(), t0(), t0() + Duration::days(2)]
            .into_iter()
            .enumerate()
        {
            let mut new = NewUser::with_email(format!("u{i}@x.org"), at);
            new.profile = json!({ "given_name": "A", "nickname": null });
            new.app_metadata = if i == 0 {
                json!({ "plan": "pro" })
            } else {
                json!({})
            };
            store.create_user(new).await.unwrap();
        }
        drop(store);
        // Back to the database as it was before the migration, with these users in it.
        accrete_store::testing::execute_sql(
            &url,
            "DROP TABLE value_counts;
             DROP TABLE daily_counts;
             DROP INDEX prompt_events_at;
             CREATE INDEX prompt_events_at ON prompt_events (at);
             DELETE FROM accrete_migrations WHERE version = 18;",
        )
        .await;
        let store = accrete_store::connect(&url, ConnectOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        assert_eq!(
            counts(&store, Location::Profile).await,
            pairs(&[("given_name", 3)])
        );
        assert_eq!(
            counts(&store, Location::AppMetadata).await,
            pairs(&[("plan", 1)])
        );
        let last = (t0() + Duration::days(2)).date();
        assert_eq!(
            store.daily_counts(t0().date(), last).await.unwrap(),
            vec![day(0, 2, 0, 0), day(2, 1, 0, 0)]
        );
    }
}
