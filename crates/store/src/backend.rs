//! What the shared SQL asks of a backend, so that it is written once, as plain generic
//! functions, for both.
//!
//! - [`Conn`]: a connection of one backend. It runs a [`Query`] (binding each [`Param`] as its
//!   own driver type), begins write transactions and supplies the few statements that differ.
//!   Implemented for `sqlx::SqliteConnection` (`crate::sqlite`) and `sqlx::PgConnection`
//!   (`crate::postgres`).
//! - [`Backend`]: a store, which lends a connection for each store method: [`Backend::read`] or
//!   [`Backend::write`] (on SQLite, a query-only connection or the one writing connection), and
//!   [`Backend::settle`] after the method, which discards a connection that failed as
//!   unavailable. Every aggregate's trait (`crate::aggregates`) is implemented once, for every
//!   `B: Backend`.
//!
//! The SQL sticks to what both backends accept: `$n` placeholders, `RETURNING`, BIGINT
//! unix-millisecond timestamps, JSON bound as [`Param::Json`] (and, in a statement written for
//! PostgreSQL alone, a column of many rows as one array, [`Param::Column`]).

use std::future::Future;
use std::marker::PhantomData;
use std::ops::DerefMut;

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;

use crate::StoreError;

/// A value bound to a `$n` placeholder, bound by each backend as its own driver type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    /// `TEXT` (ids are UUIDs as text).
    Text(Option<String>),
    /// `BIGINT` (timestamps are unix milliseconds).
    Int(Option<i64>),
    /// `BOOLEAN`.
    Bool(Option<bool>),
    /// `BLOB` / `BYTEA`.
    Bytes(Option<Vec<u8>>),
    /// A JSON column: `TEXT` in SQLite, `JSONB` in PostgreSQL.
    Json(Option<Value>),
    /// PostgreSQL only: one column of many rows as an array, which the statement reads with
    /// `unnest` (SQLite has no arrays: binding one there is an error). For a statement that
    /// writes a batch's rows at once without the database parsing them from one JSON text.
    Column(Column),
}

/// The values of one column of many rows ([`Param::Column`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Column {
    /// `TEXT[]` (JSON as its text, cast by the statement).
    Texts(Vec<Option<String>>),
    /// `BIGINT[]`.
    Ints(Vec<Option<i64>>),
    /// `BOOLEAN[]`.
    Bools(Vec<bool>),
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Param::Text(Some(value))
    }
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Param::Text(Some(value.to_owned()))
    }
}

impl From<Option<String>> for Param {
    fn from(value: Option<String>) -> Self {
        Param::Text(value)
    }
}

impl From<Option<&str>> for Param {
    fn from(value: Option<&str>) -> Self {
        Param::Text(value.map(str::to_owned))
    }
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}

impl From<Option<i64>> for Param {
    fn from(value: Option<i64>) -> Self {
        Param::Int(value)
    }
}

impl From<bool> for Param {
    fn from(value: bool) -> Self {
        Param::Bool(Some(value))
    }
}

impl From<Option<bool>> for Param {
    fn from(value: Option<bool>) -> Self {
        Param::Bool(value)
    }
}

impl From<Vec<u8>> for Param {
    fn from(value: Vec<u8>) -> Self {
        Param::Bytes(Some(value))
    }
}

impl From<Option<Vec<u8>>> for Param {
    fn from(value: Option<Vec<u8>>) -> Self {
        Param::Bytes(value)
    }
}

impl From<Json<Value>> for Param {
    fn from(value: Json<Value>) -> Self {
        Param::Json(Some(value.0))
    }
}

impl From<Json<&Value>> for Param {
    fn from(value: Json<&Value>) -> Self {
        Param::Json(Some(value.0.clone()))
    }
}

impl From<Json<Vec<String>>> for Param {
    fn from(value: Json<Vec<String>>) -> Self {
        Param::Json(Some(Value::from(value.0)))
    }
}

impl From<Option<Json<Vec<String>>>> for Param {
    fn from(value: Option<Json<Vec<String>>>) -> Self {
        Param::Json(value.map(|json| Value::from(json.0)))
    }
}

impl From<Option<Json<Value>>> for Param {
    fn from(value: Option<Json<Value>>) -> Self {
        Param::Json(value.map(|json| json.0))
    }
}

/// A row shape both backends can decode (every `#[derive(sqlx::FromRow)]` of ours, and tuples).
pub(crate) trait FromRows:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

impl<R> FromRows for R where
    R: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

/// One statement with its parameters, read as rows of `R`.
#[derive(Debug)]
#[must_use = "a query does nothing until it is run"]
pub(crate) struct Query<R = ()> {
    sql: &'static str,
    params: Vec<Param>,
    row: PhantomData<fn() -> R>,
}

/// A statement whose rows, if any, are not read.
pub(crate) fn query(sql: &'static str) -> Query {
    query_as(sql)
}

/// A statement read as rows of `R` (a `FromRow` struct, or a tuple such as `(i64,)`).
pub(crate) fn query_as<R>(sql: &'static str) -> Query<R> {
    Query {
        sql,
        params: Vec::new(),
        row: PhantomData,
    }
}

impl<R> Query<R> {
    /// Binds the next placeholder.
    pub(crate) fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Binds the next placeholders.
    pub(crate) fn bind_all(mut self, values: Vec<Param>) -> Self {
        self.params.extend(values);
        self
    }

    /// Runs the statement; returns how many rows it changed.
    pub(crate) async fn execute<C: Conn>(self, c: &mut C) -> Result<u64, StoreError> {
        c.execute(self.sql, self.params).await
    }
}

