//! Answer validation: raw answers from a form post or a JSON body become typed, normalised
//! values, or per-field errors in the user's locale (all errors at once).

mod consent;
pub(crate) mod country;
mod kinds;
mod messages;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;
use time::Date;

use crate::compile::CompiledPolicy;
use crate::facts::PromptState;
use crate::ids::FieldKey;
pub use consent::consent_record_as_given;
pub use country::country_codes;
use messages::Refusal;

/// Largest single value accepted, in bytes.
pub const MAX_VALUE_BYTES: usize = 4096;
/// Most values accepted for one field (a multiselect repeats its name).
pub const MAX_VALUES_PER_FIELD: usize = 64;
/// Most fields accepted in one answer.
pub const MAX_FIELDS_PER_ANSWER: usize = 256;
/// The key under which errors about the answer as a whole are reported.
pub const FORM_ERROR_KEY: &str = "_form";

/// Answers from a form post: input name to every value sent under it. Callers remove their own
/// inputs (`action`, the CSRF token) first: every other key must be a field that was asked.
pub type RawAnswers = BTreeMap<String, Vec<String>>;

/// Answers from a JSON body: field key to value.
pub type JsonAnswers = serde_json::Map<String, Value>;

/// Validated answers: field key to typed value (numbers are numbers, booleans booleans, a
/// multiselect an array, a date `YYYY-MM-DD`, a phone E.164, a consent `{accepted, version}`).
/// A field left empty that is not required is absent.
pub type Answers = BTreeMap<FieldKey, Value>;

// Here rather than in `facts.rs`, so that the facts do not depend on answer validation (which
// depends on the compiled policy, whose conditions read the facts).
impl PromptState {
    /// The fields of an answer that the user left blank: those `asked` that `answers` (as
    /// validated) leaves out. They go to [`PromptState::declined`] (through the `declined`
    /// member of the `prompt.answered` event's data).
    pub fn left_blank(asked: &[&str], answers: &Answers) -> Vec<String> {
        asked
            .iter()
            .filter(|key| !answers.contains_key(**key))
            .map(|key| (*key).to_owned())
            .collect()
    }
}

/// One refused answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Stable code (`required`, `too_long`, `pattern`, `invalid_phone`, ...).
    pub code: &'static str,
    /// Message for the user, in the requested locale.
    pub message: String,
}

/// Every refused answer, by field key ([`FORM_ERROR_KEY`] for the answer as a whole).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct FieldErrors(pub BTreeMap<String, Vec<FieldError>>);

impl FieldErrors {
    /// The errors of one field.
    pub fn get(&self, key: &str) -> &[FieldError] {
        self.0.get(key).map(Vec::as_slice).unwrap_or_default()
    }

    fn add(&mut self, key: &str, error: FieldError) {
        self.0.entry(key.to_owned()).or_default().push(error);
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (key, errors) in &self.0 {
            for error in errors {
                if !first {
                    f.write_str("; ")?;
                }
                first = false;
                write!(f, "{key}: {}", error.message)?;
            }
        }
        Ok(())
    }
}

/// Validates a form post for the fields asked (`Ask::fields`, or a step's fields). `today` is
/// the day of the check, for date bounds relative to it (`max = "today"`).
pub fn validate_answers(
    policy: &CompiledPolicy,
    fields: &[&str],
    raw: &RawAnswers,
    locale: &str,
    today: Date,
) -> Result<Answers, FieldErrors> {
    validate_with(
        policy,
        fields,
        raw.len(),
        (locale, today),
        true,
        |key| raw.get(key).map(|values| Ok(values.as_slice().into())),
        raw.keys().map(String::as_str),
    )
}

/// Validates a form post for every field of a step.
pub fn validate_step_answers(
    policy: &CompiledPolicy,
    step: &str,
    raw: &RawAnswers,
    locale: &str,
    today: Date,
) -> Result<Answers, FieldErrors> {
    let keys = step_keys(policy, step)?;
    let keys: Vec<&str> = keys.iter().map(FieldKey::as_str).collect();
    validate_answers(policy, &keys, raw, locale, today)
}

/// Validates a JSON body (API, widget) for the fields asked.
pub fn validate_json_answers(
    policy: &CompiledPolicy,
    fields: &[&str],
    raw: &JsonAnswers,
    locale: &str,
    today: Date,
) -> Result<Answers, FieldErrors> {
    validate_with(
        policy,
        fields,
        raw.len(),
        (locale, today),
        false,
        |key| raw.get(key).map(kinds::json_texts),
        raw.keys().map(String::as_str),
    )
}

fn step_keys(policy: &CompiledPolicy, step: &str) -> Result<Vec<FieldKey>, FieldErrors> {
    match policy.step(step) {
        Some(step) => Ok(step.fields.clone()),
        None => {
            let mut errors = FieldErrors::default();
            errors.add(
                FORM_ERROR_KEY,
                FieldError {
                    code: "unknown_step",
                    message: format!(
                        "unknown step {:?}",
                        step.chars().take(64).collect::<String>()
                    ),
                },
            );
            Err(errors)
        }
    }
}

