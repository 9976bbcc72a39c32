//! SQL shared by both backends, written once.
//!
//! Each file holds a `macro_rules!` whose body is plain async functions over one borrowed
//! connection of one backend (`c: &mut Conn`; `crate::stamp` borrows it for each store method).
//! A backend module (`crate::sqlite::queries`, `crate::postgres::queries`) invokes every macro
//! once, after defining the few names the bodies expect:
//!
//! - `Db`: the sqlx database type (`sqlx::Sqlite` or `sqlx::Postgres`), and `Conn` its connection;
//! - `BACKEND`: its display name;
//! - `err(sqlx::Error) -> StoreError`: error mapping for that backend;
//! - `begin_write(&mut Conn)`: a transaction that may write (`BEGIN IMMEDIATE` on SQLite,
//!   so writers queue instead of failing to upgrade a read lock);
//! - `lock_named(&mut Transaction, name)`: serialises writers of one kind (migrations, policy
//!   numbers) across nodes: an advisory lock on PostgreSQL; `BEGIN IMMEDIATE` already does it on
//!   SQLite;
//! - `MIGRATOR`: the embedded migrations for that backend;
//! - `MIGRATIONS_TABLE_EXISTS`: a `SELECT COUNT(*)` telling whether the bookkeeping table exists.
//!
//! Only `$n` placeholders, `RETURNING`, BIGINT unix-millisecond timestamps and JSON bound through
//! `sqlx::types::Json` are used, which both backends accept.

pub(crate) mod clients;
pub(crate) mod grants;
pub(crate) mod health;
pub(crate) mod migrations;
pub(crate) mod oidc_rows;
pub(crate) mod profile;
pub(crate) mod profiling;
pub(crate) mod profiling_rows;
pub(crate) mod rows;
pub(crate) mod sessions;
pub(crate) mod throttle;
pub(crate) mod users;

/// A unique-constraint failure on `users.email_normalized`, said as what it means.
pub(crate) fn email_taken(error: crate::StoreError) -> crate::StoreError {
    match error {
        crate::StoreError::Conflict { .. } => crate::StoreError::Conflict {
            what: "a user with this email already exists".into(),
        },
        other => other,
    }
}

/// The stored, case-insensitive form of an email; an empty one is refused.
pub(crate) fn normalized_email(email: &str) -> Result<String, crate::StoreError> {
    let normalized = crate::model::normalize_email(email);
    if normalized.is_empty() {
        return Err(crate::StoreError::Invalid {
            message: "email is empty".into(),
        });
    }
    Ok(normalized)
}
