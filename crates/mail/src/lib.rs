//! The account mails: verifying an address at sign-up, confirming a new address, the notices
//! that an address or a password changed or an account was deleted, and password resets.
//!
//! A [`Letter`] says who a mail is for, in which language and under which [`Brand`]; its
//! [`LetterKind`] says what it says. The [`Mailer`] renders it (subject, plain text and HTML,
//! English or French, templates of minijinja) and hands it to the SMTP server of
//! [`MailSettings::smtp_url`], or writes it to the outbox folder when there is none (the code
//! or link is then logged, so that development needs no mail server). [`Mailer::send`] does
//! this in the background with retries; [`Mailer::deliver`] once, awaited.
//!
//! With the `testing` feature, [`testing::SmtpSink`] runs a real SMTP server
//! (`scripts/smtp-sink`) for integration tests, and reads back what it received.

mod address;
mod error;
mod letter;
mod locale;
mod mailer;
mod message;
mod render;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use address::{mask_address, parse_address};
pub use error::MailError;
pub use letter::{Brand, Letter, LetterKind};
pub use mailer::{Delivery, Mailer, RetryPolicy, Sending, USER_HEADER};
pub use settings::MailSettings;
