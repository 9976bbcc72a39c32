//! OpenID Connect state: clients, keys, sessions and authorization transactions.

use std::sync::Arc;

use accrete_store::prelude::*;
use accrete_store::testing::{postgres_schema, sqlite_url};
use accrete_store::{
    Client, ConnectOptions, NewAuthTransaction, NewUser, PostgresStore, SqliteStore, SsoSession,
    Store, StoreError, StoredSigningKey, User,
};
use serde_json::json;
use sqlx::migrate::Migrator;
use time::Duration;

use crate::common::t0;

crate::for_each_backend!(
    a_client_reads_back_as_registered,
    a_client_id_is_unique,
    a_client_can_be_updated_and_deleted,
    a_clients_connections_and_password_signin_are_stored,
    a_clients_own_account_settings_are_stored_and_absent_ones_read_as_the_servers,
    signing_keys_are_listed_by_activation_and_can_be_retired,
    of_first_keys_inserted_at_once_one_per_algorithm_is_stored,
    a_key_is_inserted_when_the_signing_one_is_retired_or_not_active_yet,
    a_session_is_found_by_its_hash_until_it_expires,
    touching_a_session_moves_its_expiry,
    a_sessions_amr_and_acr_are_stored,
    signing_out_everywhere_ends_every_session_of_the_user,
    deleting_a_user_ends_its_sessions,
    a_transaction_survives_and_updates_with_its_version,
    a_stale_transaction_update_is_refused,
    a_transaction_completes_once,
    expired_unfinished_transactions_are_reported_once,
);

pub fn client(id: &str) -> Client {
    Client {
        id: id.into(),
        secret_hash: Some("hmac:abc".into()),
        name: "Shop".into(),
        redirect_uris: vec!["https://shop.example/cb".into()],
        post_logout_redirect_uris: vec!["https://shop.example/bye".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: vec!["openid".into(), "profile".into()],
        audience: vec![],
        public: false,
        id_token_alg: "RS256".into(),
        allowed_origins: vec!["https://shop.example".into()],
        theme: json!({ "primary": "#123456" }),
        connections: None,
        password_signin: true,
        self_signup: None,
        email_verification: None,
        mfa: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

pub async fn user(store: &Arc<dyn Store>) -> User {
    store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap()
}

pub fn session(hash: &str, user: &User) -> SsoSession {
    SsoSession {
        hash: hash.into(),
        user_id: user.id,
        created_at: t0(),
        auth_time: t0(),
        last_seen_at: t0(),
        expires_at: t0() + Duration::hours(8),
        credentialed: true,
        amr: vec!["pwd".into()],
        acr: None,
        id: session_id(hash),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into()),
        ip: Some("192.0.2.7".into()),
        mfa_at: None,
    }
}

/// A session's id made from its hash, so that a test can build the same session twice.
pub fn session_id(hash: &str) -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    for (i, b) in hash.bytes().take(16).enumerate() {
        bytes[i] = b;
    }
    uuid::Uuid::from_bytes(bytes)
}

async fn a_client_reads_back_as_registered(store: Arc<dyn Store>) {
    let created = store.create_client(client("shop")).await.unwrap();
    assert_eq!(created, client("shop"));
    assert_eq!(
        store.get_client("shop").await.unwrap(),
        Some(client("shop"))
    );
    assert_eq!(store.get_client("nope").await.unwrap(), None);
    let mut public = client("spa");
    public.secret_hash = None;
    public.public = true;
    public.created_at = t0() + Duration::seconds(1);
    store.create_client(public).await.unwrap();
    let ids: Vec<_> = store
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["shop", "spa"]);
}

async fn a_client_id_is_unique(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let again = store.create_client(client("shop")).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
}