impl<R: FromRows> Query<R> {
    /// The first row, if any.
    pub(crate) async fn fetch_optional<C: Conn>(self, c: &mut C) -> Result<Option<R>, StoreError> {
        c.fetch_optional(self.sql, self.params).await
    }

    /// The first row; [`StoreError::NotFound`] if there is none.
    pub(crate) async fn fetch_one<C: Conn>(self, c: &mut C) -> Result<R, StoreError> {
        self.fetch_optional(c).await?.ok_or(StoreError::NotFound)
    }

    /// Every row.
    pub(crate) async fn fetch_all<C: Conn>(self, c: &mut C) -> Result<Vec<R>, StoreError> {
        c.fetch_all(self.sql, self.params).await
    }
}

/// Whether `C` is a PostgreSQL connection (for the few writes whose steps differ, not only
/// their spelling).
pub(crate) fn on_postgres<C: Conn>() -> bool {
    C::BACKEND == "PostgreSQL"
}

/// The statement of `C`'s backend, where the two spell it differently (a JSON array as a
/// parameter: `json_each` on SQLite, `jsonb_array_elements` on PostgreSQL).
pub(crate) fn pick<C: Conn>(sqlite: &'static str, postgres: &'static str) -> &'static str {
    if on_postgres::<C>() { postgres } else { sqlite }
}

/// A connection of one backend, as the shared SQL uses it.
pub(crate) trait Conn: Send + Sized + 'static {
    /// `SQLite` or `PostgreSQL`.
    const BACKEND: &'static str;
    /// Reads the user `$1` and keeps it locked until the transaction ends (`FOR UPDATE` on
    /// PostgreSQL; on SQLite `BEGIN IMMEDIATE` already serialises writers).
    const LOCK_USER: &'static str;
    /// Claims refresh token `$1` of client `$5` at `$2` and stores its successor `$3` (expiry
    /// `$4`, or the grant's creation plus `$6` milliseconds when that comes first; grant, user
    /// and scopes of the parent), in one statement; returns the successor, no row when the
    /// parent cannot be claimed (also when its grant is older than `$6` milliseconds).
    const ROTATE_REFRESH: &'static str;
    /// A `SELECT COUNT(*)` telling whether the migrations bookkeeping table exists.
    const MIGRATIONS_TABLE_EXISTS: &'static str;

    /// A write transaction on this connection; rolled back if dropped before
    /// [`Conn::commit`].
    type Tx<'c>: DerefMut<Target = Self> + Send;

    /// The migrations embedded for this backend.
    fn migrator() -> &'static sqlx::migrate::Migrator;

    /// Begins a transaction that may write (`BEGIN IMMEDIATE` on SQLite, so that writers queue
    /// instead of failing to upgrade a read lock).
    fn begin_write(&mut self) -> impl Future<Output = Result<Self::Tx<'_>, StoreError>> + Send;

    /// Commits a transaction begun by [`Conn::begin_write`].
    fn commit(tx: Self::Tx<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Serialises writers of one kind (migrations, policy numbers, first signing keys) across
    /// nodes until the transaction ends: an advisory lock on PostgreSQL; nothing on SQLite, where
    /// `BEGIN IMMEDIATE` already does it.
    fn lock_named(
        &mut self,
        name: &'static str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Runs a statement; returns how many rows it changed.
    fn execute(
        &mut self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Runs a statement and reads its first row, if any.
    fn fetch_optional<R: FromRows>(
        &mut self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> impl Future<Output = Result<Option<R>, StoreError>> + Send;

    /// Runs a statement and reads every row.
    fn fetch_all<R: FromRows>(
        &mut self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> impl Future<Output = Result<Vec<R>, StoreError>> + Send;

    /// Runs a script of several statements without parameters (a migration); the error is the
    /// driver's message.
    fn execute_script(
        &mut self,
        sql: sqlx::SqlStr,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// The bind form of a JSON value compared with `bag -> key` (SQLite's `->` yields minified
    /// JSON text, so compact JSON text there; `jsonb` on PostgreSQL).
    fn json_param(value: Option<Value>) -> Param;

    /// The right operand of `bag -> key` naming exactly the top-level `key`.
    fn json_key(key: String) -> String;
}

/// A store: lends a connection of its backend for each store method.
pub(crate) trait Backend: Send + Sync + 'static {
    /// The backend's connection.
    type Conn: Conn;
    /// A lent connection, given back when dropped.
    type Lease<'a>: DerefMut<Target = Self::Conn> + Send;

    /// A connection for a method that only reads (on SQLite, a query-only one).
    fn read(&self) -> impl Future<Output = Result<Self::Lease<'_>, StoreError>> + Send;

    /// A connection for a method that writes (on SQLite, the one writing connection).
    fn write(&self) -> impl Future<Output = Result<Self::Lease<'_>, StoreError>> + Send;

    /// Marks a lent connection as not to be lent again (it failed as unavailable).
    fn discard(lease: &mut Self::Lease<'_>);

    /// A lent connection failed as unavailable (PostgreSQL probes whether the database is down).
    fn connection_lost(&self, error: &StoreError);

    /// What tells a delivery worker that events were committed to the outbox
    /// (`crate::outbox_signal`).
    fn outbox_signal(
        &self,
    ) -> impl Future<Output = Result<crate::outbox_signal::OutboxSignal, StoreError>> + Send;

    /// The result of a store method run on `lease`: a connection that failed as unavailable
    /// (lost, or stuck behind another process's lock) is discarded, not lent again.
    fn settle<T>(
        &self,
        lease: &mut Self::Lease<'_>,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Err(error @ StoreError::Unavailable { .. }) = &result {
            Self::discard(lease);
            self.connection_lost(error);
        }
        result
    }
}
