//! Profile fields as form inputs: what the `field.html` macros need for each field, in the
//! page's locale, with the value to show and the error next to it.

use std::collections::BTreeMap;

use accrete_core::{CompiledPolicy, Field, FieldType, Localized, RawAnswers, Storage};
use serde::Serialize;
use serde_json::Value;

/// One input as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldView {
    pub key: String,
    pub kind: &'static str,
    pub label: String,
    pub help: Option<String>,
    pub placeholder: Option<String>,
    pub required: bool,
    /// The HTML `autocomplete` token, for fields stored in a standard claim.
    pub autocomplete: Option<&'static str>,
    /// The single value shown (text-like inputs, select, boolean/consent `"true"`).
    pub value: String,
    /// Every selected value (multiselect).
    pub values: Vec<String>,
    /// The values as a read-only view shows them: an option's label in place of its value.
    pub shown_values: Vec<String>,
    pub options: Vec<OptionView>,
    pub error: Option<String>,
    /// Shown but not editable (account page).
    pub readonly: bool,
}

/// One option of a select, multiselect or country input.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OptionView {
    pub value: String,
    pub label: String,
}

/// Text in `locale`, else in the policy's default locale.
pub(crate) fn localized(text: &Localized, locale: &str, default: &str) -> Option<String> {
    text.get(locale).or_else(|| text.get(default)).cloned()
}

