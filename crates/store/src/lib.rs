//! Accrete's persistence: the port, one trait per aggregate ([`Users`], [`Clients`], ...) and
//! [`Store`], which is all of them, and two implementations that run the same SQL,
//! [`SqliteStore`] (embedded, the default) and [`PostgresStore`].
//!
//! Open either with [`connect`], which picks the backend from the URL scheme. Callers bring the
//! traits into scope with `use accrete_store::prelude::*;`.

use std::sync::Arc;

mod account;
mod admin;
mod aggregates;
mod backend;
mod error;
mod factors;
mod federation;
mod model;
mod oidc;
mod outbox_signal;
mod passkey;
mod port;
mod postgres;
mod profile;
mod profiling;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod webhook;

pub use account::{
    AccountToken, IssueLimits, Issued, NewAccountToken, Presented, Redeemed, TokenEffect,
    TokenEvent, TokenPurpose,
};
pub use admin::{AdminGrant, AuditEntry, ConsoleSession, NewAuditEntry};
pub use aggregates::{
    account_tokens::AccountTokens,
    accounts::Accounts,
    admins::Admins,
    clients::Clients,
    companion_writes::{CompanionWrite, CompanionWriteOutcome, CompanionWrites, NewCompanionWrite},
    companions::{CompanionStart, CompanionStarted, Companions},
    connections::Connections,
    factors::Factors,
    federation_states::FederationStates,
    grants::Grants,
    health::Health,
    identities::Identities,
    import_jobs::{
        INTERRUPTED as IMPORT_JOB_INTERRUPTED, ImportCounts, ImportJob, ImportJobProblem,
        ImportJobStatus, ImportJobs, ImportProgress, NewImportJob, STOPPED as IMPORT_JOB_STOPPED,
    },
    passkeys::Passkeys,
    policies::Policies,
    prompts::Prompts,
    signing_keys::SigningKeys,
    sso_sessions::SsoSessions,
    themes::{StoredTheme, Themes},
    throttle::CredentialThrottle,
    transactions::AuthTransactions,
    user_transfers::{
        ExportedUser, ImportBatch, ImportOutcome, ImportScope, ImportStep, ImportUser,
        ImportedSource, SignIns, Spent, UserTransfers, import_source,
    },
    users::Users,
    webhooks::Webhooks,
};
pub use error::{BoxError, StoreError};
pub use factors::{Factor, FactorConfirmation, FactorKind, NewFactor};
pub use federation::{
    ConnectionUpdate, FederatedSignIn, FederationState, LinkedIdentity, StoredConnection,
    UnlinkOutcome,
};
pub use model::{
    ConnectOptions, CredentialFailures, DayCounts, FailureCount, MigrationStatus, NewUser,
    SignInKind, User, normalize_email,
};
pub use oidc::{
    AuthTransaction, AuthorizationCode, AuthorizedApplication, Client, CodeConsumption, CodeIssue,
    ExpiredTransaction, Grant, NewAuthTransaction, NewAuthorizationCode, NewRefreshToken,
    RefreshSuccessor, RefreshToken, Rotation, SsoSession, StoredSigningKey, USER_AGENT_MAX_BYTES,
    truncate_user_agent,
};
pub use outbox_signal::OutboxSignal;
pub use passkey::{CeremonyKind, PasskeyCeremony, PasskeyRemoval, PasskeyUse, StoredPasskey};
pub use port::Store;
pub use postgres::PostgresStore;
pub use profile::{
    EmailChange, FieldFilter, HistoryEntry, Location, PHONE_NUMBER, PHONE_NUMBER_VERIFIED, Page,
    ProfileChange, Provenance, UserQuery, UserUpdate, apply_in_memory,
};
pub use profiling::{
    Event, EventKind, NewEvent, PolicyDraft, PolicyPublication, PolicyVersion,
    PolicyVersionSummary, ProfilingWrite, ProfilingWritten, PromptState, StepStats, UserState,
};
pub use sqlite::SqliteStore;
pub use webhook::{
    AttemptOutcome, AttemptRecord, DeliveryStatus, LeasedDelivery, NewWebhookEndpoint,
    NewWebhookEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEndpointUpdate,
    WebhookEvent,
};

/// The port's traits, to call store methods: `use accrete_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AccountTokens, Accounts, Admins, AuthTransactions, Clients, CompanionWrites, Companions,
        Connections, CredentialThrottle, Factors, FederationStates, Grants, Health, Identities,
        ImportJobs, Passkeys, Policies, Prompts, SigningKeys, SsoSessions, Store, Themes,
        UserTransfers, Users, Webhooks,
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
                mask_url(url)
            ),
        }),
    }
}

/// The URL with the password of its user-info replaced by `********`, for messages and
/// `accrete config show`. The user-info ends at the last `@` before the path, query or fragment,
/// so that a password holding a raw `@` is masked whole and an `@` in the query is not taken
/// for the end of one.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    match authority[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:********{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::mask_url;

    #[test]
    fn a_urls_password_is_masked_and_nothing_else() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db/accrete",
                "postgres://app:********@db/accrete",
            ),
            ("postgres://app:p@ss@db/x", "postgres://app:********@db/x"),
            (
                "postgres://app:pw@db?opt=a@b",
                "postgres://app:********@db?opt=a@b",
            ),
            ("postgres://app@db/accrete", "postgres://app@db/accrete"),
            (
                "postgres://db/accrete?user=a@b",
                "postgres://db/accrete?user=a@b",
            ),
            ("sqlite://data/a@b.db", "sqlite://data/a@b.db"),
            ("sqlite:accrete.db", "sqlite:accrete.db"),
        ] {
            assert_eq!(mask_url(url), shown, "{url}");
        }
    }
}
