//! Proofs sent by mail: issued under resend limits, used once, in the transaction that applies
//! what they prove (with its event).

use std::sync::Arc;

use accrete_store::{
    EventKind, IssueLimits, Issued, NewAccountToken, NewUser, Presented, Redeemed, Store,
    TokenEffect, TokenEvent, TokenPurpose, User,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common::t0;
use crate::oidc::{client, session, user};

crate::for_each_backend!(
    a_proof_is_live_until_a_newer_one_of_its_purpose_replaces_it,
    proofs_are_not_mailed_more_often_than_the_limits_allow,
    a_right_code_verifies_the_address_once_and_records_the_event,
    wrong_codes_are_counted_and_the_last_attempt_ends_the_code,
    an_expired_proof_does_nothing,
    a_code_mailed_to_a_former_address_does_not_verify_the_new_one,
    a_confirmed_new_address_replaces_the_old_one_verified,
    a_new_address_taken_meanwhile_changes_nothing,
    a_reset_link_sets_the_password_once_and_ends_sessions_and_grants,
    of_concurrent_uses_of_a_link_exactly_one_wins,
    expired_proofs_are_purged_a_day_later,
    a_proof_for_an_unknown_user_is_refused,
);

const LIMITS: IssueLimits = IssueLimits {
    interval: Duration::minutes(1),
    per_hour: 3,
};

fn proof(user: &User, purpose: TokenPurpose, n: u8, at: OffsetDateTime) -> NewAccountToken {
    NewAccountToken {
        id: Uuid::new_v4(),
        user_id: user.id,
        purpose,
        email: user.email.clone(),
        code_hash: Some(format!("code-{n}")),
        link_hash: format!("link-{}-{n}", purpose.as_str()),
        created_at: at,
        expires_at: at + Duration::minutes(30),
    }
}

fn event(kind: EventKind) -> TokenEvent {
    TokenEvent {
        kind,
        client_id: Some("shop".into()),
        data: json!({ "via": "test" }),
    }
}

fn code(user: &User, n: u8) -> Presented {
    Presented::Code {
        user_id: user.id,
        code_hash: format!("code-{n}"),
        max_attempts: 3,
    }
}

fn link(purpose: TokenPurpose, n: u8) -> Presented {
    Presented::Link {
        link_hash: format!("link-{}-{n}", purpose.as_str()),
    }
}

async fn verify(store: &Arc<dyn Store>, presented: Presented, at: OffsetDateTime) -> Redeemed {
    store
        .redeem_account_token(
            presented,
            TokenEffect::VerifyEmail,
            Some(event(EventKind::EmailVerified)),
            at,
        )
        .await
        .unwrap()
}

async fn a_proof_is_live_until_a_newer_one_of_its_purpose_replaces_it(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let first = proof(&ada, TokenPurpose::VerifyEmail, 1, t0());
    assert_eq!(
        store
            .issue_account_token(first.clone(), LIMITS)
            .await
            .unwrap(),
        Issued::Issued
    );
    let live = store
        .live_account_token(ada.id, TokenPurpose::VerifyEmail, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((live.id, live.attempts), (first.id, 0));
    assert_eq!(live.expires_at, first.expires_at);
    // Another purpose is another proof.
    let reset = proof(&ada, TokenPurpose::ResetPassword, 1, t0());
    store.issue_account_token(reset, LIMITS).await.unwrap();
    let later = t0() + Duration::minutes(2);
    let second = proof(&ada, TokenPurpose::VerifyEmail, 2, later);
    store
        .issue_account_token(second.clone(), LIMITS)
        .await
        .unwrap();
    let live = store
        .live_account_token(ada.id, TokenPurpose::VerifyEmail, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.id, second.id);
    // The replaced code is a wrong code for the live one; the replaced link no longer works;
    // the reset is still live.
    assert_eq!(
        verify(&store, code(&ada, 1), later).await,
        Redeemed::WrongCode { attempts_left: 2 }
    );
    assert_eq!(
        verify(&store, link(TokenPurpose::VerifyEmail, 1), later).await,
        Redeemed::Invalid
    );
    assert!(
        store
            .peek_account_link("link-reset_password-1", TokenPurpose::ResetPassword, later)
            .await
            .unwrap()
            .is_some()
    );
}

async fn proofs_are_not_mailed_more_often_than_the_limits_allow(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let issue = |n: u8, at: OffsetDateTime| {
        let store = store.clone();
        let token = proof(&ada, TokenPurpose::VerifyEmail, n, at);
        async move { store.issue_account_token(token, LIMITS).await.unwrap() }
    };
    assert_eq!(issue(1, t0()).await, Issued::Issued);
    assert_eq!(
        issue(2, t0() + Duration::seconds(30)).await,
        Issued::TooSoon {
            retry_at: t0() + Duration::minutes(1)
        }
    );
    assert_eq!(issue(3, t0() + Duration::minutes(1)).await, Issued::Issued);
    assert_eq!(issue(4, t0() + Duration::minutes(2)).await, Issued::Issued);
    // Three this hour: the next waits until the first is an hour old.
    assert_eq!(
        issue(5, t0() + Duration::minutes(10)).await,
        Issued::TooSoon {
            retry_at: t0() + Duration::HOUR
        }
    );
    assert_eq!(
        issue(6, t0() + Duration::HOUR + Duration::seconds(1)).await,
        Issued::Issued
    );
    // The refused ones were not stored: the live code is the last issued.
    let live = store
        .live_account_token(
            ada.id,
            TokenPurpose::VerifyEmail,
            t0() + Duration::HOUR + Duration::seconds(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.email, ada.email);
    assert_eq!(
        verify(&store, code(&ada, 6), t0() + Duration::minutes(61)).await,
        Redeemed::Done {
            token: live,
            previous_email: ada.email.clone()
        }
    );
}

async fn a_right_code_verifies_the_address_once_and_records_the_event(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    assert!(!ada.email_verified);
    store
        .issue_account_token(proof(&ada, TokenPurpose::VerifyEmail, 1, t0()), LIMITS)
        .await
        .unwrap();
    let at = t0() + Duration::minutes(5);
    let Redeemed::Done {
        token,
        previous_email,
    } = verify(&store, code(&ada, 1), at).await
    else {
        panic!("the right code is accepted");
    };
    assert_eq!((&token.email, &previous_email), (&ada.email, &ada.email));
    let after = store.get_user(ada.id).await.unwrap();
    assert!(after.email_verified);
    assert_eq!(after.version, ada.version + 1);
    let events = store.list_events(0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::EmailVerified);
    assert_eq!(events[0].user_id, Some(ada.id));
    assert_eq!(events[0].client_id.as_deref(), Some("shop"));
    // Once.
    assert_eq!(verify(&store, code(&ada, 1), at).await, Redeemed::Invalid);
    assert_eq!(store.list_events(0, 10).await.unwrap().len(), 1);
}

async fn wrong_codes_are_counted_and_the_last_attempt_ends_the_code(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store
        .issue_account_token(proof(&ada, TokenPurpose::VerifyEmail, 1, t0()), LIMITS)
        .await
        .unwrap();
    for left in [2, 1, 0] {
        assert_eq!(
            verify(&store, code(&ada, 9), t0()).await,
            Redeemed::WrongCode {
                attempts_left: left
            }
        );
    }
    let live = store
        .live_account_token(ada.id, TokenPurpose::VerifyEmail, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.attempts, 3);
    // Even the right code no longer works; the address stays unverified.
    assert_eq!(verify(&store, code(&ada, 1), t0()).await, Redeemed::Invalid);
    assert!(!store.get_user(ada.id).await.unwrap().email_verified);
}

async fn an_expired_proof_does_nothing(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store
        .issue_account_token(proof(&ada, TokenPurpose::VerifyEmail, 1, t0()), LIMITS)
        .await
        .unwrap();
    let expired = t0() + Duration::minutes(30);
    assert_eq!(
        verify(&store, code(&ada, 1), expired).await,
        Redeemed::Invalid
    );
    assert_eq!(
        verify(&store, link(TokenPurpose::VerifyEmail, 1), expired).await,
        Redeemed::Invalid
    );
    assert!(
        store
            .live_account_token(ada.id, TokenPurpose::VerifyEmail, expired)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.get_user(ada.id).await.unwrap().email_verified);
}

async fn a_code_mailed_to_a_former_address_does_not_verify_the_new_one(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let mut old = proof(&ada, TokenPurpose::VerifyEmail, 1, t0());
    old.email = "ada@old.example".into();
    store.issue_account_token(old, LIMITS).await.unwrap();
    assert_eq!(verify(&store, code(&ada, 1), t0()).await, Redeemed::Invalid);
    assert!(!store.get_user(ada.id).await.unwrap().email_verified);
    assert!(store.list_events(0, 10).await.unwrap().is_empty());
}

async fn a_confirmed_new_address_replaces_the_old_one_verified(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let mut change = proof(&ada, TokenPurpose::ChangeEmail, 1, t0());
    change.email = "Ada@New.example".into();
    store.issue_account_token(change, LIMITS).await.unwrap();
    let done = store
        .redeem_account_token(
            link(TokenPurpose::ChangeEmail, 1),
            TokenEffect::ChangeEmail,
            Some(event(EventKind::EmailChanged)),
            t0(),
        )
        .await
        .unwrap();
    let Redeemed::Done { previous_email, .. } = done else {
        panic!("the link is accepted: {done:?}");
    };
    assert_eq!(previous_email, "ada@example.com");
    let after = store.get_user(ada.id).await.unwrap();
    assert_eq!(
        (after.email.as_str(), after.email_verified),
        ("Ada@New.example", true)
    );
    assert_eq!(
        store
            .find_user_by_email("ada@new.example")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ada.id)
    );
    assert!(
        store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let events = store.list_events(0, 10).await.unwrap();
    assert_eq!(events[0].kind, EventKind::EmailChanged);
}

async fn a_new_address_taken_meanwhile_changes_nothing(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let mut change = proof(&ada, TokenPurpose::ChangeEmail, 1, t0());
    change.email = "grace@example.com".into();
    store.issue_account_token(change, LIMITS).await.unwrap();
    store
        .create_user(NewUser::with_email("Grace@example.com", t0()))
        .await
        .unwrap();
    let result = store
        .redeem_account_token(
            code(&ada, 1),
            TokenEffect::ChangeEmail,
            Some(event(EventKind::EmailChanged)),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(result, Redeemed::EmailTaken);
    assert_eq!(store.get_user(ada.id).await.unwrap().email, ada.email);
    assert!(store.list_events(0, 10).await.unwrap().is_empty());
}

async fn a_reset_link_sets_the_password_once_and_ends_sessions_and_grants(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store.create_client(client("shop")).await.unwrap();
    store.create_session(session("s1", &ada)).await.unwrap();
    let grant = store
        .create_grant(ada.id, "shop", &["openid".into()], t0())
        .await
        .unwrap();
    store
        .issue_account_token(proof(&ada, TokenPurpose::ResetPassword, 1, t0()), LIMITS)
        .await
        .unwrap();
    let reset = |hash: &str| TokenEffect::ResetPassword {
        password_hash: hash.into(),
    };
    // A reset link is not a verification link.
    assert_eq!(
        verify(&store, link(TokenPurpose::ResetPassword, 1), t0()).await,
        Redeemed::Invalid
    );
    let done = store
        .redeem_account_token(
            link(TokenPurpose::ResetPassword, 1),
            reset("$argon2id$new"),
            Some(event(EventKind::PasswordReset)),
            t0(),
        )
        .await
        .unwrap();
    assert!(matches!(done, Redeemed::Done { .. }), "{done:?}");
    let after = store.get_user(ada.id).await.unwrap();
    assert_eq!(after.password_hash.as_deref(), Some("$argon2id$new"));
    assert!(store.get_session("s1", t0()).await.unwrap().is_none());
    assert!(store.is_grant_revoked(grant.id).await.unwrap());
    assert_eq!(
        store.list_events(0, 10).await.unwrap()[0].kind,
        EventKind::PasswordReset
    );
    let again = store
        .redeem_account_token(
            link(TokenPurpose::ResetPassword, 1),
            reset("$argon2id$other"),
            Some(event(EventKind::PasswordReset)),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(again, Redeemed::Invalid);
    assert_eq!(
        store
            .get_user(ada.id)
            .await
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$new")
    );
}

async fn of_concurrent_uses_of_a_link_exactly_one_wins(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store
        .issue_account_token(proof(&ada, TokenPurpose::ResetPassword, 1, t0()), LIMITS)
        .await
        .unwrap();
    let attempts = (0..8).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .redeem_account_token(
                    link(TokenPurpose::ResetPassword, 1),
                    TokenEffect::ResetPassword {
                        password_hash: format!("hash-{n}"),
                    },
                    Some(event(EventKind::PasswordReset)),
                    t0(),
                )
                .await
                .unwrap()
        })
    });
    let mut done = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        if matches!(attempt.await.unwrap(), Redeemed::Done { .. }) {
            done += 1;
        }
    }
    assert_eq!(done, 1);
    assert_eq!(store.list_events(0, 10).await.unwrap().len(), 1);
}

async fn expired_proofs_are_purged_a_day_later(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store
        .issue_account_token(proof(&ada, TokenPurpose::VerifyEmail, 1, t0()), LIMITS)
        .await
        .unwrap();
    let expiry = t0() + Duration::minutes(30);
    assert_eq!(store.purge_account_tokens(expiry).await.unwrap(), 0);
    assert_eq!(
        store
            .purge_account_tokens(expiry + Duration::days(1))
            .await
            .unwrap(),
        1
    );
}

async fn a_proof_for_an_unknown_user_is_refused(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let mut stranger = proof(&ada, TokenPurpose::VerifyEmail, 1, t0());
    stranger.user_id = Uuid::new_v4();
    assert!(matches!(
        store.issue_account_token(stranger, LIMITS).await,
        Err(accrete_store::StoreError::NotFound)
    ));
}
