//! The mapping file of `--mapping FILE`: which source (a CSV column, or a JSON pointer into a
//! user's object) goes to which target of an [`ImportRecord`]; and how one value of a source is
//! read into its target, for every format.
//!
//! ```toml
//! # source = target
//! [columns]
//! "E-mail" = "email"
//! "First name" = "profile.given_name"
//! "Company" = "company"            # a field key of the policy: goes to `fields`
//! "/app_metadata/plan" = "app_metadata.plan"
//! ```
//!
//! Targets: `email`, `email_verified`, `external_id`, `password_hash`, `created_at`, `disabled`,
//! `profile.<claim>`, `user_metadata.<key>`, `app_metadata.<key>`, or any other key, which goes
//! to `fields` for the use-case to place with the policy. A dotted key after `profile.` or a
//! metadata prefix is kept whole (`user_metadata.address.city` sets the key `address.city`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use crate::import::ImportRecord;

/// Where a source's value goes in an [`ImportRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    Email,
    EmailVerified,
    ExternalId,
    PasswordHash,
    CreatedAt,
    Disabled,
    Profile(String),
    UserMetadata(String),
    AppMetadata(String),
    /// A field key of the policy (or `<location>.<key>`), placed later by the use-case.
    Field(String),
}

impl Target {
    /// Reads a target's name, as a mapping file or a CSV header gives it.
    pub(super) fn parse(name: &str) -> Result<Target, String> {
        let name = name.trim();
        let keyed = |prefix: &str, make: fn(String) -> Target| {
            name.strip_prefix(prefix).map(|key| {
                if key.is_empty() {
                    Err(format!("`{name}` names no key after `{prefix}`"))
                } else {
                    Ok(make(key.to_owned()))
                }
            })
        };
        if let Some(target) = keyed("profile.", Target::Profile)
            .or_else(|| keyed("user_metadata.", Target::UserMetadata))
            .or_else(|| keyed("app_metadata.", Target::AppMetadata))
        {
            return target;
        }
        Ok(match name {
            "" => return Err("the target is empty".to_owned()),
            "email" => Target::Email,
            "email_verified" => Target::EmailVerified,
            "external_id" => Target::ExternalId,
            "password_hash" => Target::PasswordHash,
            "created_at" => Target::CreatedAt,
            "disabled" => Target::Disabled,
            key => Target::Field(key.to_owned()),
        })
    }

    /// Sets this target of `record` from the text of a CSV cell (not empty). `Err` is the
    /// sentence of the problem.
    pub(super) fn apply_text(&self, record: &mut ImportRecord, text: &str) -> Result<(), String> {
        match self {
            Target::Email => record.email = text.to_owned(),
            Target::EmailVerified => record.email_verified = parse_flag(text)?,
            Target::Disabled => record.disabled = parse_flag(text)?,
            Target::ExternalId => record.external_id = Some(text.to_owned()),
            Target::PasswordHash => record.password_hash = Some(text.to_owned()),
            Target::CreatedAt => record.created_at = Some(parse_time(text)?),
            _ => self.set_value(record, Value::String(text.to_owned())),
        }
        Ok(())
    }

    /// Sets this target of `record` from a JSON value, kept as it is where the target holds JSON
    /// (profile, metadata, fields). `null` is an absent value.
    pub(super) fn apply_json(
        &self,
        record: &mut ImportRecord,
        value: &Value,
    ) -> Result<(), String> {
        match (self, value) {
            (_, Value::Null) => {}
            (Target::Email, Value::String(text)) => record.email = text.clone(),
            (Target::EmailVerified, Value::Bool(flag)) => record.email_verified = *flag,
            (Target::EmailVerified, Value::String(text)) => {
                record.email_verified = parse_flag(text)?;
            }
            (Target::Disabled, Value::Bool(flag)) => record.disabled = *flag,
            (Target::Disabled, Value::String(text)) => record.disabled = parse_flag(text)?,
            (Target::ExternalId, Value::String(text)) => record.external_id = Some(text.clone()),
            (Target::ExternalId, Value::Number(number)) => {
                record.external_id = Some(number.to_string());
            }
            (Target::PasswordHash, Value::String(text)) => {
                record.password_hash = Some(text.clone());
            }
            (Target::CreatedAt, Value::String(text)) => record.created_at = Some(parse_time(text)?),
            (Target::Email | Target::PasswordHash | Target::CreatedAt, _) => {
                return Err(format!("{} is not a string", json_kind(value)));
            }
            (Target::EmailVerified | Target::Disabled, _) => {
                return Err(format!("{} is not true or false", json_kind(value)));
            }
            (Target::ExternalId, _) => {
                return Err(format!("{} is not a string or a number", json_kind(value)));
            }
            _ => self.set_value(record, value.clone()),
        }
        Ok(())
    }

