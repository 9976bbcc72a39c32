//! `second_factor` steps: "protect your account" asked as a progressive step, due while the user
//! has no second factor, skipped and re-asked like any optional step.

use accrete_core::{Moment, Policy, decide};
use time::Duration;

use crate::support::*;

fn policy(mode: &str, extra: &str) -> String {
    format!(
        r#"
version = 1
[[fields]]
key = "company"
kind = "text"
labels = {{ en = "Company" }}
required = false
[[steps]]
id = "protect"
title = {{ en = "Protect your account" }}
second_factor = true
mode = {mode}
trigger = {{ moments = ["login"], condition = {{ login_count = {{ at_least = 3 }} }} }}
{extra}
"#
    )
}

#[test]
fn a_second_factor_step_is_due_until_the_user_has_one() {
    let policy = compile(&policy(
        r#"{ optional = { max_skips = 2, reask_after_logins = 2 } }"#,
        "",
    ));
    // Too early: the condition holds it back.
    let decision = decide(&policy, &user(2), &Moment::login(), NOW);
    assert_eq!(asked(&decision), None);
    // The third sign-in: asked, with no fields.
    let decision = decide(&policy, &user(3), &Moment::login(), NOW);
    assert_eq!(asked(&decision), Some("protect"));
    let ask = decision.ask().unwrap();
    assert!(ask.second_factor);
    assert!(ask.fields.is_empty());
    assert!(!ask.required);
    // Skipped: asked again two sign-ins later.
    let mut facts = user(3);
    record_skip(&mut facts, "protect", NOW);
    facts.credentialed_logins = 4;
    let later = NOW + Duration::days(1);
    assert_eq!(
        asked(&decide(&policy, &facts, &Moment::login(), later)),
        None
    );
    facts.credentialed_logins = 5;
    assert_eq!(
        asked(&decide(&policy, &facts, &Moment::login(), later)),
        Some("protect")
    );
    // Once the user has a second factor, never again, and the explanation says why.
    facts.second_factor = true;
    let decision = decide(&policy, &facts, &Moment::login(), later);
    assert_eq!(asked(&decision), None);
    assert_eq!(code_of(&decision, "protect"), "has_second_factor");
    assert_eq!(
        reason_of(&decision, "protect"),
        "the user has a second factor"
    );
}

#[test]
fn a_required_second_factor_step_cannot_be_skipped() {
    let policy = compile(&policy(r#""required""#, ""));
    let decision = decide(&policy, &user(3), &Moment::login(), NOW);
    assert!(
        decision
            .ask()
            .is_some_and(|ask| ask.required && ask.second_factor)
    );
}

#[test]
fn a_second_factor_step_lists_no_fields_and_a_step_needs_one_otherwise() {
    for (extra, problem) in [
        (
            r#"fields = ["company"]"#,
            "a second_factor step asks for a second factor only: list no fields",
        ),
        (
            r#"presentation = "one_at_a_time""#,
            "a second_factor step has one page: leave presentation out",
        ),
    ] {
        let document = Policy::from_toml_str(&policy(r#""required""#, extra)).unwrap();
        let problems = document.compile().unwrap_err().to_string();
        assert!(problems.contains(problem), "{problems}");
    }
    let without = policy(r#""required""#, "").replace("second_factor = true\n", "");
    let problems = Policy::from_toml_str(&without)
        .unwrap()
        .compile()
        .unwrap_err()
        .to_string();
    assert!(
        problems.contains("a step needs at least one field (or second_factor = true)"),
        "{problems}"
    );
}
