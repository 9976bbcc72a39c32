//! Profile values with provenance and history, and listing users.

use std::sync::Arc;

use accrete_store::{
    FieldFilter, Location, NewUser, ProfileChange, Store, StoreError, User, UserQuery,
};
use serde_json::json;
use time::Duration;

use crate::common::t0;

crate::for_each_backend!(
    a_profile_change_is_stored_with_history_and_provenance,
    a_stale_version_is_refused_and_changes_nothing,
    unchanged_values_leave_no_history_and_keep_the_version,
    deleting_a_value_keeps_its_history_and_drops_its_provenance,
    concurrent_changes_of_different_keys_lose_nothing,
    concurrent_merges_of_different_keys_lose_nothing,
    a_merge_patch_merges_nested_objects_and_null_deletes,
    deleting_a_user_removes_its_history_and_provenance,
    users_are_listed_in_creation_order_page_by_page,
    users_can_be_filtered_by_email_and_creation_time,
    users_can_be_filtered_by_a_value_or_its_absence,
    a_filter_key_is_a_plain_key_whatever_characters_it_holds,
);

async fn ada(store: &Arc<dyn Store>) -> User {
    store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap()
}

async fn a_profile_change_is_stored_with_history_and_provenance(store: Arc<dyn Store>) {
    let user = ada(&store).await;
    let at = t0() + Duration::minutes(5);
    let changed = store
        .apply_profile_changes(
            user.id,
            Some(user.version),
            &[
                ProfileChange::set(Location::Profile, "given_name", json!("Ada")),
                ProfileChange::set(Location::UserMetadata, "company", json!({ "size": 12 })),
            ],
            "prompt:work",
            at,
        )
        .await
        .unwrap();
    assert_eq!(changed.version, user.version + 1);
    assert_eq!(changed.updated_at, at);
    assert_eq!(changed.profile, json!({ "given_name": "Ada" }));
    assert_eq!(changed.user_metadata, json!({ "company": { "size": 12 } }));
    assert_eq!(store.get_user(user.id).await.unwrap(), changed);

    let later = at + Duration::minutes(1);
    store
        .apply_profile_changes(
            user.id,
            None,
            &[ProfileChange::set(
                Location::Profile,
                "given_name",
                json!("Augusta"),
            )],
            "account",
            later,
        )
        .await
        .unwrap();

    let history = store.user_history(user.id).await.unwrap();
    let summary: Vec<_> = history
        .iter()
        .map(|h| {
            (
                h.key.as_str(),
                h.old_value.clone(),
                h.new_value.clone(),
                h.source.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("given_name", None, Some(json!("Ada")), "prompt:work"),
            ("company", None, Some(json!({ "size": 12 })), "prompt:work"),
            (
                "given_name",
                Some(json!("Ada")),
                Some(json!("Augusta")),
                "account"
            ),
        ]
    );
    assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(history[2].changed_at, later);
    assert_eq!(history[0].location, Location::Profile);

    let provenance = store.value_provenance(user.id).await.unwrap();
    let sources: Vec<_> = provenance
        .iter()
        .map(|p| (p.location, p.key.as_str(), p.source.as_str(), p.updated_at))
        .collect();
    assert_eq!(
        sources,
        vec![
            (Location::Profile, "given_name", "account", later),
            (Location::UserMetadata, "company", "prompt:work", at),
        ]
    );
}

async fn a_stale_version_is_refused_and_changes_nothing(store: Arc<dyn Store>) {
    let user = ada(&store).await;
    let change = [ProfileChange::set(
        Location::Profile,
        "nickname",
        json!("ada"),
    )];
    store
        .apply_profile_changes(user.id, Some(user.version), &change, "admin", t0())
        .await
        .unwrap();
    let other = [ProfileChange::set(
        Location::Profile,
        "nickname",
        json!("countess"),
    )];
    let stale = store
        .apply_profile_changes(user.id, Some(user.version), &other, "admin", t0())
        .await;
    let Err(StoreError::VersionMismatch { expected, found }) = stale else {
        panic!("expected a version mismatch, got {stale:?}")
    };
    assert_eq!((expected, found), (user.version, user.version + 1));
    assert_eq!(
        store.get_user(user.id).await.unwrap().profile,
        json!({ "nickname": "ada" })
    );
    assert_eq!(store.user_history(user.id).await.unwrap().len(), 1);
    let missing = store
        .apply_profile_changes(uuid::Uuid::now_v7(), None, &change, "admin", t0())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

async fn unchanged_values_leave_no_history_and_keep_the_version(store: Arc<dyn Store>) {
    let user = ada(&store).await;
    let change = [ProfileChange::set(
        Location::AppMetadata,
        "plan",
        json!("pro"),
    )];
    let first = store
        .apply_profile_changes(user.id, None, &change, "admin", t0())
        .await
        .unwrap();
    let again = store
        .apply_profile_changes(user.id, None, &change, "admin", t0())
        .await
        .unwrap();
    assert_eq!(again.version, first.version);
    let absent = [ProfileChange::delete(Location::Profile, "never_set")];
    store
        .apply_profile_changes(user.id, None, &absent, "admin", t0())
        .await
        .unwrap();
    assert_eq!(store.user_history(user.id).await.unwrap().len(), 1);
}

async fn deleting_a_value_keeps_its_history_and_drops_its_provenance(store: Arc<dyn Store>) {
    let user = ada(&store).await;
    let set = [ProfileChange::set(
        Location::Profile,
        "phone_number",
        json!("+33612345678"),
    )];
    store
        .apply_profile_changes(user.id, None, &set, "prompt:shop", t0())
        .await
        .unwrap();
    let delete = [ProfileChange::delete(Location::Profile, "phone_number")];
    let user = store
        .apply_profile_changes(user.id, None, &delete, "account", t0())
        .await
        .unwrap();
    assert_eq!(user.profile, json!({}));
    let history = store.user_history(user.id).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].old_value, Some(json!("+33612345678")));
    assert_eq!(history[1].new_value, None);
    assert!(store.value_provenance(user.id).await.unwrap().is_empty());
}