    fn set_value(&self, record: &mut ImportRecord, value: Value) {
        match self {
            Target::Profile(claim) => {
                record.profile.insert(claim.clone(), value);
            }
            Target::UserMetadata(key) => {
                record.user_metadata.insert(key.clone(), value);
            }
            Target::AppMetadata(key) => {
                record.app_metadata.insert(key.clone(), value);
            }
            Target::Field(key) => record.fields.push((key.clone(), value)),
            // The scalar targets are set by `apply_text`/`apply_json` themselves.
            _ => {}
        }
    }
}

/// What a JSON value is, for a problem's sentence.
pub(super) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Reads a yes/no cell: `true`/`false`, `1`/`0`, `yes`/`no`, in any case.
pub(super) fn parse_flag(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!(
            "`{text}` is not a yes/no value (true, false, 1, 0, yes or no)"
        )),
    }
}

/// Reads an instant: RFC 3339 (`2024-05-01T10:00:00Z`), or a date `YYYY-MM-DD` read as midnight
/// UTC (what a spreadsheet usually holds).
pub(super) fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    if let Ok(instant) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(instant);
    }
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map(|date| date.midnight().assume_utc())
        .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD) or an RFC 3339 instant"))
}

/// A mapping file: each source to its target, in the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    columns: Vec<(String, Target)>,
    /// The object and member each JSON pointer source reaches into (`/attributes/locale/0`:
    /// `attributes`, `locale`), its tokens unescaped once here rather than for each user.
    members: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    columns: Option<BTreeMap<String, toml::Spanned<toml::Value>>>,
}

impl Mapping {
    /// Reads a mapping file. The error is one sentence that names the line and the key.
    pub fn parse(toml_text: &str) -> Result<Mapping, String> {
        let line_of = |offset: usize| {
            toml_text
                .get(..offset)
                .map_or(0, |before| before.matches('\n').count())
                + 1
        };
        let file: MappingFile = toml::from_str(toml_text).map_err(|e| match e.span() {
            Some(span) => format!("line {}: {}", line_of(span.start), e.message()),
            None => e.message().to_owned(),
        })?;
        let Some(columns) = file.columns else {
            return Err("the mapping has no [columns] table (source = target)".to_owned());
        };
        let mut columns: Vec<_> = columns.into_iter().collect();
        columns.sort_by_key(|(_, target)| target.span().start);
        let mut mapping = Mapping {
            columns: Vec::with_capacity(columns.len()),
            members: Vec::new(),
        };
        for (source, target) in columns {
            let line = line_of(target.span().start);
            let toml::Value::String(name) = target.get_ref() else {
                return Err(format!(
                    "line {line}: `{source}` must name its target as a string"
                ));
            };
            if source.trim().is_empty() {
                return Err(format!("line {line}: a source is empty"));
            }
            let target =
                Target::parse(name).map_err(|e| format!("line {line}: `{source}`: {e}"))?;
            if let Some((other, _)) = mapping.columns.iter().find(|(_, t)| *t == target) {
                return Err(format!(
                    "line {line}: `{source}` and `{other}` both go to `{}`",
                    name.trim()
                ));
            }
            mapping.columns.push((source, target));
        }
        if mapping.columns.is_empty() {
            return Err("the [columns] table of the mapping is empty".to_owned());
        }
        mapping.members = mapping
            .columns
            .iter()
            .filter_map(|(source, _)| {
                let mut tokens = source
                    .strip_prefix('/')?
                    .split('/')
                    .map(|token| token.replace("~1", "/").replace("~0", "~"));
                Some((tokens.next()?, tokens.next()?))
            })
            .collect();
        Ok(mapping)
    }

