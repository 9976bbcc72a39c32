//! Parsing and normalising one field's answer, by field type.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;

use serde_json::{Value, json};
use time::Date;

use super::messages::Refusal;
use super::{MAX_VALUE_BYTES, MAX_VALUES_PER_FIELD, Texts};
use crate::checks::MAX_TEXT_CHARS;
use crate::compile::FieldRules;
use crate::dates::parse_date;
use crate::field::{Field, FieldType};
use crate::policy::Settings;
use crate::web_url::WebUrl;

/// Longest email address accepted (RFC 5321 path limit).
const MAX_EMAIL_CHARS: usize = 254;

pub(crate) struct Context<'a> {
    pub(crate) field: &'a Field,
    pub(crate) rules: &'a FieldRules,
    pub(crate) settings: &'a Settings,
    /// Form posts send nothing for an unticked checkbox, which means "no".
    pub(crate) form: bool,
    /// The day of the check, for date bounds relative to today.
    pub(crate) today: Date,
}

/// Converts a JSON answer to the texts a form would have sent.
pub(crate) fn json_texts(value: &Value) -> Result<Texts<'static>, Refusal> {
    let scalar = |value: &Value| match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        _ => Err(Refusal::WrongType),
    };
    let texts = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => {
            if items.len() > MAX_VALUES_PER_FIELD {
                return Err(Refusal::TooManyValues);
            }
            items.iter().map(scalar).collect::<Result<_, _>>()?
        }
        // A consent may be sent back in its stored shape.
        Value::Object(object) => match object.get("accepted") {
            Some(Value::Bool(flag)) => vec![flag.to_string()],
            _ => return Err(Refusal::WrongType),
        },
        other => vec![scalar(other)?],
    };
    Ok(Texts::Owned(texts))
}

/// The typed value, `None` when left empty and not required, or every refusal.
pub(crate) fn validate_field(
    context: &Context<'_>,
    values: &[String],
) -> Result<Option<Value>, Vec<Refusal>> {
    if values.len() > MAX_VALUES_PER_FIELD {
        return Err(vec![Refusal::TooManyValues]);
    }
    if values.iter().any(|v| v.len() > MAX_VALUE_BYTES) {
        return Err(vec![Refusal::ValueTooLarge(MAX_VALUE_BYTES)]);
    }
    let field = context.field;
    let present: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    match field.kind {
        FieldType::Boolean => return boolean(context, &present).map_err(|r| vec![r]),
        FieldType::Consent => return consent(context, &present).map_err(|r| vec![r]),
        FieldType::Multiselect => return multiselect(context, &present),
        _ => {}
    }
    let text = match present.as_slice() {
        [] if field.required => return Err(vec![Refusal::Required]),
        [] => return Ok(None),
        [one] => *one,
        _ => return Err(vec![Refusal::TooManyValues]),
    };
    let value = match field.kind {
        FieldType::Text => plain_text(text, false)?,
        FieldType::Textarea => plain_text(text, true)?,
        FieldType::Email => email(text)?,
        FieldType::Phone => phone(text, context.settings)?,
        FieldType::Url => url(text)?,
        FieldType::Integer => integer(text, context.rules)?,
        FieldType::Number => number(text, context.rules)?,
        FieldType::Date => date(text, context.rules, context.today)?,
        FieldType::Select => select(text, field)?,
        FieldType::Country => country(text, field)?,
        FieldType::Boolean | FieldType::Consent | FieldType::Multiselect => {
            return Err(vec![Refusal::WrongType]);
        }
    };
    if field.kind.is_textual() {
        check_text_rules(&value, context)?;
    }
    Ok(Some(value))
}

