//! Durations in a policy: absurd ones are refused when the policy is validated, with the maximum.

use accrete_core::{HumanDuration, Moment, Policy};
use time::macros::datetime;

use crate::support::*;

fn problems(toml: &str) -> Vec<String> {
    let policy = Policy::from_toml_str(toml).unwrap_or_else(|e| panic!("{e}"));
    match policy.compile() {
        Ok(_) => Vec::new(),
        Err(problems) => problems.problems.iter().map(ToString::to_string).collect(),
    }
}

fn policy_with(field_extra: &str, mode: &str, condition: &str) -> String {
    format!(
        r#"
version = 1
[[fields]]
key = "company"
kind = "text"
labels = {{ en = "Company" }}
{field_extra}
[[steps]]
id = "work"
title = {{ en = "Work" }}
fields = ["company"]
mode = {mode}
trigger = {{ moments = ["login"]{condition} }}
"#
    )
}

const TOO_LONG: &str = "must be at most 100y (36525d): a longer duration never ends";

#[test]
fn a_reask_interval_past_the_maximum_is_a_located_problem_stating_the_maximum() {
    let toml = policy_with("", r#"{ optional = { reask_after = "10000y" } }"#, "");
    let found = problems(&toml);
    let expected = format!("steps[0].mode.optional.reask_after: {TOO_LONG}");
    assert!(
        found.contains(&expected),
        "expected {expected:?} among {found:#?}"
    );
}

#[test]
fn a_reconfirm_interval_past_the_maximum_is_a_located_problem() {
    let toml = policy_with(r#"reconfirm_after = "200y""#, r#""required""#, "");
    let found = problems(&toml);
    let expected = format!("fields[0].reconfirm_after: {TOO_LONG}");
    assert!(
        found.contains(&expected),
        "expected {expected:?} among {found:#?}"
    );
}

#[test]
fn since_signup_bounds_past_the_maximum_are_located_problems() {
    let toml = policy_with(
        "",
        r#""required""#,
        r#", condition = { any = [{ since_signup = { at_least = "1d", at_most = "10000y" } }] }"#,
    );
    let found = problems(&toml);
    let expected = format!("steps[0].trigger.condition.any[0].since_signup.at_most: {TOO_LONG}");
    assert!(
        found.contains(&expected),
        "expected {expected:?} among {found:#?}"
    );
}

#[test]
fn the_maximum_itself_is_accepted() {
    let toml = policy_with(
        r#"reconfirm_after = "100y""#,
        r#"{ optional = { reask_after = "36525d" } }"#,
        r#", condition = { since_signup = { at_most = "100y" } }"#,
    );
    assert_eq!(problems(&toml), Vec::<String>::new());
    assert_eq!(HumanDuration::MAX.to_string(), "36525d");
}

#[test]
fn a_skip_with_the_longest_reask_interval_is_still_waiting_decades_later() {
    let policy = compile(&policy_with(
        "",
        r#"{ optional = { reask_after = "100y" } }"#,
        "",
    ));
    let mut facts = user(3);
    record_skip(&mut facts, "work", datetime!(2026-01-20 10:00 UTC));
    let decision = accrete_core::decide(
        &policy,
        &facts,
        &Moment::login(),
        datetime!(2090-01-01 00:00 UTC),
    );
    assert_eq!(asked(&decision), None);
    assert_eq!(code_of(&decision, "work"), "skipped_waiting");
}
