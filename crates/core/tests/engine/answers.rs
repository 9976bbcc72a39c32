//! Answer validation for every field type, with bounds and locales.

use accrete_core::{
    MAX_VALUE_BYTES, RawAnswers, validate_answers, validate_json_answers, validate_step_answers,
};
use serde_json::json;

use crate::support::*;

fn form(pairs: &[(&str, &str)]) -> RawAnswers {
    let mut raw = RawAnswers::new();
    for (key, value) in pairs {
        raw.entry((*key).to_owned())
            .or_default()
            .push((*value).to_owned());
    }
    raw
}

/// Validates one field of the example policy from a form post.
fn one(key: &str, values: &[&str]) -> Result<serde_json::Value, Vec<&'static str>> {
    let policy = example();
    let pairs: Vec<(&str, &str)> = values.iter().map(|v| (key, *v)).collect();
    match validate_answers(
        &policy,
        &[key],
        &form(&pairs),
        "en",
        crate::support::NOW.date(),
    ) {
        Ok(mut answers) => Ok(answers.remove(key).unwrap_or(serde_json::Value::Null)),
        Err(errors) => Err(errors.get(key).iter().map(|e| e.code).collect()),
    }
}

#[test]
fn text_is_trimmed_and_length_checked() {
    assert_eq!(one("given_name", &["  Ada "]), Ok(json!("Ada")));
    assert_eq!(
        one("given_name", &[&"a".repeat(101)]),
        Err(vec!["too_long"])
    );
    assert_eq!(one("given_name", &["   "]), Err(vec!["required"]));
    assert_eq!(
        one("given_name", &["Ada\u{0}"]),
        Err(vec!["invalid_characters"])
    );
}

#[test]
fn textarea_keeps_lines_and_normalises_line_ends() {
    assert_eq!(
        one("bio", &["line one\r\nline two"]),
        Ok(json!("line one\nline two"))
    );
    assert_eq!(
        one("bio", &[""]),
        Ok(serde_json::Value::Null),
        "optional and empty"
    );
}

#[test]
fn a_pattern_refusal_uses_the_administrators_message_in_the_users_locale() {
    let policy = example();
    let raw = form(&[("employee_id", "ab12")]);
    let fr = validate_answers(
        &policy,
        &["employee_id"],
        &raw,
        "fr-FR",
        crate::support::NOW.date(),
    )
    .unwrap_err();
    assert_eq!(fr.get("employee_id")[0].code, "pattern");
    assert_eq!(
        fr.get("employee_id")[0].message,
        "Deux majuscules puis quatre chiffres, par exemple AB1234."
    );
    let de = validate_answers(
        &policy,
        &["employee_id"],
        &raw,
        "de",
        crate::support::NOW.date(),
    )
    .unwrap_err();
    assert_eq!(
        de.get("employee_id")[0].message,
        "Two capital letters then four digits, e.g. AB1234."
    );
    assert_eq!(one("employee_id", &["AB1234"]), Ok(json!("AB1234")));
}

#[test]
fn built_in_messages_come_in_english_and_french() {
    let policy = example();
    let raw = form(&[("given_name", "")]);
    let en = validate_answers(
        &policy,
        &["given_name"],
        &raw,
        "en",
        crate::support::NOW.date(),
    )
    .unwrap_err();
    let fr = validate_answers(
        &policy,
        &["given_name"],
        &raw,
        "fr",
        crate::support::NOW.date(),
    )
    .unwrap_err();
    assert_eq!(en.get("given_name")[0].message, "This field is required.");
    assert_eq!(fr.get("given_name")[0].message, "Ce champ est obligatoire.");
}

#[test]
fn email_domains_are_lower_cased() {
    assert_eq!(
        one("work_email", &["Ada@Example.COM"]),
        Ok(json!("Ada@example.com"))
    );
    assert_eq!(
        one("work_email", &["not an email"]),
        Err(vec!["invalid_email"])
    );
}

