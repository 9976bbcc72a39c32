//! Grants, authorization codes and refresh tokens: single use, safe under concurrency.

use std::sync::Arc;

use accrete_store::{
    CodeConsumption, CodeIssue, Grant, NewAuthTransaction, NewAuthorizationCode, NewRefreshToken,
    RefreshSuccessor, Rotation, Store, StoreError,
};
use serde_json::json;
use time::Duration;

use crate::common::t0;
use crate::oidc::{client, user};

crate::for_each_backend!(
    a_fresh_code_carries_what_the_grant_allowed,
    a_consumed_code_cannot_be_consumed_twice,
    reusing_a_code_revokes_its_grant_and_tokens,
    of_concurrent_code_exchanges_exactly_one_wins,
    an_expired_or_unknown_code_is_unknown,
    a_refresh_token_rotates_once,
    a_rotated_token_expires_at_its_idle_limit_or_at_its_grants_end_whichever_comes_first,
    refresh_token_reuse_revokes_the_grant,
    of_concurrent_rotations_exactly_one_wins,
    a_refresh_token_presented_by_another_client_is_left_alone,
    an_expired_refresh_token_is_expired_and_a_revoked_one_revoked,
    revoking_a_users_grants_stops_their_tokens,
    deleting_a_user_removes_its_grants_and_tokens,
    deleting_a_client_removes_its_grants_codes_and_refresh_tokens_with_it,
    expired_sessions_codes_and_tokens_are_purged,
    issuing_a_code_completes_its_transaction_once_with_a_grant_and_the_code,
    a_code_that_cannot_be_stored_leaves_the_transaction_open_and_no_grant,
);

async fn grant(store: &Arc<dyn Store>) -> Grant {
    store.create_client(client("shop")).await.unwrap();
    let user = user(store).await;
    let scopes = ["openid".to_string(), "profile".to_string()];
    store
        .create_grant(user.id, "shop", &scopes, t0())
        .await
        .unwrap()
}

fn code(hash: &str, grant: &Grant) -> NewAuthorizationCode {
    NewAuthorizationCode {
        hash: hash.into(),
        grant_id: grant.id,
        redirect_uri: "https://shop.example/cb".into(),
        nonce: Some("n-0S6".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        auth_time: t0(),
        context: json!({ "sid": "s1" }),
        now: t0(),
        expires_at: t0() + Duration::minutes(1),
    }
}

fn refresh(hash: &str, grant: &Grant) -> NewRefreshToken {
    NewRefreshToken {
        hash: hash.into(),
        grant_id: grant.id,
        scopes: grant.scopes.clone(),
        expires_at: t0() + Duration::days(30),
    }
}

fn successor(hash: &str) -> RefreshSuccessor {
    RefreshSuccessor {
        hash: hash.into(),
        client_id: "shop".into(),
        expires_at: t0() + Duration::days(30),
        grant_lifetime: Duration::days(365),
    }
}

async fn a_fresh_code_carries_what_the_grant_allowed(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    assert_eq!(
        store.get_grant(grant.id).await.unwrap(),
        Some(grant.clone())
    );
    store.insert_code(code("c1", &grant)).await.unwrap();
    let CodeConsumption::Fresh(fresh) = store.consume_code("c1", t0()).await.unwrap() else {
        panic!("expected a fresh code")
    };
    assert_eq!(fresh.grant_id, grant.id);
    assert_eq!(fresh.user_id, grant.user_id);
    assert_eq!(fresh.client_id, "shop");
    assert_eq!(fresh.scopes, grant.scopes);
    assert_eq!(fresh.nonce.as_deref(), Some("n-0S6"));
    assert_eq!(fresh.context, json!({ "sid": "s1" }));
    assert_eq!(fresh.consumed_at, Some(t0()));
    let unknown_grant = code(
        "c2",
        &Grant {
            id: uuid::Uuid::now_v7(),
            ..grant
        },
    );
    assert!(matches!(
        store.insert_code(unknown_grant).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_consumed_code_cannot_be_consumed_twice(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store.insert_code(code("c1", &grant)).await.unwrap();
    assert!(matches!(
        store.consume_code("c1", t0()).await.unwrap(),
        CodeConsumption::Fresh(_)
    ));
    let second = store.consume_code("c1", t0()).await.unwrap();
    assert_eq!(second, CodeConsumption::AlreadyUsed { grant_id: grant.id });
}

async fn reusing_a_code_revokes_its_grant_and_tokens(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store.insert_code(code("c1", &grant)).await.unwrap();
    store.consume_code("c1", t0()).await.unwrap();
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    assert!(!store.is_grant_revoked(grant.id).await.unwrap());
    store
        .consume_code("c1", t0() + Duration::seconds(5))
        .await
        .unwrap();
    assert!(store.is_grant_revoked(grant.id).await.unwrap());
    let rotated = store
        .rotate_refresh_token("r1", successor("r2"), t0())
        .await
        .unwrap();
    assert_eq!(rotated, Rotation::Revoked);
    let late_code = store.insert_code(code("c3", &grant)).await;
    assert!(
        matches!(late_code, Err(StoreError::NotFound)),
        "{late_code:?}"
    );
}

async fn of_concurrent_code_exchanges_exactly_one_wins(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store.insert_code(code("c1", &grant)).await.unwrap();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.consume_code("c1", t0()).await })
        })
        .collect();
    let mut fresh = 0;
    for attempt in attempts {
        match attempt.await.unwrap().unwrap() {
            CodeConsumption::Fresh(_) => fresh += 1,
            CodeConsumption::AlreadyUsed { grant_id } => assert_eq!(grant_id, grant.id),
            CodeConsumption::Unknown => panic!("the code is known"),
        }
    }
    assert_eq!(fresh, 1);
}

