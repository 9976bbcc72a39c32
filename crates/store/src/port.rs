//! The port: everything the rest of Accrete asks of storage, one trait per aggregate (see
//! `crate::aggregates`), and [`Store`], which is all of them.

use crate::aggregates::{
    account_tokens::AccountTokens, accounts::Accounts, admins::Admins, clients::Clients,
    companion_writes::CompanionWrites, companions::Companions, connections::Connections,
    factors::Factors, federation_states::FederationStates, grants::Grants, health::Health,
    identities::Identities, import_jobs::ImportJobs, passkeys::Passkeys, policies::Policies,
    prompts::Prompts, signing_keys::SigningKeys, sso_sessions::SsoSessions, themes::Themes,
    throttle::CredentialThrottle, transactions::AuthTransactions, user_transfers::UserTransfers,
    users::Users, webhooks::Webhooks,
};

/// Persistence for Accrete, used as `Arc<dyn Store>`: every aggregate's trait.
///
/// Implemented by [`crate::SqliteStore`] and [`crate::PostgresStore`], which run the same SQL.
/// Time is always passed in, so expiry and counters are testable without a clock. Call a
/// method with its trait in scope (`use accrete_store::prelude::*;`).
pub trait Store:
    Health
    + AccountTokens
    + Admins
    + Accounts
    + Factors
    + Users
    + Clients
    + SigningKeys
    + SsoSessions
    + AuthTransactions
    + Grants
    + Policies
    + Prompts
    + CredentialThrottle
    + Connections
    + Identities
    + UserTransfers
    + ImportJobs
    + FederationStates
    + Passkeys
    + Themes
    + Webhooks
    + Companions
    + CompanionWrites
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: Health
        + AccountTokens
        + Admins
        + Accounts
        + Factors
        + Users
        + Clients
        + SigningKeys
        + SsoSessions
        + AuthTransactions
        + Grants
        + Policies
        + Prompts
        + CredentialThrottle
        + Connections
        + Identities
        + UserTransfers
        + ImportJobs
        + FederationStates
        + Passkeys
        + Themes
        + Webhooks
        + Companions
        + CompanionWrites
        + Send
        + Sync
        + 'static
{
}
