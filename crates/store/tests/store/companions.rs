//! Companion mode: the users kept for a provider's subjects, and the single use of its start
//! tokens, written in one unit of work with the visit's transaction.

use std::sync::Arc;

use accrete_store::{
    CompanionStart, CompanionStarted, Location, NewAuthTransaction, ProfileChange, Store,
    StoreError, UserQuery,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::common::t0;
use crate::oidc::{client, user};

crate::for_each_backend!(
    a_first_start_creates_the_user_of_the_subject_with_its_values_and_transaction,
    a_later_start_finds_the_same_user_and_stores_only_what_changed,
    a_used_token_id_is_refused_and_nothing_is_written,
    subjects_are_kept_apart_per_companion_and_never_by_email,
    the_user_lists_email_filter_finds_the_users_of_companions_too,
    a_start_for_an_unknown_client_leaves_nothing,
    deleting_the_user_forgets_its_subject,
);

fn start(subject: &str, jti: &str, at: OffsetDateTime) -> CompanionStart {
    CompanionStart {
        companion: "auth0".into(),
        subject: subject.into(),
        jti: jti.into(),
        token_expires_at: at + Duration::minutes(10),
        email: "ada@example.com".into(),
        email_verified: true,
        logins: 3,
        changes: vec![ProfileChange::set(
            Location::UserMetadata,
            "company",
            json!("Acme"),
        )],
        source: "companion:auth0".into(),
        transaction: NewAuthTransaction {
            client_id: "shop".into(),
            request: json!({ "companion": "auth0" }),
            state: json!({ "companion": { "name": "auth0" } }),
            now: at,
            expires_at: at + Duration::minutes(30),
        },
        session_hash: Some("cookie-hash".into()),
        now: at,
    }
}

async fn started(
    store: &Arc<dyn Store>,
    start: CompanionStart,
) -> (accrete_store::User, accrete_store::AuthTransaction) {
    match store.start_companion(start).await.unwrap() {
        CompanionStarted::Started { user, transaction } => (*user, *transaction),
        CompanionStarted::Replayed => panic!("a fresh token id was taken as replayed"),
    }
}

async fn a_first_start_creates_the_user_of_the_subject_with_its_values_and_transaction(
    store: Arc<dyn Store>,
) {
    store.create_client(client("shop")).await.unwrap();
    assert!(
        store
            .companion_user("auth0", "auth0|1")
            .await
            .unwrap()
            .is_none()
    );
    let (user, tx) = started(&store, start("auth0|1", "j1", t0())).await;
    assert_eq!(user.email, "ada@example.com");
    assert!(user.email_verified);
    assert_eq!(user.credentialed_logins, 3);
    assert_eq!(user.user_metadata["company"], "Acme");
    assert_eq!(tx.user_id, Some(user.id));
    assert_eq!(tx.session_hash.as_deref(), Some("cookie-hash"));
    assert_eq!(tx.client_id, "shop");
    let found = store
        .companion_user("auth0", "auth0|1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, user.id);
    let provenance = store.value_provenance(user.id).await.unwrap();
    assert_eq!(provenance[0].source, "companion:auth0");
    assert_eq!(
        store.get_transaction(tx.id).await.unwrap().unwrap().user_id,
        Some(user.id)
    );
}

async fn a_later_start_finds_the_same_user_and_stores_only_what_changed(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let (first, _) = started(&store, start("auth0|1", "j1", t0())).await;
    let mut again = start("auth0|1", "j2", t0() + Duration::hours(1));
    again.changes = Vec::new();
    again.email = "ada@new.example".into();
    again.logins = 4;
    let (second, _) = started(&store, again).await;
    assert_eq!(second.id, first.id);
    assert_eq!(second.email, "ada@new.example");
    assert_eq!(second.credentialed_logins, 4);
    assert_eq!(second.user_metadata["company"], "Acme");
    let history = store.user_history(first.id).await.unwrap();
    assert_eq!(history.len(), 1, "no change, no history: {history:?}");
}

async fn a_used_token_id_is_refused_and_nothing_is_written(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let (user, _) = started(&store, start("auth0|1", "j1", t0())).await;
    let mut replay = start("auth0|1", "j1", t0() + Duration::minutes(1));
    replay.changes = vec![ProfileChange::set(
        Location::UserMetadata,
        "company",
        json!("Evil"),
    )];
    replay.logins = 99;
    assert!(matches!(
        store.start_companion(replay).await.unwrap(),
        CompanionStarted::Replayed
    ));
    let after = store.get_user(user.id).await.unwrap();
    assert_eq!(after.user_metadata["company"], "Acme");
    assert_eq!(after.credentialed_logins, 3);
    // Once the token has expired its id is forgotten (a token past `exp` is refused before).
    let later = start("auth0|1", "j1", t0() + Duration::hours(1));
    assert!(matches!(
        store.start_companion(later).await.unwrap(),
        CompanionStarted::Started { .. }
    ));
}

async fn subjects_are_kept_apart_per_companion_and_never_by_email(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    // A user of Accrete's own with the same email, and two subjects sharing it.
    let own = user(&store).await;
    let (one, _) = started(&store, start("auth0|1", "j1", t0())).await;
    let (two, _) = started(&store, start("google-oauth2|2", "j2", t0())).await;
    let mut other = start("auth0|1", "j3", t0());
    other.companion = "okta".into();
    let (three, _) = started(&store, other).await;
    let ids = [own.id, one.id, two.id, three.id];
    for (i, a) in ids.iter().enumerate() {
        assert!(!ids[i + 1..].contains(a), "{ids:?}");
    }
    let by_email = store
        .find_user_by_email("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        by_email.id, own.id,
        "a companion's user is never found by its email"
    );
}

async fn the_user_lists_email_filter_finds_the_users_of_companions_too(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let own = user(&store).await;
    let (one, _) = started(&store, start("auth0|1", "j1", t0())).await;
    let mut shouting = start("auth0|2", "j2", t0());
    shouting.email = " ADA@Example.com ".into();
    let (two, _) = started(&store, shouting).await;
    let mut elsewhere = start("auth0|3", "j3", t0());
    elsewhere.email = "bob@example.com".into();
    started(&store, elsewhere).await;

    let by_email = |email: &str, limit: u32, cursor| UserQuery {
        email: Some(email.into()),
        limit: Some(limit),
        cursor,
        ..UserQuery::default()
    };
    let page = store
        .list_users(by_email("Ada@example.com", 50, None))
        .await
        .unwrap();
    let mut expected = vec![own.id, one.id, two.id];
    expected.sort();
    let found: Vec<_> = page.items.iter().map(|u| u.id).collect();
    assert_eq!(found, expected, "in id order, each once");
    assert_eq!(page.next_cursor, None);

    // Two pages of two and one.
    let first = store
        .list_users(by_email("ada@example.com", 2, None))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let second = store
        .list_users(by_email("ada@example.com", 2, first.next_cursor))
        .await
        .unwrap();
    let paged: Vec<_> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|u| u.id)
        .collect();
    assert_eq!(paged, expected);
    assert_eq!(second.next_cursor, None);

    // A later visit with another address moves the user to it.
    let mut moved = start("auth0|1", "j4", t0());
    moved.email = "ada@new.example".into();
    started(&store, moved).await;
    let old = store
        .list_users(by_email("ada@example.com", 50, None))
        .await
        .unwrap();
    assert!(!old.items.iter().any(|u| u.id == one.id));
    let new = store
        .list_users(by_email("ada@new.example", 50, None))
        .await
        .unwrap();
    assert_eq!(new.items.iter().map(|u| u.id).collect::<Vec<_>>(), [one.id]);
}

async fn a_start_for_an_unknown_client_leaves_nothing(store: Arc<dyn Store>) {
    let error = store
        .start_companion(start("auth0|1", "j1", t0()))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error:?}");
    assert!(
        store
            .companion_user("auth0", "auth0|1")
            .await
            .unwrap()
            .is_none()
    );
    // The token id was not used either.
    store.create_client(client("shop")).await.unwrap();
    started(&store, start("auth0|1", "j1", t0())).await;
}

async fn deleting_the_user_forgets_its_subject(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let (user, _) = started(&store, start("auth0|1", "j1", t0())).await;
    store.delete_user(user.id).await.unwrap();
    assert!(
        store
            .companion_user("auth0", "auth0|1")
            .await
            .unwrap()
            .is_none()
    );
    let (again, _) = started(&store, start("auth0|1", "j2", t0())).await;
    assert_ne!(again.id, user.id);
}