async fn an_expired_or_unknown_code_is_unknown(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store.insert_code(code("c1", &grant)).await.unwrap();
    let late = store
        .consume_code("c1", t0() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(late, CodeConsumption::Unknown);
    assert_eq!(
        store.consume_code("nope", t0()).await.unwrap(),
        CodeConsumption::Unknown
    );
    assert!(!store.is_grant_revoked(grant.id).await.unwrap());
    assert!(store.is_grant_revoked(uuid::Uuid::now_v7()).await.unwrap());
}

async fn a_refresh_token_rotates_once(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    let at = t0() + Duration::hours(1);
    let Rotation::Rotated(stored) = store
        .rotate_refresh_token("r1", successor("r2"), at)
        .await
        .unwrap()
    else {
        panic!("expected a rotation")
    };
    let old = store.get_refresh_token("r1").await.unwrap().unwrap();
    assert_eq!(
        (old.hash.as_str(), old.grant_id, old.used_at),
        ("r1", grant.id, Some(at))
    );
    assert_eq!(old.user_id, grant.user_id);
    let new = store.get_refresh_token("r2").await.unwrap().unwrap();
    assert_eq!(new, stored);
    assert_eq!(
        (
            new.client_id.as_str(),
            new.used_at,
            new.created_at,
            new.grant_id
        ),
        ("shop", None, at, grant.id)
    );
    assert_eq!(new.user_id, grant.user_id);
    let next = store
        .rotate_refresh_token("r2", successor("r3"), at)
        .await
        .unwrap();
    assert!(matches!(next, Rotation::Rotated(_)));
    assert_eq!(
        store
            .rotate_refresh_token("zz", successor("r4"), at)
            .await
            .unwrap(),
        Rotation::Unknown
    );
}

async fn a_rotated_token_expires_at_its_idle_limit_or_at_its_grants_end_whichever_comes_first(
    store: Arc<dyn Store>,
) {
    // The grant was created at t0: its tokens end at t0 + 10 days however often rotated.
    let grant = grant(&store).await;
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    let next = |hash: &str, idle_until| RefreshSuccessor {
        hash: hash.into(),
        client_id: "shop".into(),
        expires_at: idle_until,
        grant_lifetime: Duration::days(10),
    };
    let at = t0() + Duration::days(1);
    let Rotation::Rotated(idle) = store
        .rotate_refresh_token("r1", next("r2", at + Duration::days(2)), at)
        .await
        .unwrap()
    else {
        panic!("expected a rotation")
    };
    assert_eq!(idle.expires_at, at + Duration::days(2), "the idle limit");
    let at = t0() + Duration::days(2);
    let Rotation::Rotated(capped) = store
        .rotate_refresh_token("r2", next("r3", at + Duration::days(9)), at)
        .await
        .unwrap()
    else {
        panic!("expected a rotation")
    };
    assert_eq!(
        capped.expires_at,
        t0() + Duration::days(10),
        "the grant's end"
    );
    let after = t0() + Duration::days(10);
    assert_eq!(
        store
            .rotate_refresh_token("r3", next("r4", after + Duration::days(2)), after)
            .await
            .unwrap(),
        Rotation::Expired
    );
    // A token of its own still valid (issued under a longer lifetime) ends with its grant.
    store
        .insert_refresh_token(refresh("r5", &grant), t0())
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh_token("r5", next("r6", after + Duration::days(2)), after)
            .await
            .unwrap(),
        Rotation::Expired
    );
}

