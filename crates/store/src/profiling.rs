//! Progressive-profiling state: policy versions and the draft, per-user prompt state, and the
//! prompt events behind the completion figures.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// What [`Store::publish_policy_if_changed`](crate::Policies::publish_policy_if_changed) did.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyPublication {
    /// The document was published as this new version.
    New(PolicyVersion),
    /// The version in force is already this document; nothing was published.
    Unchanged(PolicyVersion),
}

/// A published version of the policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyVersion {
    /// 1, 2, 3, ... in publication order; the highest is the one in force.
    pub version: i64,
    /// The policy document, in the engine's format.
    pub document: Value,
    /// When the document was written.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was published.
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    /// Why it was published (for example "rollback to 3").
    pub note: Option<String>,
}

/// A version without its document, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersionSummary {
    /// Its number.
    pub version: i64,
    /// When it was published.
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    /// Why it was published.
    pub note: Option<String>,
}

/// The one policy draft.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyDraft {
    /// The draft document.
    pub document: Value,
    /// Last saved.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A step was shown to the user.
    #[serde(rename = "prompt.shown")]
    PromptShown,
    /// The user answered a step.
    #[serde(rename = "prompt.answered")]
    PromptAnswered,
    /// The user skipped an optional step.
    #[serde(rename = "prompt.skipped")]
    PromptSkipped,
    /// A shown step was left unanswered until its transaction expired.
    #[serde(rename = "prompt.abandoned")]
    PromptAbandoned,
    /// A profile value changed.
    #[serde(rename = "profile.updated")]
    ProfileUpdated,
    /// An email address was proven to be the user's (a code or link from a mail was used).
    #[serde(rename = "email.verified")]
    EmailVerified,
    /// The account's email address was replaced by a verified new one.
    #[serde(rename = "email.changed")]
    EmailChanged,
    /// The password was changed by its owner (who knew the current one).
    #[serde(rename = "password.changed")]
    PasswordChanged,
    /// The password was replaced through a reset link.
    #[serde(rename = "password.reset")]
    PasswordReset,
    /// A session or an application's refresh tokens were revoked by the user.
    #[serde(rename = "session.revoked")]
    SessionRevoked,
    /// The user deleted their account (recorded without a user: the user is gone).
    #[serde(rename = "account.deleted")]
    AccountDeleted,
    /// A second factor was added (its first code was right).
    #[serde(rename = "mfa.enrolled")]
    MfaEnrolled,
    /// A second factor was removed by its owner.
    #[serde(rename = "mfa.removed")]
    MfaRemoved,
    /// A wrong second-factor code (authenticator app, text message or recovery code).
    #[serde(rename = "mfa.failed")]
    MfaFailed,
    /// A recovery code was used (it works no more).
    #[serde(rename = "mfa.recovery_code_used")]
    RecoveryCodeUsed,
    /// New recovery codes replaced the earlier ones.
    #[serde(rename = "mfa.recovery_codes_renewed")]
    RecoveryCodesRenewed,
    /// An administrator removed every second factor of the user.
    #[serde(rename = "mfa.reset")]
    MfaReset,
    /// A phone number was proven to be the user's (the code sent to it was entered):
    /// `phone_number_verified` became true.
    #[serde(rename = "phone.verified")]
    PhoneVerified,
    /// A wrong code was entered for a code sent by text message (to verify a number or to sign
    /// in); the data says for what and how many tries are left.
    #[serde(rename = "phone.code_failed")]
    PhoneCodeFailed,
    /// The user registered a passkey.
    #[serde(rename = "passkey.added")]
    PasskeyAdded,
    /// The user removed a passkey.
    #[serde(rename = "passkey.removed")]
    PasskeyRemoved,
    /// An assertion with one of the user's passkeys was refused.
    #[serde(rename = "passkey.failed")]
    PasskeyFailed,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 22] = [
        EventKind::PromptShown,
        EventKind::PromptAnswered,
        EventKind::PromptSkipped,
        EventKind::PromptAbandoned,
        EventKind::ProfileUpdated,
        EventKind::EmailVerified,
        EventKind::EmailChanged,
        EventKind::PasswordChanged,
        EventKind::PasswordReset,
        EventKind::SessionRevoked,
        EventKind::AccountDeleted,
        EventKind::MfaEnrolled,
        EventKind::MfaRemoved,
        EventKind::MfaFailed,
        EventKind::RecoveryCodeUsed,
        EventKind::RecoveryCodesRenewed,
        EventKind::MfaReset,
        EventKind::PhoneVerified,
        EventKind::PhoneCodeFailed,
        EventKind::PasskeyAdded,
        EventKind::PasskeyRemoved,
        EventKind::PasskeyFailed,
    ];

    /// The event's name (`prompt.shown`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PromptShown => "prompt.shown",
            EventKind::PromptAnswered => "prompt.answered",
            EventKind::PromptSkipped => "prompt.skipped",
            EventKind::PromptAbandoned => "prompt.abandoned",
            EventKind::ProfileUpdated => "profile.updated",
            EventKind::EmailVerified => "email.verified",
            EventKind::EmailChanged => "email.changed",
            EventKind::PasswordChanged => "password.changed",
            EventKind::PasswordReset => "password.reset",
            EventKind::SessionRevoked => "session.revoked",
            EventKind::AccountDeleted => "account.deleted",
            EventKind::MfaEnrolled => "mfa.enrolled",
            EventKind::MfaRemoved => "mfa.removed",
            EventKind::MfaFailed => "mfa.failed",
            EventKind::RecoveryCodeUsed => "mfa.recovery_code_used",
            EventKind::RecoveryCodesRenewed => "mfa.recovery_codes_renewed",
            EventKind::MfaReset => "mfa.reset",
            EventKind::PhoneVerified => "phone.verified",
            EventKind::PhoneCodeFailed => "phone.code_failed",
            EventKind::PasskeyAdded => "passkey.added",
            EventKind::PasskeyRemoved => "passkey.removed",
            EventKind::PasskeyFailed => "passkey.failed",
        }
    }

    /// The webhook event type this event is delivered as (docs/webhooks.md), if any: every kind
    /// under its own name, but `profile.updated` (value changes are `user.updated`, written with
    /// the change) and `account.deleted` (the deletion is `user.deleted`).
    pub fn webhook_type(self) -> Option<&'static str> {
        match self {
            EventKind::ProfileUpdated | EventKind::AccountDeleted => None,
            other => Some(other.as_str()),
        }
    }

    /// Back from the name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// To whom.
    pub user_id: Uuid,
    /// Which step (required for the `prompt.*` kinds).
    pub step: Option<String>,
    /// In which client, if any.
    pub client_id: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// For a skip: the user's sign-in count at that moment (drives "re-ask after N sign-ins").
    pub logins: Option<i64>,
    /// Anything else worth delivering (fields answered, keys changed...); a JSON object.
    pub data: Value,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Increasing sequence number.
    pub seq: i64,
    /// What happened.
    pub kind: EventKind,
    /// To whom (`None` once the user is deleted).
    pub user_id: Option<Uuid>,
    /// Which step.
    pub step: Option<String>,
    /// In which client.
    pub client_id: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Extra data.
    pub data: Value,
}

