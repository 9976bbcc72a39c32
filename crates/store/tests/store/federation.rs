//! Federation: connections to upstream providers, identities linked to users (with the units of
//! work of signing in and up through a provider), and the single-use states of round trips.

use std::sync::Arc;

use accrete_store::{
    ConnectionUpdate, FederatedSignIn, FederationState, LinkedIdentity, Location,
    NewAuthTransaction, NewUser, ProfileChange, Store, StoreError, StoredConnection, UnlinkOutcome,
    User,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common::t0;
use crate::oidc::{client, user};

crate::for_each_backend!(
    a_connection_reads_back_as_stored_and_its_name_is_unique,
    connections_are_listed_by_name,
    an_update_replaces_the_spec_and_keeps_the_secrets_unless_new_ones_are_given,
    an_update_based_on_a_stale_version_or_of_an_unknown_connection_is_refused,
    a_connection_can_be_deleted,
    a_first_federated_sign_in_links_the_identity_and_a_later_one_updates_it,
    a_federated_sign_in_writes_values_with_history_and_counts_when_asked,
    an_identity_of_another_user_is_a_conflict_and_writes_nothing,
    a_federated_sign_in_of_an_unknown_user_or_connection_is_not_found,
    a_user_is_created_with_its_identity_values_and_first_sign_in,
    a_sign_up_with_a_taken_email_or_identity_leaves_nothing,
    identities_of_a_user_are_listed_by_connection,
    unlinking_refuses_the_last_way_in,
    of_concurrent_unlinks_of_the_last_two_identities_one_is_refused,
    a_federation_state_is_consumed_once,
    an_expired_federation_state_is_not_returned_and_is_deleted,
    of_concurrent_consumers_of_a_state_exactly_one_gets_it,
    expired_federation_states_are_deleted,
    a_federation_state_needs_its_transaction_and_user,
    deleting_a_user_removes_its_identities_and_federation_states,
    deleting_a_connection_removes_its_identities,
    an_expired_transaction_takes_its_federation_states_with_it,
);

mod failures {
    crate::for_each_backend!(
        with_url:
        a_federated_sign_in_whose_count_fails_leaves_nothing_behind,
        a_sign_up_with_an_identity_whose_count_fails_leaves_nothing_behind,
    );

    use super::*;
}

pub fn connection(name: &str) -> StoredConnection {
    StoredConnection {
        name: name.into(),
        spec: json!({ "kind": "oidc", "issuer": format!("https://{name}.example") }),
        sealed_secrets: Some(vec![1, 2, 3]),
        created_at: t0(),
        updated_at: t0(),
        version: 7,
    }
}

fn identity(connection: &str, subject: &str, user_id: Uuid) -> LinkedIdentity {
    LinkedIdentity {
        connection: connection.into(),
        subject: subject.into(),
        user_id,
        email: Some(format!("{subject}@{connection}.example")),
        created_at: t0(),
        last_used_at: t0(),
    }
}

fn sign_in(identity: LinkedIdentity, at: OffsetDateTime) -> FederatedSignIn {
    FederatedSignIn {
        identity,
        changes: vec![],
        source: "federation:google".into(),
        count_sign_in: true,
        now: at,
    }
}

/// A user without a password, with no identity yet, and the connection "google".
async fn seeded(store: &Arc<dyn Store>) -> User {
    store.create_connection(connection("google")).await.unwrap();
    user(store).await
}

fn state(hash: &str, expires_at: OffsetDateTime) -> FederationState {
    FederationState {
        hash: hash.into(),
        connection: "google".into(),
        transaction_id: None,
        user_id: None,
        browser: "browser-hash".into(),
        created_at: t0(),
        expires_at,
    }
}

async fn a_connection_reads_back_as_stored_and_its_name_is_unique(store: Arc<dyn Store>) {
    let created = store.create_connection(connection("google")).await.unwrap();
    let expected = StoredConnection {
        version: 1,
        ..connection("google")
    };
    assert_eq!(created, expected, "version starts at 1");
    assert_eq!(
        store.get_connection("google").await.unwrap(),
        Some(expected)
    );
    assert_eq!(store.get_connection("github").await.unwrap(), None);

    let again = store.create_connection(connection("google")).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    let unnamed = store.create_connection(connection("")).await;
    assert!(
        matches!(unnamed, Err(StoreError::Invalid { .. })),
        "{unnamed:?}"
    );
    let mut without_secrets = connection("github");
    without_secrets.sealed_secrets = None;
    let created = store.create_connection(without_secrets).await.unwrap();
    assert_eq!(created.sealed_secrets, None);
}

async fn connections_are_listed_by_name(store: Arc<dyn Store>) {
    for name in ["okta", "github", "google"] {
        store.create_connection(connection(name)).await.unwrap();
    }
    let names: Vec<String> = store
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|connection| connection.name)
        .collect();
    assert_eq!(names, ["github", "google", "okta"]);
}

