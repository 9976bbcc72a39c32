//! Phone codes (sent by text message): verifying a number and the sign-in code, on the proofs
//! of `account_tokens`; and the rule that a changed number is no longer verified.

use std::sync::Arc;

use accrete_store::{
    EventKind, IssueLimits, Location, NewAccountToken, PHONE_NUMBER, PHONE_NUMBER_VERIFIED,
    Presented, ProfileChange, Redeemed, Store, TokenEffect, TokenEvent, TokenPurpose, User,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common::t0;
use crate::oidc::user;

crate::for_each_backend!(
    a_right_phone_code_stores_the_number_verified_with_history_provenance_and_the_event,
    a_phone_code_is_used_once,
    wrong_phone_codes_are_counted_with_an_event_each_and_the_last_attempt_ends_the_code,
    an_expired_phone_code_does_nothing,
    a_code_sent_to_a_former_number_does_not_verify_the_new_one,
    any_write_that_changes_the_number_makes_it_unverified,
    a_sign_in_code_is_used_once_and_changes_nothing,
);

// The resend limits are the mailed proofs' (tested in account_tokens.rs).
const LIMITS: IssueLimits = IssueLimits {
    interval: Duration::ZERO,
    per_hour: 100,
};
const NUMBER: &str = "+33612345678";

fn phone_code(user: &User, purpose: TokenPurpose, number: &str, n: u8) -> NewAccountToken {
    NewAccountToken {
        id: Uuid::new_v4(),
        user_id: user.id,
        purpose,
        email: number.into(),
        code_hash: Some(format!("code-{n}")),
        link_hash: format!("never-sent-{}-{n}", purpose.as_str()),
        created_at: t0(),
        expires_at: t0() + Duration::minutes(10),
    }
}

fn typed(user: &User, n: u8) -> Presented {
    Presented::Code {
        user_id: user.id,
        code_hash: format!("code-{n}"),
        max_attempts: 5,
    }
}

fn verified_event() -> Option<TokenEvent> {
    Some(TokenEvent {
        kind: EventKind::PhoneVerified,
        client_id: Some("shop".into()),
        data: json!({ "via": "test" }),
    })
}

async fn enter(
    store: &Arc<dyn Store>,
    user: &User,
    n: u8,
    effect: TokenEffect,
    at: OffsetDateTime,
) -> Redeemed {
    let event = match effect {
        TokenEffect::SignInSms => None,
        _ => verified_event(),
    };
    store
        .redeem_account_token(typed(user, n), effect, event, at)
        .await
        .unwrap()
}

const ON_PROMPT: TokenEffect = TokenEffect::VerifyPhone { store_number: true };
const ON_ACCOUNT: TokenEffect = TokenEffect::VerifyPhone {
    store_number: false,
};

async fn a_right_phone_code_stores_the_number_verified_with_history_provenance_and_the_event(
    store: Arc<dyn Store>,
) {
    let ada = user(&store).await;
    store
        .issue_account_token(
            phone_code(&ada, TokenPurpose::VerifyPhone, NUMBER, 1),
            LIMITS,
        )
        .await
        .unwrap();
    let at = t0() + Duration::minutes(2);
    let done = enter(&store, &ada, 1, ON_PROMPT, at).await;
    let Redeemed::Done { token, .. } = done else {
        panic!("the right code is accepted: {done:?}");
    };
    assert_eq!(token.email, NUMBER);
    let after = store.get_user(ada.id).await.unwrap();
    assert_eq!(after.profile[PHONE_NUMBER], NUMBER);
    assert_eq!(after.profile[PHONE_NUMBER_VERIFIED], true);
    let history = store.user_history(ada.id).await.unwrap();
    let keys: Vec<(&str, &str)> = history
        .iter()
        .map(|h| (h.key.as_str(), h.source.as_str()))
        .collect();
    assert_eq!(
        keys,
        [(PHONE_NUMBER, "sms"), (PHONE_NUMBER_VERIFIED, "sms")]
    );
    let provenance = store.value_provenance(ada.id).await.unwrap();
    assert!(
        provenance
            .iter()
            .any(|p| p.key == PHONE_NUMBER_VERIFIED && p.source == "sms" && p.updated_at == at)
    );
    let events = store.list_events(0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::PhoneVerified);
    assert_eq!(events[0].client_id.as_deref(), Some("shop"));
}

async fn a_phone_code_is_used_once(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store
        .issue_account_token(
            phone_code(&ada, TokenPurpose::VerifyPhone, NUMBER, 1),
            LIMITS,
        )
        .await
        .unwrap();
    assert!(matches!(
        enter(&store, &ada, 1, ON_PROMPT, t0()).await,
        Redeemed::Done { .. }
    ));
    assert_eq!(
        enter(&store, &ada, 1, ON_PROMPT, t0()).await,
        Redeemed::Invalid
    );
    assert_eq!(store.list_events(0, 10).await.unwrap().len(), 1);
}

async fn wrong_phone_codes_are_counted_with_an_event_each_and_the_last_attempt_ends_the_code(
    store: Arc<dyn Store>,
) {
    let ada = user(&store).await;
    store
        .issue_account_token(
            phone_code(&ada, TokenPurpose::VerifyPhone, NUMBER, 1),
            LIMITS,
        )
        .await
        .unwrap();
    for left in [4, 3, 2, 1, 0] {
        assert_eq!(
            enter(&store, &ada, 9, ON_PROMPT, t0()).await,
            Redeemed::WrongCode {
                attempts_left: left
            }
        );
    }
    assert_eq!(
        enter(&store, &ada, 1, ON_PROMPT, t0()).await,
        Redeemed::Invalid
    );
    let after = store.get_user(ada.id).await.unwrap();
    assert!(after.profile.get(PHONE_NUMBER).is_none());
    let events = store.list_events(0, 10).await.unwrap();
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| e.kind == EventKind::PhoneCodeFailed));
    assert_eq!(events[0].data["purpose"], "verify_phone");
    assert_eq!(events[0].data["attempts_left"], 4);
    assert_eq!(events[0].client_id.as_deref(), Some("shop"));
}

