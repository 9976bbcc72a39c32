//! Policy versions, the draft, prompt state and events.

use std::sync::Arc;

use accrete_store::{
    EventKind, ImportUser, Location, NewEvent, NewUser, PolicyPublication, ProfileChange, Store,
    StoreError, User, UserQuery,
};
use serde_json::json;
use time::Duration;

use crate::common::t0;
use crate::oidc::user;

crate::for_each_backend!(
    publishing_numbers_versions_and_the_latest_is_in_force,
    concurrent_publishes_get_distinct_versions,
    concurrent_imports_of_one_document_publish_it_once,
    there_is_one_draft_and_it_can_be_replaced_and_discarded,
    prompt_events_move_the_prompt_state_of_their_step,
    a_prompt_event_without_a_step_is_refused,
    events_are_listed_in_order_and_outlive_their_user,
    prompt_stats_count_events_per_step_in_the_range,
    deleting_a_user_removes_its_prompt_state,
    user_states_carry_prompt_state_and_provenance_page_by_page,
    a_sample_of_user_states_is_the_users_whose_ids_end_below_the_share,
    users_with_a_value_are_counted,
    fields_left_blank_by_answers_accumulate_in_the_prompt_state,
);

fn event(kind: EventKind, user: &User, step: &str, minutes: i64) -> NewEvent {
    NewEvent {
        kind,
        user_id: user.id,
        step: Some(step.into()),
        client_id: Some("shop".into()),
        at: t0() + Duration::minutes(minutes),
        logins: None,
        data: json!(null),
    }
}

async fn publishing_numbers_versions_and_the_latest_is_in_force(store: Arc<dyn Store>) {
    assert_eq!(store.published_policy().await.unwrap(), None);
    let first = store
        .publish_policy(&json!({ "steps": [] }), None, t0())
        .await
        .unwrap();
    assert_eq!(first.version, 1);
    let later = t0() + Duration::days(1);
    let second = store
        .publish_policy(&json!({ "steps": ["work"] }), Some("add work"), later)
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(
        store.published_policy().await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.policy_version(1).await.unwrap(), Some(first.clone()));
    assert_eq!(store.policy_version(3).await.unwrap(), None);
    let rollback = store
        .publish_policy(&first.document, Some("rollback to 1"), later)
        .await
        .unwrap();
    assert_eq!(
        (rollback.version, rollback.document.clone()),
        (3, json!({ "steps": [] }))
    );
    let versions = store.list_policy_versions().await.unwrap();
    let listed: Vec<_> = versions
        .iter()
        .map(|v| (v.version, v.note.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [(3, Some("rollback to 1")), (2, Some("add work")), (1, None)]
    );
    assert_eq!(versions[0].published_at, later);
}

async fn concurrent_publishes_get_distinct_versions(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.publish_policy(&json!({ "n": i }), None, t0()).await })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap().unwrap().version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=10).collect::<Vec<_>>());
}

async fn concurrent_imports_of_one_document_publish_it_once(store: Arc<dyn Store>) {
    let document = json!({ "steps": [{ "id": "work", "fields": ["company"] }] });
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, document) = (store.clone(), document.clone());
            tokio::spawn(async move {
                store
                    .publish_policy_if_changed(&document, Some("imported"), t0())
                    .await
            })
        })
        .collect();
    let mut new = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            PolicyPublication::New(version) => {
                assert_eq!(version.version, 1);
                new += 1;
            }
            PolicyPublication::Unchanged(version) => assert_eq!(version.version, 1),
        }
    }
    assert_eq!(new, 1, "published once");
    assert_eq!(store.list_policy_versions().await.unwrap().len(), 1);
    let changed = json!({ "steps": [] });
    let outcome = store
        .publish_policy_if_changed(&changed, None, t0())
        .await
        .unwrap();
    assert!(
        matches!(&outcome, PolicyPublication::New(v) if v.version == 2),
        "{outcome:?}"
    );
}

