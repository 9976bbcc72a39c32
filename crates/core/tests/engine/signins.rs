//! How sign-ins are counted: the sign-up is the first (docs/decision.md, Counting sign-ins).

use accrete_core::{Moment, UserFacts, decide, decision_text};

use crate::support::*;

/// A policy with one required step asking `x` at login moments under `condition`.
fn at_login(condition: &str) -> accrete_core::CompiledPolicy {
    compile(&format!(
        r#"
version = 1
[[fields]]
key = "x"
kind = "text"
labels = {{ en = "X" }}
[[steps]]
id = "ask_x"
title = {{ en = "X" }}
fields = ["x"]
mode = "required"
trigger = {{ moments = ["login"], condition = {condition} }}
"#
    ))
}

/// The sign-ins (1 = the sign-up) among the first `n` at which the step is asked.
fn asked_at(policy: &accrete_core::CompiledPolicy, n: u64) -> Vec<u64> {
    (1..=n)
        .filter(|&count| {
            let facts = if count == 1 {
                UserFacts::signing_up(SIGNED_UP)
            } else {
                user(count)
            };
            asked(&decide(policy, &facts, &Moment::login(), NOW)) == Some("ask_x")
        })
        .collect()
}

#[test]
fn a_user_signing_up_is_at_their_first_sign_in() {
    assert_eq!(UserFacts::signing_up(SIGNED_UP).credentialed_logins, 1);
}

#[test]
fn first_login_is_the_sign_up_itself() {
    let policy = at_login("{ login_count = { exactly = 1 } }");
    assert_eq!(asked_at(&policy, 6), [1]);
}

#[test]
fn third_login_is_the_second_sign_in_after_the_sign_up() {
    let policy = at_login("{ login_count = { exactly = 3 } }");
    assert_eq!(asked_at(&policy, 6), [3]);
}

#[test]
fn every_fifth_login_counts_the_sign_up_as_the_first() {
    let policy = at_login("{ login_count = { every = 5 } }");
    assert_eq!(asked_at(&policy, 16), [5, 10, 15]);
}

#[test]
fn the_explanation_of_a_login_count_says_how_sign_ins_are_counted() {
    let policy = at_login("{ login_count = { exactly = 3 } }");
    let decision = decide(&policy, &user(2), &Moment::login(), NOW);
    assert_eq!(
        reason_of(&decision, "ask_x"),
        "trigger did not match: condition not met: this is sign-in 3 (the sign-up is sign-in 1)"
    );
    let every = at_login("{ login_count = { every = 5 } }");
    let text = decision_text(&decide(&every, &user(4), &Moment::login(), NOW));
    assert!(
        text.contains("this is sign-in 5, 10, 15... (the sign-up is sign-in 1)"),
        "{text}"
    );
    let from = at_login("{ login_count = { at_least = 2 } }");
    let decision = decide(
        &from,
        &UserFacts::signing_up(SIGNED_UP),
        &Moment::login(),
        NOW,
    );
    assert_eq!(
        reason_of(&decision, "ask_x"),
        "trigger did not match: condition not met: this is sign-in 2 or later (the sign-up is sign-in 1)"
    );
}
