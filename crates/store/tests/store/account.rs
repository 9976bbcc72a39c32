//! The account center's reads and units of work: a user's sessions and applications, ending
//! them, changing the password and deleting the account, each with its event.

use std::sync::Arc;

use accrete_store::{EventKind, NewEvent, NewRefreshToken, NewUser, Store, StoreError, User};
use serde_json::json;
use time::Duration;

use crate::common::t0;
use crate::oidc::{client, session, session_id, user};

crate::for_each_backend!(
    a_users_live_sessions_are_listed_newest_first_with_their_device,
    a_session_is_ended_by_its_id_and_only_for_its_owner,
    ending_the_other_sessions_keeps_the_current_one,
    a_long_user_agent_is_cut_to_512_bytes,
    applications_holding_live_refresh_tokens_are_listed_once_per_client,
    revoking_an_application_stops_its_refresh_tokens_and_records_the_event,
    changing_the_password_records_the_event_in_the_same_transaction,
    deleting_an_account_keeps_its_event_without_the_user,
    a_users_events_are_listed_oldest_first,
    disabling_an_account_ends_its_sessions_and_grants_and_enabling_keeps_them_ended,
);

fn event(kind: EventKind, user: &User, data: serde_json::Value) -> NewEvent {
    NewEvent {
        kind,
        user_id: user.id,
        step: None,
        client_id: None,
        at: t0(),
        logins: None,
        data,
    }
}