async fn there_is_one_draft_and_it_can_be_replaced_and_discarded(store: Arc<dyn Store>) {
    assert_eq!(store.get_draft().await.unwrap(), None);
    store.save_draft(&json!({ "v": 1 }), t0()).await.unwrap();
    let later = t0() + Duration::hours(1);
    let saved = store.save_draft(&json!({ "v": 2 }), later).await.unwrap();
    assert_eq!(
        (saved.document.clone(), saved.updated_at),
        (json!({ "v": 2 }), later)
    );
    assert_eq!(store.get_draft().await.unwrap(), Some(saved));
    store.discard_draft().await.unwrap();
    assert_eq!(store.get_draft().await.unwrap(), None);
    store.discard_draft().await.unwrap();
}

async fn prompt_events_move_the_prompt_state_of_their_step(store: Arc<dyn Store>) {
    let user = user(&store).await;
    let shown = store.record_prompt_event(event(EventKind::PromptShown, &user, "birthday", 0));
    let state = shown.await.unwrap().unwrap();
    assert_eq!(
        (state.step.as_str(), state.shown, state.skipped),
        ("birthday", 1, 0)
    );
    assert_eq!(state.last_shown_at, Some(t0()));
    let mut skip = event(EventKind::PromptSkipped, &user, "birthday", 1);
    skip.logins = Some(3);
    let state = store.record_prompt_event(skip).await.unwrap().unwrap();
    assert_eq!(
        (state.shown, state.skipped, state.logins_at_last_skip),
        (1, 1, Some(3))
    );
    assert_eq!(state.last_skipped_at, Some(t0() + Duration::minutes(1)));
    store
        .record_prompt_event(event(EventKind::PromptShown, &user, "birthday", 5))
        .await
        .unwrap();
    let answered = event(EventKind::PromptAnswered, &user, "birthday", 6);
    let state = store.record_prompt_event(answered).await.unwrap().unwrap();
    assert_eq!((state.shown, state.skipped, state.answered), (2, 1, 1));
    assert_eq!(state.last_shown_at, Some(t0() + Duration::minutes(5)));
    assert_eq!(
        state.logins_at_last_skip,
        Some(3),
        "kept until the next skip"
    );
    let abandoned = event(EventKind::PromptAbandoned, &user, "work", 7);
    assert_eq!(store.record_prompt_event(abandoned).await.unwrap(), None);
    store
        .record_prompt_event(event(EventKind::PromptShown, &user, "work", 8))
        .await
        .unwrap();
    let states = store.prompt_states(user.id).await.unwrap();
    let steps: Vec<_> = states.iter().map(|s| (s.step.as_str(), s.shown)).collect();
    assert_eq!(steps, [("birthday", 2), ("work", 1)]);
}

async fn a_prompt_event_without_a_step_is_refused(store: Arc<dyn Store>) {
    let user = user(&store).await;
    let mut shown = event(EventKind::PromptShown, &user, "x", 0);
    shown.step = None;
    let refused = store.record_prompt_event(shown).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid { .. })),
        "{refused:?}"
    );
    let mut updated = event(EventKind::ProfileUpdated, &user, "x", 0);
    updated.step = None;
    assert_eq!(store.record_prompt_event(updated).await.unwrap(), None);
    let mut stranger = event(EventKind::PromptShown, &user, "x", 0);
    stranger.user_id = uuid::Uuid::now_v7();
    let unknown = store.record_prompt_event(stranger).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    assert_eq!(store.list_events(0, 100).await.unwrap().len(), 1);
}

async fn events_are_listed_in_order_and_outlive_their_user(store: Arc<dyn Store>) {
    let user = user(&store).await;
    for (i, kind) in [EventKind::PromptShown, EventKind::PromptAnswered]
        .into_iter()
        .enumerate()
    {
        let mut e = event(kind, &user, "work", i as i64);
        e.data = json!({ "fields": ["company"] });
        store.record_prompt_event(e).await.unwrap();
    }
    let events = store.list_events(0, 100).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, EventKind::PromptShown);
    assert_eq!(events[1].data, json!({ "fields": ["company"] }));
    assert_eq!(events[0].user_id, Some(user.id));
    let after = store.list_events(events[0].seq, 100).await.unwrap();
    assert_eq!(after.len(), 1);
    store.delete_user(user.id).await.unwrap();
    let kept = store.list_events(0, 100).await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|e| e.user_id.is_none()));
}