fn check_text_rules(value: &Value, context: &Context<'_>) -> Result<(), Vec<Refusal>> {
    let Some(text) = value.as_str() else {
        return Ok(());
    };
    let rules = &context.field.validation;
    let mut refusals = Vec::new();
    let length = text.chars().count();
    let max = rules
        .max_length
        .unwrap_or(MAX_TEXT_CHARS)
        .min(MAX_TEXT_CHARS);
    if length > max as usize {
        refusals.push(Refusal::TooLong(max));
    }
    if let Some(min) = rules.min_length
        && length < min as usize
    {
        refusals.push(Refusal::TooShort(min));
    }
    if let Some(pattern) = &context.rules.pattern
        && !pattern.is_match(text)
    {
        refusals.push(Refusal::Pattern);
    }
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(refusals)
    }
}

fn plain_text(text: &str, multiline: bool) -> Result<Value, Vec<Refusal>> {
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\t' | '\r'));
    if !text.chars().all(allowed) {
        return Err(vec![Refusal::InvalidCharacters]);
    }
    if multiline && text.contains('\r') {
        return Ok(Value::String(
            text.replace("\r\n", "\n").replace('\r', "\n"),
        ));
    }
    Ok(Value::String(text.to_owned()))
}

fn email(text: &str) -> Result<Value, Vec<Refusal>> {
    let invalid = || vec![Refusal::InvalidEmail];
    if text.chars().count() > MAX_EMAIL_CHARS || text.chars().any(char::is_control) {
        return Err(invalid());
    }
    email_address::EmailAddress::from_str(text).map_err(|_| invalid())?;
    let (local, domain) = text.rsplit_once('@').ok_or_else(invalid)?;
    Ok(Value::String(format!("{local}@{}", domain.to_lowercase())))
}

fn phone(text: &str, settings: &Settings) -> Result<Value, Vec<Refusal>> {
    let invalid = || vec![Refusal::InvalidPhone];
    if text.len() > 64 {
        return Err(invalid());
    }
    let region = settings
        .phone_default_region
        .as_deref()
        .and_then(|r| phonenumber::country::Id::from_str(r).ok());
    // The parser is third-party code fed with user input: contain any panic.
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        phonenumber::parse(region, text)
            .ok()
            .filter(phonenumber::is_valid)
            .map(|number| number.format().mode(phonenumber::Mode::E164).to_string())
    }));
    match parsed {
        Ok(Some(e164)) => Ok(Value::String(e164)),
        _ => Err(invalid()),
    }
}

fn url(text: &str) -> Result<Value, Vec<Refusal>> {
    let web = WebUrl::parse(text).ok_or_else(|| vec![Refusal::InvalidUrl])?;
    Ok(Value::String(format!("{}://{}", web.scheme, web.rest)))
}

fn integer(text: &str, rules: &FieldRules) -> Result<Value, Vec<Refusal>> {
    let value: i64 = text
        .strip_prefix('+')
        .unwrap_or(text)
        .parse()
        .map_err(|_| vec![Refusal::InvalidInteger])?;
    check_bounds(value as f64, rules)?;
    Ok(Value::from(value))
}

fn number(text: &str, rules: &FieldRules) -> Result<Value, Vec<Refusal>> {
    // "3,5" is how half of Europe writes 3.5.
    let normalised;
    let text = if !text.contains('.') && text.matches(',').count() == 1 {
        normalised = text.replace(',', ".");
        normalised.as_str()
    } else {
        text
    };
    let value: f64 = text.parse().map_err(|_| vec![Refusal::InvalidNumber])?;
    let number = serde_json::Number::from_f64(value).ok_or_else(|| vec![Refusal::InvalidNumber])?;
    check_bounds(value, rules)?;
    Ok(Value::Number(number))
}

fn check_bounds(value: f64, rules: &FieldRules) -> Result<(), Vec<Refusal>> {
    if let Some(min) = rules.min_number
        && value < min
    {
        return Err(vec![Refusal::TooSmall(min.to_string())]);
    }
    if let Some(max) = rules.max_number
        && value > max
    {
        return Err(vec![Refusal::TooLarge(max.to_string())]);
    }
    Ok(())
}

