//! The messages, as data (who to, in which language, under which name, for what, with which
//! code), their text in English and French, and the JSON a relay receives.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a code proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsPurpose {
    /// The person holds this number: it becomes the account's verified number.
    VerifyPhone,
    /// The second step of a sign-in, to the account's verified number.
    SignIn,
}

impl SmsPurpose {
    /// The name in the JSON and in logs.
    pub fn name(self) -> &'static str {
        match self {
            SmsPurpose::VerifyPhone => "verify_phone",
            SmsPurpose::SignIn => "sign_in",
        }
    }
}

/// One text message with a code, to one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMessage {
    /// The number, E.164 (`+33612345678`).
    pub to: String,
    /// `en` or `fr` (a region such as `fr-CA` counts as its language); anything else is
    /// English.
    pub locale: String,
    /// The product's name in the text ("Your Acme code ..."); the sender's default when empty.
    pub product_name: String,
    /// What the code is for.
    pub purpose: SmsPurpose,
    /// The code (six digits).
    pub code: String,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// The account the message is about, when there is one: its line in the outbox file says
    /// so (`user`), and that account's erasure removes it ([`crate::SmsSender::forget`]).
    pub user: Option<uuid::Uuid>,
}

/// The JSON body posted to the relay (see docs/phone.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireMessage {
    /// Always `sms`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The message's id, also its `webhook-id` (the same on every attempt: a relay may use it
    /// to send a message once).
    pub id: String,
    /// The number, E.164.
    pub to: String,
    /// The text to send, ready to be sent as it is.
    pub body: String,
    /// The language of `body` (`en`, `fr`).
    pub locale: String,
    /// `verify_phone` or `sign_in`.
    pub purpose: SmsPurpose,
    /// The code in `body`, for relays that fill a template of their own.
    pub code: String,
    /// When the code stops working (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The language a message is written in: `locale`'s primary tag when supported, else English.
pub(crate) fn language(locale: &str) -> &'static str {
    let primary = locale
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if primary == "fr" { "fr" } else { "en" }
}

/// The text of `message` as sent, `now` being the time of sending (for the minutes left).
pub fn body(message: &TextMessage, default_product: &str, now: OffsetDateTime) -> String {
    let product = match message.product_name.trim() {
        "" => default_product.trim(),
        name => name,
    };
    // Rounded up: a code issued a moment ago "is valid for 10 minutes", not 9.
    let seconds = (message.expires_at - now).whole_seconds().max(60);
    let minutes = (seconds + 59) / 60;
    let code = &message.code;
    match (language(&message.locale), message.purpose) {
        ("fr", SmsPurpose::VerifyPhone) => format!(
            "{code} est votre code {product} pour confirmer ce numéro. Il est valable \
             {minutes} minutes. Ne le communiquez à personne."
        ),
        ("fr", SmsPurpose::SignIn) => format!(
            "{code} est votre code de connexion {product}. Il est valable {minutes} minutes. \
             Ne le communiquez à personne."
        ),
        (_, SmsPurpose::VerifyPhone) => format!(
            "{code} is your {product} code to confirm this number. It is valid for {minutes} \
             minutes. Do not share it."
        ),
        (_, SmsPurpose::SignIn) => format!(
            "{code} is your {product} sign-in code. It is valid for {minutes} minutes. Do not \
             share it."
        ),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::{SmsPurpose, TextMessage, body, language};

    fn message(locale: &str, purpose: SmsPurpose) -> TextMessage {
        TextMessage {
            to: "+33612345678".into(),
            locale: locale.into(),
            product_name: String::new(),
            purpose,
            code: "012345".into(),
            expires_at: datetime!(2026-12-03 14:10 UTC),
            user: None,
        }
    }

    #[test]
    fn each_purpose_has_its_text_in_english_and_french_with_the_product_and_the_minutes() {
        let now = datetime!(2026-12-03 14:00:01 UTC);
        let en = body(&message("en-GB", SmsPurpose::VerifyPhone), "Accrete", now);
        assert_eq!(
            en,
            "012345 is your Accrete code to confirm this number. It is valid for 10 minutes. \
             Do not share it."
        );
        let fr = body(&message("fr-CA", SmsPurpose::SignIn), "Accrete", now);
        assert!(
            fr.starts_with("012345 est votre code de connexion Accrete."),
            "{fr}"
        );
        assert!(fr.contains("10 minutes"), "{fr}");
        let mut named = message("de", SmsPurpose::SignIn);
        named.product_name = "Acme ID".into();
        assert!(body(&named, "Accrete", now).contains("your Acme ID sign-in code"));
    }

    #[test]
    fn a_locale_is_its_language_and_anything_unknown_is_english() {
        assert_eq!(language("fr"), "fr");
        assert_eq!(language("FR_be"), "fr");
        assert_eq!(language("de"), "en");
        assert_eq!(language(""), "en");
    }
}
