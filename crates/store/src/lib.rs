//! Accrete's persistence: the port, one trait per aggregate ([`Users`], [`Clients`], ...) and
//! [`Store`], which is all of them, and two implementations that run the same SQL,
//! [`SqliteStore`] (embedded, the default) and [`PostgresStore`].
//!
//! Open either with [`connect`], which picks the backend from the URL scheme. Callers bring the
//! traits into scope with `use accrete_store::prelude::*;`.

use std::sync::Arc;

mod aggregates;
mod backend;
mod error;
mod model;
mod oidc;
mod port;
mod postgres;
mod profile;
mod profiling;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use aggregates::{
    clients::Clients, grants::Grants, health::Health, policies::Policies, prompts::Prompts,
    signing_keys::SigningKeys, sso_sessions::SsoSessions, throttle::CredentialThrottle,
    transactions::AuthTransactions, users::Users,
};
pub use error::{BoxError, StoreError};
pub use model::{
    ConnectOptions, CredentialFailures, FailureCount, MigrationStatus, NewUser, SignInKind, User,
    normalize_email,
};
pub use oidc::{
    AuthTransaction, AuthorizationCode, Client, CodeConsumption, CodeIssue, ExpiredTransaction,
    Grant, NewAuthTransaction, NewAuthorizationCode, NewRefreshToken, RefreshSuccessor,
    RefreshToken, Rotation, SsoSession, StoredSigningKey,
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

/// The port's traits, to call store methods: `use accrete_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AuthTransactions, Clients, CredentialThrottle, Grants, Health, Policies, Prompts,
        SigningKeys, SsoSessions, Store, Users,
    };
}

/// Opens the database at `url`: `sqlite://path` (the file is created if missing) or
/// `postgres://...`. Does not migrate; call [`Health::migrate`].
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