fn date(text: &str, rules: &FieldRules, today: Date) -> Result<Value, Vec<Refusal>> {
    let value = parse_date(text).ok_or_else(|| vec![Refusal::InvalidDate])?;
    if let Some(min) = rules.min_date.and_then(|bound| bound.on(today))
        && value < min
    {
        return Err(vec![Refusal::TooEarly(min.to_string())]);
    }
    if let Some(max) = rules.max_date.and_then(|bound| bound.on(today))
        && value > max
    {
        return Err(vec![Refusal::TooLate(max.to_string())]);
    }
    Ok(Value::String(text.to_owned()))
}

fn select(text: &str, field: &Field) -> Result<Value, Vec<Refusal>> {
    if field.has_option(text) {
        Ok(Value::String(text.to_owned()))
    } else {
        Err(vec![Refusal::InvalidOption])
    }
}

fn country(text: &str, field: &Field) -> Result<Value, Vec<Refusal>> {
    let code = text.to_ascii_uppercase();
    let allowed = field.options.is_empty() || field.has_option(&code);
    if super::country::is_country_code(&code) && allowed {
        Ok(Value::String(code))
    } else {
        Err(vec![Refusal::InvalidCountry])
    }
}

fn multiselect(context: &Context<'_>, present: &[&str]) -> Result<Option<Value>, Vec<Refusal>> {
    let field = context.field;
    if present.is_empty() {
        return if field.required {
            Err(vec![Refusal::Required])
        } else {
            Ok(None)
        };
    }
    let mut chosen: Vec<&str> = Vec::with_capacity(present.len());
    for &value in present {
        if !field.has_option(value) {
            return Err(vec![Refusal::InvalidOption]);
        }
        if !chosen.contains(&value) {
            chosen.push(value);
        }
    }
    let count = chosen.len() as f64;
    if let Some(min) = context.rules.min_number
        && count < min
    {
        return Err(vec![Refusal::TooFewSelected(min.to_string())]);
    }
    if let Some(max) = context.rules.max_number
        && count > max
    {
        return Err(vec![Refusal::TooManySelected(max.to_string())]);
    }
    Ok(Some(Value::Array(
        chosen
            .into_iter()
            .map(|v| Value::String(v.to_owned()))
            .collect(),
    )))
}

fn truthy(text: &str) -> Option<bool> {
    const YES: [&str; 4] = ["on", "true", "1", "yes"];
    const NO: [&str; 4] = ["off", "false", "0", "no"];
    if YES.iter().any(|y| text.eq_ignore_ascii_case(y)) {
        Some(true)
    } else if NO.iter().any(|n| text.eq_ignore_ascii_case(n)) {
        Some(false)
    } else {
        None
    }
}

/// A checkbox may be sent with a hidden "false" before it: any "yes" wins.
fn checkbox(present: &[&str]) -> Result<Option<bool>, Refusal> {
    let mut answer = None;
    for value in present {
        let flag = truthy(value).ok_or(Refusal::InvalidBoolean)?;
        answer = Some(answer.unwrap_or(false) || flag);
    }
    Ok(answer)
}

fn boolean(context: &Context<'_>, present: &[&str]) -> Result<Option<Value>, Refusal> {
    match checkbox(present)? {
        Some(flag) => Ok(Some(Value::Bool(flag))),
        None if context.form => Ok(Some(Value::Bool(false))),
        None if context.field.required => Err(Refusal::Required),
        None => Ok(None),
    }
}

fn consent(context: &Context<'_>, present: &[&str]) -> Result<Option<Value>, Refusal> {
    let accepted = checkbox(present)?.unwrap_or(false);
    if !accepted && context.field.required {
        return Err(Refusal::ConsentRequired);
    }
    let field = context.field;
    let version = field.consent_version.as_deref().unwrap_or("");
    let mut record = json!({ "accepted": accepted, "version": version });
    // The text's address, when the policy gives one: what was accepted, not only its name.
    if let (Some(url), Some(object)) = (&field.consent_url, record.as_object_mut()) {
        object.insert("url".to_owned(), Value::String(url.clone()));
    }
    Ok(Some(record))
}
