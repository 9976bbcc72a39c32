//! When a step is asked again: a consent of another version, fields the user left blank, a
//! required step shown and not answered, a value going stale after the skip limit.

use accrete_core::{KnownValue, Moment, PromptState, UserFacts, decide};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::support::*;

/// Fields: `terms` (consent v2), `name` (required text), `site` and `bio` (optional texts),
/// `title` (required, re-confirmed after 30 days); then the steps given as TOML, and a step
/// `rest` asking every field at an event no test sends.
fn policy(steps: &str) -> accrete_core::CompiledPolicy {
    compile(&format!(
        r#"
version = 1
[[fields]]
key = "terms"
kind = "consent"
labels = {{ en = "Terms" }}
consent_version = "v2"
[[fields]]
key = "name"
kind = "text"
labels = {{ en = "Name" }}
[[fields]]
key = "site"
kind = "url"
required = false
labels = {{ en = "Site" }}
[[fields]]
key = "bio"
kind = "text"
required = false
labels = {{ en = "Bio" }}
[[fields]]
key = "title"
kind = "text"
labels = {{ en = "Title" }}
reconfirm_after = "30d"
{steps}
[[steps]]
id = "rest"
title = {{ en = "Rest" }}
fields = ["terms", "name", "site", "bio", "title"]
mode = {{ optional = {{}} }}
trigger = {{ moments = ["event"], events = ["cta:rest"] }}
"#
    ))
}

fn step(id: &str, fields: &str, mode: &str, trigger: &str) -> String {
    format!(
        "[[steps]]\nid = \"{id}\"\ntitle = {{ en = \"{id}\" }}\nfields = {fields}\nmode = {mode}\ntrigger = {trigger}\n"
    )
}

const AT_LOGIN: &str = r#"{ moments = ["login"] }"#;

/// Records that `step` was shown at `at` and answered with `declined` left blank.
fn record_answer(facts: &mut UserFacts, step: &str, at: OffsetDateTime, declined: &[&str]) {
    let state = facts.prompts.entry(step.to_owned()).or_default();
    state.shown += 1;
    state.answered += 1;
    state.last_shown_at = Some(at);
    state.last_answered_at = Some(at);
    for key in declined {
        if !state.declined.iter().any(|k| k == key) {
            state.declined.push((*key).to_owned());
        }
    }
}

fn record_shown(facts: &mut UserFacts, step: &str, at: OffsetDateTime) {
    let state = facts.prompts.entry(step.to_owned()).or_default();
    state.shown += 1;
    state.last_shown_at = Some(at);
}

fn dated(value: serde_json::Value, at: OffsetDateTime) -> KnownValue {
    let mut known = KnownValue::new(value, "account");
    known.updated_at = Some(at);
    known
}

// ------------------------------------------------------------------ 16.9 consents

