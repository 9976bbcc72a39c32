//! Latency of the storage operations on the hot paths (sign-in, token exchange, profile update),
//! on SQLite, and on PostgreSQL when `ACCRETE_TEST_POSTGRES_URL` is set.
//!
//! `ACCRETE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p accrete-store`
#![expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: a failure ends the run"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use accrete_store::{
    Client, Grant, Location, NewAuthorizationCode, NewRefreshToken, NewUser, ProfileChange,
    SignInKind, Store, UserQuery,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn next() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn client() -> Client {
    Client {
        id: "bench".into(),
        secret_hash: None,
        name: "Bench".into(),
        redirect_uris: vec!["https://bench.example/cb".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec!["authorization_code".into()],
        scopes: vec!["openid".into()],
        audience: vec![],
        public: true,
        id_token_alg: "ES256".into(),
        allowed_origins: vec![],
        theme: json!({}),
        connections: None,
        password_signin: true,
        self_signup: None,
        email_verification: None,
        mfa: None,
        created_at: OffsetDateTime::now_utc(),
        updated_at: OffsetDateTime::now_utc(),
    }
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, name: &str, store: Arc<dyn Store>) {
    let now = OffsetDateTime::now_utc();
    let (user, grant): (_, Grant) = rt.block_on(async {
        for i in 0..1000 {
            store
                .create_user(NewUser::with_email(format!("seed{i}@x.org"), now))
                .await
                .unwrap();
        }
        let user = store
            .create_user(NewUser::with_email("ada@x.org", now))
            .await
            .unwrap();
        store.create_client(client()).await.unwrap();
        let grant = store
            .create_grant(user.id, "bench", &["openid".into()], now)
            .await
            .unwrap();
        (user, grant)
    });
    let mut group = c.benchmark_group(name);
    group.bench_function("get_user", |b| {
        b.iter(|| rt.block_on(store.get_user(user.id)).unwrap());
    });
    group.bench_function("find_user_by_email", |b| {
        b.iter(|| rt.block_on(store.find_user_by_email("ADA@x.org")).unwrap());
    });
    group.bench_function("create_user", |b| {
        b.iter(|| {
            let new = NewUser::with_email(format!("new{}@x.org", next()), now);
            rt.block_on(store.create_user(new)).unwrap()
        });
    });
    group.bench_function("record_sign_in", |b| {
        b.iter(|| {
            rt.block_on(store.record_sign_in(user.id, SignInKind::Sso, now))
                .unwrap()
        });
    });
    group.bench_function("apply_profile_changes (one key)", |b| {
        b.iter(|| {
            let change = [ProfileChange::set(
                Location::UserMetadata,
                "n",
                json!(next()),
            )];
            rt.block_on(store.apply_profile_changes(user.id, None, &change, "bench", now))
                .unwrap()
        });
    });
    group.bench_function("insert_code + consume_code", |b| {
        b.iter_batched(
            || format!("code{}", next()),
            |hash| {
                rt.block_on(async {
                    let code = NewAuthorizationCode {
                        hash: hash.clone(),
                        grant_id: grant.id,
                        redirect_uri: "https://bench.example/cb".into(),
                        nonce: None,
                        code_challenge: None,
                        auth_time: now,
                        context: json!({}),
                        now,
                        expires_at: now + Duration::minutes(1),
                    };
                    store.insert_code(code).await.unwrap();
                    store.consume_code(&hash, now).await.unwrap()
                })
            },
            BatchSize::SmallInput,
        );
    });
    let token = |hash: String| NewRefreshToken {
        hash,
        grant_id: grant.id,
        scopes: vec!["openid".into()],
        expires_at: now + Duration::days(30),
    };
    let successor = |hash: String| accrete_store::RefreshSuccessor {
        hash,
        client_id: grant.client_id.clone(),
        expires_at: now + Duration::days(30),
        grant_lifetime: Duration::days(3650),
    };
    let first = format!("rt{}", next());
    rt.block_on(store.insert_refresh_token(token(first.clone()), now))
        .unwrap();
    let mut current = first;
    group.bench_function("rotate_refresh_token", |b| {
        b.iter(|| {
            let fresh = format!("rt{}", next());
            let rotated =
                rt.block_on(store.rotate_refresh_token(&current, successor(fresh.clone()), now));
            assert!(matches!(
                rotated.unwrap(),
                accrete_store::Rotation::Rotated(_)
            ));
            current = fresh;
        });
    });
    group.bench_function("list_users (page of 50)", |b| {
        b.iter(|| rt.block_on(store.list_users(UserQuery::default())).unwrap());
    });
    group.finish();
}

fn storage(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let (sqlite, _dir) = rt.block_on(accrete_store::testing::sqlite_store());
    bench_backend(c, &rt, "sqlite", sqlite);
    if let Some((postgres, schema)) = rt.block_on(accrete_store::testing::postgres_store()) {
        bench_backend(c, &rt, "postgres", postgres);
        drop(schema);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = storage
}
criterion_main!(benches);
