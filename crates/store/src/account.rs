//! Records of the proofs Accrete sends by mail or text message: verification codes and links,
//! the confirmation of a new address, password reset links, phone codes (verifying a number,
//! signing in).

use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// What a mailed proof is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// Proves the account's current address: `email_verified` becomes true.
    VerifyEmail,
    /// Proves a new address, which then replaces the account's address (verified).
    ChangeEmail,
    /// Lets the holder of the account's mailbox set a new password.
    ResetPassword,
    /// Proves a phone number (sent by text message): `phone_number_verified` becomes true.
    VerifyPhone,
    /// The code of a sign-in's second step, sent by text message to the verified number.
    SignInSms,
}

impl TokenPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "verify_email",
            TokenPurpose::ChangeEmail => "change_email",
            TokenPurpose::ResetPassword => "reset_password",
            TokenPurpose::VerifyPhone => "verify_phone",
            TokenPurpose::SignInSms => "sign_in_sms",
        }
    }

    /// Back from the stored name.
    pub fn parse(name: &str) -> Option<TokenPurpose> {
        [
            TokenPurpose::VerifyEmail,
            TokenPurpose::ChangeEmail,
            TokenPurpose::ResetPassword,
            TokenPurpose::VerifyPhone,
            TokenPurpose::SignInSms,
        ]
        .into_iter()
        .find(|purpose| purpose.as_str() == name)
    }

    /// The event a wrong code of this purpose records (in the transaction that counts it).
    pub fn failure_event(self) -> Option<crate::EventKind> {
        match self {
            TokenPurpose::VerifyPhone | TokenPurpose::SignInSms => {
                Some(crate::EventKind::PhoneCodeFailed)
            }
            TokenPurpose::VerifyEmail | TokenPurpose::ChangeEmail | TokenPurpose::ResetPassword => {
                None
            }
        }
    }
}

/// A proof about to be mailed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAccountToken {
    /// Its id.
    pub id: Uuid,
    /// Whose account.
    pub user_id: Uuid,
    /// What it proves.
    pub purpose: TokenPurpose,
    /// The address it is mailed to (the new one for [`TokenPurpose::ChangeEmail`]), or the
    /// phone number (E.164) a phone code is sent to.
    pub email: String,
    /// Keyed hash of the code typed by hand, if the mail has one.
    pub code_hash: Option<String>,
    /// Keyed hash of the secret in the mailed link (a phone code has no link: the hash of a
    /// secret never sent, so that the column stays unique).
    pub link_hash: String,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

/// How often proofs of one purpose may be mailed to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueLimits {
    /// Time between two mails.
    pub interval: Duration,
    /// Mails in any hour.
    pub per_hour: i64,
}

/// What issuing a proof did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issued {
    /// Stored; the earlier live proofs of the same purpose no longer work.
    Issued,
    /// Too soon after the last one, or too many this hour: nothing stored.
    TooSoon {
        /// When another may be issued.
        retry_at: OffsetDateTime,
    },
}

/// A stored proof, as its holder may learn of it (no hashes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountToken {
    /// Its id.
    pub id: Uuid,
    /// Whose account.
    pub user_id: Uuid,
    /// What it proves.
    pub purpose: TokenPurpose,
    /// The address it was mailed to, or the number a phone code was sent to.
    pub email: String,
    /// Wrong codes typed so far.
    pub attempts: i64,
    /// When it was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// How a proof is presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// A code typed by the signed-in user: the live proof of that purpose is checked.
    Code {
        /// The account.
        user_id: Uuid,
        /// Keyed hash of the code as typed.
        code_hash: String,
        /// Wrong codes after which the proof stops working.
        max_attempts: i64,
    },
    /// The secret of a mailed link (its keyed hash).
    Link {
        /// Keyed hash of the link's secret.
        link_hash: String,
    },
}

/// What a used proof does, in the transaction that uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEffect {
    /// The account's address is verified (if it is still the one the proof was mailed to).
    VerifyEmail,
    /// The address the proof was mailed to becomes the account's, verified.
    ChangeEmail,
    /// The password becomes this hash; every SSO session of the user ends and every grant
    /// (with its refresh tokens) is revoked.
    ResetPassword {
        /// The new password's hash.
        password_hash: String,
    },
    /// The number the code was sent to is proven: `phone_number_verified` becomes true in the
    /// profile, with source `sms` (history and provenance). With `store_number` the number
    /// also becomes the profile's `phone_number` (a number entered on a prompt, not stored
    /// before); without, the profile's number must still be the one the code was sent to
    /// (else the proof is spent and nothing changes).
    VerifyPhone {
        /// Whether to store the number as the profile's `phone_number`.
        store_number: bool,
    },
    /// A sign-in's second step: the code is used up, nothing else changes.
    SignInSms,
}

impl TokenEffect {
    /// The purpose of the proofs that have this effect.
    pub fn purpose(&self) -> TokenPurpose {
        match self {
            TokenEffect::VerifyEmail => TokenPurpose::VerifyEmail,
            TokenEffect::ChangeEmail => TokenPurpose::ChangeEmail,
            TokenEffect::ResetPassword { .. } => TokenPurpose::ResetPassword,
            TokenEffect::VerifyPhone { .. } => TokenPurpose::VerifyPhone,
            TokenEffect::SignInSms => TokenPurpose::SignInSms,
        }
    }
}

/// What presenting a proof did.
#[derive(Debug, Clone, PartialEq)]
pub enum Redeemed {
    /// The proof was right: it is used up, its effect applied and its event recorded, in one
    /// transaction. `previous_email`: the account's address before the change.
    Done {
        /// The proof.
        token: AccountToken,
        /// The account's address before (differs from `token.email` after a change).
        previous_email: String,
    },
    /// A wrong code: counted. `attempts_left` more may be tried.
    WrongCode {
        /// Codes that may still be tried.
        attempts_left: i64,
    },
    /// No live proof: never issued, used, replaced by a newer one, expired, or too many wrong
    /// codes.
    Invalid,
    /// The new address belongs to another account by now: nothing changed (the proof is used).
    EmailTaken,
}

/// The event a used proof records (kind and data; the store adds the user and the time).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEvent {
    /// What happened.
    pub kind: crate::EventKind,
    /// In which client, if any.
    pub client_id: Option<String>,
    /// A JSON object.
    pub data: Value,
}