#[test]
fn phones_are_normalised_to_e164() {
    assert_eq!(
        one("phone_number", &["+33 6 12 34 56 78"]),
        Ok(json!("+33612345678"))
    );
    // The example's default region is FR.
    assert_eq!(
        one("phone_number", &["06 12 34 56 78"]),
        Ok(json!("+33612345678"))
    );
    assert_eq!(one("phone_number", &["12"]), Err(vec!["invalid_phone"]));
}

#[test]
fn urls_must_be_http_or_https() {
    assert_eq!(
        one("website", &["HTTPS://example.com/a"]),
        Ok(json!("https://example.com/a"))
    );
    assert_eq!(
        one("website", &["javascript:alert(1)"]),
        Err(vec!["invalid_url"])
    );
    assert_eq!(one("website", &["https://"]), Err(vec!["invalid_url"]));
}

#[test]
fn integers_are_numbers_within_bounds() {
    assert_eq!(one("team_size", &["42"]), Ok(json!(42)));
    assert_eq!(one("team_size", &["0"]), Err(vec!["too_small"]));
    assert_eq!(one("team_size", &["1000001"]), Err(vec!["too_large"]));
    assert_eq!(one("team_size", &["4.5"]), Err(vec!["invalid_integer"]));
}

#[test]
fn numbers_accept_a_decimal_comma() {
    assert_eq!(one("annual_budget", &["1234,5"]), Ok(json!(1234.5)));
    assert_eq!(one("annual_budget", &["-1"]), Err(vec!["too_small"]));
    assert_eq!(one("annual_budget", &["NaN"]), Err(vec!["invalid_number"]));
}

#[test]
fn dates_are_iso_and_within_bounds() {
    assert_eq!(one("birthdate", &["1990-04-01"]), Ok(json!("1990-04-01")));
    assert_eq!(one("birthdate", &["01/04/1990"]), Err(vec!["invalid_date"]));
    assert_eq!(one("birthdate", &["1800-01-01"]), Err(vec!["too_early"]));
    assert_eq!(one("birthdate", &["2024-01-01"]), Err(vec!["too_late"]));
}

#[test]
fn booleans_come_from_checkboxes() {
    assert_eq!(one("newsletter", &["on"]), Ok(json!(true)));
    assert_eq!(
        one("newsletter", &[]),
        Ok(json!(false)),
        "unticked sends nothing"
    );
    assert_eq!(one("newsletter", &["false", "true"]), Ok(json!(true)));
    assert_eq!(one("newsletter", &["maybe"]), Err(vec!["invalid_boolean"]));
}

#[test]
fn selects_accept_their_options_only() {
    assert_eq!(one("company_size", &["11-50"]), Ok(json!("11-50")));
    assert_eq!(one("company_size", &["huge"]), Err(vec!["invalid_option"]));
    assert_eq!(
        one("company_size", &["1-10", "11-50"]),
        Err(vec!["too_many_values"])
    );
}

#[test]
fn multiselects_repeat_the_name_and_count_choices() {
    assert_eq!(
        one("interests", &["security", "devops", "security"]),
        Ok(json!(["security", "devops"]))
    );
    assert_eq!(
        one("interests", &["security", "devops", "design", "identity"]),
        Err(vec!["too_many_selected"])
    );
    assert_eq!(one("interests", &["cooking"]), Err(vec!["invalid_option"]));
    assert_eq!(one("interests", &[]), Err(vec!["required"]));
}

#[test]
fn countries_are_upper_case_iso_codes() {
    assert_eq!(one("country", &["fr"]), Ok(json!("FR")));
    assert_eq!(one("country", &["XX"]), Err(vec!["invalid_country"]));
}

#[test]
fn consent_records_the_accepted_version_and_the_address_of_its_text() {
    assert_eq!(
        one("terms", &["on"]),
        Ok(json!({
            "accepted": true,
            "version": "2026-01",
            "url": "https://example.com/terms/2026-01"
        }))
    );
    assert_eq!(one("terms", &[]), Err(vec!["consent_required"]));
}