async fn refresh_token_reuse_revokes_the_grant(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    store
        .rotate_refresh_token("r1", successor("r2"), t0())
        .await
        .unwrap();
    let reused = store
        .rotate_refresh_token("r1", successor("r3"), t0())
        .await
        .unwrap();
    assert_eq!(reused, Rotation::Reused { grant_id: grant.id });
    assert!(store.is_grant_revoked(grant.id).await.unwrap());
    // The legitimate successor dies with the family.
    let successor = store
        .rotate_refresh_token("r2", successor("r4"), t0())
        .await
        .unwrap();
    assert_eq!(successor, Rotation::Revoked);
    assert_eq!(store.get_refresh_token("r3").await.unwrap(), None);
}

async fn a_refresh_token_presented_by_another_client_is_left_alone(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    let mut stranger = successor("r2");
    stranger.client_id = "other".into();
    assert_eq!(
        store
            .rotate_refresh_token("r1", stranger, t0())
            .await
            .unwrap(),
        Rotation::OtherClient
    );
    assert_eq!(store.get_refresh_token("r2").await.unwrap(), None);
    assert_eq!(
        store
            .get_refresh_token("r1")
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );
    assert!(!store.is_grant_revoked(grant.id).await.unwrap());
    let rotated = store
        .rotate_refresh_token("r1", successor("r3"), t0())
        .await
        .unwrap();
    assert!(matches!(rotated, Rotation::Rotated(_)), "{rotated:?}");
}

async fn of_concurrent_rotations_exactly_one_wins(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let next = successor(&format!("n{i}"));
            tokio::spawn(async move { store.rotate_refresh_token("r1", next, t0()).await })
        })
        .collect();
    let mut rotated = 0;
    for attempt in attempts {
        match attempt.await.unwrap().unwrap() {
            Rotation::Rotated(_) => rotated += 1,
            Rotation::Reused { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rotated, 1);
    assert!(store.is_grant_revoked(grant.id).await.unwrap());
}

async fn an_expired_refresh_token_is_expired_and_a_revoked_one_revoked(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    store
        .insert_refresh_token(refresh("r2", &grant), t0())
        .await
        .unwrap();
    let late = t0() + Duration::days(31);
    let expired = store
        .rotate_refresh_token("r1", successor("x"), late)
        .await
        .unwrap();
    assert_eq!(expired, Rotation::Expired);
    let revoked = store
        .revoke_refresh_token("r2", t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(t0()));
    let after = store
        .rotate_refresh_token("r2", successor("y"), t0())
        .await
        .unwrap();
    assert_eq!(after, Rotation::Revoked);
    assert_eq!(
        store.revoke_refresh_token("nope", t0()).await.unwrap(),
        None
    );
    assert!(!store.is_grant_revoked(grant.id).await.unwrap());
}

async fn revoking_a_users_grants_stops_their_tokens(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    let other = store
        .revoke_user_grants(grant.user_id, Some("other"), t0())
        .await
        .unwrap();
    assert_eq!(other, 0);
    assert_eq!(
        store
            .revoke_user_grants(grant.user_id, None, t0())
            .await
            .unwrap(),
        1
    );
    let after = store
        .rotate_refresh_token("r1", successor("r2"), t0())
        .await
        .unwrap();
    assert_eq!(after, Rotation::Revoked);
    store
        .revoke_grant(grant.id, t0() + Duration::days(1))
        .await
        .unwrap();
    let kept = store.get_grant(grant.id).await.unwrap().unwrap();
    assert_eq!(
        kept.revoked_at,
        Some(t0()),
        "the first revocation time is kept"
    );
    let unknown = store.revoke_grant(uuid::Uuid::now_v7(), t0()).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)));
}

async fn deleting_a_user_removes_its_grants_and_tokens(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store.insert_code(code("c1", &grant)).await.unwrap();
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    store.delete_user(grant.user_id).await.unwrap();
    assert_eq!(store.get_grant(grant.id).await.unwrap(), None);
    assert_eq!(store.get_refresh_token("r1").await.unwrap(), None);
    assert_eq!(
        store.consume_code("c1", t0()).await.unwrap(),
        CodeConsumption::Unknown
    );
}

