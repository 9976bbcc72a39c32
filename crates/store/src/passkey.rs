//! Records of passkeys (WebAuthn credentials) and of the ceremonies that register and use them.
//! The store keeps what it is given: the credential as webauthn-rs serialises it and the
//! ceremony state, both as JSON text it does not read.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// A passkey registered to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPasskey {
    /// Its id (the account center names it by this).
    pub id: Uuid,
    /// Whose.
    pub user_id: Uuid,
    /// The WebAuthn credential id, base64url without padding (unique).
    pub credential_id: String,
    /// The credential as webauthn-rs serialises it (public key, counter, flags; no secret).
    #[serde(skip)]
    pub passkey: String,
    /// The name the user sees and may change.
    pub name: String,
    /// The signature counter after the last assertion (0 for most synced passkeys).
    pub counter: i64,
    /// Whether the credential may be synced to other devices (backup eligible).
    pub backup_eligible: bool,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last signed the user in.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// An assertion that succeeded, to be stored: the credential after it (its new counter and
/// flags), checked against `checked_counter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyUse {
    /// The passkey's id.
    pub id: Uuid,
    /// The counter the assertion was checked against (the stored one when it was read).
    pub checked_counter: i64,
    /// The counter after the assertion.
    pub counter: i64,
    /// The credential after the assertion, when webauthn-rs changed it.
    pub passkey: Option<String>,
    /// Backup eligibility after the assertion.
    pub backup_eligible: bool,
    pub now: OffsetDateTime,
}

/// What removing a passkey did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRemoval {
    /// Removed, with its event.
    Removed,
    /// The user has no passkey with this id.
    NotFound,
    /// Refused: the user has no password, no linked provider and no other passkey.
    LastWayIn,
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CeremonyKind {
    /// Registering a new passkey for a signed-in user.
    Registration,
    /// Signing in with any passkey: the credential says whose it is.
    SignIn,
    /// Proving a known user with one of their passkeys (a second factor).
    KnownUser,
}

impl CeremonyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::SignIn => "sign_in",
            CeremonyKind::KnownUser => "known_user",
        }
    }

    /// Back from the stored name.
    pub fn parse(name: &str) -> Option<CeremonyKind> {
        [
            CeremonyKind::Registration,
            CeremonyKind::SignIn,
            CeremonyKind::KnownUser,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// The state of a ceremony between its two requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCeremony {
    /// Hash of the ceremony's random id (the key).
    pub hash: String,
    pub kind: CeremonyKind,
    /// The user it is for (none for a sign-in, where the credential tells).
    pub user_id: Option<Uuid>,
    /// Hash of the browser's binding (its CSRF cookie).
    pub browser: String,
    /// webauthn-rs's ceremony state as JSON.
    pub state: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}
