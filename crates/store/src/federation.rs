//! Federation: signing in through upstream identity providers. The connections to them, the
//! upstream identities linked to users, and the single-use state of one round trip to a
//! provider.
//!
//! Secrets are never stored in the clear: a connection's secrets are sealed by the caller, and a
//! round trip's `state` and the browser it is bound to are stored as keyed hashes computed by the
//! caller.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ProfileChange;

/// A connection to an upstream identity provider, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredConnection {
    /// Its name (the key; also in the URLs of its round trips).
    pub name: String,
    /// Its definition as JSON, secrets removed.
    pub spec: Value,
    /// Its secrets, sealed by the caller; `None` when it has none.
    #[serde(skip_serializing)]
    pub sealed_secrets: Option<Vec<u8>>,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// 1 when created, bumped by every update; updates may name the version they are based on.
    pub version: i64,
}

/// A change of a stored connection.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionUpdate {
    /// Which connection.
    pub name: String,
    /// Its new definition (secrets removed).
    pub spec: Value,
    /// Its new sealed secrets; `None` keeps the stored ones.
    pub sealed_secrets: Option<Vec<u8>>,
    /// The version the change is based on; `None` changes whatever is stored.
    pub expected_version: Option<i64>,
    /// When (the new `updated_at`).
    pub now: OffsetDateTime,
}

/// An upstream identity (a subject at the provider of a connection), linked to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkedIdentity {
    /// The connection's name.
    pub connection: String,
    /// The subject at the provider (`sub`).
    pub subject: String,
    /// The user it belongs to.
    pub user_id: Uuid,
    /// The email as the provider last gave it, if it gave one.
    pub email: Option<String>,
    /// When it was linked.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was last used to sign in.
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
}

/// A sign-in through an upstream provider of a user who exists, written in one database
/// transaction by [`federated_sign_in`](crate::Identities::federated_sign_in).
#[derive(Debug, Clone, PartialEq)]
pub struct FederatedSignIn {
    /// The identity signing in: linked to `identity.user_id` if it is not yet (its timestamps
    /// are not read: it is stored as created and used at `now`).
    pub identity: LinkedIdentity,
    /// Value changes from what the provider said, with history and provenance, as
    /// [`apply_profile_changes`](crate::Users::apply_profile_changes) without an expected version
    /// (empty: none).
    pub changes: Vec<ProfileChange>,
    /// The source recorded with the changes (history and provenance).
    pub source: String,
    /// Whether to count a credentialed sign-in, as
    /// [`record_sign_in`](crate::Users::record_sign_in) does.
    pub count_sign_in: bool,
    /// When.
    pub now: OffsetDateTime,
}

/// What [`unlink_identity`](crate::Identities::unlink_identity) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlinkOutcome {
    /// The identity is no longer linked to the user.
    Unlinked,
    /// The user has no such identity (or the user does not exist).
    NotFound,
    /// Refused: the user has no password, no passkey and this is their only identity, their
    /// last way in.
    LastWayIn,
}

/// The single-use state of one round trip to an upstream provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FederationState {
    /// Keyed hash of the `state` value sent to the provider (the key).
    pub hash: String,
    /// The connection the round trip goes through.
    pub connection: String,
    /// The authorization transaction the sign-in belongs to, if any.
    pub transaction_id: Option<Uuid>,
    /// The signed-in user linking a provider from their account page, if that is what it is.
    pub user_id: Option<Uuid>,
    /// Keyed hash binding it to the browser that started it.
    pub browser: String,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops being valid.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}
