//! A rendered letter as an Internet message, built with lettre's types: `From`, `To`,
//! `Subject`, `Date`, `Message-ID`, the language, and the text and HTML alternatives.

use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use crate::error::MailError;
use crate::render::Rendered;

/// Builds the message of `rendered` from `from` to `to`; the `Message-ID` is on the sender's
/// domain.
pub fn build(
    letter: &'static str,
    rendered: Rendered,
    from: &Mailbox,
    to: Mailbox,
) -> Result<Message, MailError> {
    let message_id = format!(
        "<{}@{}>",
        uuid::Uuid::new_v4().simple(),
        from.email.domain()
    );
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject)
        .date_now()
        .message_id(Some(message_id))
        .header(ContentLanguage(rendered.language))
        .header(AutoSubmitted)
        .multipart(MultiPart::alternative_plain_html(
            rendered.text,
            rendered.html,
        ))
        .map_err(|error| MailError::Render {
            letter,
            message: error.to_string(),
        })
}

/// `Content-Language` (RFC 3282): the language the mail is written in.
#[derive(Debug, Clone, Copy)]
struct ContentLanguage(&'static str);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        crate::locale::LANGUAGES
            .iter()
            .find(|language| **language == s.trim())
            .map(|language| ContentLanguage(language))
            .ok_or_else(|| format!("not a language of these mails: {s}").into())
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_owned())
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): no out-of-office replies to these mails.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if s.trim() == "auto-generated" {
            Ok(AutoSubmitted)
        } else {
            Err(format!("not auto-generated: {s}").into())
        }
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}