/// The values of a stored (or suggested) JSON value, as form strings.
pub(crate) fn form_values(value: &Value) -> Vec<String> {
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

/// The view of `field` showing `values`.
pub(crate) fn field_view(
    policy: &CompiledPolicy,
    field: &Field,
    locale: &str,
    values: &[String],
    error: Option<String>,
) -> FieldView {
    let default = policy.policy().settings.default_locale.as_str();
    let options: Vec<OptionView> = field_choices(field, locale, default)
        .into_iter()
        .map(|(value, label)| OptionView { value, label })
        .collect();
    let shown_values = values
        .iter()
        .map(|value| {
            options
                .iter()
                .find(|o| o.value == *value)
                .map_or_else(|| value.clone(), |o| o.label.clone())
        })
        .collect();
    FieldView {
        key: field.key.as_str().to_owned(),
        kind: field.kind.name(),
        label: localized(&field.labels, locale, default)
            .unwrap_or_else(|| field.key.as_str().to_owned()),
        help: localized(&field.help, locale, default),
        placeholder: localized(&field.placeholder, locale, default),
        required: field.required,
        autocomplete: autocomplete(field),
        value: values.first().cloned().unwrap_or_default(),
        values: values.to_vec(),
        shown_values,
        options,
        error,
        readonly: false,
    }
}

/// The choices of a select, multiselect or country field as `(value, label)` in `locale`, for
/// the hosted forms and the self-service API alike. An option's label comes from the policy
/// (`locale`, its language, then `default`); a country option without a label in `locale` is
/// named in `locale` rather than in `default`. A country field listing no options offers every
/// country, sorted by name.
pub(crate) fn field_choices(field: &Field, locale: &str, default: &str) -> Vec<(String, String)> {
    let country = field.kind == FieldType::Country;
    if country && field.options.is_empty() {
        return crate::countries::all(locale)
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
                        .then(|| crate::countries::name(locale, &option.value))
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
pub(crate) fn autocomplete(field: &Field) -> Option<&'static str> {
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

/// Splits a form post into the page's own inputs and the answers (every other name).
pub(crate) fn split_post(pairs: Vec<(String, String)>) -> (BTreeMap<String, String>, RawAnswers) {
    const OWN: [&str; 4] = ["csrf", "tx", "action", "step"];
    let mut own = BTreeMap::new();
    let mut raw = RawAnswers::new();
    for (name, value) in pairs {
        if OWN.contains(&name.as_str()) {
            own.insert(name, value);
        } else {
            raw.entry(name).or_default().push(value);
        }
    }
    (own, raw)
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
    fn a_read_only_value_is_shown_by_its_option_label() {
        let policy =
            accrete_core::Policy::from_toml_str(include_str!("../../../../examples/policy.toml"))
                .unwrap()
                .compile()
                .unwrap();
        let shown = |key: &str, value: &str| {
            let field = policy.fields().iter().find(|f| f.key.as_str() == key);
            field_view(&policy, field.unwrap(), "fr", &[value.to_owned()], None).shown_values
        };
        assert_eq!(shown("company_size", "11-50"), vec!["11 à 50 personnes"]);
        assert_eq!(shown("country", "DE"), vec!["Allemagne"]);
        assert_eq!(shown("company", "Acme"), vec!["Acme"]);
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

    #[test]
    fn a_multiselect_repeats_its_name_and_page_inputs_are_set_apart() {
        let pairs = vec![
            ("csrf".to_owned(), "t".to_owned()),
            ("interests".to_owned(), "a".to_owned()),
            ("interests".to_owned(), "b".to_owned()),
        ];
        let (own, raw) = split_post(pairs);
        assert_eq!(own["csrf"], "t");
        assert_eq!(raw["interests"], vec!["a", "b"]);
    }

    #[tokio::test]
    async fn every_field_type_renders_as_an_accessible_input_named_by_its_key() {
        let policy =
            accrete_core::Policy::from_toml_str(include_str!("../../../../examples/policy.toml"))
                .unwrap()
                .compile()
                .unwrap();
        let fields: Vec<FieldView> = policy
            .fields()
            .iter()
            .map(|f| {
                let error = (f.key.as_str() == "team_size").then(|| "Too big".to_owned());
                field_view(&policy, f, "fr", &["x".to_owned()], error)
            })
            .collect();
        let kinds: std::collections::BTreeSet<&str> = fields.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds.len(),
            FieldType::ALL.len(),
            "the example uses every type"
        );
        let context = minijinja::context! {
            locale => "fr", csrf => "t", tx => "1", step => "s", required => false, fields,
        };
        let response = crate::pages::Pages::new(None).render(
            axum::http::StatusCode::OK,
            "prompt.html",
            context,
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        for (key, needle) in [
            ("given_name", "name=\"given_name\" type=\"text\""),
            ("bio", "<textarea id=\"f-bio\" name=\"bio\""),
            ("work_email", "name=\"work_email\" type=\"email\""),
            (
                "phone_number",
                "name=\"phone_number\" type=\"tel\" value=\"x\" autocomplete=\"tel\"",
            ),
            ("website", "name=\"website\" type=\"url\""),
            ("team_size", "name=\"team_size\" type=\"number\""),
            (
                "annual_budget",
                "name=\"annual_budget\" type=\"text\" value=\"x\" inputmode=\"decimal\"",
            ),
            ("birthdate", "name=\"birthdate\" type=\"date\""),
            (
                "newsletter",
                "name=\"newsletter\" type=\"checkbox\" value=\"true\"",
            ),
            ("terms", "name=\"terms\" type=\"checkbox\" value=\"true\""),
            (
                "company_size",
                "<select id=\"f-company_size\" name=\"company_size\"",
            ),
            (
                "interests",
                "name=\"interests\" type=\"checkbox\" value=\"security\"",
            ),
            ("country", "<option value=\"FR\">France</option>"),
        ] {
            assert!(html.contains(needle), "{key}: {needle} not in {html}");
            assert!(
                html.contains(&format!("for=\"f-{key}")),
                "{key} has a label"
            );
        }
        assert!(html.contains("Prénom"), "labels in the page locale");
        assert!(html.contains("aria-describedby=\"f-team_size-error\""));
        assert!(html.contains("id=\"f-team_size-error\">Too big<"));
        assert!(
            html.contains("value=\"skip\""),
            "an optional step can be skipped"
        );
    }
}