async fn a_client_can_be_updated_and_deleted(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let mut changed = client("shop");
    changed
        .redirect_uris
        .push("https://shop.example/cb2".into());
    changed.updated_at = t0() + Duration::days(1);
    changed.created_at = t0() + Duration::days(9);
    let updated = store.update_client(changed).await.unwrap();
    assert_eq!(updated.redirect_uris.len(), 2);
    assert_eq!(updated.created_at, t0(), "creation time is kept");
    store.delete_client("shop").await.unwrap();
    assert_eq!(store.get_client("shop").await.unwrap(), None);
    assert!(matches!(
        store.delete_client("shop").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_client(client("shop")).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_clients_connections_and_password_signin_are_stored(store: Arc<dyn Store>) {
    let created = store.create_client(client("shop")).await.unwrap();
    assert_eq!(
        (created.connections, created.password_signin),
        (None, true),
        "every enabled connection, and passwords"
    );
    let mut only_google = client("app");
    only_google.connections = Some(vec!["google".into(), "github".into()]);
    only_google.password_signin = false;
    assert_eq!(
        store.create_client(only_google.clone()).await.unwrap(),
        only_google
    );
    assert_eq!(
        store.get_client("app").await.unwrap(),
        Some(only_google.clone())
    );
    for (connections, password_signin) in [(Some(vec![]), true), (None, false)] {
        let mut changed = only_google.clone();
        changed.connections = connections;
        changed.password_signin = password_signin;
        assert_eq!(store.update_client(changed.clone()).await.unwrap(), changed);
        assert_eq!(store.get_client("app").await.unwrap(), Some(changed));
    }
}

async fn a_clients_own_account_settings_are_stored_and_absent_ones_read_as_the_servers(
    store: Arc<dyn Store>,
) {
    let created = store.create_client(client("shop")).await.unwrap();
    assert_eq!(
        (created.self_signup, created.email_verification),
        (None, None)
    );
    let mut own = client("app");
    own.self_signup = Some(false);
    own.email_verification = Some("required".into());
    assert_eq!(store.create_client(own.clone()).await.unwrap(), own);
    assert_eq!(store.get_client("app").await.unwrap(), Some(own.clone()));
    for (self_signup, email_verification) in [(Some(true), Some("off")), (None, None)] {
        let mut changed = own.clone();
        changed.self_signup = self_signup;
        changed.email_verification = email_verification.map(str::to_owned);
        assert_eq!(store.update_client(changed.clone()).await.unwrap(), changed);
        assert_eq!(store.get_client("app").await.unwrap(), Some(changed));
    }
}

async fn signing_keys_are_listed_by_activation_and_can_be_retired(store: Arc<dyn Store>) {
    let key = |kid: &str, active_from| StoredSigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        private_key: vec![0, 159, 255, 1],
        public_jwk: json!({ "kty": "EC", "kid": kid }),
        created_at: t0(),
        active_from,
        retired_at: None,
    };
    store
        .insert_signing_key(key("new", t0() + Duration::days(1)))
        .await
        .unwrap();
    store.insert_signing_key(key("old", t0())).await.unwrap();
    let duplicate = store.insert_signing_key(key("old", t0())).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { .. })),
        "{duplicate:?}"
    );
    store
        .retire_signing_key("old", t0() + Duration::days(30))
        .await
        .unwrap();
    let keys = store.list_signing_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["old", "new"]
    );
    assert_eq!(keys[0].retired_at, Some(t0() + Duration::days(30)));
    assert_eq!(keys[0].private_key, vec![0, 159, 255, 1]);
    assert_eq!(keys[1], key("new", t0() + Duration::days(1)));
    let unknown = store.retire_signing_key("nope", t0()).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)));
}

fn signing_key(kid: &str, alg: &str) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.into(),
        alg: alg.into(),
        private_key: vec![1, 2, 3],
        public_jwk: json!({ "kid": kid }),
        created_at: t0(),
        active_from: t0(),
        retired_at: None,
    }
}

async fn of_first_keys_inserted_at_once_one_per_algorithm_is_stored(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..8)
        .flat_map(|node| ["RS256", "ES256"].map(|alg| (node, alg)))
        .map(|(node, alg)| {
            let store = store.clone();
            let key = signing_key(&format!("{alg}-{node}"), alg);
            tokio::spawn(async move { store.insert_signing_key_if_missing(key, t0()).await })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        stored += usize::from(task.await.unwrap().unwrap());
    }
    assert_eq!(stored, 2, "one insert per algorithm wins");
    let keys = store.list_signing_keys().await.unwrap();
    let mut algs: Vec<&str> = keys.iter().map(|k| k.alg.as_str()).collect();
    algs.sort_unstable();
    assert_eq!(algs, ["ES256", "RS256"]);
}

async fn a_key_is_inserted_when_the_signing_one_is_retired_or_not_active_yet(
    store: Arc<dyn Store>,
) {
    let later = t0() + Duration::hours(1);
    let mut next = signing_key("next", "ES256");
    next.active_from = later;
    store.insert_signing_key(next).await.unwrap();
    assert!(
        store
            .insert_signing_key_if_missing(signing_key("first", "ES256"), t0())
            .await
            .unwrap(),
        "a key that signs only later does not count"
    );
    assert!(
        !store
            .insert_signing_key_if_missing(signing_key("second", "ES256"), t0())
            .await
            .unwrap()
    );
    store.retire_signing_key("first", t0()).await.unwrap();
    assert!(
        store
            .insert_signing_key_if_missing(signing_key("third", "ES256"), t0())
            .await
            .unwrap(),
        "a retired key does not count"
    );
    assert_eq!(store.list_signing_keys().await.unwrap().len(), 3);
}