async fn an_update_replaces_the_spec_and_keeps_the_secrets_unless_new_ones_are_given(
    store: Arc<dyn Store>,
) {
    store.create_connection(connection("google")).await.unwrap();
    let at = t0() + Duration::hours(1);
    let kept = store
        .update_connection(ConnectionUpdate {
            name: "google".into(),
            spec: json!({ "kind": "oidc", "scopes": ["openid", "email"] }),
            sealed_secrets: None,
            expected_version: Some(1),
            now: at,
        })
        .await
        .unwrap();
    assert_eq!(
        kept.spec,
        json!({ "kind": "oidc", "scopes": ["openid", "email"] })
    );
    assert_eq!(kept.sealed_secrets, Some(vec![1, 2, 3]), "secrets kept");
    assert_eq!(kept.version, 2);
    assert_eq!((kept.created_at, kept.updated_at), (t0(), at));
    assert_eq!(store.get_connection("google").await.unwrap(), Some(kept));

    let replaced = store
        .update_connection(ConnectionUpdate {
            name: "google".into(),
            spec: json!({ "kind": "oidc" }),
            sealed_secrets: Some(vec![9]),
            expected_version: None,
            now: at,
        })
        .await
        .unwrap();
    assert_eq!(replaced.sealed_secrets, Some(vec![9]));
    assert_eq!(
        replaced.version, 3,
        "no expected version: whatever is stored"
    );
}

async fn an_update_based_on_a_stale_version_or_of_an_unknown_connection_is_refused(
    store: Arc<dyn Store>,
) {
    store.create_connection(connection("google")).await.unwrap();
    let update = |name: &str, expected_version| ConnectionUpdate {
        name: name.into(),
        spec: json!({ "changed": true }),
        sealed_secrets: Some(vec![4]),
        expected_version,
        now: t0() + Duration::hours(1),
    };
    store
        .update_connection(update("google", Some(1)))
        .await
        .unwrap();
    let stale = store.update_connection(update("google", Some(1))).await;
    assert!(
        matches!(
            stale,
            Err(StoreError::VersionMismatch {
                expected: 1,
                found: 2
            })
        ),
        "{stale:?}"
    );
    assert_eq!(
        store
            .get_connection("google")
            .await
            .unwrap()
            .unwrap()
            .version,
        2,
        "the refused update changed nothing"
    );
    for expected in [None, Some(1)] {
        let unknown = store.update_connection(update("github", expected)).await;
        assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    }
}

async fn a_connection_can_be_deleted(store: Arc<dyn Store>) {
    store.create_connection(connection("google")).await.unwrap();
    assert!(store.delete_connection("google").await.unwrap());
    assert_eq!(store.get_connection("google").await.unwrap(), None);
    assert!(!store.delete_connection("google").await.unwrap());
}

