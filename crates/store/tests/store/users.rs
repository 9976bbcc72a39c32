//! The user record.

use std::sync::Arc;

use accrete_store::{
    EmailChange, Location, NewUser, ProfileChange, SignInKind, Store, StoreError, UserUpdate,
};
use serde_json::json;
use time::Duration;

use crate::common::t0;

crate::for_each_backend!(
    a_created_user_reads_back_by_id_and_by_email,
    email_uniqueness_ignores_case,
    an_unknown_user_is_not_found,
    sign_ins_are_counted_by_kind,
    concurrent_sign_ins_are_all_counted,
    a_password_hash_can_be_replaced,
    deleting_a_user_removes_it,
    profile_bags_must_be_json_objects,
    a_second_migrate_is_a_no_op,
    ping_answers,
    an_email_can_change_but_not_to_one_taken,
    a_failed_update_writes_nothing,
    one_update_changes_email_claims_and_bags_with_one_version,
    a_user_is_created_with_its_values_or_not_at_all,
);

async fn a_created_user_reads_back_by_id_and_by_email(store: Arc<dyn Store>) {
    let mut new = NewUser::with_email("Ada@Example.com", t0());
    new.password_hash = Some("$argon2id$v=19$stub".into());
    new.profile = json!({ "given_name": "Ada", "birthdate": "1815-12-10" });
    new.user_metadata = json!({ "theme": "dark" });
    let created = store.create_user(new).await.unwrap();

    assert_eq!(created.email, "Ada@Example.com");
    assert_eq!(created.created_at, t0());
    assert_eq!(created.updated_at, t0());
    assert_eq!(created.credentialed_logins, 0);
    assert_eq!(created.sso_logins, 0);
    assert_eq!(created.last_login_at, None);
    assert_eq!(created.version, 1);
    assert_eq!(created.profile["given_name"], "Ada");
    assert_eq!(created.app_metadata, json!({}));
    assert_eq!(created.id.get_version_num(), 7);

    let by_id = store.get_user(created.id).await.unwrap();
    assert_eq!(by_id, created);
    let by_email = store
        .find_user_by_email("  ada@EXAMPLE.com ")
        .await
        .unwrap();
    assert_eq!(by_email, Some(created));
    assert_eq!(
        store.find_user_by_email("bob@example.com").await.unwrap(),
        None
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn email_uniqueness_ignores_case(store: Arc<dyn Store>) {
    store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    let second = store
        .create_user(NewUser::with_email("ADA@example.COM", t0()))
        .await;
    assert!(
        matches!(second, Err(StoreError::Conflict { .. })),
        "{second:?}"
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn an_unknown_user_is_not_found(store: Arc<dyn Store>) {
    let id = uuid::Uuid::now_v7();
    assert!(matches!(
        store.get_user(id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_user(id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.set_password_hash(id, "x").await,
        Err(StoreError::NotFound)
    ));
    let signed = store.record_sign_in(id, SignInKind::Sso, t0()).await;
    assert!(matches!(signed, Err(StoreError::NotFound)));
}

async fn sign_ins_are_counted_by_kind(store: Arc<dyn Store>) {
    let user = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    let later = t0() + Duration::hours(1);
    let after = store
        .record_sign_in(user.id, SignInKind::Credentialed, later)
        .await
        .unwrap();
    assert_eq!((after.credentialed_logins, after.sso_logins), (1, 0));
    assert_eq!(after.last_login_at, Some(later));
    let latest = t0() + Duration::hours(2);
    let after = store
        .record_sign_in(user.id, SignInKind::Sso, latest)
        .await
        .unwrap();
    assert_eq!((after.credentialed_logins, after.sso_logins), (1, 1));
    assert_eq!(after.logins(), 2);
    assert_eq!(after.last_login_at, Some(latest));
    assert_eq!(
        after.version, user.version,
        "sign-ins do not change the profile version"
    );
}

async fn concurrent_sign_ins_are_all_counted(store: Arc<dyn Store>) {
    let user = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            let kind = if i % 2 == 0 {
                SignInKind::Credentialed
            } else {
                SignInKind::Sso
            };
            tokio::spawn(async move { store.record_sign_in(user.id, kind, t0()).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let user = store.get_user(user.id).await.unwrap();
    assert_eq!((user.credentialed_logins, user.sso_logins), (20, 20));
}

async fn a_password_hash_can_be_replaced(store: Arc<dyn Store>) {
    let user = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    assert_eq!(user.password_hash, None);
    store
        .set_password_hash(user.id, "$argon2id$new")
        .await
        .unwrap();
    let user = store.get_user(user.id).await.unwrap();
    assert_eq!(user.password_hash.as_deref(), Some("$argon2id$new"));
}

async fn deleting_a_user_removes_it(store: Arc<dyn Store>) {
    let ada = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    let bob = store
        .create_user(NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    store.delete_user(ada.id).await.unwrap();
    assert!(matches!(
        store.get_user(ada.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.find_user_by_email("ada@example.com").await.unwrap(),
        None
    );
    assert_eq!(
        store.get_user(bob.id).await.unwrap().email,
        "bob@example.com"
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
    // The email is free again.
    store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
}

async fn profile_bags_must_be_json_objects(store: Arc<dyn Store>) {
    let mut new = NewUser::with_email("ada@example.com", t0());
    new.user_metadata = json!([1, 2]);
    let created = store.create_user(new).await;
    assert!(
        matches!(created, Err(StoreError::Invalid { .. })),
        "{created:?}"
    );
    let empty = store.create_user(NewUser::with_email("   ", t0())).await;
    assert!(
        matches!(empty, Err(StoreError::Invalid { .. })),
        "{empty:?}"
    );
}

async fn a_second_migrate_is_a_no_op(store: Arc<dyn Store>) {
    let before = store.migration_status().await.unwrap();
    assert!(before.current);
    assert!(before.known >= 1);
    assert_eq!(before.applied, before.known);
    let user = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    let after = store.migrate().await.unwrap();
    assert_eq!(after, before);
    assert_eq!(store.get_user(user.id).await.unwrap(), user);
}

async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    assert!(["SQLite", "PostgreSQL"].contains(&store.backend()));
}

async fn an_email_can_change_but_not_to_one_taken(store: Arc<dyn Store>) {
    let ada = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    store
        .create_user(NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    let later = t0() + Duration::days(1);
    let changed = store
        .update_user(
            ada.id,
            Some(ada.version),
            &email("Ada@Lovelace.org", true),
            "api:x",
            later,
        )
        .await
        .unwrap();
    assert_eq!(
        (changed.email.as_str(), changed.email_verified),
        ("Ada@Lovelace.org", true)
    );
    assert_eq!(
        (changed.version, changed.updated_at),
        (ada.version + 1, later)
    );
    assert_eq!(
        store.find_user_by_email("ada@lovelace.org").await.unwrap(),
        Some(changed)
    );
    assert_eq!(
        store.find_user_by_email("ada@example.com").await.unwrap(),
        None
    );
    let taken = store
        .update_user(
            ada.id,
            None,
            &email("BOB@example.com", false),
            "api:x",
            later,
        )
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict { .. })),
        "{taken:?}"
    );
    let missing = store
        .update_user(
            uuid::Uuid::now_v7(),
            None,
            &email("x@y.z", false),
            "api:x",
            later,
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

fn email(email: &str, verified: bool) -> UserUpdate {
    UserUpdate {
        email: Some(EmailChange {
            email: email.to_owned(),
            verified,
        }),
        ..UserUpdate::default()
    }
}

async fn a_failed_update_writes_nothing(store: Arc<dyn Store>) {
    let ada = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    store
        .create_user(NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    // The email is taken: the profile change and the metadata patch must not land either.
    let mut update = email("bob@example.com", false);
    update.changes = vec![ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("Ada"),
    )];
    update.patches = vec![(Location::UserMetadata, json!({ "theme": "dark" }))];
    let taken = store
        .update_user(ada.id, None, &update, "api:x", t0())
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict { .. })),
        "{taken:?}"
    );
    // A malformed patch after a valid change: nothing lands.
    let bad = UserUpdate {
        changes: vec![ProfileChange::set(
            Location::Profile,
            "given_name",
            json!("Ada"),
        )],
        patches: vec![(Location::AppMetadata, json!([1]))],
        ..UserUpdate::default()
    };
    let refused = store.update_user(ada.id, None, &bad, "api:x", t0()).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid { .. })),
        "{refused:?}"
    );
    let after = store.get_user(ada.id).await.unwrap();
    assert_eq!(after, ada);
    assert!(store.user_history(ada.id).await.unwrap().is_empty());
}

async fn one_update_changes_email_claims_and_bags_with_one_version(store: Arc<dyn Store>) {
    let ada = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    let mut update = email("ada@lovelace.org", true);
    update.changes = vec![ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("Ada"),
    )];
    update.patches = vec![
        (
            Location::UserMetadata,
            json!({ "prefs": { "theme": "dark" } }),
        ),
        (Location::AppMetadata, json!({ "plan": "pro" })),
    ];
    let later = t0() + Duration::days(1);
    let user = store
        .update_user(ada.id, Some(ada.version), &update, "api:x", later)
        .await
        .unwrap();
    assert_eq!(user.version, ada.version + 1);
    assert_eq!(user.updated_at, later);
    assert_eq!(user.email, "ada@lovelace.org");
    assert!(user.email_verified);
    assert_eq!(user.profile, json!({ "given_name": "Ada" }));
    assert_eq!(user.user_metadata, json!({ "prefs": { "theme": "dark" } }));
    assert_eq!(user.app_metadata, json!({ "plan": "pro" }));
    assert_eq!(store.user_history(ada.id).await.unwrap().len(), 3);
    let stale = store
        .update_user(
            ada.id,
            Some(ada.version),
            &email("ada@example.org", false),
            "api:x",
            later,
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch { .. })),
        "{stale:?}"
    );
}

async fn a_user_is_created_with_its_values_or_not_at_all(store: Arc<dyn Store>) {
    // A refused value (a bag that is not an object) after a valid one: no user is left behind.
    let bad = UserUpdate {
        changes: vec![ProfileChange::set(
            Location::Profile,
            "given_name",
            json!("Ada"),
        )],
        patches: vec![(Location::AppMetadata, json!([1]))],
        ..UserUpdate::default()
    };
    let refused = store
        .create_user_with(NewUser::with_email("ada@example.com", t0()), &bad, "api:x")
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid { .. })),
        "{refused:?}"
    );
    assert_eq!(
        store.find_user_by_email("ada@example.com").await.unwrap(),
        None
    );
    assert_eq!(store.count_users().await.unwrap(), 0);

    // Accepted: the user and its values, with history from the source, in one version.
    let good = UserUpdate {
        changes: vec![ProfileChange::set(
            Location::Profile,
            "given_name",
            json!("Ada"),
        )],
        patches: vec![(Location::UserMetadata, json!({ "theme": "dark" }))],
        ..UserUpdate::default()
    };
    let ada = store
        .create_user_with(NewUser::with_email("ada@example.com", t0()), &good, "api:x")
        .await
        .unwrap();
    assert_eq!(ada.profile, json!({ "given_name": "Ada" }));
    assert_eq!(ada.user_metadata, json!({ "theme": "dark" }));
    assert_eq!(store.get_user(ada.id).await.unwrap(), ada);
    let history = store.user_history(ada.id).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|entry| entry.source == "api:x"));
}
