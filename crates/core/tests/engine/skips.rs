//! Modes, skip policies, ordering and the per-sign-in limit of optional prompts.

use accrete_core::{KnownValue, Moment, decide};
use serde_json::json;
use time::Duration;

use crate::support::*;

/// Fields a..d; steps given as TOML.
fn policy(settings: &str, steps: &str) -> accrete_core::CompiledPolicy {
    compile(&format!(
        r#"
version = 1
[settings]
{settings}
[[fields]]
key = "a"
kind = "text"
labels = {{ en = "A" }}
[[fields]]
key = "b"
kind = "text"
labels = {{ en = "B" }}
reconfirm_after = "30d"
[[fields]]
key = "c"
kind = "text"
labels = {{ en = "C" }}
[[fields]]
key = "d"
kind = "consent"
labels = {{ en = "D" }}
consent_version = "v2"
{steps}
"#
    ))
}

fn step(id: &str, fields: &str, mode: &str, extra: &str) -> String {
    format!(
        "[[steps]]\nid = \"{id}\"\ntitle = {{ en = \"{id}\" }}\nfields = {fields}\nmode = {mode}\ntrigger = {{ moments = [\"login\"] }}\n{extra}\n"
    )
}

#[test]
fn a_required_step_is_asked_before_an_optional_step_of_higher_priority() {
    let steps = step("opt", r#"["a"]"#, "{ optional = {} }", "priority = 100")
        + &step("req", r#"["c", "b", "d"]"#, r#""required""#, "priority = 1");
    let policy = policy("", &steps);
    let decision = decide(&policy, &user(1), &Moment::login(), NOW);
    assert_eq!(asked(&decision), Some("req"));
    assert_eq!(code_of(&decision, "opt"), "queued");
    assert_eq!(
        reason_of(&decision, "opt"),
        "due, but step \"req\" is asked first"
    );
}

#[test]
fn among_steps_of_one_mode_the_higher_priority_comes_first() {
    let steps = step("low", r#"["a"]"#, r#""required""#, "priority = 1")
        + &step("high", r#"["c"]"#, r#""required""#, "priority = 9")
        + &step("rest", r#"["b", "d"]"#, r#""required""#, "");
    let policy = policy("", &steps);
    let decision = decide(&policy, &user(1), &Moment::login(), NOW);
    assert_eq!(asked(&decision), Some("high"));
    let order: Vec<String> = decision
        .explanation()
        .iter()
        .map(|e| e.step.to_string())
        .collect();
    assert_eq!(order, ["high", "low", "rest"]);
}

#[test]
fn only_missing_fields_are_asked() {
    let policy = policy(
        "",
        &step("s", r#"["a", "b", "c", "d"]"#, r#""required""#, ""),
    );
    let mut facts = user(1);
    know(&mut facts, "a", json!("known"));
    know(&mut facts, "c", json!("known"));
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(asked_fields(&decision), ["b", "d"]);
}

#[test]
fn a_null_value_does_not_make_a_field_known() {
    let policy = policy(
        "",
        &step("s", r#"["a", "b", "c", "d"]"#, r#""required""#, ""),
    );
    let mut facts = user(1);
    know(&mut facts, "a", serde_json::Value::Null);
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert!(asked_fields(&decision).contains(&"a".to_owned()));
}

#[test]
fn a_value_older_than_its_reconfirm_period_is_asked_again_prefilled() {
    let policy = policy(
        "",
        &(step("s", r#"["b"]"#, r#""required""#, "")
            + &step("rest", r#"["a", "c", "d"]"#, r#""required""#, "")),
    );
    let mut facts = user(1);
    let mut old = KnownValue::new(json!("Engineer"), "prompt:s");
    old.updated_at = Some(NOW - Duration::days(31));
    facts.values.insert("b".to_owned(), old.clone());
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(asked(&decision), Some("s"));
    assert_eq!(decision.ask().unwrap().prefill["b"], json!("Engineer"));

    old.updated_at = Some(NOW - Duration::days(29));
    facts.values.insert("b".to_owned(), old);
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(code_of(&decision, "s"), "all_fields_known");
}

#[test]
fn a_consent_to_an_older_version_is_asked_again() {
    let policy = policy(
        "",
        &(step("s", r#"["d"]"#, r#""required""#, "")
            + &step("rest", r#"["a", "b", "c"]"#, r#""required""#, "")),
    );
    let mut facts = user(1);
    know(
        &mut facts,
        "d",
        json!({ "accepted": true, "version": "v1" }),
    );
    assert_eq!(
        asked(&decide(&policy, &facts, &Moment::login(), NOW)),
        Some("s")
    );
    know(
        &mut facts,
        "d",
        json!({ "accepted": true, "version": "v2" }),
    );
    assert_eq!(
        code_of(&decide(&policy, &facts, &Moment::login(), NOW), "s"),
        "all_fields_known"
    );
}

#[test]
fn suggestions_prefill_without_making_the_field_known() {
    let policy = policy(
        "",
        &step("s", r#"["a", "b", "c", "d"]"#, r#""required""#, ""),
    );
    let mut facts = user(1);
    facts
        .suggestions
        .insert("a".to_owned(), json!("From Google"));
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    let ask = decision.ask().unwrap();
    assert!(ask.fields.iter().any(|f| f == "a"));
    assert_eq!(ask.prefill["a"], json!("From Google"));
    assert_eq!(ask.prefill.len(), 1);
}

#[test]
fn one_at_a_time_asks_the_first_missing_field_only() {
    let steps = step(
        "s",
        r#"["a", "b", "c", "d"]"#,
        r#""required""#,
        r#"presentation = "one_at_a_time""#,
    );
    let policy = policy("", &steps);
    let mut facts = user(1);
    know(&mut facts, "a", json!("known"));
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(asked_fields(&decision), ["b"]);
}

#[test]
fn a_one_at_a_time_step_counts_every_question_it_still_has_to_ask() {
    let steps = step(
        "s",
        r#"["a", "b", "c", "d"]"#,
        r#""required""#,
        r#"presentation = "one_at_a_time""#,
    );
    let policy = policy("", &steps);
    let mut facts = user(1);
    know(&mut facts, "c", json!("known"));
    let missing: Vec<String> = accrete_core::missing_fields(&policy, "s", &facts, NOW)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        missing,
        ["a", "b", "d"],
        "three questions, the first asked now"
    );
    assert!(accrete_core::missing_fields(&policy, "nope", &facts, NOW).is_empty());
}

#[test]
fn at_most_one_optional_step_is_asked_per_signin_by_default() {
    let steps = step("one", r#"["a", "b"]"#, "{ optional = {} }", "priority = 2")
        + &step("two", r#"["c", "d"]"#, "{ optional = {} }", "priority = 1");
    let policy = policy("", &steps);
    let mut moment = Moment::login();
    let first = decide(&policy, &user(1), &moment, NOW);
    assert_eq!(asked(&first), Some("one"));
    moment.optional_steps_asked = 1;
    let second = decide(&policy, &user(1), &moment, NOW);
    assert_eq!(asked(&second), None);
    assert_eq!(
        reason_of(&second, "two"),
        "limit of 1 optional prompt per sign-in reached"
    );
}

#[test]
fn the_optional_limit_per_signin_is_configurable() {
    let steps = step("one", r#"["a", "b"]"#, "{ optional = {} }", "priority = 2")
        + &step("two", r#"["c", "d"]"#, "{ optional = {} }", "priority = 1");
    let policy = policy("max_optional_steps_per_signin = 2", &steps);
    let mut moment = Moment::login();
    moment.optional_steps_asked = 1;
    moment.skipped_this_signin = vec!["one".to_owned()];
    assert_eq!(asked(&decide(&policy, &user(1), &moment, NOW)), Some("two"));
    moment.optional_steps_asked = 2;
    assert_eq!(asked(&decide(&policy, &user(1), &moment, NOW)), None);
}

#[test]
fn a_step_skipped_in_this_signin_is_not_asked_again_in_it() {
    let policy = policy(
        "",
        &step("s", r#"["a", "b", "c", "d"]"#, "{ optional = {} }", ""),
    );
    let mut moment = Moment::login();
    moment.skipped_this_signin.push("s".to_owned());
    let decision = decide(&policy, &user(1), &moment, NOW);
    assert_eq!(asked(&decision), None);
    assert_eq!(reason_of(&decision, "s"), "skipped during this sign-in");
}

#[test]
fn without_a_reask_interval_a_skipped_step_is_asked_at_the_next_signin() {
    let policy = policy(
        "",
        &step("s", r#"["a", "b", "c", "d"]"#, "{ optional = {} }", ""),
    );
    let mut facts = user(1);
    record_skip(&mut facts, "s", NOW);
    facts.credentialed_logins = 2;
    assert_eq!(
        asked(&decide(&policy, &facts, &Moment::login(), NOW)),
        Some("s")
    );
}

#[test]
fn skipped_optional_step_is_not_asked_again_before_the_reask_interval() {
    let policy = policy(
        "",
        &step(
            "s",
            r#"["a", "b", "c", "d"]"#,
            r#"{ optional = { reask_after = "7d" } }"#,
            "",
        ),
    );
    let mut facts = user(1);
    record_skip(&mut facts, "s", NOW - Duration::days(6));
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(asked(&decision), None);
    assert!(reason_of(&decision, "s").starts_with("skipped; re-ask after 2026-03-02T"));
    let later = decide(&policy, &facts, &Moment::login(), NOW + Duration::days(1));
    assert_eq!(asked(&later), Some("s"));
}

#[test]
fn with_both_intervals_a_skipped_step_waits_for_both() {
    let policy = policy(
        "",
        &step(
            "s",
            r#"["a", "b", "c", "d"]"#,
            r#"{ optional = { reask_after = "7d", reask_after_logins = 2 } }"#,
            "",
        ),
    );
    let mut facts = user(1);
    record_skip(&mut facts, "s", NOW);
    facts.credentialed_logins = 3;
    assert_eq!(asked(&decide(&policy, &facts, &Moment::login(), NOW)), None);
    facts.credentialed_logins = 2;
    let both = decide(&policy, &facts, &Moment::login(), NOW + Duration::days(8));
    assert_eq!(
        reason_of(&both, "s"),
        "skipped; re-ask after 1 more sign-in"
    );
    facts.credentialed_logins = 3;
    let later = decide(&policy, &facts, &Moment::login(), NOW + Duration::days(8));
    assert_eq!(asked(&later), Some("s"));
}

#[test]
fn after_the_last_skip_a_step_can_become_required() {
    let policy = policy(
        "",
        &step(
            "s",
            r#"["a", "b", "c", "d"]"#,
            r#"{ optional = { max_skips = 2, after_last_skip = "require" } }"#,
            "",
        ),
    );
    let mut facts = user(1);
    record_skip(&mut facts, "s", NOW);
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert!(!decision.ask().unwrap().required);
    record_skip(&mut facts, "s", NOW);
    let mut moment = Moment::login();
    moment.optional_steps_asked = 5;
    let decision = decide(&policy, &facts, &moment, NOW);
    let ask = decision.ask().unwrap();
    assert!(ask.required, "required despite the optional limit");
}

#[test]
fn after_the_last_skip_a_step_can_stop_being_asked() {
    let policy = policy(
        "",
        &step(
            "s",
            r#"["a", "b", "c", "d"]"#,
            "{ optional = { max_skips = 1 } }",
            "",
        ),
    );
    let mut facts = user(1);
    record_skip(&mut facts, "s", NOW);
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(asked(&decision), None);
    assert_eq!(
        reason_of(&decision, "s"),
        "skipped 1 time: skip limit reached, stopped asking"
    );
}

#[test]
fn proceed_explains_every_step() {
    let steps = step("one", r#"["a", "b"]"#, r#""required""#, "")
        + &step("two", r#"["c", "d"]"#, "{ optional = {} }", "");
    let policy = policy("", &steps);
    let decision = decide(&policy, &user(0), &Moment::signup(), NOW);
    assert_eq!(asked(&decision), None);
    assert_eq!(decision.explanation().len(), 2);
    assert!(decision.explanation().iter().all(|e| !e.due));
}
