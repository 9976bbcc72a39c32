//! The PostgreSQL backend.

use std::str::FromStr;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgPool};

use crate::backend::Backend;
use crate::error::one_line;
use crate::{ConnectOptions, StoreError};

mod breaker;
use breaker::Breaker;

/// How long a pooled connection may sit idle before it is pinged again before being lent.
const PING_IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Accrete's storage on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    breaker: std::sync::Arc<Breaker>,
}

impl PostgresStore {
    /// Connects to a `postgres://` URL; `options[search_path]=...` in the URL selects a schema.
    pub async fn connect(url: &str, opts: ConnectOptions) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid {
                message: format!("bad PostgreSQL database URL: {}", one_line(&e.to_string())),
            })?
            // Accrete's statements read and write a few rows each. PostgreSQL compiles a plan
            // whose estimated cost passes `jit_above_cost`, as estimates of tables without
            // statistics do (just after a large import), which cost up to a second a statement.
            .options([("jit", "off")]);
        let target = format!("{}:{}", options.get_host(), options.get_port());
        let breaker = Breaker::new(options.clone());
        let checks = std::sync::Arc::clone(&breaker);
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.connect_timeout)
            // sqlx pings every connection it takes back, so one that was lent a moment ago is
            // known to be alive: only one that sat idle (the server may have restarted or
            // dropped it since) is pinged again before it is lent, not every one on every
            // store method. A connection that died in between fails its method as
            // unavailable and is closed (`Backend::settle`), so the next one is fresh.
            .test_before_acquire(false)
            // A connection returned before the database last went away is pinged too.
            .before_acquire(move |connection, meta| {
                let stale =
                    meta.idle_for >= PING_IDLE_AFTER || checks.predates_outage(meta.idle_for);
                Box::pin(async move {
                    if stale {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable {
                backend: queries::BACKEND,
                message: format!(
                    "cannot connect to {target}: {}; check that PostgreSQL is running and the \
                     database URL is right",
                    one_line(&e.to_string())
                ),
            })?;
        Ok(Self { pool, breaker })
    }

    /// The migrations embedded in this binary for this backend.
    pub fn migrator() -> &'static sqlx::migrate::Migrator {
        <sqlx::PgConnection as crate::backend::Conn>::migrator()
    }

    /// Runs another set of migrations with the same runner (tests use it to break a migration
    /// halfway and check that nothing of it remains).
    #[doc(hidden)]
    pub async fn migrate_with(
        &self,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<crate::MigrationStatus, StoreError> {
        crate::aggregates::health::sql::migrate_with(&mut *self.write().await?, migrator).await
    }

    /// The underlying pool, for tests and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether the database is known to be down (store methods then fail at once).
    pub fn database_down(&self) -> bool {
        self.breaker.is_down()
    }

    /// Resolves once the database is known to answer again.
    pub async fn database_back(&self) {
        self.breaker.closed().await;
    }
}

impl Backend for PostgresStore {
    type Conn = sqlx::PgConnection;
    type Lease<'a> = PoolConnection<sqlx::Postgres>;

    /// A connection for reads, from the one pool (PostgreSQL handles concurrent writers itself).
    /// While the database is known to be down, fails at once (see `postgres/breaker.rs`).
    async fn read(&self) -> Result<PoolConnection<sqlx::Postgres>, StoreError> {
        if self.breaker.is_down() {
            return Err(Breaker::refusal());
        }
        let acquire = self.pool.acquire();
        let suspect = async {
            tokio::time::sleep(breaker::SUSPECT_AFTER).await;
            self.breaker.probe();
            self.breaker.opened().await;
        };
        tokio::select! {
            acquired = acquire => acquired.map_err(|error| {
                let error = queries::err(error);
                if matches!(error, StoreError::Unavailable { .. }) {
                    self.breaker.open();
                }
                error
            }),
            () = suspect => Err(Breaker::refusal()),
        }
    }

    /// A lent connection failed as unavailable: one connection lost (the method after it may
    /// well succeed) or the whole database gone; a probe tells which, and opens the breaker in
    /// the second case.
    fn connection_lost(&self, error: &StoreError) {
        if matches!(error, StoreError::Unavailable { .. }) {
            self.breaker.probe();
        }
    }

    /// A connection for writes, from the same pool.
    async fn write(&self) -> Result<PoolConnection<sqlx::Postgres>, StoreError> {
        self.read().await
    }

    /// Closed instead of going back to the pool.
    fn discard(lease: &mut PoolConnection<sqlx::Postgres>) {
        lease.close_on_drop();
    }

    /// `LISTEN` on a connection of its own, for the notifications of migration 0021's trigger.
    async fn outbox_signal(&self) -> Result<crate::outbox_signal::OutboxSignal, StoreError> {
        let failed = |error| crate::error::from_sqlx(breaker::BACKEND, error);
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(failed)?;
        listener
            .listen(crate::outbox_signal::CHANNEL)
            .await
            .map_err(failed)?;
        Ok(crate::outbox_signal::OutboxSignal::listen(
            listener,
            breaker::BACKEND,
        ))
    }
}

/// The PostgreSQL side of the shared SQL.
mod queries {
    use serde_json::Value;
    use sqlx::postgres::PgArguments;
    use sqlx::types::Json;
    use sqlx::{Arguments as _, PgConnection, Postgres};

    use crate::StoreError;
    use crate::backend::{Column, Conn, FromRows, Param};

    pub(crate) const BACKEND: &str = super::breaker::BACKEND;
    static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

    pub(crate) fn err(error: sqlx::Error) -> StoreError {
        crate::error::from_sqlx(BACKEND, error)
    }

    fn arguments(params: Vec<Param>) -> Result<PgArguments, StoreError> {
        let mut arguments = PgArguments::default();
        for param in params {
            match param {
                Param::Text(value) => arguments.add(value),
                Param::Int(value) => arguments.add(value),
                Param::Bool(value) => arguments.add(value),
                Param::Bytes(value) => arguments.add(value),
                Param::Json(value) => arguments.add(value.map(Json)),
                Param::Column(Column::Texts(values)) => arguments.add(values),
                Param::Column(Column::Ints(values)) => arguments.add(values),
                Param::Column(Column::Bools(values)) => arguments.add(values),
            }
            .map_err(StoreError::Unexpected)?;
        }
        Ok(arguments)
    }

    impl Conn for PgConnection {
        const BACKEND: &'static str = BACKEND;

        const LOCK_USER: &'static str = "SELECT * FROM users WHERE id = $1 FOR UPDATE";

        /// A concurrent claim of the same parent waits for the row lock, then finds it used.
        const ROTATE_REFRESH: &'static str = "
            WITH claimed AS (
                UPDATE refresh_tokens t SET used_at = $2
                WHERE t.hash = $1 AND t.client_id = $5
                  AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > $2
                  AND EXISTS (SELECT 1 FROM grants g WHERE g.id = t.grant_id
                      AND g.revoked_at IS NULL AND g.created_at + $6 > $2)
                RETURNING t.hash, t.grant_id, t.client_id, t.user_id, t.scopes
            )
            INSERT INTO refresh_tokens
                (hash, grant_id, client_id, user_id, scopes, created_at, expires_at, parent_hash)
            SELECT $3, c.grant_id, c.client_id, c.user_id, c.scopes, $2,
                CASE WHEN $4 < g.created_at + $6 THEN $4 ELSE g.created_at + $6 END, c.hash
            FROM claimed c JOIN grants g ON g.id = c.grant_id
            RETURNING *";

        const MIGRATIONS_TABLE_EXISTS: &'static str =
            "SELECT COUNT(*) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = 'accrete_migrations'";

        type Tx<'c> = sqlx::Transaction<'c, Postgres>;

        fn migrator() -> &'static sqlx::migrate::Migrator {
            &MIGRATOR
        }

        /// A plain transaction; rows that must not change underneath are locked with
        /// `FOR UPDATE`.
        async fn begin_write(&mut self) -> Result<Self::Tx<'_>, StoreError> {
            sqlx::Connection::begin(self).await.map_err(err)
        }

        async fn commit(tx: Self::Tx<'_>) -> Result<(), StoreError> {
            tx.commit().await.map_err(err)
        }

        /// A transaction-scoped advisory lock per name and schema, so that nodes starting
        /// together apply each migration once and publishers never race for a policy number.
        async fn lock_named(&mut self, name: &'static str) -> Result<(), StoreError> {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1 || ':' || current_schema()))")
                .bind(name)
                .execute(self)
                .await
                .map_err(err)?;
            Ok(())
        }

        async fn execute(
            &mut self,
            sql: &'static str,
            params: Vec<Param>,
        ) -> Result<u64, StoreError> {
            let done = sqlx::query_with(sql, arguments(params)?)
                .execute(self)
                .await
                .map_err(err)?;
            Ok(done.rows_affected())
        }

        async fn fetch_optional<R: FromRows>(
            &mut self,
            sql: &'static str,
            params: Vec<Param>,
        ) -> Result<Option<R>, StoreError> {
            sqlx::query_as_with::<Postgres, R, _>(sql, arguments(params)?)
                .fetch_optional(self)
                .await
                .map_err(err)
        }

        async fn fetch_all<R: FromRows>(
            &mut self,
            sql: &'static str,
            params: Vec<Param>,
        ) -> Result<Vec<R>, StoreError> {
            sqlx::query_as_with::<Postgres, R, _>(sql, arguments(params)?)
                .fetch_all(self)
                .await
                .map_err(err)
        }

        async fn execute_script(&mut self, sql: sqlx::SqlStr) -> Result<(), String> {
            sqlx::raw_sql(sql)
                .execute(self)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }

        /// PostgreSQL compares `jsonb` values.
        fn json_param(value: Option<Value>) -> Param {
            Param::Json(value)
        }

        /// PostgreSQL's `jsonb -> text` takes the key as it is.
        fn json_key(key: String) -> String {
            key
        }
    }
}
