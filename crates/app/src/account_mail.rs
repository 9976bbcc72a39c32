//! The mail the account use-cases send (verification codes, new-address confirmations, reset
//! links, notices), and the proofs in it: what a proof is made of, how it is stored (keyed
//! hashes only) and how often one may be mailed.

use accrete_mail::{Brand, Letter, LetterKind};
use accrete_oidc::secrets::{random_digits, random_opaque};
use accrete_store::{Client, IssueLimits, NewAccountToken, TokenPurpose};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::app::App;

mod outgoing;
pub use outgoing::AccountMail;

/// How long a mailed code or link works.
pub const PROOF_LIFETIME: Duration = Duration::minutes(30);
/// How long a code sent by text message works.
pub const PHONE_CODE_LIFETIME: Duration = Duration::minutes(10);
/// Wrong codes after which a code stops working (a new one must be asked).
pub const MAX_CODE_ATTEMPTS: i64 = 5;
/// How often a proof of one purpose may be mailed to one account: a minute apart, five an hour.
pub const MAIL_LIMITS: IssueLimits = IssueLimits {
    interval: Duration::minutes(1),
    per_hour: 5,
};
/// How often a code of one purpose may be sent by text message to one account: as mails, a
/// minute apart and five an hour (each costs the operator money).
pub const TEXT_LIMITS: IssueLimits = MAIL_LIMITS;
/// Digits of a mailed code.
const CODE_DIGITS: u32 = 6;

/// A fresh proof: what is mailed (`code`, `secret` of the link) and what is stored.
pub(crate) struct Proof {
    /// The code to type (when the mail has one).
    pub code: Option<String>,
    /// The secret of the link.
    pub secret: String,
    /// The stored form.
    pub token: NewAccountToken,
}

/// Makes a proof of `purpose` for `user_id`, mailed to `email`.
pub(crate) fn new_proof(
    app: &App,
    user_id: Uuid,
    purpose: TokenPurpose,
    email: &str,
    with_code: bool,
    now: OffsetDateTime,
) -> Proof {
    let code = with_code.then(|| random_digits(CODE_DIGITS));
    let secret = random_opaque();
    let token = NewAccountToken {
        id: Uuid::new_v4(),
        user_id,
        purpose,
        email: email.to_owned(),
        code_hash: code.as_deref().map(|code| app.mail.hash(code)),
        link_hash: app.mail.hash(&secret),
        created_at: now,
        expires_at: now + lifetime(purpose),
    };
    Proof {
        code,
        secret,
        token,
    }
}

/// How long a proof of `purpose` works: text messages are read at once, mails may wait.
pub fn lifetime(purpose: TokenPurpose) -> Duration {
    match purpose {
        TokenPurpose::VerifyPhone | TokenPurpose::SignInSms => PHONE_CODE_LIFETIME,
        TokenPurpose::VerifyEmail | TokenPurpose::ChangeEmail | TokenPurpose::ResetPassword => {
            PROOF_LIFETIME
        }
    }
}

/// Sends a text message about the account `user` to `to` with a code and when it stops
/// working, under `client`'s brand name when known. Never waits for the relay: delivery
/// happens after the caller's transaction, retried by the sender. The outbox file's line
/// names `user`, whose erasure removes it ([`AccountMail::forget`]).
pub(crate) fn send_text(
    app: &App,
    (user, to): (Uuid, &str),
    locale: &str,
    client: Option<&Client>,
    purpose: accrete_sms::SmsPurpose,
    (code, expires_at): (String, OffsetDateTime),
) {
    let Some(sender) = &app.mail.sms else {
        tracing::warn!("no SMS sender: a text message with a code was not sent");
        return;
    };
    sender.send(accrete_sms::TextMessage {
        to: to.to_owned(),
        locale: locale.to_owned(),
        product_name: brand_for(app, client).product_name,
        purpose,
        code,
        expires_at,
        user: Some(user),
    });
}

/// A code as typed (spaces and dashes allowed between digits), if it can be one.
pub(crate) fn typed_code(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (digits.len() == CODE_DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// A link to this server's `path` (starting with `/`) with its query.
pub(crate) fn link(app: &App, path_and_query: &str) -> String {
    format!("{}{path_and_query}", app.issuer().trim_end_matches('/'))
}

/// Sends `kind` about the account `user` to `to` in `locale`, under `client`'s brand when
/// known. Never waits for the mail server: delivery happens after the caller's transaction,
/// retried by the mailer. The outbox folder's copy names `user`, whose erasure removes it
/// ([`AccountMail::forget`]).
pub(crate) fn send(
    app: &App,
    user: Uuid,
    to: &str,
    locale: &str,
    client: Option<&Client>,
    kind: LetterKind,
) {
    let Some(mailer) = &app.mail.mailer else {
        tracing::warn!("no mailer: an account mail was not sent");
        return;
    };
    mailer.send(Letter {
        to: to.to_owned(),
        locale: locale.to_owned(),
        brand: brand_for(app, client),
        kind,
        user: Some(user),
    });
}

/// The server's brand with what `client`'s theme overrides.
fn brand_for(app: &App, client: Option<&Client>) -> Brand {
    let mut brand = app.mail.brand.clone();
    let Some(theme) = client.map(|c| &c.theme) else {
        return brand;
    };
    let text = |key: &str| theme.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    if let Some(name) = text("brand") {
        brand.product_name = name;
    }
    if let Some(colour) = text("primary") {
        brand.accent_color = Some(colour);
    }
    if let Some(logo) = text("logo_url") {
        // A path on this server is made absolute: a mail is read elsewhere.
        brand.logo_url = Some(if logo.starts_with('/') {
            link(app, &logo)
        } else {
            logo
        });
    }
    brand
}

#[cfg(test)]
mod tests {
    use super::typed_code;

    #[test]
    fn a_typed_code_may_have_spaces_and_dashes_but_only_six_digits() {
        assert_eq!(typed_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(typed_code("123-456").as_deref(), Some("123456"));
        assert_eq!(typed_code("12345"), None);
        assert_eq!(typed_code("1234567"), None);
        assert_eq!(typed_code("12a456"), None);
        assert_eq!(typed_code("١٢٣٤٥٦"), None);
    }
}