async fn concurrent_changes_of_different_keys_lose_nothing(store: Arc<dyn Store>) {
    let user = ada(&store).await;
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let change = [ProfileChange::set(
                    Location::UserMetadata,
                    format!("k{i}"),
                    json!(i),
                )];
                store
                    .apply_profile_changes(user.id, None, &change, "api:test", t0())
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let user = store.get_user(user.id).await.unwrap();
    let bag = user.user_metadata.as_object().unwrap();
    assert_eq!(bag.len(), 100);
    assert!((0..100).all(|i| bag[&format!("k{i}")] == json!(i)));
    assert_eq!(user.version, 101);
    assert_eq!(store.user_history(user.id).await.unwrap().len(), 100);
}

async fn concurrent_merges_of_different_keys_lose_nothing(store: Arc<dyn Store>) {
    let user = ada(&store).await;
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let patch = json!({ "prefs": { format!("k{i}"): i } });
                store
                    .merge_profile_patch(
                        user.id,
                        None,
                        Location::AppMetadata,
                        &patch,
                        "api:x",
                        t0(),
                    )
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let user = store.get_user(user.id).await.unwrap();
    let prefs = user.app_metadata["prefs"].as_object().unwrap();
    assert_eq!(prefs.len(), 100);
}

async fn a_merge_patch_merges_nested_objects_and_null_deletes(store: Arc<dyn Store>) {
    let user = ada(&store).await;
    let patch = json!({ "prefs": { "theme": "dark", "lang": "fr" }, "beta": true });
    let user = store
        .merge_profile_patch(
            user.id,
            None,
            Location::UserMetadata,
            &patch,
            "api:app",
            t0(),
        )
        .await
        .unwrap();
    let patch = json!({ "prefs": { "lang": null }, "beta": null });
    let user = store
        .merge_profile_patch(
            user.id,
            Some(user.version),
            Location::UserMetadata,
            &patch,
            "me",
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(user.user_metadata, json!({ "prefs": { "theme": "dark" } }));
    let bad = store
        .merge_profile_patch(
            user.id,
            None,
            Location::UserMetadata,
            &json!([1]),
            "me",
            t0(),
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid { .. })), "{bad:?}");
}

async fn deleting_a_user_removes_its_history_and_provenance(store: Arc<dyn Store>) {
    let user = ada(&store).await;
    let set = [ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("Ada"),
    )];
    store
        .apply_profile_changes(user.id, None, &set, "signup", t0())
        .await
        .unwrap();
    store.delete_user(user.id).await.unwrap();
    assert!(store.user_history(user.id).await.unwrap().is_empty());
    assert!(store.value_provenance(user.id).await.unwrap().is_empty());
}

