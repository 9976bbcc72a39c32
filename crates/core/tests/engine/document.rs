//! The policy document: reading, writing, and every problem `compile` reports.

use accrete_core::{Policy, PolicyError};

use crate::support::*;

fn problems(toml: &str) -> Vec<String> {
    let policy = Policy::from_toml_str(toml).unwrap_or_else(|e| panic!("{e}"));
    match policy.compile() {
        Ok(_) => Vec::new(),
        Err(problems) => problems.problems.iter().map(ToString::to_string).collect(),
    }
}

fn assert_problem(toml: &str, expected: &str) {
    let found = problems(toml);
    assert!(
        found.iter().any(|p| p == expected),
        "expected {expected:?} among {found:#?}"
    );
}

const FIELDS: &str = r#"
version = 1
[[fields]]
key = "company"
kind = "text"
labels = { en = "Company" }
[[fields]]
key = "size"
kind = "select"
labels = { en = "Size" }
options = [{ value = "small" }, { value = "large" }]
"#;

fn with_step(step: &str) -> String {
    format!("{FIELDS}\n[[steps]]\n{step}\n")
}

const OK_STEP: &str = r#"id = "work"
title = { en = "Work" }
fields = ["company", "size"]
mode = "required"
trigger = { moments = ["login"] }"#;

#[test]
fn the_example_round_trips_through_toml_exactly() {
    let policy = example().policy().clone();
    let written = policy.to_toml_string().unwrap();
    let again = Policy::from_toml_str(&written).unwrap();
    assert_eq!(again, policy);
    assert_eq!(again.to_toml_string().unwrap(), written);
}

#[test]
fn the_example_round_trips_through_json_exactly() {
    let policy = example().policy().clone();
    let written = policy.to_json_string().unwrap();
    let again = Policy::from_json_str(&written).unwrap();
    assert_eq!(again, policy);
    let through_toml = Policy::from_toml_str(&again.to_toml_string().unwrap()).unwrap();
    assert_eq!(through_toml, policy);
}

#[test]
fn durations_are_written_as_people_write_them() {
    let written = example().policy().to_toml_string().unwrap();
    assert!(written.contains("reconfirm_after = \"365d\""), "{written}");
}

#[test]
fn a_valid_policy_has_no_problems() {
    assert_eq!(problems(&with_step(OK_STEP)), Vec::<String>::new());
}

