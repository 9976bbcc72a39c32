//! A profile field as shown to a person, in their locale: the one model behind the hosted
//! forms (prompt, sign-up, account) and the self-service API (`/api/v1/me`, the widget).

use accrete_core::{CompiledPolicy, Field, FieldType, Storage, localized};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::countries;

/// What every surface shows of a field, in one locale.
#[derive(Debug, Clone, Serialize)]
pub struct FieldModel {
    /// The field key (the input name).
    pub key: String,
    /// `text`, `email`, `select`, ...
    pub kind: &'static str,
    /// The label (the key when the policy has none).
    pub label: String,
    pub help: Option<String>,
    pub placeholder: Option<String>,
    /// Whether an answer is required.
    pub required: bool,
    /// The HTML `autocomplete` token, for fields stored in a standard claim.
    pub autocomplete: Option<&'static str>,
    /// The choices of a select, multiselect or country field.
    pub options: Vec<Choice>,
    /// A consent field's text: the address of the version asked (`consent_url`).
    pub consent_url: Option<String>,
}

/// One choice of a select, multiselect or country field.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Choice {
    /// The stored value (for a country, its ISO 3166-1 alpha-2 code).
    pub value: String,
    /// The label in the locale (for a country, its name).
    pub label: String,
}

/// `field` of `policy` as shown in `locale`.
pub fn field_model(policy: &CompiledPolicy, field: &Field, locale: &str) -> FieldModel {
    let default = policy.policy().settings.default_locale.as_str();
    let text = |map| localized(map, locale, default).map(str::to_owned);
    FieldModel {
        key: field.key.as_str().to_owned(),
        kind: field.kind.name(),
        label: text(&field.labels).unwrap_or_else(|| field.key.as_str().to_owned()),
        help: text(&field.help),
        placeholder: text(&field.placeholder),
        required: field.required,
        autocomplete: autocomplete(field),
        options: field_choices(field, locale, default)
            .into_iter()
            .map(|(value, label)| Choice { value, label })
            .collect(),
        consent_url: field.consent_url.clone(),
    }
}

/// A consent as stored (see docs/policy.md): the choice and the version of the text, and for
/// a consent given on a page or through the API since records are kept, the text's address,
/// when and in which application it was given. Older values hold only the first two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// Whether the text was accepted (an optional consent may be declined).
    pub accepted: bool,
    /// The `consent_version` answered.
    pub version: String,
    /// The address of that version's text (`consent_url`), when the policy gave one.
    pub url: Option<String>,
    /// When it was given.
    pub at: Option<OffsetDateTime>,
    /// The application it was given in (none on the account page).
    pub client_id: Option<String>,
}

impl ConsentRecord {
    /// The record in a stored consent value; `None` for a value of another shape.
    pub fn of(value: &Value) -> Option<Self> {
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            accepted: value.get("accepted")?.as_bool()?,
            version: text("version")?,
            url: text("url"),
            at: text("at").and_then(|at| OffsetDateTime::parse(&at, &Rfc3339).ok()),
            client_id: text("client_id"),
        })
    }
}

/// A field's validation rules as the API publishes them (`min_length`, `max_length`, `min`,
/// `max`, `pattern`).
pub fn constraints(field: &Field) -> Value {
    let validation = &field.validation;
    json!({
        "min_length": validation.min_length,
        "max_length": validation.max_length,
        "min": validation.min,
        "max": validation.max,
        "pattern": validation.pattern,
    })
}

/// A step's title in `locale`.
pub fn step_title(policy: &CompiledPolicy, step: &str, locale: &str) -> Option<String> {
    let default = policy.policy().settings.default_locale.as_str();
    policy
        .step(step)
        .and_then(|s| localized(&s.title, locale, default))
        .map(str::to_owned)
}

/// The values of a stored (or suggested) JSON value, as form strings.
pub fn form_values(value: &Value) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        Value::Array(items) => items.iter().flat_map(form_values).collect(),
        Value::Object(map) => match map.get("accepted") {
            Some(Value::Bool(true)) => vec!["true".to_owned()],
            _ => Vec::new(),
        },
    }
}

/// The choices of a select, multiselect or country field as `(value, label)` in `locale`, for
/// the hosted forms and the self-service API alike. An option's label comes from the policy
/// (`locale`, its language, then `default`); a country option without a label in `locale` is
/// named in `locale` rather than in `default`. A country field listing no options offers every
/// country, sorted by name.
pub fn field_choices(field: &Field, locale: &str, default: &str) -> Vec<(String, String)> {
    let country = field.kind == FieldType::Country;
    if country && field.options.is_empty() {
        return countries::all(locale)
            .iter()
            .map(|(code, name)| ((*code).to_owned(), (*name).to_owned()))
            .collect();
    }
    let language = locale.split(['-', '_']).next().unwrap_or_default();
    field
        .options
        .iter()
        .map(|option| {
            let labels = &option.labels;
            let label = labels
                .get(locale)
                .or_else(|| labels.get(language))
                .map(String::as_str)
                .or_else(|| {
                    country
                        .then(|| countries::name(locale, &option.value))
                        .flatten()
                })
                .or_else(|| labels.get(default).map(String::as_str))
                .unwrap_or(&option.value);
            (option.value.clone(), label.to_owned())
        })
        .collect()
}