async fn an_expired_phone_code_does_nothing(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store
        .issue_account_token(
            phone_code(&ada, TokenPurpose::VerifyPhone, NUMBER, 1),
            LIMITS,
        )
        .await
        .unwrap();
    let expired = t0() + Duration::minutes(10);
    assert_eq!(
        enter(&store, &ada, 1, ON_PROMPT, expired).await,
        Redeemed::Invalid
    );
    assert!(
        store
            .get_user(ada.id)
            .await
            .unwrap()
            .profile
            .get(PHONE_NUMBER)
            .is_none()
    );
    assert!(store.list_events(0, 10).await.unwrap().is_empty());
}

async fn a_code_sent_to_a_former_number_does_not_verify_the_new_one(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let set = |number: &str| {
        [ProfileChange::set(
            Location::Profile,
            PHONE_NUMBER,
            json!(number),
        )]
    };
    store
        .apply_profile_changes(ada.id, None, &set(NUMBER), "account", t0())
        .await
        .unwrap();
    store
        .issue_account_token(
            phone_code(&ada, TokenPurpose::VerifyPhone, NUMBER, 1),
            LIMITS,
        )
        .await
        .unwrap();
    store
        .apply_profile_changes(ada.id, None, &set("+14155550100"), "account", t0())
        .await
        .unwrap();
    assert_eq!(
        enter(&store, &ada, 1, ON_ACCOUNT, t0()).await,
        Redeemed::Invalid
    );
    let after = store.get_user(ada.id).await.unwrap();
    assert_eq!(after.profile[PHONE_NUMBER], "+14155550100");
    assert!(after.profile.get(PHONE_NUMBER_VERIFIED).is_none());
    // The number on the account is proven with a code sent to it.
    store
        .issue_account_token(
            phone_code(&ada, TokenPurpose::VerifyPhone, "+14155550100", 2),
            LIMITS,
        )
        .await
        .unwrap();
    assert!(matches!(
        enter(&store, &ada, 2, ON_ACCOUNT, t0()).await,
        Redeemed::Done { .. }
    ));
    assert_eq!(
        store.get_user(ada.id).await.unwrap().profile[PHONE_NUMBER_VERIFIED],
        true
    );
}

