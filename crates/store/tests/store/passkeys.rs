//! Passkeys: added and removed with their events, never the last way in, renamed only by their
//! owner, counters that only move over the one an assertion was checked against, ceremonies
//! taken once, and nothing left when the user goes.

use std::sync::Arc;

use accrete_store::{
    CeremonyKind, EventKind, LinkedIdentity, NewEvent, NewUser, PasskeyCeremony, PasskeyRemoval,
    PasskeyUse, Store, StoreError, StoredPasskey, UnlinkOutcome, User,
};
use serde_json::json;
use time::Duration;
use uuid::Uuid;

use crate::common::t0;
use crate::oidc::user;

crate::for_each_backend!(
    a_passkey_is_added_with_its_event_and_listed_oldest_first,
    a_credential_id_is_registered_once_whoever_registers_it,
    a_passkey_is_renamed_only_by_its_owner,
    removing_a_passkey_records_the_event_but_never_the_last_way_in,
    a_passkey_lets_a_user_without_password_unlink_their_last_provider,
    an_assertion_is_stored_only_over_the_counter_it_was_checked_against,
    a_ceremony_is_taken_once_and_not_after_it_expired,
    deleting_the_user_removes_their_passkeys_and_ceremonies,
    passkeys_count_as_second_factors_and_a_reset_keeps_the_only_way_in,
);

fn event(kind: EventKind, user: &User) -> NewEvent {
    NewEvent {
        kind,
        user_id: user.id,
        step: None,
        client_id: None,
        at: t0(),
        logins: None,
        data: json!({ "name": "Laptop" }),
    }
}