async fn a_session_is_found_by_its_hash_until_it_expires(store: Arc<dyn Store>) {
    let user = user(&store).await;
    store.create_session(session("h1", &user)).await.unwrap();
    let found = store
        .get_session("h1", t0() + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(found, Some(session("h1", &user)));
    assert_eq!(
        store
            .get_session("h1", t0() + Duration::hours(8))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_session("other", t0()).await.unwrap(), None);
    store.delete_session("h1").await.unwrap();
    assert_eq!(store.get_session("h1", t0()).await.unwrap(), None);
    let mut orphan = session("h2", &user);
    orphan.user_id = uuid::Uuid::now_v7();
    assert!(matches!(
        store.create_session(orphan).await,
        Err(StoreError::NotFound)
    ));
}

async fn touching_a_session_moves_its_expiry(store: Arc<dyn Store>) {
    let user = user(&store).await;
    store.create_session(session("h1", &user)).await.unwrap();
    let at = t0() + Duration::hours(7);
    let touched = store
        .touch_session("h1", at, at + Duration::hours(8))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.last_seen_at, at);
    assert!(
        store
            .get_session("h1", t0() + Duration::hours(10))
            .await
            .unwrap()
            .is_some()
    );
    let late = t0() + Duration::days(2);
    assert_eq!(
        store
            .touch_session("h1", late, late + Duration::hours(8))
            .await
            .unwrap(),
        None
    );
}

async fn a_sessions_amr_and_acr_are_stored(store: Arc<dyn Store>) {
    let user = user(&store).await;
    let mut federated = session("h1", &user);
    federated.amr = vec!["fed".into(), "mfa".into()];
    federated.acr = Some("urn:example:loa:2".into());
    store.create_session(federated.clone()).await.unwrap();
    assert_eq!(
        store.get_session("h1", t0()).await.unwrap(),
        Some(federated.clone())
    );
    let at = t0() + Duration::hours(1);
    let touched = store
        .touch_session("h1", at, at + Duration::hours(8))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((touched.amr, touched.acr), (federated.amr, federated.acr));
}

async fn signing_out_everywhere_ends_every_session_of_the_user(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let bob = store
        .create_user(NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    for hash in ["a1", "a2"] {
        store.create_session(session(hash, &ada)).await.unwrap();
    }
    store.create_session(session("b1", &bob)).await.unwrap();
    assert_eq!(store.delete_user_sessions(ada.id).await.unwrap(), 2);
    assert_eq!(store.get_session("a1", t0()).await.unwrap(), None);
    assert!(store.get_session("b1", t0()).await.unwrap().is_some());
}

async fn deleting_a_user_ends_its_sessions(store: Arc<dyn Store>) {
    let user = user(&store).await;
    store.create_session(session("h1", &user)).await.unwrap();
    store.delete_user(user.id).await.unwrap();
    assert_eq!(store.get_session("h1", t0()).await.unwrap(), None);
}

fn new_transaction() -> NewAuthTransaction {
    NewAuthTransaction {
        client_id: "shop".into(),
        request: json!({ "scope": "openid", "nonce": "n" }),
        state: json!(null),
        now: t0(),
        expires_at: t0() + Duration::minutes(30),
    }
}

async fn a_transaction_survives_and_updates_with_its_version(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let user = user(&store).await;
    let created = store.create_transaction(new_transaction()).await.unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.state, json!({}));
    assert_eq!(created.request["nonce"], "n");
    assert_eq!(
        store.get_transaction(created.id).await.unwrap(),
        Some(created.clone())
    );

    let mut next = created.clone();
    next.user_id = Some(user.id);
    next.session_hash = Some("h1".into());
    next.state = json!({ "shown": ["work"] });
    let updated = store.update_transaction(next).await.unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.user_id, Some(user.id));
    assert_eq!(
        store.get_transaction(created.id).await.unwrap(),
        Some(updated)
    );

    let mut unknown = new_transaction();
    unknown.client_id = "nope".into();
    let refused = store.create_transaction(unknown).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid { .. })),
        "{refused:?}"
    );
}

async fn a_stale_transaction_update_is_refused(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let created = store.create_transaction(new_transaction()).await.unwrap();
    store.update_transaction(created.clone()).await.unwrap();
    let stale = store.update_transaction(created.clone()).await;
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
    let mut gone = created;
    gone.id = uuid::Uuid::now_v7();
    assert!(matches!(
        store.update_transaction(gone).await,
        Err(StoreError::NotFound)
    ));
}

