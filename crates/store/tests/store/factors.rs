//! Second factors: enrolment confirmed once, the user's count kept in the same transaction, a
//! TOTP step accepted once, recovery codes used once, removal and an administrator's reset.

use std::sync::Arc;

use accrete_store::{
    EventKind, FactorConfirmation, FactorKind, NewEvent, NewFactor, Store, StoreError, User,
};
use serde_json::json;
use time::Duration;
use uuid::Uuid;

use crate::common::t0;
use crate::oidc::{session, user};

crate::for_each_backend!(
    an_enrolment_counts_once_confirmed_and_brings_its_recovery_codes,
    a_new_enrolment_replaces_the_one_in_progress,
    a_totp_step_is_accepted_once_and_never_an_earlier_one,
    a_recovery_code_works_once,
    removing_the_last_factor_removes_the_recovery_codes,
    an_administrator_reset_removes_everything_with_its_event,
    a_session_records_its_second_factor,
);

fn event(kind: EventKind, user: &User) -> NewEvent {
    NewEvent {
        kind,
        user_id: user.id,
        step: None,
        client_id: None,
        at: t0(),
        logins: None,
        data: json!({}),
    }
}

fn totp(user: &User, id: Uuid) -> NewFactor {
    NewFactor {
        id,
        user_id: user.id,
        kind: FactorKind::Totp,
        label: String::new(),
        sealed_secret: Some(vec![1, 2, 3]),
        phone: None,
        now: t0(),
    }
}

fn confirm(user: &User, id: Uuid, codes: Option<Vec<&str>>) -> FactorConfirmation {
    FactorConfirmation {
        user_id: user.id,
        factor_id: id,
        step: 100,
        recovery_codes: codes.map(|c| c.into_iter().map(str::to_owned).collect()),
        now: t0() + Duration::seconds(30),
    }
}

async fn count(store: &Arc<dyn Store>, kind: EventKind) -> usize {
    let events = store.list_events(0, 1000).await.unwrap();
    events.into_iter().filter(|e| e.kind == kind).count()
}

async fn enrolled(store: &Arc<dyn Store>, user: &User) -> i64 {
    store.get_user(user.id).await.unwrap().mfa_factors
}

