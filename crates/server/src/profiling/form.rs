//! Profile fields as form inputs: what the `field.html` macros need for each field, in the
//! page's locale, with the value to show and the error next to it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use accrete_core::{CompiledPolicy, Field, FieldType, Localized, RawAnswers};
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
    /// The single value shown (text-like inputs, select, boolean/consent `"true"`).
    pub value: String,
    /// Every selected value (multiselect).
    pub values: Vec<String>,
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
    let options = if field.kind == FieldType::Country && field.options.is_empty() {
        countries()
            .iter()
            .map(|code| OptionView {
                value: code.clone(),
                label: code.clone(),
            })
            .collect()
    } else {
        field
            .options
            .iter()
            .map(|o| OptionView {
                value: o.value.clone(),
                label: localized(&o.labels, locale, default).unwrap_or_else(|| o.value.clone()),
            })
            .collect()
    };
    FieldView {
        key: field.key.as_str().to_owned(),
        kind: field.kind.name(),
        label: localized(&field.labels, locale, default)
            .unwrap_or_else(|| field.key.as_str().to_owned()),
        help: localized(&field.help, locale, default),
        placeholder: localized(&field.placeholder, locale, default),
        required: field.required,
        value: values.first().cloned().unwrap_or_default(),
        values: values.to_vec(),
        options,
        error,
        readonly: false,
    }
}

/// The assigned ISO 3166-1 alpha-2 codes, as the engine validates them.
fn countries() -> &'static [String] {
    static CODES: OnceLock<Vec<String>> = OnceLock::new();
    CODES.get_or_init(|| {
        let mut policy = accrete_core::Policy::new();
        let mut field = Field::new("c", FieldType::Country);
        field.required = false;
        field.labels.insert("en".to_owned(), "Country".to_owned());
        policy.fields = vec![field];
        let Ok(policy) = policy.compile() else {
            return Vec::new();
        };
        let letters = b'A'..=b'Z';
        letters
            .clone()
            .flat_map(|a| letters.clone().map(move |b| [a, b]))
            .filter_map(|pair| {
                let code = std::str::from_utf8(&pair).ok()?.to_owned();
                let raw = RawAnswers::from([("c".to_owned(), vec![code.clone()])]);
                accrete_core::validate_answers(&policy, &["c"], &raw, "en").ok()?;
                Some(code)
            })
            .collect()
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
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
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
    fn the_country_list_has_every_assigned_code() {
        assert_eq!(countries().len(), 249);
        assert!(countries().iter().any(|c| c == "FR"));
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
            ("phone_number", "name=\"phone_number\" type=\"tel\""),
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
            ("country", "<option value=\"FR\">FR</option>"),
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
