//! Profile field definitions: what a field is, how it is labelled, validated and stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::HumanDuration;
use crate::ids::FieldKey;

/// Text per locale (`"en"`, `"fr"`, ...). The policy's default locale is the fallback.
pub type Localized = BTreeMap<String, String>;

/// The text of `text` for a page or answer in `locale`: the exact locale (`fr-CA`), else its
/// language (`fr`), else the policy's `default` locale. The one rule every surface (hosted
/// pages, the self-service API, the widget) uses to pick a label, a help text or a title.
pub fn localized<'a>(text: &'a Localized, locale: &str, default: &str) -> Option<&'a str> {
    let language = locale.split(['-', '_']).next().unwrap_or_default();
    text.get(locale)
        .or_else(|| text.get(language))
        .or_else(|| text.get(default))
        .map(String::as_str)
}

/// One profile attribute definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Unique `snake_case` key; the name of the form input and of the stored value.
    pub key: FieldKey,
    /// The value's type, which decides its input widget, parsing and normalisation.
    pub kind: FieldType,
    /// Whether an answer must be given when the field is asked (default: true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub required: bool,
    /// Label per locale.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Localized,
    /// Help text per locale.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub help: Localized,
    /// Placeholder per locale.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub placeholder: Localized,
    /// Allowed values of a select or multiselect (or a restricted list of countries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<FieldOption>,
    /// Validation rules beyond the type's own.
    #[serde(default, skip_serializing_if = "Validation::is_empty")]
    pub validation: Validation,
    /// Where the value is stored.
    #[serde(default, skip_serializing_if = "Storage::is_default")]
    pub storage: Storage,
    /// What the user may do with the value in their account page.
    #[serde(default, skip_serializing_if = "UserAccess::is_default")]
    pub user_access: UserAccess,
    /// Once given, the value cannot be changed by the user.
    #[serde(default, skip_serializing_if = "is_false")]
    pub write_once: bool,
    /// A known value older than this is stale and asked again (pre-filled) for confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconfirm_after: Option<HumanDuration>,
    /// Custom OAuth scope that releases this field in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Custom claim name in tokens (defaults to the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// For consent fields: the version of the text being accepted. Changing it asks again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_version: Option<String>,
    /// For consent fields: the address of that version's text (`https://`, or `http://` on
    /// localhost), linked beside the checkbox and kept in each consent given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_url: Option<String>,
    /// For the phone field stored as the `phone_number` claim: a number is proven with a code
    /// sent to it by text message before it is stored from a prompt (`phone_number_verified`
    /// becomes true), and an unverified number counts as missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub verify: bool,
}

impl Field {
    /// A field with the given key and type and every other setting at its default.
    pub fn new(key: &str, kind: FieldType) -> Self {
        Self {
            key: FieldKey::new(key),
            kind,
            required: true,
            labels: Localized::new(),
            help: Localized::new(),
            placeholder: Localized::new(),
            options: Vec::new(),
            validation: Validation::default(),
            storage: Storage::default(),
            user_access: UserAccess::default(),
            write_once: false,
            reconfirm_after: None,
            scope: None,
            claim: None,
            consent_version: None,
            consent_url: None,
            verify: false,
        }
    }

    /// Whether `value` is one of the field's option values.
    pub fn has_option(&self, value: &str) -> bool {
        self.options.iter().any(|option| option.value == value)
    }
}

/// The type of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// One line of text.
    Text,
    /// Several lines of text.
    Textarea,
    /// An email address (domain lower-cased).
    Email,
    /// A phone number, stored in E.164 form.
    Phone,
    /// An `http`/`https` URL.
    Url,
    /// A whole number.
    Integer,
    /// A decimal number.
    Number,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// Yes or no.
    Boolean,
    /// One value among the options.
    Select,
    /// Several values among the options.
    Multiselect,
    /// An ISO 3166-1 alpha-2 country code.
    Country,
    /// A checkbox whose accepted text version is recorded.
    Consent,
}

impl FieldType {
    /// Every field type, in documentation order.
    pub const ALL: [FieldType; 13] = [
        FieldType::Text,
        FieldType::Textarea,
        FieldType::Email,
        FieldType::Phone,
        FieldType::Url,
        FieldType::Integer,
        FieldType::Number,
        FieldType::Date,
        FieldType::Boolean,
        FieldType::Select,
        FieldType::Multiselect,
        FieldType::Country,
        FieldType::Consent,
    ];

