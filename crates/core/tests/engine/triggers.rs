//! Moments and every kind of condition.

use accrete_core::{Moment, UserFacts, decide};
use time::macros::datetime;

use crate::support::*;

/// A policy with one required step asking `x` with the given trigger.
fn one_step(trigger: &str) -> accrete_core::CompiledPolicy {
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
trigger = {trigger}
"#
    ))
}

fn asks(policy: &accrete_core::CompiledPolicy, facts: &UserFacts, moment: &Moment) -> bool {
    asked(&decide(policy, facts, moment, NOW)) == Some("ask_x")
}

#[test]
fn a_signup_trigger_matches_signup_only() {
    let policy = one_step(r#"{ moments = ["signup"] }"#);
    assert!(asks(&policy, &user(0), &Moment::signup()));
    assert!(!asks(&policy, &user(1), &Moment::login()));
    assert!(!asks(&policy, &user(1), &Moment::event("cta:pricing")));
    let decision = decide(&policy, &user(1), &Moment::login(), NOW);
    assert_eq!(
        reason_of(&decision, "ask_x"),
        "trigger did not match: not asked at login moments"
    );
}

#[test]
fn a_login_trigger_matches_login_only() {
    let policy = one_step(r#"{ moments = ["login"] }"#);
    assert!(asks(&policy, &user(1), &Moment::login()));
    assert!(!asks(&policy, &user(0), &Moment::signup()));
}

#[test]
fn an_event_trigger_matches_its_listed_events_only() {
    let policy = one_step(r#"{ moments = ["event"], events = ["cta:pricing", "cta:demo"] }"#);
    assert!(asks(&policy, &user(1), &Moment::event("cta:pricing")));
    assert!(asks(&policy, &user(1), &Moment::event("cta:demo")));
    assert!(!asks(&policy, &user(1), &Moment::event("cta:other")));
    assert!(!asks(&policy, &user(1), &Moment::login()));
    let decision = decide(&policy, &user(1), &Moment::event("cta:other"), NOW);
    assert_eq!(code_of(&decision, "ask_x"), "event_not_in_trigger");
}

#[test]
fn a_client_condition_matches_the_listed_clients() {
    let policy = one_step(
        r#"{ moments = ["login"], condition = { client = { ids = ["shop", "store"] } } }"#,
    );
    assert!(asks(
        &policy,
        &user(1),
        &Moment::login().with_client("shop")
    ));
    assert!(asks(
        &policy,
        &user(1),
        &Moment::login().with_client("store")
    ));
    assert!(!asks(
        &policy,
        &user(1),
        &Moment::login().with_client("blog")
    ));
    assert!(!asks(&policy, &user(1), &Moment::login()));
    let decision = decide(&policy, &user(1), &Moment::login(), NOW);
    assert_eq!(
        reason_of(&decision, "ask_x"),
        "trigger did not match: condition not met: client is one of [shop, store]"
    );
}

#[test]
fn login_count_exactly_matches_that_signin_only() {
    let policy =
        one_step(r#"{ moments = ["login"], condition = { login_count = { exactly = 3 } } }"#);
    let results: Vec<bool> = (1..=5)
        .map(|n| asks(&policy, &user(n), &Moment::login()))
        .collect();
    assert_eq!(results, [false, false, true, false, false]);
}

#[test]
fn login_count_at_least_matches_from_that_signin_on() {
    let policy =
        one_step(r#"{ moments = ["login"], condition = { login_count = { at_least = 3 } } }"#);
    let results: Vec<bool> = (1..=5)
        .map(|n| asks(&policy, &user(n), &Moment::login()))
        .collect();
    assert_eq!(results, [false, false, true, true, true]);
}

#[test]
fn login_count_every_matches_multiples() {
    let policy =
        one_step(r#"{ moments = ["login"], condition = { login_count = { every = 2 } } }"#);
    let results: Vec<bool> = (0..=5)
        .map(|n| asks(&policy, &user(n), &Moment::login()))
        .collect();
    assert_eq!(results, [false, false, true, false, true, false]);
}

#[test]
fn login_count_counts_credentialed_signins_not_single_signon_reuse() {
    let policy =
        one_step(r#"{ moments = ["login"], condition = { login_count = { exactly = 3 } } }"#);
    let mut facts = user(2);
    facts.sso_logins = 10;
    assert!(!asks(&policy, &facts, &Moment::login()));
}

#[test]
fn scope_conditions_check_any_of_and_all_of() {
    let any = one_step(
        r#"{ moments = ["login"], condition = { scopes = { any_of = ["profile", "work"] } } }"#,
    );
    assert!(asks(
        &any,
        &user(1),
        &Moment::login().with_scopes(&["openid", "work"])
    ));
    assert!(!asks(
        &any,
        &user(1),
        &Moment::login().with_scopes(&["openid"])
    ));
    let all = one_step(
        r#"{ moments = ["login"], condition = { scopes = { all_of = ["profile", "work"] } } }"#,
    );
    assert!(asks(
        &all,
        &user(1),
        &Moment::login().with_scopes(&["profile", "work"])
    ));
    assert!(!asks(
        &all,
        &user(1),
        &Moment::login().with_scopes(&["work"])
    ));
}

#[test]
fn since_signup_conditions_compare_the_account_age() {
    let policy = one_step(
        r#"{ moments = ["login"], condition = { since_signup = { at_least = "7d", at_most = "30d" } } }"#,
    );
    let created = |at| UserFacts::new(at);
    // NOW is 2026-03-01 12:00.
    assert!(asks(
        &policy,
        &created(datetime!(2026-02-20 12:00 UTC)),
        &Moment::login()
    ));
    assert!(!asks(
        &policy,
        &created(datetime!(2026-02-27 12:00 UTC)),
        &Moment::login()
    ));
    assert!(!asks(
        &policy,
        &created(datetime!(2026-01-01 12:00 UTC)),
        &Moment::login()
    ));
    assert!(asks(
        &policy,
        &created(datetime!(2026-02-22 12:00 UTC)),
        &Moment::login()
    ));
}

#[test]
fn all_any_and_not_combine_conditions() {
    let policy = one_step(
        r#"{ moments = ["login"], condition = { all = [
            { any = [ { client = { ids = ["shop"] } }, { scopes = { any_of = ["shop"] } } ] },
            { not = { login_count = { exactly = 1 } } },
        ] } }"#,
    );
    assert!(asks(
        &policy,
        &user(2),
        &Moment::login().with_client("shop")
    ));
    assert!(asks(
        &policy,
        &user(2),
        &Moment::login().with_scopes(&["shop"])
    ));
    assert!(!asks(
        &policy,
        &user(1),
        &Moment::login().with_client("shop")
    ));
    assert!(!asks(
        &policy,
        &user(2),
        &Moment::login().with_client("blog")
    ));
    let decision = decide(&policy, &user(1), &Moment::login().with_client("shop"), NOW);
    assert_eq!(
        reason_of(&decision, "ask_x"),
        "trigger did not match: condition not met: not (this is sign-in 1 (the sign-up is sign-in 1))"
    );
}

#[test]
fn an_expression_condition_sees_the_user_and_the_moment() {
    // `y` is a field the policy declares (expressions may only name declared fields).
    let policy = compile(
        r#"
version = 1
[[fields]]
key = "x"
kind = "text"
labels = { en = "X" }
[[fields]]
key = "y"
kind = "integer"
required = false
labels = { en = "Y" }
[[steps]]
id = "ask_x"
title = { en = "X" }
fields = ["x"]
mode = "required"
trigger = { moments = ["login", "event"], events = ["cta:x"], condition = { expression = { cel = "user.logins >= 2 && moment.client == 'shop' && !has(user.values.y)" } } }
"#,
    );
    assert!(asks(
        &policy,
        &user(2),
        &Moment::login().with_client("shop")
    ));
    assert!(!asks(
        &policy,
        &user(1),
        &Moment::login().with_client("shop")
    ));
    assert!(!asks(
        &policy,
        &user(2),
        &Moment::login().with_client("blog")
    ));
    let mut facts = user(2);
    know(&mut facts, "y", serde_json::json!(1));
    assert!(!asks(&policy, &facts, &Moment::login().with_client("shop")));
    let by_event = one_step(
        r#"{ moments = ["event"], events = ["cta:x"], condition = { expression = { cel = "moment.kind == 'event' && moment.event == 'cta:x'" } } }"#,
    );
    assert!(asks(&by_event, &user(1), &Moment::event("cta:x")));
}

#[test]
fn an_expression_that_fails_at_run_time_does_not_match_and_says_why() {
    let policy = one_step(
        r#"{ moments = ["login"], condition = { expression = { cel = "user.values.x == 'a'" } } }"#,
    );
    let decision = decide(&policy, &user(1), &Moment::login(), NOW);
    assert_eq!(asked(&decision), None);
    assert_eq!(code_of(&decision, "ask_x"), "condition_failed");
}

#[test]
fn an_expression_that_is_not_boolean_does_not_match() {
    let policy =
        one_step(r#"{ moments = ["login"], condition = { expression = { cel = "1 + 1" } } }"#);
    let decision = decide(&policy, &user(1), &Moment::login(), NOW);
    assert_eq!(code_of(&decision, "ask_x"), "condition_failed");
}

#[test]
fn a_step_with_every_field_known_is_not_due_without_evaluating_its_condition() {
    // The expression would fail at run time; with `x` known it is never evaluated, so the
    // reason is that nothing is missing (a complete user costs no expression evaluation).
    let policy = one_step(
        r#"{ moments = ["login"], condition = { expression = { cel = "user.logins / 0 == 1" } } }"#,
    );
    let mut facts = user(1);
    know(&mut facts, "x", serde_json::json!("known"));
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(asked(&decision), None);
    assert_eq!(code_of(&decision, "ask_x"), "all_fields_known");
    // The same with a condition that simply does not hold.
    let policy =
        one_step(r#"{ moments = ["login"], condition = { client = { ids = ["shop"] } } }"#);
    let decision = decide(&policy, &facts, &Moment::login().with_client("blog"), NOW);
    assert_eq!(code_of(&decision, "ask_x"), "all_fields_known");
    // With `x` missing the condition decides.
    let decision = decide(&policy, &user(1), &Moment::login().with_client("blog"), NOW);
    assert_eq!(code_of(&decision, "ask_x"), "condition_not_met");
}
