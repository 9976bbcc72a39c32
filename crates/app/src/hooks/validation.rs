//! Answer validation: before answers (of a prompt step, the account page, `PATCH /me`) are
//! stored, they are POSTed with the user's context to each validation hook of that surface. A
//! reply accepts, refuses with a message per field (one per locale when it gives several), or
//! returns normalised values, which then pass the field's own rules. A hook that fails is
//! skipped (`failure = "open"`) or stops the answer (`"closed"`: nothing is stored).

use accrete_core::{
    Answers, CompiledPolicy, FORM_ERROR_KEY, FieldError, FieldErrors, JsonAnswers,
    validate_json_answers,
};
use accrete_store::User;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::message_in;
use super::spec::{FailureMode, HookKind};
use crate::app::App;

/// Where answers are given: `prompt` (a step, on the hosted page or through the API),
/// `account` (the account page) or `api` (`PATCH /api/v1/me`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Prompt,
    Account,
    Api,
}

impl Surface {
    fn name(self) -> &'static str {
        match self {
            Surface::Prompt => "prompt",
            Surface::Account => "account",
            Surface::Api => "api",
        }
    }
}

/// What the validation hooks made of the answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    /// Store these (normalised by the hooks, checked again by the fields' rules).
    Accepted(Answers),
    /// Refused: a message per field (`_form` for the answer as a whole).
    Refused(FieldErrors),
    /// A fail-closed hook did not answer usably: nothing may be stored.
    Unavailable,
}

/// The answers being checked: by whom, where, which step, in which language.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub user: &'a User,
    pub surface: Surface,
    pub step: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub locale: &'a str,
    pub now: OffsetDateTime,
}

/// Checks `answers` (of the fields `keys`, valid by their rules) with the validation hooks of
/// the surface, in the order of the configuration; the answers unchanged when there are none.
pub async fn check(
    app: &App,
    policy: &CompiledPolicy,
    at: Context<'_>,
    keys: &[&str],
    answers: Answers,
) -> Checked {
    let surface = at.surface.name();
    let mut answers = answers;
    for hook in app
        .hooks
        .of(HookKind::Validation)
        .filter(|h| h.runs_at(surface))
    {
        let given: serde_json::Map<String, Value> = answers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
            .collect();
        let body = json!({
            "type": "validation",
            "hook": hook.name,
            "surface": surface,
            "step": at.step,
            "client_id": at.client_id,
            "locale": at.locale,
            "user": { "id": at.user.id, "email": at.user.email },
            "answers": given,
        });
        let reply = match app.hooks.call(hook, &body).await {
            Ok(reply) => reply,
            Err(_) if hook.failure() == FailureMode::Closed => return Checked::Unavailable,
            Err(_) => continue,
        };
        if let Some(errors) = refusals(&reply, keys, at.locale) {
            return Checked::Refused(errors);
        }
        match normalised(policy, keys, &reply, at.locale, at.now) {
            Ok(values) => answers.extend(values),
            Err(errors) => return Checked::Refused(errors),
        }
    }
    Checked::Accepted(answers)
}

/// The reply's `errors` (field key to a message, or messages by locale), when it has any; a
/// key that is not among the fields asked goes to the form as a whole, as does `message` with
/// `"decision": "reject"`.
fn refusals(reply: &Value, keys: &[&str], locale: &str) -> Option<FieldErrors> {
    let mut errors = FieldErrors::default();
    let add = |errors: &mut FieldErrors, key: &str, message: String| {
        let key = if keys.contains(&key) {
            key
        } else {
            FORM_ERROR_KEY
        };
        errors
            .0
            .entry(key.to_owned())
            .or_default()
            .push(FieldError {
                code: "rejected",
                message,
            });
    };
    if let Some(by_field) = reply.get("errors").and_then(Value::as_object) {
        for (key, message) in by_field {
            if let Some(message) = message_in(message, locale) {
                add(&mut errors, key, message);
            }
        }
    }
    let rejected = reply.get("decision").and_then(Value::as_str) == Some("reject");
    if rejected {
        let message = reply
            .get("message")
            .and_then(|m| message_in(m, locale))
            .unwrap_or_else(|| refused_text(locale).to_owned());
        if errors.0.is_empty() || reply.get("message").is_some() {
            add(&mut errors, FORM_ERROR_KEY, message);
        }
    }
    (!errors.0.is_empty()).then_some(errors)
}

/// What a refusal without a message says.
fn refused_text(locale: &str) -> &'static str {
    if locale.starts_with("fr") {
        "Ces réponses n'ont pas été acceptées."
    } else {
        "These answers were not accepted."
    }
}

/// The reply's normalised `values` of the fields asked, checked by the fields' own rules.
fn normalised(
    policy: &CompiledPolicy,
    keys: &[&str],
    reply: &Value,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Answers, FieldErrors> {
    let Some(values) = reply.get("values").and_then(Value::as_object) else {
        return Ok(Answers::new());
    };
    let given: JsonAnswers = values
        .iter()
        .filter(|(k, v)| keys.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if given.is_empty() {
        return Ok(Answers::new());
    }
    let changed: Vec<&str> = given.keys().map(String::as_str).collect();
    validate_json_answers(policy, &changed, &given, locale, now.date())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_per_field_in_the_locale_and_strangers_go_to_the_form() {
        let reply = json!({ "decision": "reject", "errors": {
            "company": { "en": "Unknown company", "fr": "Entreprise inconnue" },
            "secret": "not asked",
        }});
        let errors = refusals(&reply, &["company"], "fr").unwrap();
        assert_eq!(errors.get("company")[0].message, "Entreprise inconnue");
        assert_eq!(errors.get(FORM_ERROR_KEY)[0].message, "not asked");
        assert!(refusals(&json!({ "decision": "accept" }), &["company"], "en").is_none());
        let bare = refusals(&json!({ "decision": "reject" }), &["company"], "en").unwrap();
        assert_eq!(
            bare.get(FORM_ERROR_KEY)[0].message,
            "These answers were not accepted."
        );
    }
}
