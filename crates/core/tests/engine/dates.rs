//! Date bounds relative to the day of the check: `max = "today"`, `min = "-120y"`.

use accrete_core::{Policy, RawAnswers, validate_answers, validate_json_answers};
use serde_json::json;
use time::macros::date;

fn birthdate_policy(min: &str, max: &str) -> String {
    format!(
        r#"
version = 1
[[fields]]
key = "birthdate"
kind = "date"
labels = {{ en = "Birthdate" }}
validation = {{ min = "{min}", max = "{max}" }}
[[steps]]
id = "about"
title = {{ en = "About you" }}
fields = ["birthdate"]
mode = "required"
trigger = {{ moments = ["login"] }}
"#
    )
}

fn form(value: &str) -> RawAnswers {
    RawAnswers::from([("birthdate".to_owned(), vec![value.to_owned()])])
}

#[test]
fn a_birthdate_not_in_the_future_can_be_written_and_is_checked_against_the_day_given() {
    let policy = crate::support::compile(&birthdate_policy("-120y", "today"));
    let today = date!(2026 - 03 - 01);
    let check = |value: &str| {
        validate_answers(&policy, &["birthdate"], &form(value), "en", today)
            .map_err(|errors| errors.get("birthdate")[0].clone())
    };
    assert!(check("1990-05-17").is_ok());
    assert!(check("2026-03-01").is_ok(), "today itself is allowed");
    let late = check("2026-03-02").unwrap_err();
    assert_eq!(late.code, "too_late");
    assert_eq!(late.message, "Enter a date on or before 2026-03-01.");
    let early = check("1906-02-28").unwrap_err();
    assert_eq!(early.code, "too_early");
    assert_eq!(early.message, "Enter a date on or after 1906-03-01.");
    assert!(check("1906-03-01").is_ok());
}

#[test]
fn the_same_answer_is_judged_by_the_day_of_the_check() {
    let policy = crate::support::compile(&birthdate_policy("-120y", "today"));
    let body = json!({ "birthdate": "2026-06-01" });
    let body = body.as_object().unwrap();
    assert!(
        validate_json_answers(&policy, &["birthdate"], body, "en", date!(2026 - 03 - 01)).is_err()
    );
    assert!(
        validate_json_answers(&policy, &["birthdate"], body, "en", date!(2026 - 06 - 01)).is_ok()
    );
}

#[test]
fn an_adult_only_birthdate_uses_a_distance_as_its_maximum() {
    let policy = crate::support::compile(&birthdate_policy("-120y", "-18y"));
    let today = date!(2026 - 03 - 01);
    assert!(validate_answers(&policy, &["birthdate"], &form("2008-03-01"), "en", today).is_ok());
    assert!(validate_answers(&policy, &["birthdate"], &form("2008-03-02"), "en", today).is_err());
}

#[test]
fn relative_bounds_round_trip_and_nonsense_is_a_located_problem() {
    let text = birthdate_policy("-120y", "today");
    let policy = Policy::from_toml_str(&text).unwrap();
    let again = Policy::from_toml_str(&policy.to_toml_string().unwrap()).unwrap();
    assert_eq!(again, policy);

    let problems = |min: &str, max: &str| -> Vec<String> {
        match Policy::from_toml_str(&birthdate_policy(min, max))
            .unwrap()
            .compile()
        {
            Ok(_) => Vec::new(),
            Err(problems) => problems.problems.iter().map(ToString::to_string).collect(),
        }
    };
    let found = problems("yesterday", "today");
    assert_eq!(
        found,
        vec![
            "fields[0].validation.min: \"yesterday\" is not a date written YYYY-MM-DD, \"today\", \
             or a distance from today such as \"-18y\", \"+30d\" (units d, w, m, y; at most 1000y)"
                .to_owned()
        ]
    );
    assert_eq!(
        problems("+1y", "today"),
        vec!["fields[0].validation.min: min +1y is after max today".to_owned()]
    );
    assert_eq!(problems("-5000y", "today").len(), 1);
    assert_eq!(problems("1900-01-01", "today"), Vec::<String>::new());
}