async fn events_of(store: &Arc<dyn Store>, kind: EventKind) -> Vec<accrete_store::Event> {
    store
        .list_events(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

async fn a_users_live_sessions_are_listed_newest_first_with_their_device(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let bob = store
        .create_user(NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    let old = session("old", &ada);
    let mut new = session("new", &ada);
    new.created_at = t0() + Duration::minutes(5);
    new.user_agent = None;
    new.ip = None;
    let mut expired = session("expired", &ada);
    expired.expires_at = t0() + Duration::minutes(1);
    for s in [old.clone(), new.clone(), expired, session("bobs", &bob)] {
        store.create_session(s).await.unwrap();
    }
    let listed = store
        .list_user_sessions(ada.id, t0() + Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(listed, vec![new, old.clone()]);
    assert_eq!(
        listed[1].user_agent.as_deref(),
        Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
    );
    assert_eq!(listed[1].ip.as_deref(), Some("192.0.2.7"));
}

async fn a_session_is_ended_by_its_id_and_only_for_its_owner(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let bob = store
        .create_user(NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    store.create_session(session("a1", &ada)).await.unwrap();
    store.create_session(session("b1", &bob)).await.unwrap();
    let revoked = event(EventKind::SessionRevoked, &ada, json!({"what": "session"}));
    // Bob's session named by Ada: left alone, and no event.
    let ended = store
        .end_user_session(ada.id, session_id("b1"), Some(revoked.clone()))
        .await
        .unwrap();
    assert!(!ended);
    assert!(store.get_session("b1", t0()).await.unwrap().is_some());
    assert!(
        events_of(&store, EventKind::SessionRevoked)
            .await
            .is_empty()
    );
    let ended = store
        .end_user_session(ada.id, session_id("a1"), Some(revoked))
        .await
        .unwrap();
    assert!(ended);
    assert_eq!(store.get_session("a1", t0()).await.unwrap(), None);
    let events = events_of(&store, EventKind::SessionRevoked).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user_id, Some(ada.id));
}

async fn ending_the_other_sessions_keeps_the_current_one(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    for hash in ["here", "there", "elsewhere"] {
        store.create_session(session(hash, &ada)).await.unwrap();
    }
    let ended = store
        .end_other_sessions(ada.id, session_id("here"), None)
        .await
        .unwrap();
    assert_eq!(ended, 2);
    let left = store.list_user_sessions(ada.id, t0()).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].hash, "here");
    let ended = store
        .end_other_sessions(ada.id, session_id("here"), None)
        .await
        .unwrap();
    assert_eq!(ended, 0);
}

async fn a_long_user_agent_is_cut_to_512_bytes(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let mut long = session("long", &ada);
    // 300 two-byte characters: 600 bytes, cut on a character boundary.
    long.user_agent = Some("é".repeat(300));
    store.create_session(long).await.unwrap();
    let found = store.get_session("long", t0()).await.unwrap().unwrap();
    let kept = found.user_agent.unwrap();
    assert_eq!(kept.len(), 512);
    assert_eq!(kept, "é".repeat(256));
}

async fn applications_holding_live_refresh_tokens_are_listed_once_per_client(
    store: Arc<dyn Store>,
) {
    let ada = user(&store).await;
    store.create_client(client("shop")).await.unwrap();
    let mut blog = client("blog");
    blog.name = "Blog".into();
    store.create_client(blog).await.unwrap();
    let mut wiki = client("wiki");
    wiki.name = "Wiki".into();
    store.create_client(wiki).await.unwrap();
    let openid = ["openid".to_string()];
    let email = ["openid".to_string(), "email".to_string()];
    // Two grants to the shop (merged), one to the blog, one to the wiki without a live token.
    let shop1 = store
        .create_grant(ada.id, "shop", &openid, t0())
        .await
        .unwrap();
    let shop2 = store
        .create_grant(ada.id, "shop", &email, t0() + Duration::hours(1))
        .await
        .unwrap();
    let blog = store
        .create_grant(ada.id, "blog", &openid, t0())
        .await
        .unwrap();
    let wiki = store
        .create_grant(ada.id, "wiki", &openid, t0())
        .await
        .unwrap();
    let token = |hash: &str, grant: &accrete_store::Grant| NewRefreshToken {
        hash: hash.into(),
        grant_id: grant.id,
        scopes: grant.scopes.clone(),
        expires_at: t0() + Duration::days(30),
    };
    store
        .insert_refresh_token(token("s1", &shop1), t0())
        .await
        .unwrap();
    store
        .insert_refresh_token(token("s2", &shop2), t0() + Duration::hours(2))
        .await
        .unwrap();
    store
        .insert_refresh_token(token("b1", &blog), t0())
        .await
        .unwrap();
    store
        .insert_refresh_token(token("w1", &wiki), t0())
        .await
        .unwrap();
    store.revoke_refresh_token("w1", t0()).await.unwrap();
    let apps = store
        .list_user_applications(ada.id, t0() + Duration::hours(3))
        .await
        .unwrap();
    let ids: Vec<&str> = apps.iter().map(|a| a.client_id.as_str()).collect();
    assert_eq!(
        ids,
        ["blog", "shop"],
        "by name; the wiki holds no live token"
    );
    let shop = &apps[1];
    assert_eq!(shop.client_name, "Shop");
    assert_eq!(shop.scopes, ["email", "openid"]);
    assert_eq!(shop.first_used_at, t0());
    assert_eq!(shop.last_used_at, t0() + Duration::hours(2));
    // Expired tokens hold nothing.
    let later = store
        .list_user_applications(ada.id, t0() + Duration::days(31))
        .await
        .unwrap();
    assert!(later.is_empty());
}

async fn revoking_an_application_stops_its_refresh_tokens_and_records_the_event(
    store: Arc<dyn Store>,
) {
    let ada = user(&store).await;
    store.create_client(client("shop")).await.unwrap();
    let openid = ["openid".to_string()];
    let grant = store
        .create_grant(ada.id, "shop", &openid, t0())
        .await
        .unwrap();
    store
        .insert_refresh_token(
            NewRefreshToken {
                hash: "r1".into(),
                grant_id: grant.id,
                scopes: grant.scopes.clone(),
                expires_at: t0() + Duration::days(30),
            },
            t0(),
        )
        .await
        .unwrap();
    let revoked = event(
        EventKind::SessionRevoked,
        &ada,
        json!({"what": "application", "client_id": "shop"}),
    );
    let count = store
        .revoke_application(ada.id, "shop", t0(), Some(revoked.clone()))
        .await
        .unwrap();
    assert_eq!(count, 1);
    assert!(
        store
            .list_user_applications(ada.id, t0())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.is_grant_revoked(grant.id).await.unwrap());
    // Again: nothing to revoke, no second event.
    let count = store
        .revoke_application(ada.id, "shop", t0(), Some(revoked))
        .await
        .unwrap();
    assert_eq!(count, 0);
    let events = events_of(&store, EventKind::SessionRevoked).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data["client_id"], "shop");
}

async fn changing_the_password_records_the_event_in_the_same_transaction(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store
        .change_password(
            ada.id,
            "$argon2id$new",
            event(EventKind::PasswordChanged, &ada, json!({})),
        )
        .await
        .unwrap();
    let changed = store.get_user(ada.id).await.unwrap();
    assert_eq!(changed.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(events_of(&store, EventKind::PasswordChanged).await.len(), 1);
    let mut ghost = ada.clone();
    ghost.id = uuid::Uuid::now_v7();
    let missing = store
        .change_password(
            ghost.id,
            "$argon2id$x",
            event(EventKind::PasswordChanged, &ghost, json!({})),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert_eq!(
        events_of(&store, EventKind::PasswordChanged).await.len(),
        1,
        "no event for a refused change"
    );
}

async fn deleting_an_account_keeps_its_event_without_the_user(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store.create_session(session("a1", &ada)).await.unwrap();
    let deleted = event(
        EventKind::AccountDeleted,
        &ada,
        json!({"user_id": ada.id.to_string()}),
    );
    store
        .delete_account(ada.id, t0(), Some(deleted.clone()))
        .await
        .unwrap();
    assert!(matches!(
        store.get_user(ada.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.get_session("a1", t0()).await.unwrap(), None);
    let events = events_of(&store, EventKind::AccountDeleted).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user_id, None, "the user is gone");
    assert_eq!(events[0].data["user_id"], ada.id.to_string());
    let again = store.delete_account(ada.id, t0(), Some(deleted)).await;
    assert!(matches!(again, Err(StoreError::NotFound)));
    assert_eq!(events_of(&store, EventKind::AccountDeleted).await.len(), 1);
}

async fn a_users_events_are_listed_oldest_first(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let bob = store
        .create_user(NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    for (who, kind) in [
        (&ada, EventKind::PasswordChanged),
        (&bob, EventKind::PasswordChanged),
        (&ada, EventKind::SessionRevoked),
    ] {
        store
            .change_password(who.id, "$argon2id$h", event(kind, who, json!({})))
            .await
            .unwrap();
    }
    let kinds: Vec<EventKind> = store
        .user_events(ada.id, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [EventKind::PasswordChanged, EventKind::SessionRevoked]
    );
    let newest = store.user_events(ada.id, 1).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].kind, EventKind::SessionRevoked);
}

async fn disabling_an_account_ends_its_sessions_and_grants_and_enabling_keeps_them_ended(
    store: Arc<dyn Store>,
) {
    let ada = user(&store).await;
    let bob = store
        .create_user(NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    store.create_client(client("shop")).await.unwrap();
    store.create_session(session("a1", &ada)).await.unwrap();
    store.create_session(session("b1", &bob)).await.unwrap();
    let openid = ["openid".to_string()];
    let grant = store
        .create_grant(ada.id, "shop", &openid, t0())
        .await
        .unwrap();
    let (disabled, changed) = store
        .set_user_disabled(ada.id, Some(t0()), t0() + Duration::minutes(30))
        .await
        .unwrap();
    assert!(changed);
    assert_eq!(disabled.disabled_at, Some(t0()));
    assert!(disabled.is_disabled());
    assert_eq!(disabled.version, ada.version + 1, "the ETag changes");
    assert_eq!(
        disabled.updated_at,
        t0() + Duration::minutes(30),
        "a change of the account"
    );
    assert_eq!(store.get_session("a1", t0()).await.unwrap(), None);
    assert!(store.is_grant_revoked(grant.id).await.unwrap());
    assert!(
        store.get_session("b1", t0()).await.unwrap().is_some(),
        "another user's session stays"
    );
    // Again: nothing changes, the first date stays.
    let (again, changed) = store
        .set_user_disabled(
            ada.id,
            Some(t0() + Duration::hours(1)),
            t0() + Duration::hours(1),
        )
        .await
        .unwrap();
    assert!(!changed);
    assert_eq!(again.disabled_at, Some(t0()));
    let (enabled, changed) = store
        .set_user_disabled(ada.id, None, t0() + Duration::hours(2))
        .await
        .unwrap();
    assert!(changed);
    assert!(!enabled.is_disabled());
    assert_eq!(enabled.updated_at, t0() + Duration::hours(2));
    assert_eq!(store.get_user(ada.id).await.unwrap().disabled_at, None);
    assert!(
        store.is_grant_revoked(grant.id).await.unwrap(),
        "still revoked"
    );
    let missing = store
        .set_user_disabled(uuid::Uuid::now_v7(), None, t0())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}