#[test]
fn all_errors_are_reported_at_once_and_unknown_keys_are_errors() {
    let policy = example();
    let raw = form(&[
        ("given_name", ""),
        ("family_name", &"x".repeat(200)),
        ("is_admin", "true"),
    ]);
    let errors = validate_answers(
        &policy,
        &["given_name", "family_name", "terms"],
        &raw,
        "en",
        crate::support::NOW.date(),
    )
    .unwrap_err();
    assert_eq!(errors.get("given_name")[0].code, "required");
    assert_eq!(errors.get("family_name")[0].code, "too_long");
    assert_eq!(errors.get("terms")[0].code, "consent_required");
    assert_eq!(errors.get("is_admin")[0].code, "unknown_field");
}

#[test]
fn a_field_that_was_not_asked_is_refused() {
    let policy = example();
    let raw = form(&[("given_name", "Ada"), ("company", "ACME")]);
    let errors = validate_answers(
        &policy,
        &["given_name"],
        &raw,
        "en",
        crate::support::NOW.date(),
    )
    .unwrap_err();
    assert_eq!(errors.get("company")[0].code, "unknown_field");
}

#[test]
fn oversize_inputs_are_errors() {
    let policy = example();
    let big = "a".repeat(MAX_VALUE_BYTES + 1);
    assert_eq!(one("bio", &[&big]), Err(vec!["value_too_large"]));
    let many: Vec<String> = (0..65).map(|_| "security".to_owned()).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(one("interests", &many), Err(vec!["too_many_values"]));
    let mut raw = RawAnswers::new();
    for i in 0..300 {
        raw.insert(format!("k{i}"), vec!["v".to_owned()]);
    }
    let errors = validate_answers(
        &policy,
        &["given_name"],
        &raw,
        "en",
        crate::support::NOW.date(),
    )
    .unwrap_err();
    assert_eq!(errors.get("_form")[0].code, "too_many_fields");
}

#[test]
fn a_step_can_be_validated_as_a_whole() {
    let policy = example();
    let raw = form(&[("company", "ACME"), ("job_title", "CTO")]);
    let answers =
        validate_step_answers(&policy, "work", &raw, "en", crate::support::NOW.date()).unwrap();
    assert_eq!(answers["company"], json!("ACME"));
    let errors =
        validate_step_answers(&policy, "nope", &raw, "en", crate::support::NOW.date()).unwrap_err();
    assert_eq!(errors.get("_form")[0].code, "unknown_step");
}

#[test]
fn json_answers_are_typed_the_same_way() {
    let policy = example();
    let body = json!({
        "team_size": 12,
        "annual_budget": "2500.5",
        "newsletter": true,
        "interests": ["identity"],
        "terms": { "accepted": true, "version": "whatever" },
        "phone_number": "+1 650 253 0000",
    });
    let keys = [
        "team_size",
        "annual_budget",
        "newsletter",
        "interests",
        "terms",
        "phone_number",
    ];
    let answers = validate_json_answers(
        &policy,
        &keys,
        body.as_object().unwrap(),
        "en",
        crate::support::NOW.date(),
    )
    .unwrap();
    assert_eq!(answers["team_size"], json!(12));
    assert_eq!(answers["annual_budget"], json!(2500.5));
    assert_eq!(answers["newsletter"], json!(true));
    assert_eq!(answers["interests"], json!(["identity"]));
    assert_eq!(
        answers["terms"],
        json!({ "accepted": true, "version": "2026-01", "url": "https://example.com/terms/2026-01" })
    );
    assert_eq!(answers["phone_number"], json!("+16502530000"));
}

#[test]
fn json_answers_of_the_wrong_shape_are_errors() {
    let policy = example();
    let body = json!({ "company": { "nested": true }, "newsletter": null, "team_size": [1, [2]] });
    let errors = validate_json_answers(
        &policy,
        &["company", "newsletter", "team_size"],
        body.as_object().unwrap(),
        "en",
        crate::support::NOW.date(),
    )
    .unwrap_err();
    assert_eq!(errors.get("company")[0].code, "wrong_type");
    assert_eq!(errors.get("team_size")[0].code, "wrong_type");
    assert!(
        errors.get("newsletter").is_empty(),
        "an optional boolean may be absent"
    );
}
