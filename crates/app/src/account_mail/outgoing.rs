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

    /// Forgets the mails sent to `address` that the mailer kept (its outbox folder, when there
    /// is no SMTP server): part of a person's erasure. A failure is logged, not returned: the
    /// person is deleted already.
    pub(crate) async fn forget(&self, address: &str) {
        let Some(mailer) = &self.mailer else {
            return;
        };
        match mailer.forget(address).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "the erased person's mails left the outbox"),
            Err(error) => tracing::warn!(
                %error,
                "the erased person's mails could not all be removed from the outbox"
            ),
        }
    }

    /// The keyed hash of a code or link secret, as stored.
    pub(crate) fn hash(&self, value: &str) -> String {
        self.hasher.hash(value)
    }
}