async fn a_transaction_completes_once(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let created = store.create_transaction(new_transaction()).await.unwrap();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.complete_transaction(created.id, t0()).await })
        })
        .collect();
    let mut wins = 0;
    for attempt in attempts {
        wins += usize::from(attempt.await.unwrap().unwrap());
    }
    assert_eq!(wins, 1);
    let current = store.get_transaction(created.id).await.unwrap().unwrap();
    assert_eq!(current.completed_at, Some(t0()));
    let late = store.update_transaction(current).await;
    assert!(matches!(late, Err(StoreError::Conflict { .. })), "{late:?}");
    // An expired transaction cannot complete either.
    let other = store.create_transaction(new_transaction()).await.unwrap();
    assert!(
        !store
            .complete_transaction(other.id, t0() + Duration::hours(1))
            .await
            .unwrap()
    );
}

async fn expired_unfinished_transactions_are_reported_once(store: Arc<dyn Store>) {
    store.create_client(client("shop")).await.unwrap();
    let user = user(&store).await;
    let abandoned = store.create_transaction(new_transaction()).await.unwrap();
    let mut with_user = abandoned.clone();
    with_user.user_id = Some(user.id);
    with_user.state = json!({ "shown": "work" });
    store.update_transaction(with_user).await.unwrap();
    let finished = store.create_transaction(new_transaction()).await.unwrap();
    assert!(store.complete_transaction(finished.id, t0()).await.unwrap());
    let mut later = new_transaction();
    later.expires_at = t0() + Duration::hours(2);
    let alive = store.create_transaction(later).await.unwrap();

    let at = t0() + Duration::hours(1);
    let expired = store.expire_transactions(at).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, abandoned.id);
    assert_eq!(expired[0].user_id, Some(user.id));
    assert_eq!(expired[0].state, json!({ "shown": "work" }));
    assert!(store.expire_transactions(at).await.unwrap().is_empty());
    assert_eq!(store.get_transaction(finished.id).await.unwrap(), None);
    assert!(store.get_transaction(alive.id).await.unwrap().is_some());
}

/// The embedded migrations before federation's.
fn before_federation(base: &Migrator) -> Migrator {
    Migrator::with_migrations(base.iter().filter(|m| m.version < 8).cloned().collect())
}

/// A user, a client and a session written before migration 0008 (federation).
const OLD_ROWS: &str = "
    INSERT INTO users (id, email, email_normalized, created_at, updated_at)
    VALUES ('01890000-0000-7000-8000-000000000000', 'old@example.com', 'old@example.com', 0, 0);
    INSERT INTO clients (id, secret_hash, name, redirect_uris, post_logout_redirect_uris,
        grant_types, scopes, audience, public, id_token_alg, allowed_origins, theme,
        created_at, updated_at)
    VALUES ('old', NULL, 'Old', '[]', '[]', '[]', '[]', '[]', FALSE, 'RS256', '[]', '{}', 0, 0);
    INSERT INTO sso_sessions (hash, user_id, created_at, auth_time, last_seen_at, expires_at,
        credentialed)
    VALUES ('old', '01890000-0000-7000-8000-000000000000', 0, 0, 0, 9999999999999, TRUE);
";

/// After 0008, the old client offers every connection and passwords, and the old session was
/// opened with a password.
async fn old_rows_read_as_before(store: &dyn Store) {
    let client = store.get_client("old").await.unwrap().unwrap();
    assert_eq!(client.connections, None);
    assert!(client.password_signin);
    let session = store.get_session("old", t0()).await.unwrap().unwrap();
    assert_eq!(session.amr, ["pwd"]);
    assert_eq!(session.acr, None);
}

#[tokio::test]
async fn sqlite_rows_written_before_federation_read_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let store = SqliteStore::connect(&url, ConnectOptions::default())
        .await
        .unwrap();
    store
        .migrate_with(&before_federation(SqliteStore::migrator()))
        .await
        .unwrap();
    accrete_store::testing::execute_sql(&url, OLD_ROWS).await;
    assert!(store.migrate().await.unwrap().current);
    old_rows_read_as_before(&store).await;
}

#[tokio::test]
async fn postgres_rows_written_before_federation_read_as_before() {
    let Some((url, _schema)) = postgres_schema().await else {
        return;
    };
    let store = PostgresStore::connect(&url, ConnectOptions::default())
        .await
        .unwrap();
    store
        .migrate_with(&before_federation(PostgresStore::migrator()))
        .await
        .unwrap();
    accrete_store::testing::execute_sql(&url, OLD_ROWS).await;
    assert!(store.migrate().await.unwrap().current);
    old_rows_read_as_before(&store).await;
}
