//! A stored value that fails its field's current validation is not known: the step asks for
//! it again, pre-filled, and the decision says why.

use accrete_core::{Moment, decision_text};
use serde_json::json;

use crate::support::*;

const POLICY: &str = r#"
version = 1
[[fields]]
key = "size"
kind = "select"
labels = { en = "Size" }
options = [{ value = "small" }, { value = "large" }]
[[fields]]
key = "company"
kind = "text"
labels = { en = "Company" }
[[fields]]
key = "birthdate"
kind = "date"
labels = { en = "Birthdate" }
validation = { max = "today" }
storage = { profile = { claim = "birthdate" } }
[[steps]]
id = "work"
title = { en = "Work" }
fields = ["size", "company", "birthdate"]
mode = "required"
trigger = { moments = ["login"] }
"#;

fn valid_user() -> accrete_core::UserFacts {
    let mut facts = user(2);
    know(&mut facts, "size", json!("small"));
    know(&mut facts, "company", json!("Acme"));
    know(&mut facts, "birthdate", json!("1990-05-17"));
    facts
}

#[test]
fn valid_stored_values_are_known() {
    let policy = compile(POLICY);
    let decision = at(&policy, &valid_user(), &Moment::login());
    assert_eq!(asked(&decision), None);
    assert_eq!(code_of(&decision, "work"), "all_fields_known");
}

#[test]
fn a_select_value_that_is_no_longer_an_option_is_asked_again_prefilled_with_why() {
    let policy = compile(POLICY);
    let mut facts = valid_user();
    know(&mut facts, "size", json!("huge"));
    let decision = at(&policy, &facts, &Moment::login());
    let ask = decision.ask().expect("the step is asked again");
    assert_eq!(ask.fields, ["size"]);
    assert_eq!(ask.prefill.get("size"), Some(&json!("huge")));
    let invalid = ask.invalid.get("size").expect("the stored value's error");
    assert_eq!(invalid.code, "invalid_option");
    let text = decision_text(&decision);
    assert!(
        text.contains("stored size = \"huge\" is not valid: Choose one of the proposed options."),
        "{text}"
    );
}

#[test]
fn an_empty_string_is_not_a_known_value() {
    let policy = compile(POLICY);
    let mut facts = valid_user();
    know(&mut facts, "company", json!(""));
    let decision = at(&policy, &facts, &Moment::login());
    assert_eq!(asked_fields(&decision), ["company"]);
    let ask = decision.ask().unwrap();
    assert_eq!(ask.invalid.get("company").map(|e| e.code), Some("required"));
}

#[test]
fn a_birthdate_in_the_future_is_not_known() {
    let policy = compile(POLICY);
    let mut facts = valid_user();
    know(&mut facts, "birthdate", json!("2099-01-01"));
    let decision = at(&policy, &facts, &Moment::login());
    assert_eq!(asked_fields(&decision), ["birthdate"]);
    let ask = decision.ask().unwrap();
    assert_eq!(ask.prefill.get("birthdate"), Some(&json!("2099-01-01")));
    assert_eq!(
        ask.invalid.get("birthdate").map(|e| e.code),
        Some("too_late")
    );
}

#[test]
fn a_value_of_the_wrong_type_is_not_known() {
    let policy = compile(POLICY);
    let mut facts = valid_user();
    know(&mut facts, "company", json!({ "nested": true }));
    let decision = at(&policy, &facts, &Moment::login());
    assert_eq!(asked_fields(&decision), ["company"]);
}