/// The values sent for one field, borrowed from a form or converted from JSON.
pub(crate) enum Texts<'a> {
    Borrowed(&'a [String]),
    Owned(Vec<String>),
}

impl<'a> From<&'a [String]> for Texts<'a> {
    fn from(values: &'a [String]) -> Self {
        Texts::Borrowed(values)
    }
}

impl Texts<'_> {
    fn as_slice(&self) -> &[String] {
        match self {
            Texts::Borrowed(values) => values,
            Texts::Owned(values) => values,
        }
    }
}

fn validate_with<'a, F>(
    policy: &CompiledPolicy,
    fields: &[&str],
    sent: usize,
    (locale, today): (&str, Date),
    form: bool,
    lookup: F,
    sent_keys: impl Iterator<Item = &'a str>,
) -> Result<Answers, FieldErrors>
where
    F: Fn(&str) -> Option<Result<Texts<'a>, Refusal>>,
{
    let mut errors = FieldErrors::default();
    let refuse = |errors: &mut FieldErrors, key: &str, refusal: &Refusal| {
        errors.add(
            key,
            FieldError {
                code: refusal.code(),
                message: refusal.message(locale),
            },
        );
    };
    if sent > MAX_FIELDS_PER_ANSWER || fields.len() > MAX_FIELDS_PER_ANSWER {
        refuse(
            &mut errors,
            FORM_ERROR_KEY,
            &Refusal::TooManyFields(MAX_FIELDS_PER_ANSWER),
        );
        return Err(errors);
    }
    for key in sent_keys {
        if !fields.contains(&key) {
            refuse(&mut errors, &clip(key), &Refusal::UnknownField);
        }
    }
    let mut answers = Answers::new();
    for &key in fields {
        let Some(position) = policy.field_position(key) else {
            refuse(&mut errors, &clip(key), &Refusal::UnknownField);
            continue;
        };
        let field = &policy.fields()[position];
        let rules = &policy.field_rules[position];
        let texts = match lookup(key) {
            None => None,
            Some(Ok(texts)) => Some(texts),
            Some(Err(refusal)) => {
                refuse(&mut errors, key, &refusal);
                continue;
            }
        };
        let values = texts.as_ref().map(Texts::as_slice).unwrap_or_default();
        let context = kinds::Context {
            field,
            rules,
            settings: &policy.policy().settings,
            form,
            today,
        };
        match kinds::validate_field(&context, values) {
            Ok(Some(value)) => {
                answers.insert(field.key.clone(), value);
            }
            Ok(None) => {}
            Err(refusals) => {
                for refusal in refusals {
                    let message = match refusal {
                        Refusal::Pattern => pattern_message(policy, field, locale)
                            .unwrap_or_else(|| refusal.message(locale)),
                        _ => refusal.message(locale),
                    };
                    errors.add(
                        key,
                        FieldError {
                            code: refusal.code(),
                            message,
                        },
                    );
                }
            }
        }
    }
    if errors.0.is_empty() {
        Ok(answers)
    } else {
        Err(errors)
    }
}

/// Why a stored value of the field at `position` fails the field's current validation (in
/// English, for explanations), or `None` when it passes. A value that validates to "left empty"
/// (`""`) fails too: it is not a known value.
pub(crate) fn stored_value_error(
    policy: &CompiledPolicy,
    position: usize,
    value: &Value,
    today: Date,
) -> Option<FieldError> {
    let field = policy.fields().get(position)?;
    let rules = policy.field_rules.get(position)?;
    let refusal = match kinds::json_texts(value) {
        Err(refusal) => refusal,
        Ok(texts) => {
            let context = kinds::Context {
                field,
                rules,
                settings: &policy.policy().settings,
                form: false,
                today,
            };
            match kinds::validate_field(&context, texts.as_slice()) {
                Ok(Some(_)) => return None,
                Ok(None) => Refusal::Required,
                Err(refusals) => refusals.into_iter().next()?,
            }
        }
    };
    let message = match refusal {
        Refusal::Pattern => pattern_message(policy, field, "en"),
        _ => None,
    }
    .unwrap_or_else(|| refusal.message("en"));
    Some(FieldError {
        code: refusal.code(),
        message,
    })
}

/// The administrator's pattern message in `locale`, its language, or the default locale.
fn pattern_message(
    policy: &CompiledPolicy,
    field: &crate::field::Field,
    locale: &str,
) -> Option<String> {
    let messages = &field.validation.pattern_message;
    let language = locale.split(['-', '_']).next().unwrap_or(locale);
    messages
        .get(locale)
        .or_else(|| messages.get(language))
        .or_else(|| messages.get(&policy.policy().settings.default_locale))
        .cloned()
}

/// An unknown key, shortened so that an error map stays bounded.
fn clip(key: &str) -> String {
    key.chars().take(64).collect()
}
