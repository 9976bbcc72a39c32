//! [`AccountMail`]: what the `App` holds to send the account mail (it imports nothing of the
//! `App`, which holds it).

use accrete_mail::{Brand, Mailer};
use accrete_oidc::secrets::{TokenHasher, random_opaque};
use accrete_sms::SmsSender;

/// How a server sends the account mail: the mailer (none in tests of use-cases that send
/// nothing), the text messages with a phone code (none likewise), the keyed hash of codes and
/// links, and the server's brand.
pub struct AccountMail {
    pub(super) mailer: Option<Mailer>,
    pub(crate) sms: Option<SmsSender>,
    hasher: TokenHasher,
    pub(crate) brand: Brand,
}

impl AccountMail {
    /// Mail sent through `mailer`, proofs hashed with `hasher`, under the server's `brand`
    /// (a client's theme overrides its name, colour and logo).
    pub fn new(mailer: Mailer, hasher: TokenHasher, brand: Brand) -> AccountMail {
        AccountMail {
            mailer: Some(mailer),
            sms: None,
            hasher,
            brand,
        }
    }

    /// No mail is sent (use-cases that send mail log that they could not); proofs are hashed
    /// with a key of this process only.
    pub fn disabled() -> AccountMail {
        AccountMail {
            mailer: None,
            sms: None,
            hasher: TokenHasher::new(random_opaque().as_bytes())
                .unwrap_or_else(|_| unreachable!("43 random characters make a key")),
            brand: Brand {
                product_name: "Accrete".into(),
                accent_color: None,
                logo_url: None,
            },
        }
    }

    /// The same, with phone codes sent as text messages through `sms`.
    #[must_use]
    pub fn with_sms(mut self, sms: SmsSender) -> AccountMail {
        self.sms = Some(sms);
        self
    }

    /// Forgets what the mailer and the text sender kept about the erased account `user` (their
    /// outbox folder, when there is no SMTP server or SMS relay): the mails and text messages
    /// about it, whatever address or number they went to, and those sent to its `address` and
    /// `number` before the outbox named the account. Part of a person's erasure. A failure is
    /// logged, not returned: the person is deleted already.
    pub(crate) async fn forget(&self, user: uuid::Uuid, address: &str, number: Option<&str>) {
        if let Some(mailer) = &self.mailer {
            logged(mailer.forget(user, address).await, "mails");
        }
        if let Some(sms) = &self.sms {
            let numbers: Vec<String> = number.map(str::to_owned).into_iter().collect();
            logged(sms.forget(user, &numbers).await, "text messages");
        }
    }

    /// The keyed hash of a code or link secret, as stored.
    pub(crate) fn hash(&self, value: &str) -> String {
        self.hasher.hash(value)
    }
}

/// Logs what a forgetting of the erased person's `what` (mails, text messages) did.
fn logged(forgotten: std::io::Result<usize>, what: &str) {
    match forgotten {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "the erased person's {what} left the outbox"),
        Err(error) => tracing::warn!(
            %error,
            "the erased person's {what} could not all be removed from the outbox"
        ),
    }
}
