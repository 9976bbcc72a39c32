//! Accrete's persistence: one trait, [`Store`] (the port), and two implementations that run the
//! same SQL, [`SqliteStore`] (embedded, the default) and [`PostgresStore`].
//!
//! Open either with [`connect`], which picks the backend from the URL scheme.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::sync::Arc;

mod error;
mod model;
mod oidc;
mod port;
mod postgres;
mod profile;
mod profiling;
mod sql;
mod sqlite;
mod stamp;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{BoxError, StoreError};
pub use model::{
    ConnectOptions, CredentialFailures, FailureCount, MigrationStatus, NewUser, SignInKind, User,
    normalize_email,
};
pub use oidc::{
    AuthTransaction, AuthorizationCode, Client, CodeConsumption, ExpiredTransaction, Grant,
    NewAuthTransaction, NewAuthorizationCode, NewRefreshToken, RefreshSuccessor, RefreshToken,
    Rotation, SsoSession, StoredSigningKey,
};
pub use port::Store;
pub use postgres::PostgresStore;
pub use profile::{
    EmailChange, FieldFilter, HistoryEntry, Location, Page, ProfileChange, Provenance, UserQuery,
    UserUpdate,
};
pub use profiling::{
    Event, EventKind, NewEvent, PolicyDraft, PolicyPublication, PolicyVersion,
    PolicyVersionSummary, ProfilingWrite, ProfilingWritten, PromptState, StepStats, UserState,
};
pub use sqlite::SqliteStore;

/// Opens the database at `url`: `sqlite://path` (the file is created if missing) or
/// `postgres://...`. Does not migrate; call [`Store::migrate`].
pub async fn connect(url: &str, opts: ConnectOptions) -> Result<Arc<dyn Store>, StoreError> {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
    match scheme {
        "sqlite" => Ok(Arc::new(SqliteStore::connect(url, opts).await?)),
        "postgres" | "postgresql" => Ok(Arc::new(PostgresStore::connect(url, opts).await?)),
        _ => Err(StoreError::Invalid {
            message: format!(
                "unsupported database URL {:?}: use sqlite://path or postgres://user@host/db",
                redact(url)
            ),
        }),
    }
}

/// The URL with any password removed, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let userinfo = &url[start + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..start + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