async fn a_first_federated_sign_in_links_the_identity_and_a_later_one_updates_it(
    store: Arc<dyn Store>,
) {
    let ada = seeded(&store).await;
    assert_eq!(store.find_identity("google", "g-1").await.unwrap(), None);

    let at = t0() + Duration::hours(1);
    let mut first = identity("google", "g-1", ada.id);
    // The record's own times are not read: the identity is created and used at `now`.
    first.created_at = t0() - Duration::days(3);
    first.last_used_at = t0() - Duration::days(3);
    store.federated_sign_in(sign_in(first, at)).await.unwrap();
    let linked = store.find_identity("google", "g-1").await.unwrap().unwrap();
    assert_eq!(
        linked,
        LinkedIdentity {
            created_at: at,
            last_used_at: at,
            ..identity("google", "g-1", ada.id)
        }
    );

    let later = t0() + Duration::days(2);
    let mut again = identity("google", "g-1", ada.id);
    again.email = None;
    store
        .federated_sign_in(sign_in(again, later))
        .await
        .unwrap();
    let updated = store.find_identity("google", "g-1").await.unwrap().unwrap();
    assert_eq!(
        updated.email, None,
        "the email as the provider last gave it"
    );
    assert_eq!(updated.last_used_at, later);
    assert_eq!(updated.created_at, at, "creation time kept");
    assert_eq!(store.user_identities(ada.id).await.unwrap(), [updated]);
}

async fn a_federated_sign_in_writes_values_with_history_and_counts_when_asked(
    store: Arc<dyn Store>,
) {
    let ada = seeded(&store).await;
    let at = t0() + Duration::hours(1);
    let mut first = sign_in(identity("google", "g-1", ada.id), at);
    first.changes = vec![
        ProfileChange::set(Location::Profile, "given_name", json!("Ada")),
        ProfileChange::set(Location::Profile, "picture", json!("https://p.example/a")),
    ];
    let signed_in = store.federated_sign_in(first).await.unwrap();
    assert_eq!(signed_in.profile["given_name"], json!("Ada"));
    assert_eq!(signed_in.version, ada.version + 1);
    assert_eq!(signed_in.credentialed_logins, 1);
    assert_eq!(signed_in.sso_logins, 0);
    assert_eq!(signed_in.last_login_at, Some(at));
    assert_eq!(
        store.get_user(ada.id).await.unwrap(),
        signed_in,
        "as stored"
    );
    let history = store.user_history(ada.id).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(
        history
            .iter()
            .all(|entry| entry.source == "federation:google" && entry.changed_at == at)
    );
    let provenance = store.value_provenance(ada.id).await.unwrap();
    assert_eq!(provenance.len(), 2);
    assert!(
        provenance
            .iter()
            .all(|value| value.source == "federation:google")
    );

    // Not counted when not asked; unchanged values leave no history and keep the version.
    let later = t0() + Duration::hours(2);
    let mut quiet = sign_in(identity("google", "g-1", ada.id), later);
    quiet.count_sign_in = false;
    quiet.changes = vec![ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("Ada"),
    )];
    let after = store.federated_sign_in(quiet).await.unwrap();
    assert_eq!(after.credentialed_logins, 1);
    assert_eq!(after.last_login_at, Some(at));
    assert_eq!(after.version, signed_in.version);
    assert_eq!(store.user_history(ada.id).await.unwrap().len(), 2);
    assert_eq!(
        store
            .find_identity("google", "g-1")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        later
    );
}

async fn an_identity_of_another_user_is_a_conflict_and_writes_nothing(store: Arc<dyn Store>) {
    let ada = seeded(&store).await;
    let bob = store
        .create_user(NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    store
        .federated_sign_in(sign_in(identity("google", "g-1", ada.id), t0()))
        .await
        .unwrap();
    let linked = store.find_identity("google", "g-1").await.unwrap();

    let mut theft = sign_in(identity("google", "g-1", bob.id), t0() + Duration::hours(1));
    theft.changes = vec![ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("Bob"),
    )];
    let refused = store.federated_sign_in(theft).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    assert_eq!(store.find_identity("google", "g-1").await.unwrap(), linked);
    assert_eq!(
        store.get_user(bob.id).await.unwrap(),
        bob,
        "no value, no count"
    );
    assert!(store.user_history(bob.id).await.unwrap().is_empty());
    assert!(store.user_identities(bob.id).await.unwrap().is_empty());
}

async fn a_federated_sign_in_of_an_unknown_user_or_connection_is_not_found(store: Arc<dyn Store>) {
    let ada = seeded(&store).await;
    let mut ghost = identity("google", "g-1", ada.id);
    ghost.user_id = Uuid::now_v7();
    let refused = store.federated_sign_in(sign_in(ghost, t0())).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");

    let mut elsewhere = sign_in(identity("github", "g-1", ada.id), t0());
    elsewhere.changes = vec![ProfileChange::set(
        Location::Profile,
        "given_name",
        json!("Ada"),
    )];
    let refused = store.federated_sign_in(elsewhere).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert_eq!(store.get_user(ada.id).await.unwrap(), ada);
    assert!(store.user_identities(ada.id).await.unwrap().is_empty());
}

