//! Records of second factors: authenticator apps and phones that receive sign-in codes, and
//! recovery codes.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// What kind of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// An authenticator app (TOTP, RFC 6238).
    Totp,
    /// A phone that receives a code by text message.
    Sms,
}

impl FactorKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
            FactorKind::Sms => "sms",
        }
    }

    /// Back from the stored name.
    pub fn parse(name: &str) -> Option<FactorKind> {
        [FactorKind::Totp, FactorKind::Sms]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// A second factor of a user, confirmed or being enrolled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Factor {
    /// Its id (also what its sealed secret is bound to).
    pub id: Uuid,
    /// Whose.
    pub user_id: Uuid,
    /// What kind.
    pub kind: FactorKind,
    /// The name the user sees ("Authenticator app", the phone's masked number).
    pub label: String,
    /// A TOTP secret sealed with the server's key-encryption key; never serialized.
    #[serde(skip)]
    pub sealed_secret: Option<Vec<u8>>,
    /// The phone number of an SMS factor (E.164).
    pub phone: Option<String>,
    /// When the enrolment started.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its first code was right (`None`: enrolment in progress, it does not count yet).
    #[serde(with = "time::serde::rfc3339::option")]
    pub confirmed_at: Option<OffsetDateTime>,
    /// When a code of it was last accepted.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// The last TOTP time step accepted (a code works once).
    #[serde(skip)]
    pub last_step: i64,
}

impl Factor {
    /// Whether it counts (its enrolment was confirmed).
    pub fn confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// A factor whose enrolment starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFactor {
    /// Its id.
    pub id: Uuid,
    /// Whose.
    pub user_id: Uuid,
    /// What kind.
    pub kind: FactorKind,
    /// The name the user sees.
    pub label: String,
    /// The sealed TOTP secret.
    pub sealed_secret: Option<Vec<u8>>,
    /// The phone number of an SMS factor.
    pub phone: Option<String>,
    /// When.
    pub now: OffsetDateTime,
}

/// What confirming an enrolment stores with the factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorConfirmation {
    /// Whose.
    pub user_id: Uuid,
    /// The factor being enrolled.
    pub factor_id: Uuid,
    /// The TOTP step of the confirming code (so that the same code cannot sign in).
    pub step: i64,
    /// Keyed hashes of new recovery codes, replacing any earlier ones (`None`: keep them).
    pub recovery_codes: Option<Vec<String>>,
    /// When.
    pub now: OffsetDateTime,
}
