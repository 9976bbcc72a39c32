//! The rule of a consent record given by an administrator or a back end (docs/policy.md,
//! Consent fields and their records); a person's answer is made into a record by the
//! consent kind of `kinds`.

use serde_json::Value;

/// A consent record written by an administrator or a back end (API, import, enrichment), kept
/// as given when it names its version (docs/policy.md, Consent fields and their records): it
/// is evidence of what the person accepted, and when, in the source system, never to be
/// restamped with the version in force. `None` when `value` is not such a record (an answer
/// that gives only `accepted`, or `true`, takes the version in force, as a person's answer
/// does); `Err` when it is one with a member that is not of a record's shape.
pub fn consent_record_as_given(value: &Value) -> Option<Result<Value, String>> {
    let record = value.as_object()?;
    record.get("version")?;
    let member = |name: &str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(format!("a consent record's `{name}` is not of its type"))
        }
    };
    let check = || -> Result<Value, String> {
        for (name, value) in record {
            let text = value.as_str().unwrap_or_default();
            match name.as_str() {
                "accepted" => member(name, value.is_boolean())?,
                // As a policy's `consent_version`.
                "version" => member(
                    name,
                    value.is_string() && !text.trim().is_empty() && text.chars().count() <= 64,
                )?,
                "client_id" => member(name, value.is_string() && text.chars().count() <= 256)?,
                // The pages link it: an http(s) address, never `javascript:` or `data:`.
                "url" => member(
                    name,
                    value.is_string() && crate::web_url::WebUrl::parse(text).is_some(),
                )?,
                "at" => member(
                    name,
                    time::OffsetDateTime::parse(
                        text,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .is_ok(),
                )?,
                other => {
                    return Err(format!(
                        "`{}` is not a member of a consent record (accepted, version, url, at, \
                         client_id)",
                        other.chars().take(64).collect::<String>()
                    ));
                }
            }
        }
        Ok(value.clone())
    };
    Some(check())
}