fn passkey(user: &User, credential_id: &str, name: &str) -> StoredPasskey {
    StoredPasskey {
        id: Uuid::new_v4(),
        user_id: user.id,
        credential_id: credential_id.into(),
        passkey: format!(r#"{{"cred_id":"{credential_id}"}}"#),
        name: name.into(),
        counter: 0,
        backup_eligible: false,
        created_at: t0(),
        last_used_at: None,
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

async fn no_password(store: &Arc<dyn Store>, email: &str) -> User {
    store
        .create_user(NewUser::with_email(email, t0()))
        .await
        .unwrap()
}

async fn a_passkey_is_added_with_its_event_and_listed_oldest_first(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let first = passkey(&ada, "cred-1", "Laptop");
    let mut second = passkey(&ada, "cred-2", "Phone");
    second.created_at = t0() + Duration::minutes(1);
    second.backup_eligible = true;
    for p in [second.clone(), first.clone()] {
        store
            .add_passkey(p, event(EventKind::PasskeyAdded, &ada))
            .await
            .unwrap();
    }
    assert_eq!(
        store.user_passkeys(ada.id).await.unwrap(),
        vec![first.clone(), second]
    );
    assert_eq!(store.find_passkey("cred-1").await.unwrap(), Some(first));
    assert_eq!(store.find_passkey("cred-x").await.unwrap(), None);
    let added = events_of(&store, EventKind::PasskeyAdded).await;
    assert_eq!(added.len(), 2);
    assert_eq!(added[0].user_id, Some(ada.id));
}

async fn a_credential_id_is_registered_once_whoever_registers_it(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let bob = no_password(&store, "bob@example.com").await;
    store
        .add_passkey(
            passkey(&ada, "cred-1", "Laptop"),
            event(EventKind::PasskeyAdded, &ada),
        )
        .await
        .unwrap();
    let again = store
        .add_passkey(
            passkey(&bob, "cred-1", "Stolen"),
            event(EventKind::PasskeyAdded, &bob),
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    // The refused registration recorded no event: it was in the rolled back transaction.
    assert_eq!(events_of(&store, EventKind::PasskeyAdded).await.len(), 1);
    assert!(store.user_passkeys(bob.id).await.unwrap().is_empty());
    let ghost = User {
        id: Uuid::new_v4(),
        ..ada.clone()
    };
    let orphan = store
        .add_passkey(
            passkey(&ghost, "cred-2", "Nobody's"),
            event(EventKind::PasskeyAdded, &ada),
        )
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound)), "{orphan:?}");
}

async fn a_passkey_is_renamed_only_by_its_owner(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let bob = no_password(&store, "bob@example.com").await;
    let key = passkey(&ada, "cred-1", "Laptop");
    store
        .add_passkey(key.clone(), event(EventKind::PasskeyAdded, &ada))
        .await
        .unwrap();
    assert!(!store.rename_passkey(bob.id, key.id, "Mine").await.unwrap());
    assert!(
        store
            .rename_passkey(ada.id, key.id, "Work laptop")
            .await
            .unwrap()
    );
    assert_eq!(
        store.user_passkeys(ada.id).await.unwrap()[0].name,
        "Work laptop"
    );
}

async fn removing_a_passkey_records_the_event_but_never_the_last_way_in(store: Arc<dyn Store>) {
    // Bob has no password and no provider: his passkeys are his only ways in.
    let bob = no_password(&store, "bob@example.com").await;
    let laptop = passkey(&bob, "cred-1", "Laptop");
    let phone = passkey(&bob, "cred-2", "Phone");
    for p in [laptop.clone(), phone.clone()] {
        store
            .add_passkey(p, event(EventKind::PasskeyAdded, &bob))
            .await
            .unwrap();
    }
    let removed = event(EventKind::PasskeyRemoved, &bob);
    assert_eq!(
        store
            .remove_passkey(bob.id, Uuid::new_v4(), removed.clone())
            .await
            .unwrap(),
        PasskeyRemoval::NotFound
    );
    assert_eq!(
        store
            .remove_passkey(bob.id, laptop.id, removed.clone())
            .await
            .unwrap(),
        PasskeyRemoval::Removed
    );
    assert_eq!(
        store
            .remove_passkey(bob.id, phone.id, removed.clone())
            .await
            .unwrap(),
        PasskeyRemoval::LastWayIn
    );
    assert_eq!(store.user_passkeys(bob.id).await.unwrap(), vec![phone]);
    assert_eq!(events_of(&store, EventKind::PasskeyRemoved).await.len(), 1);

    // Ada has a password: her one passkey may go.
    let mut with_password = NewUser::with_email("ada@example.com", t0());
    with_password.password_hash = Some("$argon2id$hash".into());
    let ada = store.create_user(with_password).await.unwrap();
    let only = passkey(&ada, "cred-3", "Key");
    store
        .add_passkey(only.clone(), event(EventKind::PasskeyAdded, &ada))
        .await
        .unwrap();
    let removed = event(EventKind::PasskeyRemoved, &ada);
    assert_eq!(
        store
            .remove_passkey(ada.id, only.id, removed)
            .await
            .unwrap(),
        PasskeyRemoval::Removed
    );
}

async fn a_passkey_lets_a_user_without_password_unlink_their_last_provider(store: Arc<dyn Store>) {
    store
        .create_connection(crate::federation::connection("google"))
        .await
        .unwrap();
    let identity = LinkedIdentity {
        connection: "google".into(),
        subject: "g-1".into(),
        user_id: Uuid::new_v4(),
        email: None,
        created_at: t0(),
        last_used_at: t0(),
    };
    let bob = store
        .create_user_with_identity(
            NewUser::with_email("bob@example.com", t0()),
            identity,
            vec![],
            "federation:google".into(),
            t0(),
        )
        .await
        .unwrap();
    let key = passkey(&bob, "cred-1", "Laptop");
    store
        .add_passkey(key.clone(), event(EventKind::PasskeyAdded, &bob))
        .await
        .unwrap();
    // With the provider linked, the passkey is not the last way in.
    assert_eq!(
        store
            .remove_passkey(bob.id, key.id, event(EventKind::PasskeyRemoved, &bob))
            .await
            .unwrap(),
        PasskeyRemoval::Removed
    );
    assert_eq!(
        store
            .unlink_identity(bob.id, "google", "g-1")
            .await
            .unwrap(),
        UnlinkOutcome::LastWayIn
    );
    store
        .add_passkey(key, event(EventKind::PasskeyAdded, &bob))
        .await
        .unwrap();
    assert_eq!(
        store
            .unlink_identity(bob.id, "google", "g-1")
            .await
            .unwrap(),
        UnlinkOutcome::Unlinked
    );
}

async fn an_assertion_is_stored_only_over_the_counter_it_was_checked_against(
    store: Arc<dyn Store>,
) {
    let ada = user(&store).await;
    let key = passkey(&ada, "cred-1", "Laptop");
    store
        .add_passkey(key.clone(), event(EventKind::PasskeyAdded, &ada))
        .await
        .unwrap();
    let at = t0() + Duration::hours(1);
    let used = PasskeyUse {
        id: key.id,
        checked_counter: 0,
        counter: 7,
        passkey: Some(r#"{"cred_id":"cred-1","counter":7}"#.into()),
        backup_eligible: false,
        now: at,
    };
    assert!(store.use_passkey(used.clone()).await.unwrap());
    let stored = store.find_passkey("cred-1").await.unwrap().unwrap();
    assert_eq!(stored.counter, 7);
    assert_eq!(stored.last_used_at, Some(at));
    assert!(stored.passkey.contains("\"counter\":7"));

    // The same assertion again (or a clone's, checked against the old counter) moves nothing.
    assert!(!store.use_passkey(used).await.unwrap());
    assert_eq!(
        store.find_passkey("cred-1").await.unwrap().unwrap().counter,
        7
    );

    // A synced passkey keeps counter 0 and an unchanged credential: only the last use moves.
    let later = at + Duration::hours(1);
    let synced = PasskeyUse {
        id: key.id,
        checked_counter: 7,
        counter: 7,
        passkey: None,
        backup_eligible: false,
        now: later,
    };
    assert!(store.use_passkey(synced).await.unwrap());
    let stored = store.find_passkey("cred-1").await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(later));
    assert!(stored.passkey.contains("\"counter\":7"), "kept as it was");
}

fn ceremony(hash: &str, user: Option<&User>, kind: CeremonyKind) -> PasskeyCeremony {
    PasskeyCeremony {
        hash: hash.into(),
        kind,
        user_id: user.map(|u| u.id),
        browser: "browser-hash".into(),
        state: r#"{"rs":{}}"#.into(),
        created_at: t0(),
        expires_at: t0() + Duration::minutes(5),
    }
}

async fn a_ceremony_is_taken_once_and_not_after_it_expired(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let registration = ceremony("h-1", Some(&ada), CeremonyKind::Registration);
    store
        .create_passkey_ceremony(registration.clone())
        .await
        .unwrap();
    let taken = store.create_passkey_ceremony(registration.clone()).await;
    assert!(
        matches!(taken, Err(StoreError::Conflict { .. })),
        "{taken:?}"
    );
    let now = t0() + Duration::minutes(1);
    assert_eq!(
        store.consume_passkey_ceremony("h-1", now).await.unwrap(),
        Some(registration)
    );
    assert_eq!(
        store.consume_passkey_ceremony("h-1", now).await.unwrap(),
        None
    );

    let sign_in = ceremony("h-2", None, CeremonyKind::SignIn);
    store.create_passkey_ceremony(sign_in).await.unwrap();
    let late = t0() + Duration::minutes(5);
    assert_eq!(
        store.consume_passkey_ceremony("h-2", late).await.unwrap(),
        None
    );

    store
        .create_passkey_ceremony(ceremony("h-3", None, CeremonyKind::KnownUser))
        .await
        .unwrap();
    assert_eq!(
        store.delete_expired_passkey_ceremonies(late).await.unwrap(),
        1
    );
}

async fn deleting_the_user_removes_their_passkeys_and_ceremonies(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    store
        .add_passkey(
            passkey(&ada, "cred-1", "Laptop"),
            event(EventKind::PasskeyAdded, &ada),
        )
        .await
        .unwrap();
    store
        .create_passkey_ceremony(ceremony("h-1", Some(&ada), CeremonyKind::Registration))
        .await
        .unwrap();
    store.delete_account(ada.id, t0(), None).await.unwrap();
    assert_eq!(store.find_passkey("cred-1").await.unwrap(), None);
    assert!(store.user_passkeys(ada.id).await.unwrap().is_empty());
    assert_eq!(
        store.consume_passkey_ceremony("h-1", t0()).await.unwrap(),
        None
    );
}

async fn passkeys_count_as_second_factors_and_a_reset_keeps_the_only_way_in(store: Arc<dyn Store>) {
    let factors = |user: Uuid| {
        let store = store.clone();
        async move { store.get_user(user).await.unwrap().mfa_factors }
    };
    // Ada has a password: her passkeys are second factors, and an administrator's reset
    // removes them with the rest.
    let mut with_password = NewUser::with_email("ada@example.com", t0());
    with_password.password_hash = Some("$argon2id$hash".into());
    let ada = store.create_user(with_password).await.unwrap();
    let laptop = passkey(&ada, "cred-1", "Laptop");
    let phone = passkey(&ada, "cred-2", "Phone");
    for p in [laptop.clone(), phone.clone()] {
        store
            .add_passkey(p, event(EventKind::PasskeyAdded, &ada))
            .await
            .unwrap();
    }
    assert_eq!(factors(ada.id).await, 2);
    store
        .remove_passkey(ada.id, laptop.id, event(EventKind::PasskeyRemoved, &ada))
        .await
        .unwrap();
    assert_eq!(factors(ada.id).await, 1);
    let reset = event(EventKind::MfaReset, &ada);
    assert_eq!(store.reset_factors(ada.id, reset).await.unwrap(), 1);
    assert_eq!(factors(ada.id).await, 0);
    assert!(store.user_passkeys(ada.id).await.unwrap().is_empty());

    // Bob signs in with his passkey only: a reset leaves it (he would have no way in).
    let bob = no_password(&store, "bob@example.com").await;
    let key = passkey(&bob, "cred-3", "Key");
    store
        .add_passkey(key.clone(), event(EventKind::PasskeyAdded, &bob))
        .await
        .unwrap();
    let reset = event(EventKind::MfaReset, &bob);
    assert_eq!(store.reset_factors(bob.id, reset).await.unwrap(), 0);
    assert_eq!(store.user_passkeys(bob.id).await.unwrap(), vec![key]);
    assert_eq!(factors(bob.id).await, 1);
}