async fn a_user_is_created_with_its_identity_values_and_first_sign_in(store: Arc<dyn Store>) {
    store.create_connection(connection("google")).await.unwrap();
    let at = t0() + Duration::minutes(1);
    let mut new = NewUser::with_email("ada@example.com", t0());
    new.email_verified = true;
    // Its user_id is replaced by the new user's.
    let placeholder = identity("google", "g-1", Uuid::nil());
    let ada = store
        .create_user_with_identity(
            new,
            placeholder,
            vec![ProfileChange::set(
                Location::Profile,
                "given_name",
                json!("Ada"),
            )],
            "federation:google".into(),
            at,
        )
        .await
        .unwrap();
    assert_eq!(ada.email, "ada@example.com");
    assert!(ada.email_verified);
    assert_eq!(ada.password_hash, None);
    assert_eq!(ada.created_at, t0());
    assert_eq!(ada.profile, json!({ "given_name": "Ada" }));
    assert_eq!(ada.credentialed_logins, 1, "the first credentialed sign-in");
    assert_eq!(ada.last_login_at, Some(at));
    assert_eq!(store.get_user(ada.id).await.unwrap(), ada);
    assert_eq!(
        store.find_identity("google", "g-1").await.unwrap(),
        Some(LinkedIdentity {
            user_id: ada.id,
            created_at: at,
            last_used_at: at,
            ..identity("google", "g-1", ada.id)
        })
    );
    let history = store.user_history(ada.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].source, "federation:google");
    assert_eq!(
        store.value_provenance(ada.id).await.unwrap()[0].source,
        "federation:google"
    );
}