async fn prompt_stats_count_events_per_step_in_the_range(store: Arc<dyn Store>) {
    let user = user(&store).await;
    let events = [
        (EventKind::PromptShown, "work", 0),
        (EventKind::PromptAnswered, "work", 1),
        (EventKind::PromptShown, "work", 2),
        (EventKind::PromptAbandoned, "work", 3),
        (EventKind::PromptShown, "birthday", 4),
        (EventKind::PromptSkipped, "birthday", 5),
        (EventKind::PromptShown, "birthday", 120),
    ];
    for (kind, step, minutes) in events {
        store
            .record_prompt_event(event(kind, &user, step, minutes))
            .await
            .unwrap();
    }
    let stats = store
        .prompt_stats(t0(), t0() + Duration::hours(1))
        .await
        .unwrap();
    let figures: Vec<_> = stats
        .iter()
        .map(|s| (s.step.as_str(), s.shown, s.answered, s.skipped, s.abandoned))
        .collect();
    assert_eq!(figures, [("birthday", 1, 0, 1, 0), ("work", 2, 1, 0, 1)]);
}

async fn deleting_a_user_removes_its_prompt_state(store: Arc<dyn Store>) {
    let user = user(&store).await;
    store
        .record_prompt_event(event(EventKind::PromptShown, &user, "work", 0))
        .await
        .unwrap();
    store.delete_user(user.id).await.unwrap();
    assert!(store.prompt_states(user.id).await.unwrap().is_empty());
}