/// The HTML `autocomplete` token of a field, from the standard claim it is stored in: the
/// claim says the value is the user's own, which a metadata field's type does not (a `phone`
/// in `user_metadata` may be an assistant's number, a `country` a nationality).
pub fn autocomplete(field: &Field) -> Option<&'static str> {
    let Storage::Profile { claim } = &field.storage else {
        return None;
    };
    Some(match claim.as_str() {
        "name" => "name",
        "given_name" => "given-name",
        "family_name" => "family-name",
        "middle_name" => "additional-name",
        "nickname" => "nickname",
        "website" => "url",
        "picture" => "photo",
        "gender" => "sex",
        "birthdate" => "bday",
        "locale" => "language",
        "phone_number" => "tel",
        // preferred_username (a login name to browsers), profile and zoneinfo: no token fits.
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_values_become_form_strings() {
        assert_eq!(form_values(&json!(12)), vec!["12"]);
        assert_eq!(form_values(&json!(["a", "b"])), vec!["a", "b"]);
        assert_eq!(
            form_values(&json!({"accepted": true, "version": "1"})),
            vec!["true"]
        );
        assert!(form_values(&json!(null)).is_empty());
    }

    #[test]
    fn a_consent_record_is_read_from_its_stored_value_old_or_stamped() {
        let stamped = json!({
            "accepted": true,
            "version": "2026-01",
            "url": "https://shop.example/terms",
            "at": "2026-03-01T12:00:00Z",
            "client_id": "shop",
        });
        let record = ConsentRecord::of(&stamped).unwrap();
        assert!(record.accepted);
        assert_eq!(record.version, "2026-01");
        assert_eq!(record.url.as_deref(), Some("https://shop.example/terms"));
        assert_eq!(
            record.at,
            Some(time::macros::datetime!(2026-03-01 12:00 UTC))
        );
        assert_eq!(record.client_id.as_deref(), Some("shop"));
        let old = ConsentRecord::of(&json!({ "accepted": false, "version": "1" })).unwrap();
        assert_eq!((old.accepted, old.url, old.at), (false, None, None));
        assert_eq!(ConsentRecord::of(&json!(true)), None);
    }

    fn country_field(options: &[(&str, &[(&str, &str)])]) -> Field {
        let mut field = Field::new("country", FieldType::Country);
        field.options = options
            .iter()
            .map(|(value, labels)| accrete_core::FieldOption {
                value: (*value).to_owned(),
                labels: labels
                    .iter()
                    .map(|(l, t)| ((*l).to_owned(), (*t).to_owned()))
                    .collect(),
            })
            .collect();
        field
    }

    fn pair(value: &str, label: &str) -> (String, String) {
        (value.to_owned(), label.to_owned())
    }

    #[test]
    fn a_country_field_offers_every_country_by_name_in_the_page_locale() {
        let field = country_field(&[]);
        let en = field_choices(&field, "en", "en");
        let fr = field_choices(&field, "fr", "en");
        assert_eq!(en.len(), accrete_core::country_codes().count());
        assert!(en.contains(&pair("FR", "France")));
        assert!(fr.contains(&pair("FR", "France")));
        assert!(fr.contains(&pair("DE", "Allemagne")));
        let position = |code: &str| fr.iter().position(|(c, _)| c == code);
        assert!(position("EG") < position("ES"), "Égypte sorts with the E's");
    }

    #[test]
    fn a_restricted_country_list_keeps_its_order_and_its_own_labels() {
        let field = country_field(&[("GB", &[("en", "Britain")]), ("FR", &[]), ("DE", &[])]);
        assert_eq!(
            field_choices(&field, "fr", "en"),
            vec![
                pair("GB", "Royaume-Uni"),
                pair("FR", "France"),
                pair("DE", "Allemagne")
            ],
            "a country's name in the page locale before a label in another locale"
        );
        assert_eq!(field_choices(&field, "en", "en")[0], pair("GB", "Britain"));
    }

    #[test]
    fn fields_stored_in_standard_claims_carry_their_autocomplete_token() {
        let in_claim = |claim: &str| {
            let mut field = Field::new("f", FieldType::Text);
            field.storage = Storage::Profile {
                claim: claim.to_owned(),
            };
            autocomplete(&field)
        };
        for (claim, token) in [
            ("name", "name"),
            ("given_name", "given-name"),
            ("family_name", "family-name"),
            ("middle_name", "additional-name"),
            ("nickname", "nickname"),
            ("website", "url"),
            ("picture", "photo"),
            ("gender", "sex"),
            ("birthdate", "bday"),
            ("locale", "language"),
            ("phone_number", "tel"),
        ] {
            assert_eq!(in_claim(claim), Some(token), "{claim}");
        }
        for claim in ["zoneinfo", "preferred_username", "profile"] {
            assert_eq!(in_claim(claim), None, "{claim}");
        }
        let metadata_phone = Field::new("assistant_phone", FieldType::Phone);
        assert_eq!(metadata_phone.storage, Storage::UserMetadata);
        assert_eq!(autocomplete(&metadata_phone), None);
        let nationality = Field::new("nationality", FieldType::Country);
        assert_eq!(autocomplete(&nationality), None);
    }
}