#[test]
fn a_consent_given_to_an_older_version_is_asked_again_without_being_prefilled_as_accepted() {
    let policy = policy(&step("legal", r#"["terms"]"#, r#""required""#, AT_LOGIN));
    let mut facts = user(2);
    know(
        &mut facts,
        "terms",
        json!({ "accepted": true, "version": "v1" }),
    );
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    let ask = decision.ask().expect("the new version is asked");
    assert_eq!(asked_fields(&decision), ["terms"]);
    assert!(
        ask.prefill.is_empty(),
        "no consent to v1 pre-fills v2: {:?}",
        ask.prefill
    );
}

#[test]
fn a_consent_record_is_known_by_its_version_alone() {
    let policy = policy(&step("legal", r#"["terms"]"#, r#""required""#, AT_LOGIN));
    let record = |version: &str| {
        json!({
            "accepted": true,
            "version": version,
            "url": format!("https://shop.example/terms/{version}"),
            "at": "2026-01-15T09:30:00Z",
            "client_id": "shop",
        })
    };
    let mut facts = user(2);
    know(&mut facts, "terms", record("v2"));
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert!(
        decision.ask().is_none(),
        "a stamped consent to the version asked is known: {:?}",
        decision.ask()
    );

    know(&mut facts, "terms", record("v1"));
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(
        asked_fields(&decision),
        ["terms"],
        "another version is asked"
    );
    assert!(decision.ask().expect("asked").prefill.is_empty());
}

#[test]
fn a_suggested_consent_prefills_only_when_it_is_to_the_version_asked() {
    let policy = policy(&step("legal", r#"["terms"]"#, r#""required""#, AT_LOGIN));
    let mut facts = user(2);
    facts
        .suggestions
        .insert("terms".into(), json!({ "accepted": true, "version": "v1" }));
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert!(decision.ask().expect("asked").prefill.is_empty());

    facts
        .suggestions
        .insert("terms".into(), json!({ "accepted": true, "version": "v2" }));
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(
        decision.ask().expect("asked").prefill["terms"],
        json!({ "accepted": true, "version": "v2" })
    );
}

// ------------------------------------------------------------------ 16.10 fields left blank

#[test]
fn an_answered_step_is_not_asked_again_for_optional_fields_left_blank() {
    let policy = policy(&step(
        "about",
        r#"["name", "site", "bio"]"#,
        "{ optional = {} }",
        AT_LOGIN,
    ));
    let mut facts = user(2);
    know(&mut facts, "name", json!("Ada"));
    record_answer(
        &mut facts,
        "about",
        NOW - Duration::days(1),
        &["site", "bio"],
    );
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(asked(&decision), None);
    assert_eq!(code_of(&decision, "about"), "all_fields_known");
}

#[test]
fn a_required_step_answered_with_an_optional_field_blank_is_complete() {
    let policy = policy(&step(
        "about",
        r#"["name", "site"]"#,
        r#""required""#,
        AT_LOGIN,
    ));
    let mut facts = user(2);
    // Asked both; the user gave the name and left the site blank.
    assert_eq!(
        asked_fields(&decide(&policy, &facts, &Moment::login(), NOW)),
        ["name", "site"]
    );
    know(&mut facts, "name", json!("Ada"));
    record_answer(&mut facts, "about", NOW, &["site"]);
    // Deciding again within the same sign-in: nothing left to ask, the sign-in goes on.
    assert_eq!(asked(&decide(&policy, &facts, &Moment::login(), NOW)), None);
}

#[test]
fn a_field_newly_added_to_an_answered_step_is_asked_but_not_the_ones_left_blank() {
    let before = policy(&step(
        "about",
        r#"["name", "site"]"#,
        "{ optional = {} }",
        AT_LOGIN,
    ));
    let mut facts = user(2);
    know(&mut facts, "name", json!("Ada"));
    record_answer(&mut facts, "about", NOW - Duration::days(3), &["site"]);
    assert_eq!(asked(&decide(&before, &facts, &Moment::login(), NOW)), None);

    let after = policy(&step(
        "about",
        r#"["name", "site", "bio"]"#,
        "{ optional = {} }",
        AT_LOGIN,
    ));
    let decision = decide(&after, &facts, &Moment::login(), NOW);
    assert_eq!(asked(&decision), Some("about"));
    assert_eq!(asked_fields(&decision), ["bio"]);
}

#[test]
fn a_field_left_blank_is_asked_again_once_it_becomes_required() {
    let toml = |required: &str| {
        compile(&format!(
            r#"
version = 1
[[fields]]
key = "name"
kind = "text"
labels = {{ en = "Name" }}
[[fields]]
key = "site"
kind = "url"
required = {required}
labels = {{ en = "Site" }}
[[steps]]
id = "about"
title = {{ en = "About" }}
fields = ["name", "site"]
mode = "required"
trigger = {{ moments = ["login"] }}
"#
        ))
    };
    let mut facts = user(2);
    know(&mut facts, "name", json!("Ada"));
    record_answer(&mut facts, "about", NOW - Duration::days(3), &["site"]);
    assert_eq!(
        asked(&decide(&toml("false"), &facts, &Moment::login(), NOW)),
        None
    );
    let decision = decide(&toml("true"), &facts, &Moment::login(), NOW);
    assert_eq!(asked_fields(&decision), ["site"]);
}

#[test]
fn a_field_left_blank_is_asked_again_after_its_reconfirm_period() {
    let policy = compile(
        r#"
version = 1
[[fields]]
key = "name"
kind = "text"
labels = { en = "Name" }
[[fields]]
key = "site"
kind = "url"
required = false
reconfirm_after = "30d"
labels = { en = "Site" }
[[steps]]
id = "about"
title = { en = "About" }
fields = ["name", "site"]
mode = { optional = {} }
trigger = { moments = ["login"] }
"#,
    );
    let mut facts = user(2);
    know(&mut facts, "name", json!("Ada"));
    record_answer(&mut facts, "about", NOW - Duration::days(29), &["site"]);
    assert_eq!(asked(&decide(&policy, &facts, &Moment::login(), NOW)), None);
    facts.prompts.clear();
    record_answer(&mut facts, "about", NOW - Duration::days(31), &["site"]);
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(asked_fields(&decision), ["site"]);
}

#[test]
fn one_at_a_time_moves_past_an_optional_field_left_blank() {
    let policy = compile(
        r#"
version = 1
[[fields]]
key = "site"
kind = "url"
required = false
labels = { en = "Site" }
[[fields]]
key = "bio"
kind = "text"
required = false
labels = { en = "Bio" }
[[steps]]
id = "details"
title = { en = "Details" }
fields = ["site", "bio"]
presentation = "one_at_a_time"
mode = { optional = {} }
trigger = { moments = ["login"] }
"#,
    );
    let mut facts = user(2);
    assert_eq!(
        asked_fields(&decide(&policy, &facts, &Moment::login(), NOW)),
        ["site"]
    );
    record_answer(&mut facts, "details", NOW, &["site"]);
    assert_eq!(
        asked_fields(&decide(&policy, &facts, &Moment::login(), NOW)),
        ["bio"]
    );
    record_answer(&mut facts, "details", NOW, &["bio"]);
    assert_eq!(asked(&decide(&policy, &facts, &Moment::login(), NOW)), None);
}

#[test]
fn a_field_left_blank_in_one_step_is_still_asked_by_another_step() {
    let policy = policy(
        &(step("first", r#"["site"]"#, "{ optional = {} }", AT_LOGIN)
            + &step("second", r#"["site"]"#, "{ optional = {} }", AT_LOGIN)),
    );
    let mut facts = user(2);
    record_answer(&mut facts, "first", NOW - Duration::days(1), &["site"]);
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(code_of(&decision, "first"), "all_fields_known");
    assert_eq!(asked(&decision), Some("second"));
}

// ------------------------------------------------------------------ 16.11 abandoned required steps

const THIRD_SIGNIN: &str =
    r#"{ moments = ["login"], condition = { login_count = { exactly = 3 } } }"#;

#[test]
fn a_required_step_abandoned_at_its_exact_signin_is_asked_at_the_next_one() {
    let policy = policy(&step("work", r#"["name"]"#, r#""required""#, THIRD_SIGNIN));
    let mut facts = user(3);
    assert_eq!(
        asked(&decide(&policy, &facts, &Moment::login(), NOW)),
        Some("work")
    );
    // Shown at the third sign-in, the user closed the page.
    record_shown(&mut facts, "work", NOW - Duration::hours(1));
    facts.credentialed_logins = 4;
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(asked(&decision), Some("work"));
    assert!(decision.ask().expect("asked").required);
    facts.credentialed_logins = 9;
    assert_eq!(
        asked(&decide(&policy, &facts, &Moment::login(), NOW)),
        Some("work")
    );
}

/// The shop's third sign-in, or a sign-in to the shop with the `work` scope after the first day.
const SHOP_THIRD_SIGNIN: &str = r#"{ moments = ["login"], condition = { all = [
    { client = { ids = ["shop"] } },
    { any = [ { login_count = { exactly = 3 } }, { since_signup = { at_least = "1d" } } ] },
    { not = { scopes = { any_of = ["admin"] } } } ] } }"#;

#[test]
fn an_abandoned_required_step_of_one_application_stays_due_there_and_does_not_follow_the_user_elsewhere()
 {
    let policy = policy(&step(
        "work",
        r#"["name"]"#,
        r#""required""#,
        SHOP_THIRD_SIGNIN,
    ));
    let mut facts = user(3);
    let shop = || Moment::login().with_client("shop");
    assert_eq!(asked(&decide(&policy, &facts, &shop(), NOW)), Some("work"));
    record_shown(&mut facts, "work", NOW - Duration::hours(1));
    facts.credentialed_logins = 4;
    // Still due in the shop, whatever the count says now...
    assert_eq!(asked(&decide(&policy, &facts, &shop(), NOW)), Some("work"));
    // ...but not in another application, nor in the shop with a scope the condition excludes.
    let blog = Moment::login().with_client("blog");
    assert_eq!(
        code_of(&decide(&policy, &facts, &blog, NOW), "work"),
        "condition_not_met"
    );
    let mut admin = shop();
    admin.scopes = vec!["openid".into(), "admin".into()];
    assert_eq!(
        code_of(&decide(&policy, &facts, &admin, NOW), "work"),
        "condition_not_met"
    );
}

#[test]
fn an_abandoned_required_step_stops_once_answered() {
    let policy = policy(&step("work", r#"["name"]"#, r#""required""#, THIRD_SIGNIN));
    let mut facts = user(3);
    record_shown(&mut facts, "work", NOW - Duration::days(2));
    facts.credentialed_logins = 4;
    record_answer(&mut facts, "work", NOW - Duration::days(1), &[]);
    // The value is known: not due, whatever the history.
    know(&mut facts, "name", json!("Ada"));
    assert_eq!(
        code_of(&decide(&policy, &facts, &Moment::login(), NOW), "work"),
        "all_fields_known"
    );
    // Answered after its last showing, a step's condition decides again (a value removed
    // since is asked at the next matching sign-in only).
    facts.values.clear();
    assert_eq!(
        code_of(&decide(&policy, &facts, &Moment::login(), NOW), "work"),
        "condition_not_met"
    );
}

#[test]
fn a_required_step_never_shown_waits_for_its_condition() {
    let policy = policy(&step("work", r#"["name"]"#, r#""required""#, THIRD_SIGNIN));
    let facts = user(4);
    assert_eq!(
        code_of(&decide(&policy, &facts, &Moment::login(), NOW), "work"),
        "condition_not_met"
    );
}

#[test]
fn an_abandoned_optional_step_still_follows_its_condition() {
    let policy = policy(&step(
        "work",
        r#"["name"]"#,
        "{ optional = {} }",
        THIRD_SIGNIN,
    ));
    let mut facts = user(3);
    record_shown(&mut facts, "work", NOW - Duration::hours(1));
    facts.credentialed_logins = 4;
    assert_eq!(
        code_of(&decide(&policy, &facts, &Moment::login(), NOW), "work"),
        "condition_not_met"
    );
}

#[test]
fn an_abandoned_required_step_is_still_asked_only_at_the_moments_of_its_trigger() {
    let policy = policy(&step("work", r#"["name"]"#, r#""required""#, THIRD_SIGNIN));
    let mut facts = user(3);
    record_shown(&mut facts, "work", NOW - Duration::hours(1));
    assert_eq!(
        code_of(
            &decide(&policy, &facts, &Moment::event("cta:pricing"), NOW),
            "work"
        ),
        "moment_not_in_trigger"
    );
}

#[test]
fn a_required_step_shown_and_answered_on_the_signup_page_is_not_pending() {
    // The sign-up page records `shown` and `answered` at the same instant.
    let policy = policy(&step("work", r#"["name"]"#, r#""required""#, THIRD_SIGNIN));
    let mut facts = user(4);
    facts.prompts.insert(
        "work".into(),
        PromptState {
            shown: 1,
            answered: 1,
            last_shown_at: Some(NOW - Duration::days(1)),
            last_answered_at: Some(NOW - Duration::days(1)),
            ..PromptState::default()
        },
    );
    assert_eq!(
        code_of(&decide(&policy, &facts, &Moment::login(), NOW), "work"),
        "condition_not_met"
    );
}

// ------------------------------------------------------------------ 16.15 stale after the skip limit

/// `title` behind an optional step that stops after one skip.
fn title_policy() -> accrete_core::CompiledPolicy {
    policy(&step(
        "job",
        r#"["title"]"#,
        r#"{ optional = { max_skips = 1, after_last_skip = "stop" } }"#,
        AT_LOGIN,
    ))
}

#[test]
fn a_value_given_after_the_skip_limit_is_reconfirmed_through_the_step_when_it_goes_stale() {
    let policy = title_policy();
    let mut facts = user(5);
    record_skip(&mut facts, "job", NOW - Duration::days(100));
    assert_eq!(
        code_of(&decide(&policy, &facts, &Moment::login(), NOW), "job"),
        "skip_limit_reached"
    );
    // The user then gave a title on the account page; 31 days later it is stale.
    facts.values.insert(
        "title".into(),
        dated(json!("Engineer"), NOW - Duration::days(31)),
    );
    let decision = decide(&policy, &facts, &Moment::login(), NOW);
    assert_eq!(asked(&decision), Some("job"));
    let ask = decision.ask().expect("asked");
    assert!(!ask.required, "still optional");
    assert_eq!(ask.prefill["title"], json!("Engineer"));
}

#[test]
fn a_reconfirmation_skipped_after_the_skip_limit_stops_until_the_value_is_given_again() {
    let policy = title_policy();
    let mut facts = user(5);
    record_skip(&mut facts, "job", NOW - Duration::days(100));
    facts.values.insert(
        "title".into(),
        dated(json!("Engineer"), NOW - Duration::days(31)),
    );
    // Offered once, skipped.
    record_skip(&mut facts, "job", NOW - Duration::days(1));
    assert_eq!(
        code_of(&decide(&policy, &facts, &Moment::login(), NOW), "job"),
        "skip_limit_reached"
    );
    // Confirmed anew later, and stale again: offered again.
    let later = NOW + Duration::days(100);
    facts.values.insert(
        "title".into(),
        dated(json!("Engineer"), NOW + Duration::days(60)),
    );
    assert_eq!(
        asked(&decide(&policy, &facts, &Moment::login(), later)),
        Some("job")
    );
}

#[test]
fn a_missing_value_is_not_asked_again_after_the_skip_limit() {
    let policy = title_policy();
    let mut facts = user(5);
    record_skip(&mut facts, "job", NOW - Duration::days(100));
    // A value given before the last skip (then stale) does not reopen the step either.
    facts.values.insert(
        "title".into(),
        dated(json!("Engineer"), NOW - Duration::days(200)),
    );
    assert_eq!(
        code_of(&decide(&policy, &facts, &Moment::login(), NOW), "job"),
        "skip_limit_reached"
    );
}