/// Per user and step: how often it was shown, skipped and answered, and when last. Read back
/// as Accrete's export writes it (`accrete users import --format jsonl`): a member left out is
/// zero, none or empty; an unknown member is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptState {
    /// The step.
    pub step: String,
    /// Times shown.
    #[serde(default)]
    pub shown: i64,
    /// Times skipped.
    #[serde(default)]
    pub skipped: i64,
    /// Times answered.
    #[serde(default)]
    pub answered: i64,
    /// Last shown.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_shown_at: Option<OffsetDateTime>,
    /// Last skipped.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_skipped_at: Option<OffsetDateTime>,
    /// Last answered.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_answered_at: Option<OffsetDateTime>,
    /// The user's sign-in count at the last skip.
    #[serde(default)]
    pub logins_at_last_skip: Option<i64>,
    /// Keys of the fields the user left blank when answering the step (from the `declined`
    /// member of `prompt.answered` events' data, accumulated).
    #[serde(default)]
    pub declined: Vec<String>,
}

/// Completion figures of one step over a time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepStats {
    /// The step.
    pub step: String,
    /// `prompt.shown` events.
    pub shown: i64,
    /// `prompt.answered` events.
    pub answered: i64,
    /// `prompt.skipped` events.
    pub skipped: i64,
    /// `prompt.abandoned` events.
    pub abandoned: i64,
}

/// A user with everything the decision engine reads about them: the record, the prompt state
/// per step and the provenance of each value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserState {
    /// The user record.
    pub user: crate::User,
    /// Prompt state per step, by step.
    pub prompts: Vec<PromptState>,
    /// Provenance of each stored value.
    pub provenance: Vec<crate::Provenance>,
}

/// What one step of profiling writes (a prompt answered, skipped or shown), in one database
/// transaction: nothing is written unless all of it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfilingWrite {
    /// The user the changes and the event are about.
    pub user_id: Uuid,
    /// The authorization transaction, updated exactly as
    /// [`update_transaction`](crate::AuthTransactions::update_transaction) does (checked against its
    /// `version`), if any.
    pub transaction: Option<crate::AuthTransaction>,
    /// Key changes of the user's values, with history and provenance, as
    /// [`apply_profile_changes`](crate::Users::apply_profile_changes) without an expected
    /// version (empty: none).
    pub changes: Vec<crate::ProfileChange>,
    /// The source recorded with the changes (history and provenance).
    pub source: String,
    /// The event recorded (and the prompt state moved) as
    /// [`record_prompt_event`](crate::Prompts::record_prompt_event), if any; its `user_id` must be
    /// `user_id`.
    pub event: Option<NewEvent>,
    /// When the changes are made.
    pub now: OffsetDateTime,
}

/// What [`ProfilingWrite`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfilingWritten {
    /// The updated transaction (version + 1), when one was given.
    pub transaction: Option<crate::AuthTransaction>,
    /// The user after the changes, when changes were given.
    pub user: Option<crate::User>,
    /// The prompt state the event moved, when it moves one.
    pub prompt: Option<PromptState>,
}