    /// The target of a source (a CSV column's name).
    pub(super) fn target_of(&self, source: &str) -> Option<&Target> {
        self.columns
            .iter()
            .find(|(s, _)| s == source)
            .map(|(_, target)| target)
    }

    pub(super) fn columns(&self) -> impl Iterator<Item = (&str, &Target)> {
        self.columns.iter().map(|(s, t)| (s.as_str(), t))
    }

    /// Whether a source of the mapping is a JSON pointer into the member `name` of the user's
    /// object `under` (`/attributes/locale/0` is into `locale` of `attributes`): that member
    /// is sent where the mapping says, so the format's own reading leaves it out (moved, not
    /// copied; docs/import-export.md).
    pub(super) fn maps_member(&self, under: &str, name: &str) -> bool {
        self.members
            .iter()
            .any(|(object, member)| object == under && member == name)
    }

    /// The sources mapped to `email`.
    pub(super) fn email_source(&self) -> Option<&str> {
        self.columns()
            .find(|(_, target)| **target == Target::Email)
            .map(|(source, _)| source)
    }

    /// Sets each target from its source in a user's JSON object: a JSON pointer (`/profile/name`)
    /// or, for a source without a leading `/`, a top-level key. An `Err` is the problem's
    /// `(path, sentence)`, the path being the source.
    pub(super) fn apply_json(
        &self,
        user: &Value,
        record: &mut ImportRecord,
    ) -> Result<(), (String, String)> {
        for (source, target) in self.columns() {
            let value = if source.starts_with('/') {
                user.pointer(source)
            } else {
                user.get(source)
            };
            if let Some(value) = value {
                target
                    .apply_json(record, value)
                    .map_err(|e| (source.to_owned(), e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn targets_are_read_by_name_and_other_keys_are_fields() {
        assert_eq!(Target::parse("email"), Ok(Target::Email));
        assert_eq!(
            Target::parse(" profile.given_name "),
            Ok(Target::Profile("given_name".into()))
        );
        assert_eq!(
            Target::parse("user_metadata.address.city"),
            Ok(Target::UserMetadata("address.city".into()))
        );
        assert_eq!(
            Target::parse("app_metadata.plan"),
            Ok(Target::AppMetadata("plan".into()))
        );
        assert_eq!(
            Target::parse("company"),
            Ok(Target::Field("company".into()))
        );
        assert!(Target::parse("").is_err());
        assert!(Target::parse("profile.").is_err());
    }

    #[test]
    fn a_mapping_keeps_the_files_order_and_its_targets() {
        let mapping = Mapping::parse(
            r#"
# source = target
[columns]
"E-mail" = "email"
"First name" = "profile.given_name"
"Company" = "company"
"Id" = "external_id"
"#,
        )
        .unwrap();
        let columns: Vec<_> = mapping.columns().collect();
        assert_eq!(
            columns,
            vec![
                ("E-mail", &Target::Email),
                ("First name", &Target::Profile("given_name".into())),
                ("Company", &Target::Field("company".into())),
                ("Id", &Target::ExternalId),
            ]
        );
        assert_eq!(mapping.email_source(), Some("E-mail"));
        assert_eq!(mapping.target_of("Id"), Some(&Target::ExternalId));
        assert_eq!(mapping.target_of("Other"), None);
    }

    #[test]
    fn an_unknown_top_level_key_is_refused_with_its_line() {
        let error =
            Mapping::parse("[columns]\na = \"email\"\n\n[colums]\nb = \"c\"\n").unwrap_err();
        assert!(error.starts_with("line 4:"), "{error}");
        assert!(error.contains("colums"), "{error}");
    }

    #[test]
    fn an_empty_or_missing_target_is_refused_with_its_key() {
        let error =
            Mapping::parse("[columns]\n\"E-mail\" = \"email\"\n\"Name\" = \"\"\n").unwrap_err();
        assert_eq!(error, "line 3: `Name`: the target is empty");
        let error = Mapping::parse("[columns]\n\"Age\" = 3\n").unwrap_err();
        assert_eq!(error, "line 2: `Age` must name its target as a string");
        let error = Mapping::parse("[columns]\n\"Nick\" = \"profile.\"\n").unwrap_err();
        assert!(error.starts_with("line 2: `Nick`:"), "{error}");
    }

    #[test]
    fn two_sources_cannot_fill_the_same_target() {
        let error = Mapping::parse("[columns]\n\"Mail\" = \"email\"\n\"E-mail\" = \"email\"\n")
            .unwrap_err();
        assert_eq!(error, "line 3: `E-mail` and `Mail` both go to `email`");
    }

    #[test]
    fn a_mapping_without_columns_or_with_bad_toml_is_refused() {
        assert!(Mapping::parse("").unwrap_err().contains("[columns]"));
        assert!(Mapping::parse("[columns]\n").unwrap_err().contains("empty"));
        let error = Mapping::parse("[columns]\n\"a\" = \n").unwrap_err();
        assert!(error.starts_with("line 2:"), "{error}");
    }

    #[test]
    fn flags_read_true_false_one_zero_yes_no_in_any_case() {
        for yes in ["true", "TRUE", "1", "Yes", " yes "] {
            assert_eq!(parse_flag(yes), Ok(true), "{yes}");
        }
        for no in ["false", "False", "0", "NO"] {
            assert_eq!(parse_flag(no), Ok(false), "{no}");
        }
        assert!(parse_flag("maybe").is_err());
        assert!(parse_flag("").is_err());
    }

    #[test]
    fn instants_are_rfc3339_or_dates_at_midnight_utc() {
        assert_eq!(
            parse_time("2024-05-01T10:30:00+02:00"),
            Ok(datetime!(2024-05-01 10:30 +02:00))
        );
        assert_eq!(
            parse_time("2024-05-01"),
            Ok(datetime!(2024-05-01 00:00 UTC))
        );
        assert!(parse_time("01/05/2024").is_err());
    }

    #[test]
    fn text_goes_to_json_strings_and_json_stays_json() {
        let mut record = ImportRecord::default();
        Target::Profile("birthdate".into())
            .apply_text(&mut record, "1990-01-02")
            .unwrap();
        Target::Field("age".into())
            .apply_text(&mut record, "42")
            .unwrap();
        Target::UserMetadata("tags".into())
            .apply_json(&mut record, &json!(["a", "b"]))
            .unwrap();
        Target::Field("score".into())
            .apply_json(&mut record, &json!(7))
            .unwrap();
        assert_eq!(record.profile["birthdate"], json!("1990-01-02"));
        assert_eq!(record.user_metadata["tags"], json!(["a", "b"]));
        assert_eq!(
            record.fields,
            vec![
                ("age".to_owned(), json!("42")),
                ("score".to_owned(), json!(7))
            ]
        );
    }

    #[test]
    fn a_json_value_of_the_wrong_kind_is_refused() {
        let mut record = ImportRecord::default();
        assert_eq!(
            Target::Email.apply_json(&mut record, &json!(3)),
            Err("a number is not a string".to_owned())
        );
        assert!(
            Target::Disabled
                .apply_json(&mut record, &json!([]))
                .is_err()
        );
        Target::Disabled
            .apply_json(&mut record, &json!("yes"))
            .unwrap();
        Target::ExternalId
            .apply_json(&mut record, &json!(12))
            .unwrap();
        Target::Email.apply_json(&mut record, &Value::Null).unwrap();
        assert!(record.disabled);
        assert_eq!(record.external_id.as_deref(), Some("12"));
        assert_eq!(record.email, "");
    }

    #[test]
    fn sources_are_json_pointers_or_top_level_keys() {
        let mapping = Mapping::parse(
            "[columns]\n\"/contact/mail\" = \"email\"\n\"company\" = \"company\"\n\"/missing\" = \"x\"\n",
        )
        .unwrap();
        let user = json!({"contact": {"mail": "a@example.com"}, "company": {"name": "Acme"}});
        let mut record = ImportRecord::default();
        mapping.apply_json(&user, &mut record).unwrap();
        assert_eq!(record.email, "a@example.com");
        assert_eq!(
            record.fields,
            vec![("company".to_owned(), json!({"name": "Acme"}))]
        );
    }
}