async fn a_sign_up_with_a_taken_email_or_identity_leaves_nothing(store: Arc<dyn Store>) {
    let ada = seeded(&store).await;
    store
        .federated_sign_in(sign_in(identity("google", "g-1", ada.id), t0()))
        .await
        .unwrap();

    // The email is taken (ignoring case): no identity for another subject is left behind.
    let taken = store
        .create_user_with_identity(
            NewUser::with_email("ADA@example.com", t0()),
            identity("google", "g-2", ada.id),
            vec![],
            "federation:google".into(),
            t0(),
        )
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict { .. })),
        "{taken:?}"
    );
    assert_eq!(store.find_identity("google", "g-2").await.unwrap(), None);

    // The identity is another user's: no user is left behind.
    let linked = store
        .create_user_with_identity(
            NewUser::with_email("bob@example.com", t0()),
            identity("google", "g-1", ada.id),
            vec![ProfileChange::set(
                Location::Profile,
                "given_name",
                json!("Bob"),
            )],
            "federation:google".into(),
            t0(),
        )
        .await;
    assert!(
        matches!(linked, Err(StoreError::Conflict { .. })),
        "{linked:?}"
    );
    assert_eq!(
        store.find_user_by_email("bob@example.com").await.unwrap(),
        None
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(
        store
            .find_identity("google", "g-1")
            .await
            .unwrap()
            .map(|identity| identity.user_id),
        Some(ada.id)
    );

    // An unknown connection: nothing either.
    let unknown = store
        .create_user_with_identity(
            NewUser::with_email("bob@example.com", t0()),
            identity("github", "g-1", ada.id),
            vec![],
            "federation:github".into(),
            t0(),
        )
        .await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn identities_of_a_user_are_listed_by_connection(store: Arc<dyn Store>) {
    let ada = seeded(&store).await;
    for name in ["okta", "github"] {
        store.create_connection(connection(name)).await.unwrap();
    }
    for (name, subject) in [("okta", "o-1"), ("google", "g-1"), ("github", "h-1")] {
        store
            .federated_sign_in(sign_in(identity(name, subject, ada.id), t0()))
            .await
            .unwrap();
    }
    let connections: Vec<String> = store
        .user_identities(ada.id)
        .await
        .unwrap()
        .into_iter()
        .map(|identity| identity.connection)
        .collect();
    assert_eq!(connections, ["github", "google", "okta"]);
    assert!(
        store
            .user_identities(Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn unlinking_refuses_the_last_way_in(store: Arc<dyn Store>) {
    let ada = seeded(&store).await;
    store.create_connection(connection("github")).await.unwrap();
    for (name, subject) in [("google", "g-1"), ("github", "h-1")] {
        store
            .federated_sign_in(sign_in(identity(name, subject, ada.id), t0()))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .unlink_identity(ada.id, "google", "nobody")
            .await
            .unwrap(),
        UnlinkOutcome::NotFound
    );
    assert_eq!(
        store
            .unlink_identity(Uuid::now_v7(), "google", "g-1")
            .await
            .unwrap(),
        UnlinkOutcome::NotFound,
        "another user's identity"
    );
    assert_eq!(
        store
            .unlink_identity(ada.id, "google", "g-1")
            .await
            .unwrap(),
        UnlinkOutcome::Unlinked
    );
    assert_eq!(store.find_identity("google", "g-1").await.unwrap(), None);
    assert_eq!(
        store
            .unlink_identity(ada.id, "github", "h-1")
            .await
            .unwrap(),
        UnlinkOutcome::LastWayIn,
        "no password and no other identity"
    );
    assert!(
        store
            .find_identity("github", "h-1")
            .await
            .unwrap()
            .is_some()
    );

    // With a password, the only identity is not the last way in.
    store
        .set_password_hash(ada.id, "$argon2id$v=19$stub")
        .await
        .unwrap();
    assert_eq!(
        store
            .unlink_identity(ada.id, "github", "h-1")
            .await
            .unwrap(),
        UnlinkOutcome::Unlinked
    );
    assert!(store.user_identities(ada.id).await.unwrap().is_empty());
}

async fn of_concurrent_unlinks_of_the_last_two_identities_one_is_refused(store: Arc<dyn Store>) {
    store.create_connection(connection("github")).await.unwrap();
    store.create_connection(connection("google")).await.unwrap();
    for round in 0..5 {
        let user = store
            .create_user(NewUser::with_email(format!("u{round}@example.com"), t0()))
            .await
            .unwrap();
        let subjects = [
            ("google", format!("g-{round}")),
            ("github", format!("h-{round}")),
        ];
        for (name, subject) in &subjects {
            store
                .federated_sign_in(sign_in(identity(name, subject, user.id), t0()))
                .await
                .unwrap();
        }
        let user_id = user.id;
        let unlinks: Vec<_> = subjects
            .into_iter()
            .map(|(name, subject)| {
                let store = store.clone();
                tokio::spawn(async move { store.unlink_identity(user_id, name, &subject).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for unlink in unlinks {
            outcomes.push(unlink.await.unwrap().unwrap());
        }
        outcomes.sort_by_key(|outcome| *outcome == UnlinkOutcome::LastWayIn);
        assert_eq!(
            outcomes,
            [UnlinkOutcome::Unlinked, UnlinkOutcome::LastWayIn],
            "round {round}"
        );
        assert_eq!(store.user_identities(user.id).await.unwrap().len(), 1);
    }
}

async fn a_federation_state_is_consumed_once(store: Arc<dyn Store>) {
    let ada = seeded(&store).await;
    let mut linking = state("s1", t0() + Duration::minutes(10));
    linking.user_id = Some(ada.id);
    store
        .create_federation_state(linking.clone())
        .await
        .unwrap();
    let again = store.create_federation_state(linking.clone()).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );

    let at = t0() + Duration::minutes(5);
    assert_eq!(
        store.consume_federation_state("s1", at).await.unwrap(),
        Some(linking)
    );
    assert_eq!(
        store.consume_federation_state("s1", at).await.unwrap(),
        None
    );
    assert_eq!(
        store.consume_federation_state("s2", at).await.unwrap(),
        None
    );
}

async fn an_expired_federation_state_is_not_returned_and_is_deleted(store: Arc<dyn Store>) {
    store
        .create_federation_state(state("s1", t0() + Duration::minutes(10)))
        .await
        .unwrap();
    let late = t0() + Duration::minutes(10);
    assert_eq!(
        store.consume_federation_state("s1", late).await.unwrap(),
        None
    );
    // Gone: not even a consumer with an earlier clock gets it.
    assert_eq!(
        store.consume_federation_state("s1", t0()).await.unwrap(),
        None
    );
}

async fn of_concurrent_consumers_of_a_state_exactly_one_gets_it(store: Arc<dyn Store>) {
    for round in 0..5 {
        let hash = format!("s{round}");
        store
            .create_federation_state(state(&hash, t0() + Duration::minutes(10)))
            .await
            .unwrap();
        let consumers: Vec<_> = (0..8)
            .map(|_| {
                let (store, hash) = (store.clone(), hash.clone());
                tokio::spawn(async move { store.consume_federation_state(&hash, t0()).await })
            })
            .collect();
        let mut taken = 0;
        for consumer in consumers {
            if let Some(state) = consumer.await.unwrap().unwrap() {
                assert_eq!(state.hash, hash);
                taken += 1;
            }
        }
        assert_eq!(taken, 1, "round {round}");
    }
}

async fn expired_federation_states_are_deleted(store: Arc<dyn Store>) {
    for (hash, minutes) in [("a", 5), ("b", 10), ("c", 15)] {
        store
            .create_federation_state(state(hash, t0() + Duration::minutes(minutes)))
            .await
            .unwrap();
    }
    let at = t0() + Duration::minutes(10);
    assert_eq!(store.delete_expired_federation_states(at).await.unwrap(), 2);
    assert_eq!(store.delete_expired_federation_states(at).await.unwrap(), 0);
    assert!(
        store
            .consume_federation_state("c", t0())
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_federation_state_needs_its_transaction_and_user(store: Arc<dyn Store>) {
    let mut orphan = state("s1", t0() + Duration::minutes(10));
    orphan.transaction_id = Some(Uuid::now_v7());
    let refused = store.create_federation_state(orphan).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    let mut orphan = state("s1", t0() + Duration::minutes(10));
    orphan.user_id = Some(Uuid::now_v7());
    let refused = store.create_federation_state(orphan).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
}

/// A transaction of client "shop" expiring at `t0() + 30 min`.
async fn transaction(store: &Arc<dyn Store>) -> Uuid {
    store.create_client(client("shop")).await.unwrap();
    store
        .create_transaction(NewAuthTransaction {
            client_id: "shop".into(),
            request: json!({ "scope": "openid" }),
            state: json!(null),
            now: t0(),
            expires_at: t0() + Duration::minutes(30),
        })
        .await
        .unwrap()
        .id
}

async fn deleting_a_user_removes_its_identities_and_federation_states(store: Arc<dyn Store>) {
    let ada = seeded(&store).await;
    store
        .federated_sign_in(sign_in(identity("google", "g-1", ada.id), t0()))
        .await
        .unwrap();
    let mut linking = state("s1", t0() + Duration::minutes(10));
    linking.user_id = Some(ada.id);
    store.create_federation_state(linking).await.unwrap();

    store.delete_user(ada.id).await.unwrap();
    assert_eq!(store.find_identity("google", "g-1").await.unwrap(), None);
    assert_eq!(
        store.consume_federation_state("s1", t0()).await.unwrap(),
        None
    );
    assert!(store.get_connection("google").await.unwrap().is_some());
}

async fn deleting_a_connection_removes_its_identities(store: Arc<dyn Store>) {
    let ada = seeded(&store).await;
    store.create_connection(connection("github")).await.unwrap();
    for (name, subject) in [("google", "g-1"), ("github", "h-1")] {
        store
            .federated_sign_in(sign_in(identity(name, subject, ada.id), t0()))
            .await
            .unwrap();
    }
    assert!(store.delete_connection("google").await.unwrap());
    let left: Vec<String> = store
        .user_identities(ada.id)
        .await
        .unwrap()
        .into_iter()
        .map(|identity| identity.connection)
        .collect();
    assert_eq!(left, ["github"]);
    assert_eq!(store.get_user(ada.id).await.unwrap().id, ada.id);
}

async fn an_expired_transaction_takes_its_federation_states_with_it(store: Arc<dyn Store>) {
    let transaction = transaction(&store).await;
    let mut signing_in = state("s1", t0() + Duration::minutes(10));
    signing_in.transaction_id = Some(transaction);
    store
        .create_federation_state(signing_in.clone())
        .await
        .unwrap();
    assert_eq!(
        store.consume_federation_state("s1", t0()).await.unwrap(),
        Some(signing_in.clone())
    );
    store.create_federation_state(signing_in).await.unwrap();
    store
        .expire_transactions(t0() + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        store.consume_federation_state("s1", t0()).await.unwrap(),
        None
    );
}

/// Makes counting a credentialed sign-in (`record_sign_in`'s `UPDATE`, the last write of both
/// units of work) fail, inside the database transaction, after everything else was written.
async fn fail_sign_in_counts(url: &str) {
    let trigger = if url.starts_with("sqlite:") {
        "CREATE TRIGGER inject_failure BEFORE UPDATE OF credentialed_logins ON users
         BEGIN SELECT RAISE(ABORT, 'injected'); END;"
    } else {
        "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$;
         CREATE TRIGGER inject_failure BEFORE UPDATE OF credentialed_logins ON users
             FOR EACH ROW EXECUTE FUNCTION inject_failure();"
    };
    accrete_store::testing::execute_sql(url, trigger).await;
}

async fn allow_sign_in_counts(url: &str) {
    let drop = if url.starts_with("sqlite:") {
        "DROP TRIGGER inject_failure"
    } else {
        "DROP TRIGGER inject_failure ON users"
    };
    accrete_store::testing::execute_sql(url, drop).await;
}

fn injected<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    result
        .as_ref()
        .is_err_and(|error| error.to_string().contains("injected"))
}

async fn a_federated_sign_in_whose_count_fails_leaves_nothing_behind(
    store: Arc<dyn Store>,
    url: String,
) {
    let ada = seeded(&store).await;
    let write = || {
        let mut write = sign_in(identity("google", "g-1", ada.id), t0() + Duration::hours(1));
        write.changes = vec![ProfileChange::set(
            Location::Profile,
            "given_name",
            json!("Ada"),
        )];
        write
    };
    fail_sign_in_counts(&url).await;

    let failed = store.federated_sign_in(write()).await;
    assert!(injected(&failed), "{failed:?}");
    assert_eq!(store.get_user(ada.id).await.unwrap(), ada);
    assert!(store.user_history(ada.id).await.unwrap().is_empty());
    assert!(store.value_provenance(ada.id).await.unwrap().is_empty());
    assert_eq!(store.find_identity("google", "g-1").await.unwrap(), None);

    // The store is still usable: the same write succeeds once the failure is gone.
    allow_sign_in_counts(&url).await;
    let signed_in = store.federated_sign_in(write()).await.unwrap();
    assert_eq!(signed_in.credentialed_logins, 1);
    assert!(
        store
            .find_identity("google", "g-1")
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_sign_up_with_an_identity_whose_count_fails_leaves_nothing_behind(
    store: Arc<dyn Store>,
    url: String,
) {
    store.create_connection(connection("google")).await.unwrap();
    let sign_up = || {
        store.create_user_with_identity(
            NewUser::with_email("ada@example.com", t0()),
            identity("google", "g-1", Uuid::nil()),
            vec![ProfileChange::set(
                Location::Profile,
                "given_name",
                json!("Ada"),
            )],
            "federation:google".into(),
            t0(),
        )
    };
    fail_sign_in_counts(&url).await;

    let failed = sign_up().await;
    assert!(injected(&failed), "{failed:?}");
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert_eq!(
        store.find_user_by_email("ada@example.com").await.unwrap(),
        None
    );
    assert_eq!(store.find_identity("google", "g-1").await.unwrap(), None);

    allow_sign_in_counts(&url).await;
    let ada = sign_up().await.unwrap();
    assert_eq!(ada.credentialed_logins, 1);
    assert_eq!(
        store
            .find_identity("google", "g-1")
            .await
            .unwrap()
            .map(|identity| identity.user_id),
        Some(ada.id)
    );
}
