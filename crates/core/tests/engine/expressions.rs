//! Expression conditions are checked against the variables the engine provides: a misspelt
//! name or a comparison that can never hold is a located problem, with a suggestion.

use accrete_core::Policy;

use crate::support::*;

fn policy_with_expression(cel: &str) -> String {
    format!(
        r#"
version = 1
[[fields]]
key = "company"
kind = "text"
labels = {{ en = "Company" }}
[[fields]]
key = "size"
kind = "select"
required = false
labels = {{ en = "Size" }}
options = [{{ value = "small" }}, {{ value = "large" }}]
[[fields]]
key = "seats"
kind = "integer"
required = false
labels = {{ en = "Seats" }}
[[fields]]
key = "terms"
kind = "consent"
required = false
consent_version = "1"
labels = {{ en = "Terms" }}
[[steps]]
id = "work"
title = {{ en = "Work" }}
fields = ["company", "size", "seats", "terms"]
mode = "required"
trigger = {{ moments = ["login", "event"], events = ["cta:x"], condition = {{ expression = {{ cel = {cel:?} }} }} }}
"#
    )
}

fn problems(cel: &str) -> Vec<String> {
    let policy =
        Policy::from_toml_str(&policy_with_expression(cel)).unwrap_or_else(|e| panic!("{e}"));
    match policy.compile() {
        Ok(_) => Vec::new(),
        Err(problems) => problems.problems.iter().map(ToString::to_string).collect(),
    }
}

fn assert_only_problem(cel: &str, expected: &str) {
    let found = problems(cel);
    let expected = format!("steps[0].trigger.condition.expression.cel: {expected}");
    assert_eq!(found, vec![expected], "for `{cel}`");
}

#[test]
fn an_unknown_variable_is_a_problem_with_a_suggestion() {
    assert_only_problem(
        "usr.logins >= 3",
        "unknown variable \"usr\"; did you mean \"user\"? (an expression may use `user` and \
         `moment`) (at character 1)",
    );
}

#[test]
fn an_unknown_member_of_user_is_a_problem_with_a_suggestion() {
    assert_only_problem(
        "user.login >= 3",
        "`user` has no member \"login\"; did you mean \"logins\"? (it has logins, sso_logins, \
         days_since_signup, values, facts) (at character 6)",
    );
}

#[test]
fn an_unknown_member_of_moment_is_a_problem_with_a_suggestion() {
    assert_only_problem(
        "moment.clinet == 'shop'",
        "`moment` has no member \"clinet\"; did you mean \"client\"? (it has kind, event, \
         client, scopes) (at character 8)",
    );
}

#[test]
fn an_unknown_field_in_user_values_is_a_problem_with_a_suggestion() {
    assert_only_problem(
        "user.values.compnay == 'Acme'",
        "`user.values` has no field \"compnay\"; did you mean \"company\"? (it holds the \
         policy's fields) (at character 13)",
    );
    assert_eq!(problems("has(user.values.compnay)").len(), 1);
    assert_eq!(problems("user.values['compnay'] == 'Acme'").len(), 1);
    assert_eq!(problems("user['login'] > 1").len(), 1);
}

#[test]
fn comparing_a_number_with_a_string_is_a_problem() {
    assert_only_problem(
        "user.logins >= 'three'",
        "compares `user.logins` (a number) with `\"three\"` (a string): this is never true \
         (at character 13)",
    );
    assert_eq!(problems("'shop' == user.days_since_signup").len(), 1);
    assert_eq!(problems("moment.client == 3").len(), 1);
    assert_eq!(problems("user.values.seats > '10'").len(), 1);
    assert_eq!(problems("user.values.size == true").len(), 1);
}

#[test]
fn every_mistake_in_one_expression_is_reported() {
    let found = problems("usr.logins > 1 && moment.clinet == 'a' && user.logins == 'x'");
    assert_eq!(found.len(), 3, "{found:#?}");
}

#[test]
fn expressions_that_work_today_are_still_accepted() {
    for cel in [
        "moment.client == 'blog' && user.days_since_signup >= 7",
        "user.logins >= 3",
        "user.logins >= 3u",
        "user.logins > 1.5",
        "user.sso_logins == 0 || user.logins % 2 == 0",
        "'admin' in moment.scopes",
        "moment.scopes.exists(s, s == 'admin')",
        "moment.scopes.all(s, s.startsWith('a'))",
        "size(moment.scopes) > 0 && moment.kind == 'event' && moment.event.startsWith('cta:')",
        "has(user.values.company)",
        "has(user.values.size) && user.values.size == 'large'",
        "user['logins'] >= 2 && user.values['seats'] > 10",
        "user.values.terms.accepted == true",
        "type(user.logins) == uint",
        "[1, 2].map(x, x * 2).size() == 2",
        "{'a': 1}.a == 1",
        "duration('1h') > duration('1m')",
        "user.logins != null",
        "moment.scopes.exists(user, user == 'admin')",
    ] {
        assert_eq!(problems(cel), Vec::<String>::new(), "for `{cel}`");
    }
}

#[test]
fn an_expression_on_a_known_field_evaluates_as_before() {
    let policy = compile(&policy_with_expression(
        "has(user.values.seats) && user.values.seats > 10",
    ));
    let mut facts = user(2);
    know(&mut facts, "seats", serde_json::json!(25));
    let decision = at(&policy, &facts, &accrete_core::Moment::login());
    assert_eq!(asked(&decision), Some("work"));
}

#[test]
fn a_fact_from_outside_the_profile_is_read_by_an_expression() {
    let cel = "has(user.facts.segment) && user.facts.segment == 'enterprise'";
    assert_eq!(problems(cel), Vec::<String>::new());
    let policy = compile(&policy_with_expression(cel));
    let mut facts = user(2);
    assert_eq!(
        asked(&at(&policy, &facts, &accrete_core::Moment::login())),
        None
    );
    facts
        .facts
        .insert("segment".into(), serde_json::json!("enterprise"));
    let decision = at(&policy, &facts, &accrete_core::Moment::login());
    assert_eq!(asked(&decision), Some("work"));
    facts
        .facts
        .insert("segment".into(), serde_json::json!("smb"));
    assert_eq!(
        asked(&at(&policy, &facts, &accrete_core::Moment::login())),
        None
    );
}
