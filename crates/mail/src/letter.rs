//! The mails the application sends, as data: who to, in which language, under which brand, and
//! what they say.

use time::OffsetDateTime;

/// One mail to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// The recipient's address.
    pub to: String,
    /// `en` or `fr` (a region such as `fr-CA` counts as its language); anything else is
    /// English.
    pub locale: String,
    /// Whose name and colours the mail wears.
    pub brand: Brand,
    /// What the mail says.
    pub kind: LetterKind,
    /// The account the mail is about, when there is one: its copy in the outbox folder says so
    /// (`X-Accrete-User`), and that account's erasure removes it, whatever address it went to
    /// (an earlier one, a new one never confirmed).
    pub user: Option<uuid::Uuid>,
}

/// Whose mail it is: the product's name in the header, subject and texts; an accent colour on
/// the button and header rule; a logo in the header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Brand {
    /// The product's name; the sender's name (`email.from_name`) when empty.
    pub product_name: String,
    /// `#rrggbb` (or `#rgb`); anything else is ignored and the default colour used.
    pub accent_color: Option<String>,
    /// An `https://` (or `http://`) image; anything else is ignored.
    pub logo_url: Option<String>,
}

/// What a mail says. Codes, links and expiry times come from the use-case that sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LetterKind {
    /// At sign-up: confirm the address, with a code to type or a link to open.
    VerifyEmail {
        /// The code to type (six digits).
        code: String,
        /// The link that confirms the address when opened.
        link: String,
        /// When the code and the link stop working.
        expires_at: OffsetDateTime,
    },
    /// Sent to the new address when a person changes theirs: confirm it.
    ConfirmNewEmail {
        /// The code to type (six digits).
        code: String,
        /// The link that confirms the address when opened.
        link: String,
        /// When the code and the link stop working.
        expires_at: OffsetDateTime,
    },
    /// Sent to the old address once the change is done: the account's address is now
    /// `new_email`; if this was not them, they should act.
    EmailChanged {
        /// The account's new address.
        new_email: String,
    },
    /// A password reset was asked: the link works once, until `expires_at`; if it was not
    /// them, nothing changes.
    PasswordReset {
        /// The link to the page where a new password is chosen.
        link: String,
        /// When the link stops working.
        expires_at: OffsetDateTime,
    },
    /// The account's password was changed.
    PasswordChanged,
    /// The account was deleted.
    AccountDeleted,
}

impl LetterKind {
    /// The kind's name in logs, errors and the texts' keys: `verify_email`,
    /// `confirm_new_email`, `email_changed`, `password_reset`, `password_changed`,
    /// `account_deleted`.
    pub fn name(&self) -> &'static str {
        match self {
            LetterKind::VerifyEmail { .. } => "verify_email",
            LetterKind::ConfirmNewEmail { .. } => "confirm_new_email",
            LetterKind::EmailChanged { .. } => "email_changed",
            LetterKind::PasswordReset { .. } => "password_reset",
            LetterKind::PasswordChanged => "password_changed",
            LetterKind::AccountDeleted => "account_deleted",
        }
    }

    /// The code the mail carries, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            LetterKind::VerifyEmail { code, .. } | LetterKind::ConfirmNewEmail { code, .. } => {
                Some(code)
            }
            _ => None,
        }
    }

    /// The link the mail carries, if any.
    pub fn link(&self) -> Option<&str> {
        match self {
            LetterKind::VerifyEmail { link, .. }
            | LetterKind::ConfirmNewEmail { link, .. }
            | LetterKind::PasswordReset { link, .. } => Some(link),
            _ => None,
        }
    }

    /// When the code or link stops working, if the mail has one.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        match self {
            LetterKind::VerifyEmail { expires_at, .. }
            | LetterKind::ConfirmNewEmail { expires_at, .. }
            | LetterKind::PasswordReset { expires_at, .. } => Some(*expires_at),
            _ => None,
        }
    }
}
