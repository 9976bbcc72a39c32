//! Profile fields as form inputs: what the `field.html` macros need for each field, in the
//! page's locale, with the value to show and the error next to it. What a field shows (label,
//! help, choices, `autocomplete`) is `accrete_app::fields::field_model`, shared with the API.

use std::collections::BTreeMap;

use accrete_app::fields::{Choice, field_model, step_title};
use accrete_app::signup::SignupStep;
use accrete_core::{CompiledPolicy, Field, FieldErrors as AnswerErrors, RawAnswers};
use minijinja::context;
use serde::Serialize;

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
    pub options: Vec<Choice>,
    pub error: Option<String>,
    /// Shown but not editable (account page).
    pub readonly: bool,
    /// A consent field's text, linked beside its checkbox (`consent_url`).
    pub consent_url: Option<String>,
    /// The consent given, as the account page tells it.
    pub consent: Option<ConsentGiven>,
}

/// A stored consent in words: "Accepted on 3 March 2026 (version 2026-01)", with the link to
/// the text accepted.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConsentGiven {
    pub summary: String,
    pub url: Option<String>,
}

/// The view of `field` showing `values`.
pub(crate) fn field_view(
    policy: &CompiledPolicy,
    field: &Field,
    locale: &str,
    values: &[String],
    error: Option<String>,
) -> FieldView {
    let model = field_model(policy, field, locale);
    let shown_values = values
        .iter()
        .map(|value| {
            model
                .options
                .iter()
                .find(|o| o.value == *value)
                .map_or_else(|| value.clone(), |o| o.label.clone())
        })
        .collect();
    FieldView {
        key: model.key,
        kind: model.kind,
        label: model.label,
        help: model.help,
        placeholder: model.placeholder,
        required: model.required,
        autocomplete: model.autocomplete,
        value: values.first().cloned().unwrap_or_default(),
        values: values.to_vec(),
        shown_values,
        options: model.options,
        error,
        readonly: false,
        consent_url: model.consent_url,
        consent: None,
    }
}

/// The views of the fields `keys` of a form, with the values entered and their errors.
pub(crate) fn form_fields(
    policy: &CompiledPolicy,
    keys: &[String],
    locale: &str,
    values: &dyn Fn(&str) -> Vec<String>,
    errors: &AnswerErrors,
) -> Vec<FieldView> {
    keys.iter()
        .filter_map(|key| policy.field(key))
        .map(|field| {
            let key = field.key.as_str();
            let error = errors.get(key).first().map(|e| e.message.clone());
            field_view(policy, field, locale, &values(key), error)
        })
        .collect()
}

/// What the sign-up template shows of the first sign-up step: `signup.title`,
/// `signup.fields`, `signup.progress`.
pub(crate) fn signup_view(
    step: &SignupStep,
    locale: &str,
    raw: &RawAnswers,
    errors: &AnswerErrors,
) -> minijinja::Value {
    let policy = step.policy();
    let values = |key: &str| raw.get(key).cloned().unwrap_or_default();
    let fields = form_fields(policy, step.fields(), locale, &values, errors);
    let total = step.pages();
    context! {
        title => step_title(policy, step.step(), locale),
        fields,
        progress => (total > 1).then(|| context! { current => 1, total }),
    }
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
    use accrete_core::FieldType;

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
        let response = crate::hosted::templates::Pages::new(None).render(
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
