//! The storage layer's error type.

use std::error::Error as StdError;

/// A boxed error kept as the source of [`StoreError::Unexpected`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What can go wrong in the storage layer.
///
/// Every `Display` is one line: the database driver's own messages are reduced to their first
/// line, and the full error stays reachable through [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// The write would break a uniqueness rule (for example an email already in use).
    #[error("conflict: {what}")]
    Conflict {
        /// What already exists, in words.
        what: String,
    },
    /// Optimistic concurrency: the record changed since the caller read it.
    #[error("the record was changed by someone else (expected version {expected}, found {found})")]
    VersionMismatch {
        /// The version the caller based its change on.
        expected: i64,
        /// The version currently stored.
        found: i64,
    },
    /// The request itself is not acceptable to the storage layer.
    #[error("invalid: {message}")]
    Invalid {
        /// Why.
        message: String,
    },
    /// The database cannot be reached or opened.
    #[error("{backend} database unavailable: {message}")]
    Unavailable {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// One line: what happened and how to fix it.
        message: String,
    },
    /// The database has migrations this binary does not know: it was written by a newer Accrete.
    #[error(
        "the database schema is at migration {database} but this binary only knows migrations up to \
         {binary}; upgrade Accrete to the version that created this database (or point it at another database)"
    )]
    SchemaTooNew {
        /// Highest migration recorded in the database.
        database: i64,
        /// Highest migration embedded in this binary.
        binary: i64,
    },
    /// Anything else; the source keeps the details.
    #[error("unexpected storage error: {}", first_line(.0))]
    Unexpected(#[source] BoxError),
}

impl StoreError {
    /// Wraps any error as [`StoreError::Unexpected`].
    pub fn unexpected(error: impl Into<BoxError>) -> Self {
        Self::Unexpected(error.into())
    }
}

/// The first line of an error's message, so that `Display` stays on one line.
pub(crate) fn first_line(error: &BoxError) -> String {
    one_line(&error.to_string())
}

/// The first non-empty line of a message.
pub(crate) fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("")
        .to_owned()
}

/// Maps a driver error to a [`StoreError`] for `backend`.
/// Whether a SQLSTATE says that the connection is gone rather than that the statement failed.
fn connection_gone(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P")
}

pub(crate) fn from_sqlx(backend: &'static str, error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable {
            backend,
            message: format!(
                "{}; check that the database is running and reachable",
                one_line(&error.to_string())
            ),
        },
        // The server ended or refused the connection (PostgreSQL SQLSTATE class 08, or 57P01
        // to 57P05: shut down, restarted, terminated by an administrator, idle timeout): the
        // request may be retried, and the connection is not lent again.
        sqlx::Error::Database(ref db) if db.code().is_some_and(|c| connection_gone(&c)) => {
            StoreError::Unavailable {
                backend,
                message: format!(
                    "the database ended the connection ({}); retry in a moment",
                    one_line(db.message())
                ),
            }
        }
        sqlx::Error::Database(ref db) if db.is_unique_violation() => StoreError::Conflict {
            what: db.constraint().map_or_else(
                || one_line(db.message()),
                |c| format!("unique constraint {c}"),
            ),
        },
        sqlx::Error::Database(ref db) if db.is_foreign_key_violation() => StoreError::Invalid {
            message: "refers to a record that does not exist".into(),
        },
        other => StoreError::unexpected(other),
    }
}
