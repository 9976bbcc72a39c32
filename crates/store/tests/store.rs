//! The storage suite: every test runs against SQLite (a temp file) and PostgreSQL (a schema of
//! its own, from `ACCRETE_TEST_POSTGRES_URL`).
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

#[path = "store/account.rs"]
mod account;
#[path = "store/account_tokens.rs"]
mod account_tokens;
#[path = "store/admins.rs"]
mod admins;
#[path = "store/breaker.rs"]
mod breaker;
#[path = "store/common.rs"]
mod common;
#[path = "store/companion_writes.rs"]
mod companion_writes;
#[path = "store/companions.rs"]
mod companions;
#[path = "store/counters.rs"]
mod counters;
#[path = "store/factors.rs"]
mod factors;
#[path = "store/failure_modes.rs"]
mod failure_modes;
#[path = "store/federation.rs"]
mod federation;
#[path = "store/import_history.rs"]
mod import_history;
#[path = "store/import_jobs.rs"]
mod import_jobs;
#[path = "store/oidc.rs"]
mod oidc;
#[path = "store/passkeys.rs"]
mod passkeys;
#[path = "store/phone.rs"]
mod phone;
#[path = "store/profile.rs"]
mod profile;
#[path = "store/profiling.rs"]
mod profiling;
#[path = "store/profiling_write.rs"]
mod profiling_write;
#[path = "store/retention.rs"]
mod retention;
#[path = "store/sources.rs"]
mod sources;
#[path = "store/themes.rs"]
mod themes;
#[path = "store/throttle.rs"]
mod throttle;
#[path = "store/tokens.rs"]
mod tokens;
#[path = "store/transfers.rs"]
mod transfers;
#[path = "store/user_values.rs"]
mod user_values;
#[path = "store/users.rs"]
mod users;
#[path = "store/webhooks.rs"]
mod webhooks;

/// Runs each named `async fn(Arc<dyn Store>)` once per backend, in modules `sqlite` and
/// `postgres`. With `with_url:` first, each is an `async fn(Arc<dyn Store>, String)` and also
/// gets the URL of the store's database (for `testing::execute_sql`).
#[macro_export]
macro_rules! for_each_backend {
    (with_url: $($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let (store, dir) = accrete_store::testing::sqlite_store().await;
                    super::$test(store, accrete_store::testing::sqlite_url(&dir)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some((store, schema)) = accrete_store::testing::postgres_store().await
                    else {
                        return;
                    };
                    super::$test(store, schema.url()).await;
                }
            )*
        }
    };
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let (store, _dir) = accrete_store::testing::sqlite_store().await;
                    super::$test(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some((store, _schema)) = accrete_store::testing::postgres_store().await
                    else {
                        return;
                    };
                    super::$test(store).await;
                }
            )*
        }
    };
}
