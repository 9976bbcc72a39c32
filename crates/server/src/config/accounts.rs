//! The `[accounts]` table: whether people may create their own account, and whether a new
//! account's email address is verified. A client may override both (its `self_signup` and
//! `email_verification`; see `accrete_app::settings`).

use accrete_app::settings::{EmailVerification, Settings};
use serde::{Deserialize, Serialize};

/// The `[accounts]` settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountsSettings {
    /// Whether people may create their own account (administrators always may, through the
    /// API and the command line).
    pub self_signup: bool,
    /// `off`, `optional` or `required`.
    pub email_verification: EmailVerification,
}

impl Default for AccountsSettings {
    fn default() -> Self {
        let defaults = Settings::default();
        AccountsSettings {
            self_signup: defaults.self_signup,
            email_verification: defaults.email_verification,
        }
    }
}

/// The `[accounts]` table of a layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsLayer {
    pub self_signup: Option<bool>,
    pub email_verification: Option<EmailVerification>,
}

impl AccountsLayer {
    /// Returns `self` with unset keys taken from `lower`.
    pub(super) fn over(self, lower: AccountsLayer) -> AccountsLayer {
        AccountsLayer {
            self_signup: self.self_signup.or(lower.self_signup),
            email_verification: self.email_verification.or(lower.email_verification),
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
        }
    }
}
