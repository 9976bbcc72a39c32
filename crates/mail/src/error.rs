//! What can go wrong with a mail: its settings, its rendering, its delivery.

/// Why a mail could not be prepared or sent. Each message is one line, names the setting or the
/// mail concerned, and never holds a password, a code or a link; recipients are masked
/// (`a***@example.com`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// A setting is invalid; `setting` is its name in the configuration (`email.smtp_url`).
    #[error("{setting}: {message}")]
    Settings {
        /// The setting, as `email.<key>`.
        setting: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// An address is not one a mail can be sent to.
    #[error("{address} is not a valid email address: {message}")]
    Address {
        /// The address, masked.
        address: String,
        /// Why it was refused.
        message: String,
    },
    /// A mail could not be rendered: a bug (a missing text, a broken template, a link that is
    /// not an http(s) URL), never the recipient's fault.
    #[error("the {letter} mail could not be rendered: {message}")]
    Render {
        /// The kind of mail (`verify_email`, ...).
        letter: &'static str,
        /// What failed.
        message: String,
    },
    /// A mail could not be handed to the SMTP server or written to the outbox.
    #[error("the {letter} mail to {recipient} was not delivered: {message}")]
    Delivery {
        /// The kind of mail (`verify_email`, ...).
        letter: &'static str,
        /// The recipient, masked.
        recipient: String,
        /// What the server or the system said.
        message: String,
        /// Whether trying again cannot help (the server refused for good, a 5xx reply).
        permanent: bool,
    },
}

impl MailError {
    /// Whether sending the same mail again may succeed: only a delivery that failed for a
    /// passing reason (the server unreachable or busy, a timeout, a full disk).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            MailError::Delivery {
                permanent: false,
                ..
            }
        )
    }
}
