//! Text messages with a code: verifying a phone number, and the code that signs a person in.
//!
//! A [`TextMessage`] says who it is for (an E.164 number), in which language, under which
//! product name, for what ([`SmsPurpose`]) and with which code. The [`SmsSender`] renders its
//! body (English or French) and posts it as signed JSON to the relay of [`SmsSettings::url`]
//! (Standard Webhooks signatures: any SMS provider can sit behind a small relay), or appends it
//! to the outbox file `<data>/outbox/sms.jsonl` when there is none, logging that the code was
//! written there (development needs no SMS provider). [`SmsSender::send`] does this in the
//! background with retries; [`SmsSender::deliver`] once, awaited.
//!
//! With the `testing` feature, [`testing::SmsReceiver`] runs a real HTTP relay for integration
//! tests: it checks each signature and hands the messages over.

mod error;
mod message;
mod number;
mod sender;
mod settings;
mod signature;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::SmsError;
pub use message::{SmsPurpose, TextMessage, WireMessage, body};
pub use number::mask_number;
pub use sender::{Delivery, RetryPolicy, Sending, SmsSender};
pub use settings::SmsSettings;
pub use signature::{SigningSecret, sign, verify};