    /// The name used in policy documents.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Textarea => "textarea",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Boolean => "boolean",
            FieldType::Select => "select",
            FieldType::Multiselect => "multiselect",
            FieldType::Country => "country",
            FieldType::Consent => "consent",
        }
    }

    /// Whether the type is text-like (length limits and patterns apply).
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            FieldType::Text | FieldType::Textarea | FieldType::Email | FieldType::Url
        )
    }

    /// Whether `min`/`max` apply (values for numbers, dates for dates, counts for multiselect).
    pub fn has_bounds(self) -> bool {
        matches!(
            self,
            FieldType::Integer | FieldType::Number | FieldType::Date | FieldType::Multiselect
        )
    }

    /// Whether the type takes its values from `options`.
    pub fn uses_options(self) -> bool {
        matches!(
            self,
            FieldType::Select | FieldType::Multiselect | FieldType::Country
        )
    }
}

/// An allowed value of a select, multiselect or country field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOption {
    /// The stored value.
    pub value: String,
    /// Label per locale (the value is shown when absent).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Localized,
}

/// A lower or upper bound: a number for numeric fields and multiselect counts, a
/// `YYYY-MM-DD` string for dates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Limit {
    /// A numeric bound.
    Number(f64),
    /// A date bound, `YYYY-MM-DD`.
    Date(String),
}

/// The "validation strings" administrators write.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Minimum length in characters (text-like fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// Maximum length in characters (text-like fields; never above the global bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Minimum value, date or number of selections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Limit>,
    /// Maximum value, date or number of selections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Limit>,
    /// A regular expression the whole (trimmed) value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The message shown when `pattern` does not match, per locale.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pattern_message: Localized,
}

impl Validation {
    /// Whether no rule is set.
    pub fn is_empty(&self) -> bool {
        *self == Validation::default()
    }
}

/// Where a field's value lives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Storage {
    /// A standard OpenID Connect claim of the profile (`given_name`, `phone_number`, ...).
    Profile {
        /// The standard claim name.
        claim: String,
    },
    /// Metadata the user may see and edit (subject to `user_access`).
    #[default]
    UserMetadata,
    /// Metadata for administrators and back ends.
    AppMetadata,
}

impl Storage {
    fn is_default(&self) -> bool {
        *self == Storage::UserMetadata
    }
}

/// The standard OpenID Connect claims a `profile` field may hold, with the field type each needs
/// (`None`: any text-like type).
pub const STANDARD_CLAIMS: [(&str, Option<FieldType>); 14] = [
    ("name", None),
    ("given_name", None),
    ("family_name", None),
    ("middle_name", None),
    ("nickname", None),
    ("preferred_username", None),
    ("profile", Some(FieldType::Url)),
    ("picture", Some(FieldType::Url)),
    ("website", Some(FieldType::Url)),
    ("gender", None),
    ("birthdate", Some(FieldType::Date)),
    ("zoneinfo", None),
    ("locale", None),
    ("phone_number", Some(FieldType::Phone)),
];

/// What the user may do with a field in their account page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserAccess {
    /// See and change it.
    #[default]
    Edit,
    /// See it only.
    Read,
    /// Not shown.
    None,
}

impl UserAccess {
    fn is_default(&self) -> bool {
        *self == UserAccess::Edit
    }
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

#[cfg(test)]
mod localized_tests {
    use super::*;

    #[test]
    fn text_falls_back_from_the_locale_to_its_language_then_to_the_default() {
        let text: Localized = [("en", "Company"), ("fr", "Entreprise")]
            .into_iter()
            .map(|(l, t)| (l.to_owned(), t.to_owned()))
            .collect();
        assert_eq!(localized(&text, "fr", "en"), Some("Entreprise"));
        assert_eq!(localized(&text, "fr-CA", "en"), Some("Entreprise"));
        assert_eq!(localized(&text, "fr_BE", "en"), Some("Entreprise"));
        assert_eq!(localized(&text, "de", "en"), Some("Company"));
        assert_eq!(localized(&text, "de", "it"), None);
    }
}