async fn deleting_a_client_removes_its_grants_codes_and_refresh_tokens_with_it(
    store: Arc<dyn Store>,
) {
    let grant = grant(&store).await;
    store.insert_code(code("c1", &grant)).await.unwrap();
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    store.delete_client("shop").await.unwrap();
    assert_eq!(store.get_grant(grant.id).await.unwrap(), None);
    assert!(
        store.is_grant_revoked(grant.id).await.unwrap(),
        "its users' access tokens name a grant that is gone"
    );
    assert_eq!(store.get_refresh_token("r1").await.unwrap(), None);
    assert!(matches!(
        store
            .rotate_refresh_token("r1", successor("r2"), t0())
            .await
            .unwrap(),
        Rotation::Unknown
    ));
    assert_eq!(
        store.consume_code("c1", t0()).await.unwrap(),
        CodeConsumption::Unknown
    );
}

async fn expired_sessions_codes_and_tokens_are_purged(store: Arc<dyn Store>) {
    let grant = grant(&store).await;
    store.insert_code(code("c1", &grant)).await.unwrap();
    store
        .insert_refresh_token(refresh("r1", &grant), t0())
        .await
        .unwrap();
    assert_eq!(store.purge_expired(t0()).await.unwrap(), 0);
    assert_eq!(
        store
            .purge_expired(t0() + Duration::days(31))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.get_refresh_token("r1").await.unwrap(), None);
}

fn transaction(client_id: &str) -> NewAuthTransaction {
    NewAuthTransaction {
        client_id: client_id.into(),
        request: json!({ "client_id": client_id }),
        state: json!({}),
        now: t0(),
        expires_at: t0() + Duration::minutes(30),
    }
}

fn issue(tx: Option<uuid::Uuid>, user_id: uuid::Uuid, client_id: &str, hash: &str) -> CodeIssue {
    let placeholder = Grant {
        id: uuid::Uuid::nil(),
        user_id,
        client_id: client_id.into(),
        scopes: vec!["openid".into()],
        created_at: t0(),
        revoked_at: None,
    };
    CodeIssue {
        transaction: tx,
        user_id,
        client_id: client_id.into(),
        scopes: vec!["openid".into()],
        code: code(hash, &placeholder),
    }
}

async fn issuing_a_code_completes_its_transaction_once_with_a_grant_and_the_code(
    store: Arc<dyn Store>,
) {
    store.create_client(client("shop")).await.unwrap();
    let user = user(&store).await;
    let tx = store.create_transaction(transaction("shop")).await.unwrap();
    let grant = store
        .issue_code(issue(Some(tx.id), user.id, "shop", "c1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grant.user_id, user.id);
    let stored = store.get_transaction(tx.id).await.unwrap().unwrap();
    assert!(stored.completed_at.is_some());
    let CodeConsumption::Fresh(code) = store.consume_code("c1", t0()).await.unwrap() else {
        panic!("the code was stored under the new grant");
    };
    assert_eq!(code.grant_id, grant.id);
    // A second issue for the same transaction writes nothing.
    let again = store
        .issue_code(issue(Some(tx.id), user.id, "shop", "c2"))
        .await
        .unwrap();
    assert!(again.is_none());
    assert!(matches!(
        store.consume_code("c2", t0()).await.unwrap(),
        CodeConsumption::Unknown
    ));
    // Without a stored transaction (issued by the request that started the authorization).
    assert!(
        store
            .issue_code(issue(None, user.id, "shop", "c3"))
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_code_that_cannot_be_stored_leaves_the_transaction_open_and_no_grant(
    store: Arc<dyn Store>,
) {
    store.create_client(client("shop")).await.unwrap();
    let user = user(&store).await;
    let tx = store.create_transaction(transaction("shop")).await.unwrap();
    // A grant for a client that does not exist is refused after the transaction is completed
    // inside the unit of work: nothing of it may remain.
    let refused = store
        .issue_code(issue(Some(tx.id), user.id, "gone", "c1"))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid { .. })),
        "{refused:?}"
    );
    let stored = store.get_transaction(tx.id).await.unwrap().unwrap();
    assert!(
        stored.completed_at.is_none(),
        "the transaction is still open"
    );
    assert!(store.revoke_user_grants(user.id, None, t0()).await.unwrap() == 0);
}