async fn any_write_that_changes_the_number_makes_it_unverified(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let verify = |n: u8, number: &'static str| {
        let store = store.clone();
        let ada = ada.clone();
        async move {
            store
                .issue_account_token(
                    phone_code(&ada, TokenPurpose::VerifyPhone, number, n),
                    LIMITS,
                )
                .await
                .unwrap();
            assert!(matches!(
                enter(&store, &ada, n, ON_PROMPT, t0()).await,
                Redeemed::Done { .. }
            ));
        }
    };
    verify(1, NUMBER).await;
    // The same number written again (a prompt, the account page): still verified.
    let same = [ProfileChange::set(
        Location::Profile,
        PHONE_NUMBER,
        json!(NUMBER),
    )];
    let after = store
        .apply_profile_changes(ada.id, None, &same, "account", t0())
        .await
        .unwrap();
    assert_eq!(after.profile[PHONE_NUMBER_VERIFIED], true);
    // Another value of another key: still verified.
    let name = [ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("Ada"),
    )];
    let after = store
        .apply_profile_changes(ada.id, None, &name, "admin", t0())
        .await
        .unwrap();
    assert_eq!(after.profile[PHONE_NUMBER_VERIFIED], true);
    // Another number, by a key change: unverified, recorded with the write's source.
    let other = [ProfileChange::set(
        Location::Profile,
        PHONE_NUMBER,
        json!("+14155550100"),
    )];
    let after = store
        .apply_profile_changes(ada.id, None, &other, "admin", t0())
        .await
        .unwrap();
    assert!(after.profile.get(PHONE_NUMBER_VERIFIED).is_none());
    let history = store.user_history(ada.id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (
            last.key.as_str(),
            last.old_value.clone(),
            last.new_value.clone(),
            last.source.as_str()
        ),
        (PHONE_NUMBER_VERIFIED, Some(json!(true)), None, "admin")
    );
    // By a merge patch, even one that claims the flag: unverified.
    verify(2, "+14155550100").await;
    let after = store
        .merge_profile_patch(
            ada.id,
            None,
            Location::Profile,
            &json!({ PHONE_NUMBER: "+447700900123", PHONE_NUMBER_VERIFIED: true }),
            "api:shop",
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(after.profile[PHONE_NUMBER], "+447700900123");
    assert!(after.profile.get(PHONE_NUMBER_VERIFIED).is_none());
    // Deleting the number: unverified too.
    verify(3, "+447700900123").await;
    let after = store
        .apply_profile_changes(
            ada.id,
            None,
            &[ProfileChange::delete(Location::Profile, PHONE_NUMBER)],
            "account",
            t0(),
        )
        .await
        .unwrap();
    assert!(after.profile.get(PHONE_NUMBER_VERIFIED).is_none());
}

async fn a_sign_in_code_is_used_once_and_changes_nothing(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store
        .issue_account_token(phone_code(&ada, TokenPurpose::SignInSms, NUMBER, 1), LIMITS)
        .await
        .unwrap();
    // A sign-in code is not a verification code.
    assert_eq!(
        enter(&store, &ada, 1, ON_PROMPT, t0()).await,
        Redeemed::Invalid
    );
    assert!(matches!(
        enter(&store, &ada, 1, TokenEffect::SignInSms, t0()).await,
        Redeemed::Done { .. }
    ));
    assert_eq!(
        enter(&store, &ada, 1, TokenEffect::SignInSms, t0()).await,
        Redeemed::Invalid
    );
    let after = store.get_user(ada.id).await.unwrap();
    assert_eq!(after.version, ada.version);
    assert!(store.list_events(0, 10).await.unwrap().is_empty());
}
