//! What can go wrong with a text message: its settings, its delivery.

/// Why a message could not be sent. Each message is one line, names the setting or the message
/// concerned, and never holds the secret or a code; numbers are masked (`+33******78`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// A setting is invalid; `setting` is its name in the configuration (`sms.url`).
    #[error("{setting}: {message}")]
    Settings {
        /// The setting, as `sms.<key>`.
        setting: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A message could not be handed to the relay or written to the outbox.
    #[error("the {purpose} text message to {recipient} was not delivered: {message}")]
    Delivery {
        /// What it was for (`verify_phone`, `sign_in`).
        purpose: &'static str,
        /// The number, masked.
        recipient: String,
        /// What the relay or the system said.
        message: String,
        /// Whether trying again cannot help (the relay refused the message with a 4xx).
        permanent: bool,
    },
}

impl SmsError {
    /// Whether sending the same message again may succeed: only a delivery that failed for a
    /// passing reason (the relay unreachable, busy (429, 5xx) or slow, a full disk).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SmsError::Delivery {
                permanent: false,
                ..
            }
        )
    }
}
