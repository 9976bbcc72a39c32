//! Shared builders for the tests.

use accrete_core::{CompiledPolicy, Decision, KnownValue, Moment, Policy, UserFacts, decide};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

pub const EXAMPLE: &str = include_str!("../../../../examples/policy.toml");

pub fn example() -> CompiledPolicy {
    Policy::from_toml_str(EXAMPLE)
        .expect("example parses")
        .compile()
        .unwrap_or_else(|problems| panic!("example compiles:\n{problems}"))
}

pub fn compile(toml: &str) -> CompiledPolicy {
    Policy::from_toml_str(toml)
        .unwrap_or_else(|e| panic!("{e}"))
        .compile()
        .unwrap_or_else(|problems| panic!("policy compiles:\n{problems}"))
}

pub const SIGNED_UP: OffsetDateTime = datetime!(2026-01-10 09:00 UTC);
pub const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

/// A user who signed up on `SIGNED_UP` and has signed in `logins` times.
pub fn user(logins: u64) -> UserFacts {
    let mut facts = UserFacts::new(SIGNED_UP);
    facts.credentialed_logins = logins;
    facts
}

pub fn know(facts: &mut UserFacts, key: &str, value: serde_json::Value) {
    facts
        .values
        .insert(key.to_owned(), KnownValue::new(value, "test"));
}

/// A user who went through sign-up: names and terms known.
pub fn signed_up_user(logins: u64) -> UserFacts {
    let mut facts = user(logins);
    know(&mut facts, "given_name", json!("Ada"));
    know(&mut facts, "family_name", json!("Lovelace"));
    know(
        &mut facts,
        "terms",
        json!({ "accepted": true, "version": "2026-01" }),
    );
    facts
}

pub fn record_skip(facts: &mut UserFacts, step: &str, at: OffsetDateTime) {
    let logins = facts.credentialed_logins;
    let state = facts.prompts.entry(step.to_owned()).or_default();
    state.shown += 1;
    state.skipped += 1;
    state.last_shown_at = Some(at);
    state.last_skipped_at = Some(at);
    state.logins_at_last_skip = Some(logins);
}

pub fn asked(decision: &Decision) -> Option<&str> {
    decision.ask().map(|ask| ask.step.as_str())
}

pub fn asked_fields(decision: &Decision) -> Vec<String> {
    decision
        .ask()
        .map(|ask| ask.fields.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

pub fn reason_of(decision: &Decision, step: &str) -> String {
    decision
        .explanation()
        .iter()
        .find(|e| e.step == step)
        .map(|e| e.reason.to_string())
        .unwrap_or_else(|| panic!("no explanation for {step}"))
}

pub fn code_of(decision: &Decision, step: &str) -> &'static str {
    decision
        .explanation()
        .iter()
        .find(|e| e.step == step)
        .map(|e| e.reason.code())
        .unwrap_or_else(|| panic!("no explanation for {step}"))
}

pub fn at(policy: &CompiledPolicy, facts: &UserFacts, moment: &Moment) -> Decision {
    decide(policy, facts, moment, NOW)
}