async fn users_are_listed_in_creation_order_page_by_page(store: Arc<dyn Store>) {
    let mut created = Vec::new();
    for i in 0..7 {
        let at = t0() + Duration::seconds(i);
        created.push(
            store
                .create_user(NewUser::with_email(format!("u{i}@x.org"), at))
                .await
                .unwrap()
                .id,
        );
    }
    let mut seen = Vec::new();
    let mut query = UserQuery {
        limit: Some(3),
        ..UserQuery::default()
    };
    loop {
        let page = store.list_users(query.clone()).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, created);
}

async fn users_can_be_filtered_by_email_and_creation_time(store: Arc<dyn Store>) {
    for i in 0..4 {
        let at = t0() + Duration::days(i);
        store
            .create_user(NewUser::with_email(format!("u{i}@x.org"), at))
            .await
            .unwrap();
    }
    let by_email = UserQuery {
        email: Some("U2@X.org".into()),
        ..UserQuery::default()
    };
    let page = store.list_users(by_email).await.unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|u| u.email.as_str())
            .collect::<Vec<_>>(),
        ["u2@x.org"]
    );
    let window = UserQuery {
        created_after: Some(t0() + Duration::days(1)),
        created_before: Some(t0() + Duration::days(3)),
        ..UserQuery::default()
    };
    let page = store.list_users(window).await.unwrap();
    let emails: Vec<_> = page.items.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["u1@x.org", "u2@x.org"]);
    assert_eq!(page.next_cursor, None);
}

async fn users_can_be_filtered_by_a_value_or_its_absence(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for (i, company) in [
        Some(json!("Acme")),
        Some(json!("Initech")),
        None,
        Some(json!(null)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut new =
            NewUser::with_email(format!("u{i}@x.org"), t0() + Duration::seconds(i as i64));
        if let Some(company) = company {
            new.user_metadata = json!({ "company": company, "size": 10 });
        }
        ids.push(store.create_user(new).await.unwrap().id);
    }
    let filter = |equals| UserQuery {
        field: Some(FieldFilter {
            location: Location::UserMetadata,
            key: "company".into(),
            equals,
        }),
        ..UserQuery::default()
    };
    let ids_of =
        |page: accrete_store::Page<User>| page.items.into_iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(
        ids_of(store.list_users(filter(Some(json!("Acme")))).await.unwrap()),
        [ids[0]]
    );
    assert_eq!(
        ids_of(store.list_users(filter(None)).await.unwrap()),
        [ids[2], ids[3]]
    );
    let by_number = UserQuery {
        field: Some(FieldFilter {
            location: Location::UserMetadata,
            key: "size".into(),
            equals: Some(json!(10)),
        }),
        ..UserQuery::default()
    };
    assert_eq!(
        ids_of(store.list_users(by_number).await.unwrap()),
        [ids[0], ids[1], ids[3]]
    );
}

async fn a_filter_key_is_a_plain_key_whatever_characters_it_holds(store: Arc<dyn Store>) {
    // Keys that a JSON path would read as syntax: each names exactly one top-level key.
    let keys = [
        "$#", "\\", "a\"b", "\"", "a.b", "[0]", "$", "x[", "a\\\"b", "\u{1}", "é*",
    ];
    let mut ids = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let mut new =
            NewUser::with_email(format!("u{i}@x.org"), t0() + Duration::seconds(i as i64));
        new.user_metadata = json!({ *key: i, "a": { "b": "nested" } });
        ids.push(store.create_user(new).await.unwrap().id);
    }
    for (i, key) in keys.iter().enumerate() {
        let query = |equals| UserQuery {
            field: Some(FieldFilter {
                location: Location::UserMetadata,
                key: (*key).into(),
                equals,
            }),
            ..UserQuery::default()
        };
        let found = store.list_users(query(Some(json!(i)))).await.unwrap();
        let found: Vec<_> = found.items.into_iter().map(|u| u.id).collect();
        assert_eq!(found, [ids[i]], "key {key:?}");
        let missing = store.list_users(query(None)).await.unwrap();
        assert_eq!(missing.items.len(), keys.len() - 1, "key {key:?}");
    }
}
