//! The `[accounts]` table: whether people may create their own account, and whether a new
//! account's email address is verified. A client may override both (its `self_signup` and
//! `email_verification`; see `accrete_app::settings`).

use accrete_app::settings::{EmailVerification, MfaMode, Settings};
use accrete_core::HumanDuration;
use serde::{Deserialize, Serialize};

/// The `[accounts]` settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountsSettings {
    /// Whether people may create their own account (administrators always may, through the
    /// API and the command line).
    pub self_signup: bool,
    /// `off`, `optional` or `required`.
    pub email_verification: EmailVerification,
    /// When a second factor is asked: `off`, `if_enrolled` or `required` (a client may have
    /// its own rule).
    pub mfa: MfaMode,
    /// How long a session's second factor counts for single sign-on (a relying party's
    /// `max_age` can make it shorter).
    pub mfa_max_age: HumanDuration,
}

impl Default for AccountsSettings {
    fn default() -> Self {
        let defaults = Settings::default();
        AccountsSettings {
            self_signup: defaults.self_signup,
            email_verification: defaults.email_verification,
            mfa: defaults.mfa.mode,
            mfa_max_age: HumanDuration(defaults.mfa.max_age.unsigned_abs()),
        }
    }
}

impl AccountsSettings {
    /// The second-factor settings as the use-cases take them.
    pub fn mfa(&self) -> accrete_app::settings::MfaSettings {
        accrete_app::settings::MfaSettings {
            mode: self.mfa,
            max_age: time::Duration::try_from(self.mfa_max_age.as_std())
                .unwrap_or(time::Duration::MAX),
        }
    }

    /// Every value out of its bounds, each naming its key.
    pub(super) fn problems(&self) -> Vec<String> {
        let seconds = self.mfa_max_age.as_std().as_secs();
        if !(60..=30 * 86_400).contains(&seconds) {
            return vec![format!(
                "accounts.mfa_max_age: {} is out of bounds (1m to 30days)",
                self.mfa_max_age
            )];
        }
        Vec::new()
    }
}

/// The `[accounts]` table of a layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsLayer {
    pub self_signup: Option<bool>,
    pub email_verification: Option<EmailVerification>,
    pub mfa: Option<MfaMode>,
    pub mfa_max_age: Option<HumanDuration>,
}

impl AccountsLayer {
    /// Returns `self` with unset keys taken from `lower`.
    pub(super) fn over(self, lower: AccountsLayer) -> AccountsLayer {
        AccountsLayer {
            self_signup: self.self_signup.or(lower.self_signup),
            email_verification: self.email_verification.or(lower.email_verification),
            mfa: self.mfa.or(lower.mfa),
            mfa_max_age: self.mfa_max_age.or(lower.mfa_max_age),
        }
    }

    /// The resolved settings, defaults where unset.
    pub(super) fn settings(self) -> AccountsSettings {
        let defaults = AccountsSettings::default();
        AccountsSettings {
            self_signup: self.self_signup.unwrap_or(defaults.self_signup),
            email_verification: self
                .email_verification
                .unwrap_or(defaults.email_verification),
            mfa: self.mfa.unwrap_or(defaults.mfa),
            mfa_max_age: self.mfa_max_age.unwrap_or(defaults.mfa_max_age),
        }
    }
}