#[test]
fn an_unknown_field_in_a_step_is_located_with_a_suggestion() {
    let step = OK_STEP.replace(
        r#"["company", "size"]"#,
        r#"["size", "compnay", "company"]"#,
    );
    assert_problem(
        &with_step(&step),
        r#"steps[0].fields[1]: unknown field "compnay"; did you mean "company"?"#,
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let step = OK_STEP
        .replace(r#"["company", "size"]"#, r#"["compnay", "size"]"#)
        .replace(r#"id = "work""#, r#"id = "Work Step""#);
    let found = problems(&with_step(&step));
    assert!(found.len() >= 3, "{found:#?}");
}

#[test]
fn unknown_document_keys_are_refused_when_reading() {
    let error = Policy::from_toml_str("version = 1\nfeilds = []\n").unwrap_err();
    assert!(matches!(error, PolicyError::Toml(_)));
    assert!(error.to_string().contains("feilds"), "{error}");
}

#[test]
fn duplicate_keys_and_ids_are_problems() {
    let toml = format!(
        "{FIELDS}\n[[fields]]\nkey = \"company\"\nkind = \"text\"\nlabels = {{ en = \"Again\" }}\n[[steps]]\n{OK_STEP}\n[[steps]]\n{OK_STEP}\n"
    );
    assert_problem(
        &toml,
        r#"fields[2].key: duplicate key "company" (first defined at fields[0])"#,
    );
    assert_problem(
        &toml,
        r#"steps[1].id: duplicate step id "work" (first at steps[0])"#,
    );
}

#[test]
fn an_invalid_regular_expression_is_a_problem() {
    let toml = with_step(OK_STEP).replace(
        "labels = { en = \"Company\" }",
        "labels = { en = \"Company\" }\nvalidation = { pattern = \"[a-\" }",
    );
    let found = problems(&toml);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("fields[0].validation.pattern: invalid regular expression")),
        "{found:#?}"
    );
}

#[test]
fn a_select_without_options_is_a_problem() {
    let toml = with_step(OK_STEP).replace(
        "options = [{ value = \"small\" }, { value = \"large\" }]",
        "",
    );
    assert_problem(&toml, "fields[1].options: a select field needs options");
}

#[test]
fn an_expression_that_does_not_compile_is_a_problem() {
    let step = OK_STEP.replace(
        r#"trigger = { moments = ["login"] }"#,
        r#"trigger = { moments = ["login"], condition = { all = [{ expression = { cel = "user.logins >" } }] } }"#,
    );
    let found = problems(&with_step(&step));
    assert!(
        found.iter().any(|p| p.starts_with(
            "steps[0].trigger.condition.all[0].expression.cel: expression does not compile"
        )),
        "{found:#?}"
    );
}

#[test]
fn impossible_triggers_are_problems() {
    let cases = [
        (
            r#"trigger = { moments = [] }"#,
            "steps[0].trigger.moments: no moment listed: the step is never asked",
        ),
        (
            r#"trigger = { moments = ["event"] }"#,
            "steps[0].trigger.events: the `event` moment needs the event names that trigger the step",
        ),
        (
            r#"trigger = { moments = ["login"], events = ["cta:x"] }"#,
            "steps[0].trigger.events: events are listed but `event` is not among the moments",
        ),
        (
            r#"trigger = { moments = ["login"], condition = { any = [] } }"#,
            "steps[0].trigger.condition: `any` with no condition never matches",
        ),
        (
            r#"trigger = { moments = ["login"], condition = { client = { ids = [] } } }"#,
            "steps[0].trigger.condition.client.ids: no client listed: the condition never matches",
        ),
        (
            r#"trigger = { moments = ["login"], condition = { since_signup = { at_least = "30d", at_most = "7d" } } }"#,
            "steps[0].trigger.condition.since_signup: impossible: at least 30d but at most 7d",
        ),
        (
            r#"trigger = { moments = ["login"], condition = { login_count = { every = 0 } } }"#,
            "steps[0].trigger.condition.login_count.every: `every = 0` never matches; use 1 for every sign-in",
        ),
    ];
    for (trigger, expected) in cases {
        let step = OK_STEP.replace(r#"trigger = { moments = ["login"] }"#, trigger);
        assert_problem(&with_step(&step), expected);
    }
}

#[test]
fn a_required_field_that_no_step_asks_is_a_problem() {
    let step = OK_STEP.replace(r#"["company", "size"]"#, r#"["size"]"#);
    assert_problem(
        &with_step(&step),
        "fields[0]: required field \"company\" is not asked by any step; add it to a step or set `required = false`",
    );
}

#[test]
fn field_settings_are_checked() {
    let toml = r#"
version = 2
[settings]
default_locale = "english"
phone_default_region = "ZZ"
[[fields]]
key = "phone"
kind = "text"
required = false
labels = { en = "Phone" }
storage = { profile = { claim = "phone_numbr" } }
validation = { min_length = 5, max_length = 2, min = 3 }
[[fields]]
key = "terms"
kind = "consent"
required = false
labels = { en = "Terms" }
[[fields]]
key = "born"
kind = "date"
required = false
write_once = true
reconfirm_after = "1d"
validation = { min = "2000-13-01" }
"#;
    let found = problems(toml);
    for expected in [
        "version: unsupported version 2; this engine reads version 1",
        "settings.default_locale: \"english\" is not a locale such as \"en\" or \"fr-CA\"",
        "settings.phone_default_region: \"ZZ\" is not a country code such as \"FR\" or \"US\"",
        "fields[0].storage.profile.claim: \"phone_numbr\" is not a standard profile claim; did you mean \"phone_number\"?",
        "fields[0].validation.min_length: min_length 5 is above max_length 2",
        "fields[0].validation.min: expected no bound: a text field has no minimum or maximum",
        "fields[1].consent_version: a consent field needs the version of the text being accepted",
        "fields[2].reconfirm_after: a write-once field cannot be re-confirmed",
        "fields[2].validation.min: \"2000-13-01\" is not a date written YYYY-MM-DD, \"today\", or a distance from today such as \"-18y\", \"+30d\" (units d, w, m, y; at most 1000y)",
    ] {
        assert!(
            found.iter().any(|p| p == expected),
            "expected {expected:?} among {found:#?}"
        );
    }
}

/// A policy whose one field is `kind` with `consent_url = url` (and a version when consent).
fn with_consent_url(kind: &str, url: &str) -> String {
    let version = if kind == "consent" {
        "consent_version = \"2026-01\"\n"
    } else {
        ""
    };
    format!(
        "version = 1\n[[fields]]\nkey = \"terms\"\nkind = \"{kind}\"\nrequired = false\n\
         labels = {{ en = \"Terms\" }}\n{version}consent_url = {url:?}\n"
    )
}

#[test]
fn a_consent_text_address_is_an_https_url_on_a_consent_field() {
    for good in [
        "https://shop.example/terms/2026-01",
        "https://shop.example/legal?v=2026-01#privacy",
        "http://localhost:8080/terms",
        "http://127.0.0.1/terms",
    ] {
        assert_eq!(
            problems(&with_consent_url("consent", good)),
            Vec::<String>::new(),
            "{good}"
        );
    }
    assert_problem(
        &with_consent_url("boolean", "https://shop.example/terms"),
        "fields[0].consent_url: only consent fields have the address of a consent text",
    );
    for bad in [
        "http://shop.example/terms",
        "shop.example/terms",
        "ftp://shop.example/terms",
        "https:///terms",
        "https://shop.example/the terms",
        "javascript:alert(1)",
        "",
    ] {
        assert_problem(
            &with_consent_url("consent", bad),
            &format!(
                "fields[0].consent_url: {bad:?} is not an https:// address of the text \
                 (http:// only on localhost)"
            ),
        );
    }
    let long = format!("https://shop.example/{}", "t".repeat(2048));
    assert_problem(
        &with_consent_url("consent", &long),
        "fields[0].consent_url: must be at most 2048 bytes",
    );
}

#[test]
fn skip_policies_that_cannot_work_are_problems() {
    let zero = OK_STEP.replace(
        r#"mode = "required""#,
        "mode = { optional = { max_skips = 0 } }",
    );
    assert_problem(
        &with_step(&zero),
        "steps[0].mode.optional.max_skips: 0 skips allowed: make the step required instead",
    );
    let never = OK_STEP.replace(
        r#"mode = "required""#,
        r#"mode = { optional = { after_last_skip = "require" } }"#,
    );
    assert_problem(
        &with_step(&never),
        "steps[0].mode.optional.after_last_skip: `require` needs `max_skips`, otherwise the last skip never comes",
    );
}

#[test]
fn a_compiled_policy_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<accrete_core::CompiledPolicy>();
}