async fn user_states_carry_prompt_state_and_provenance_page_by_page(store: Arc<dyn Store>) {
    let mut users = Vec::new();
    for i in 0..5 {
        let at = t0() + Duration::seconds(i);
        users.push(
            store
                .create_user(NewUser::with_email(format!("u{i}@x.org"), at))
                .await
                .unwrap(),
        );
    }
    // Users 1 and 3 have state; the others none.
    for i in [1, 3] {
        store
            .record_prompt_event(event(EventKind::PromptShown, &users[i], "work", 0))
            .await
            .unwrap();
        let change = [ProfileChange::set(
            Location::UserMetadata,
            "company",
            json!("Acme"),
        )];
        store
            .apply_profile_changes(users[i].id, None, &change, "prompt:work", t0())
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut query = UserQuery {
        limit: Some(2),
        ..UserQuery::default()
    };
    loop {
        let page = store.list_user_states(query.clone()).await.unwrap();
        for state in &page.items {
            seen.push((
                state.user.email.clone(),
                state.prompts.len(),
                state.provenance.len(),
            ));
        }
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    let expected: Vec<_> = (0..5)
        .map(|i| {
            let has = usize::from(i == 1 || i == 3);
            (format!("u{i}@x.org"), has, has)
        })
        .collect();
    assert_eq!(seen, expected);
}

/// The sample is the users whose id's last four hexadecimal digits are below the share, in id
/// order across pages, with their own prompt state and provenance (not their neighbours').
async fn a_sample_of_user_states_is_the_users_whose_ids_end_below_the_share(store: Arc<dyn Store>) {
    // Ids in creation order; their ends alternate inside and outside the sample.
    let ends = [
        "0000", "ffff", "0fff", "1000", "0a00", "8000", "0001", "1001",
    ];
    let users: Vec<ImportUser> = ends
        .iter()
        .enumerate()
        .map(|(i, end)| ImportUser {
            id: Some(
                format!("01900000-0000-7000-8000-0000{i:04x}{end}")
                    .parse()
                    .unwrap(),
            ),
            email: format!("s{i}@x.org"),
            changes: vec![ProfileChange::set(
                Location::UserMetadata,
                "company",
                json!(format!("Acme {i}")),
            )],
            ..ImportUser::default()
        })
        .collect();
    store
        .import_users("jsonl", users, t0(), false)
        .await
        .unwrap();
    let ids: Vec<_> = store
        .list_users(UserQuery {
            limit: Some(100),
            ..UserQuery::default()
        })
        .await
        .unwrap()
        .items;
    // Every user in the sample (and only they) has a prompt state.
    for user in &ids {
        if user.id.to_string()[32..] < *"1000" {
            store
                .record_prompt_event(event(EventKind::PromptShown, user, "work", 0))
                .await
                .unwrap();
        }
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.sample_user_states(0x1000, cursor, 2).await.unwrap();
        assert!(page.items.len() <= 2);
        for state in &page.items {
            let company = state.user.user_metadata["company"]
                .as_str()
                .unwrap()
                .to_owned();
            let sources: Vec<_> = state.provenance.iter().map(|p| p.key.clone()).collect();
            seen.push((
                state.user.email.clone(),
                company,
                state.prompts.len(),
                sources,
            ));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<_> = [0, 2, 4, 6]
        .into_iter()
        .map(|i| {
            (
                format!("s{i}@x.org"),
                format!("Acme {i}"),
                1,
                vec!["company".to_owned()],
            )
        })
        .collect();
    assert_eq!(seen, expected);
    // A share of everything but the last id takes all but the user ending in ffff.
    let all = store.sample_user_states(0xffff, None, 100).await.unwrap();
    assert_eq!(all.items.len(), 7);
    assert_eq!(all.next_cursor, None);
}

async fn users_with_a_value_are_counted(store: Arc<dyn Store>) {
    for (i, metadata) in [
        json!({ "company": "Acme" }),
        json!({ "company": null }),
        json!({}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut new = NewUser::with_email(format!("u{i}@x.org"), t0());
        new.user_metadata = metadata;
        store.create_user(new).await.unwrap();
    }
    let count = store
        .count_users_with_value(Location::UserMetadata, "company")
        .await
        .unwrap();
    assert_eq!(count, 1);
    assert_eq!(
        store
            .count_users_with_value(Location::Profile, "company")
            .await
            .unwrap(),
        0
    );
    // Every key at once, in one pass: the same counts (a `null` is no value).
    let mut new = NewUser::with_email("u9@x.org", t0());
    new.user_metadata = json!({ "company": "Initech", "size": { "min": 1 }, "tags": [] });
    store.create_user(new).await.unwrap();
    let mut by_key = store
        .count_users_by_key(Location::UserMetadata)
        .await
        .unwrap();
    by_key.sort();
    assert_eq!(
        by_key,
        vec![
            ("company".to_owned(), 2),
            ("size".to_owned(), 1),
            ("tags".to_owned(), 1)
        ]
    );
    assert!(
        store
            .count_users_by_key(Location::AppMetadata)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn fields_left_blank_by_answers_accumulate_in_the_prompt_state(store: Arc<dyn Store>) {
    let user = user(&store).await;
    let mut first = event(EventKind::PromptAnswered, &user, "details", 0);
    first.data = json!({ "fields": [], "declined": ["website"] });
    let state = store.record_prompt_event(first).await.unwrap().unwrap();
    assert_eq!(state.declined, ["website"]);
    let mut second = event(EventKind::PromptAnswered, &user, "details", 1);
    second.data = json!({ "fields": ["bio"], "declined": ["website", "country"] });
    store.record_prompt_event(second).await.unwrap();
    let plain = event(EventKind::PromptAnswered, &user, "details", 2);
    store.record_prompt_event(plain).await.unwrap();
    store
        .record_prompt_event(event(EventKind::PromptShown, &user, "details", 3))
        .await
        .unwrap();
    let states = store.prompt_states(user.id).await.unwrap();
    assert_eq!(states[0].declined, ["website", "country"]);
    assert_eq!(states[0].answered, 3);
    let page = store.list_user_states(UserQuery::default()).await.unwrap();
    assert_eq!(page.items[0].prompts[0].declined, ["website", "country"]);
}