async fn an_enrolment_counts_once_confirmed_and_brings_its_recovery_codes(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let id = Uuid::new_v4();
    store.start_factor(totp(&ada, id)).await.unwrap();
    assert_eq!(
        enrolled(&store, &ada).await,
        0,
        "in progress: does not count"
    );
    let listed = store.list_factors(ada.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].confirmed());
    assert_eq!(listed[0].sealed_secret.as_deref(), Some(&[1u8, 2, 3][..]));

    let done = store
        .confirm_factor(
            confirm(&ada, id, Some(vec!["h1", "h2"])),
            event(EventKind::MfaEnrolled, &ada),
        )
        .await
        .unwrap();
    assert!(done);
    assert_eq!(enrolled(&store, &ada).await, 1);
    assert_eq!(store.recovery_codes_left(ada.id).await.unwrap(), 2);
    assert_eq!(count(&store, EventKind::MfaEnrolled).await, 1);
    // Confirmed once: a second confirmation finds nothing in progress, records nothing.
    let again = store
        .confirm_factor(confirm(&ada, id, None), event(EventKind::MfaEnrolled, &ada))
        .await
        .unwrap();
    assert!(!again);
    assert_eq!(count(&store, EventKind::MfaEnrolled).await, 1);
    // An unknown user cannot start one.
    let mut stranger = totp(&ada, Uuid::new_v4());
    stranger.user_id = Uuid::new_v4();
    assert!(matches!(
        store.start_factor(stranger).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_new_enrolment_replaces_the_one_in_progress(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    store.start_factor(totp(&ada, first)).await.unwrap();
    store.start_factor(totp(&ada, second)).await.unwrap();
    let listed = store.list_factors(ada.id).await.unwrap();
    assert_eq!(listed.iter().map(|f| f.id).collect::<Vec<_>>(), [second]);
    let stale = store
        .confirm_factor(
            confirm(&ada, first, None),
            event(EventKind::MfaEnrolled, &ada),
        )
        .await
        .unwrap();
    assert!(!stale, "the replaced enrolment cannot be confirmed");
}

async fn a_totp_step_is_accepted_once_and_never_an_earlier_one(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let id = Uuid::new_v4();
    store.start_factor(totp(&ada, id)).await.unwrap();
    let now = t0() + Duration::minutes(1);
    // Not confirmed yet: no step is accepted.
    assert!(!store.use_totp_step(ada.id, id, 101, now).await.unwrap());
    store
        .confirm_factor(confirm(&ada, id, None), event(EventKind::MfaEnrolled, &ada))
        .await
        .unwrap();
    // The confirming code's step (100) is used already.
    assert!(!store.use_totp_step(ada.id, id, 100, now).await.unwrap());
    assert!(store.use_totp_step(ada.id, id, 101, now).await.unwrap());
    assert!(
        !store.use_totp_step(ada.id, id, 101, now).await.unwrap(),
        "replayed"
    );
    assert!(
        !store.use_totp_step(ada.id, id, 100, now).await.unwrap(),
        "older"
    );
    assert!(store.use_totp_step(ada.id, id, 103, now).await.unwrap());
    // Another user's factor id does nothing.
    let bob = store
        .create_user(accrete_store::NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    assert!(!store.use_totp_step(bob.id, id, 200, now).await.unwrap());
    let listed = store.list_factors(ada.id).await.unwrap();
    assert_eq!(listed[0].last_step, 103);
    assert_eq!(listed[0].last_used_at, Some(now));
}

async fn a_recovery_code_works_once(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let id = Uuid::new_v4();
    store.start_factor(totp(&ada, id)).await.unwrap();
    store
        .confirm_factor(
            confirm(&ada, id, Some(vec!["a", "b", "c"])),
            event(EventKind::MfaEnrolled, &ada),
        )
        .await
        .unwrap();
    let used = event(EventKind::RecoveryCodeUsed, &ada);
    let now = t0() + Duration::minutes(2);
    assert_eq!(
        store
            .use_recovery_code(ada.id, "b", used.clone(), now)
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        store
            .use_recovery_code(ada.id, "b", used.clone(), now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .use_recovery_code(ada.id, "zz", used.clone(), now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(count(&store, EventKind::RecoveryCodeUsed).await, 1);
    // New codes replace the old ones.
    store
        .replace_recovery_codes(
            ada.id,
            vec!["x".into()],
            event(EventKind::RecoveryCodesRenewed, &ada),
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .use_recovery_code(ada.id, "a", used.clone(), now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .use_recovery_code(ada.id, "x", used, now)
            .await
            .unwrap(),
        Some(0)
    );
}

async fn removing_the_last_factor_removes_the_recovery_codes(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let id = Uuid::new_v4();
    store.start_factor(totp(&ada, id)).await.unwrap();
    store
        .confirm_factor(
            confirm(&ada, id, Some(vec!["a", "b"])),
            event(EventKind::MfaEnrolled, &ada),
        )
        .await
        .unwrap();
    let removed = event(EventKind::MfaRemoved, &ada);
    assert!(
        !store
            .remove_factor(ada.id, Uuid::new_v4(), removed.clone())
            .await
            .unwrap()
    );
    assert!(store.remove_factor(ada.id, id, removed).await.unwrap());
    assert_eq!(enrolled(&store, &ada).await, 0);
    assert_eq!(store.recovery_codes_left(ada.id).await.unwrap(), 0);
    assert_eq!(count(&store, EventKind::MfaRemoved).await, 1);
}

async fn an_administrator_reset_removes_everything_with_its_event(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let id = Uuid::new_v4();
    store.start_factor(totp(&ada, id)).await.unwrap();
    store
        .confirm_factor(
            confirm(&ada, id, Some(vec!["a"])),
            event(EventKind::MfaEnrolled, &ada),
        )
        .await
        .unwrap();
    let reset = event(EventKind::MfaReset, &ada);
    assert_eq!(store.reset_factors(ada.id, reset.clone()).await.unwrap(), 1);
    assert_eq!(enrolled(&store, &ada).await, 0);
    assert!(store.list_factors(ada.id).await.unwrap().is_empty());
    assert_eq!(store.recovery_codes_left(ada.id).await.unwrap(), 0);
    // Nothing left: nothing recorded the second time.
    assert_eq!(store.reset_factors(ada.id, reset.clone()).await.unwrap(), 0);
    assert_eq!(count(&store, EventKind::MfaReset).await, 1);
    assert!(matches!(
        store.reset_factors(Uuid::new_v4(), reset).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_session_records_its_second_factor(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let s = session("s", &ada);
    store.create_session(s.clone()).await.unwrap();
    let at = t0() + Duration::minutes(3);
    let amr = vec!["pwd".to_owned(), "otp".to_owned(), "mfa".to_owned()];
    let marked = store
        .mark_session_mfa(&s.hash, amr.clone(), Some("urn:accrete:acr:mfa".into()), at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marked.mfa_at, Some(at));
    assert_eq!(marked.amr, amr);
    let read = store.get_session(&s.hash, at).await.unwrap().unwrap();
    assert_eq!(read.mfa_at, Some(at));
    assert_eq!(read.acr.as_deref(), Some("urn:accrete:acr:mfa"));
    assert!(
        store
            .mark_session_mfa("gone", amr, None, at)
            .await
            .unwrap()
            .is_none()
    );
}
