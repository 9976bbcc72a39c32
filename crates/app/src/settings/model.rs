//! The operator's settings as values: what the server defaults to, and the lifetimes of what
//! it issues. Read from the configuration by the server, held by [`crate::App`].

use serde::{Deserialize, Serialize};
use time::Duration;

/// Whether a new account's email address is verified by a code before it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailVerification {
    /// Never asked.
    Off,
    /// Offered; the account works without it.
    #[default]
    Optional,
    /// Asked before the account is used.
    Required,
}

impl EmailVerification {
    /// Every value, in the order they are documented.
    pub const ALL: [EmailVerification; 3] = [
        EmailVerification::Off,
        EmailVerification::Optional,
        EmailVerification::Required,
    ];

    /// The value as written in the configuration, the API and the store (`"required"`).
    pub fn as_str(self) -> &'static str {
        match self {
            EmailVerification::Off => "off",
            EmailVerification::Optional => "optional",
            EmailVerification::Required => "required",
        }
    }

    /// The value written `text` (`None`: no such value).
    pub fn parse(text: &str) -> Option<EmailVerification> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

/// When a second factor is asked at sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaMode {
    /// Never (unless the relying party asks for it with `acr_values`).
    Off,
    /// When the user has one.
    #[default]
    IfEnrolled,
    /// Always: a user without one sets one up before the code.
    Required,
}

impl MfaMode {
    /// Every value, in the order they are documented.
    pub const ALL: [MfaMode; 3] = [MfaMode::Off, MfaMode::IfEnrolled, MfaMode::Required];

    /// The value as written in the configuration, the API and the store (`"if_enrolled"`).
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMode::Off => "off",
            MfaMode::IfEnrolled => "if_enrolled",
            MfaMode::Required => "required",
        }
    }

    /// The value written `text` (`None`: no such value).
    pub fn parse(text: &str) -> Option<MfaMode> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

/// The server's second-factor settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaSettings {
    /// When a second factor is asked, for clients without a rule of their own.
    pub mode: MfaMode,
    /// How long a session's second factor counts for single sign-on; a relying party's
    /// `max_age` can make it shorter.
    pub max_age: Duration,
}

impl Default for MfaSettings {
    fn default() -> Self {
        MfaSettings {
            mode: MfaMode::default(),
            max_age: Duration::hours(12),
        }
    }
}

/// How long what the server issues lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// An access token.
    pub access_token: Duration,
    /// An ID token.
    pub id_token: Duration,
    /// A refresh token's grant, counted from the grant's first token (rotation does not extend
    /// it).
    pub refresh_token: Duration,
    /// A refresh token not used for this long is refused (`None`: only the absolute lifetime).
    pub refresh_token_idle: Option<Duration>,
    /// A single sign-on session, counted from the sign-in.
    pub sso_session: Duration,
    /// A session not used for this long asks to sign in again (`None`: only the absolute
    /// lifetime).
    pub sso_session_idle: Option<Duration>,
    /// An authorization transaction: the time a person has to sign in and answer prompts.
    pub transaction: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            access_token: Duration::minutes(15),
            id_token: Duration::hours(1),
            refresh_token: Duration::days(30),
            refresh_token_idle: None,
            sso_session: Duration::days(14),
            sso_session_idle: None,
            transaction: Duration::minutes(30),
        }
    }
}

/// The server-wide settings of accounts and lifetimes (a client may override the account
/// settings; see [`super::self_signup_for`] and [`super::email_verification_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Whether people may create their own account (administrators always may).
    pub self_signup: bool,
    /// Whether a new account's email address is verified.
    pub email_verification: EmailVerification,
    /// How long what the server issues lasts.
    pub lifetimes: Lifetimes,
    /// Second factors.
    pub mfa: MfaSettings,
    /// How long the past is kept.
    pub retention: Retention,
}

/// How long the history of values and the account and prompt events are kept (docs/data-rights.md);
/// `None`: for good. Purged by the sweeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Entries of `profile_history` older than this are deleted (the current values and their
    /// sources stay).
    pub history: Option<Duration>,
    /// Events (`prompt.*`, `account.*`, ...) older than this are deleted (the funnel of older
    /// periods then counts fewer).
    pub events: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            self_signup: true,
            email_verification: EmailVerification::default(),
            lifetimes: Lifetimes::default(),
            mfa: MfaSettings::default(),
            retention: Retention::default(),
        }
    }
}
