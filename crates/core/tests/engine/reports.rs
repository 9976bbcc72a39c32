//! The example user-facts and moment files of `examples/facts/` and the rendered decisions
//! `accrete policy simulate` prints.

use accrete_core::{Moment, UserFacts, decide, decision_json, decision_text};
use serde_json::json;
use time::macros::datetime;

use crate::support::*;

fn facts(name: &str) -> UserFacts {
    let path = format!("{}/../../examples/facts/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn moment(name: &str) -> Moment {
    let path = format!("{}/../../examples/facts/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const WHEN: time::OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

fn simulate(user: &str, at: &str) -> serde_json::Value {
    decision_json(&decide(&example(), &facts(user), &moment(at), WHEN))
}

#[test]
fn a_new_user_is_asked_names_and_terms_at_signup() {
    let out = simulate("new-user.json", "moment-signup.json");
    assert_eq!(out["decision"], "ask");
    assert_eq!(out["step"], "names");
    assert_eq!(out["fields"], json!(["given_name", "family_name", "terms"]));
}

#[test]
fn on_the_third_signin_company_and_title_are_asked_with_the_suggested_company() {
    let out = simulate("third-login-user.json", "moment-login.json");
    assert_eq!(out["step"], "work");
    assert_eq!(out["fields"], json!(["company", "job_title"]));
    assert_eq!(
        out["prefill"],
        json!({ "company": "Analytical Engines Ltd" })
    );
    let explanation = out["explanation"].as_array().unwrap();
    assert_eq!(explanation.len(), 8);
    assert!(
        explanation
            .iter()
            .all(|e| e["step"].is_string() && e["due"].is_boolean() && e["reason"].is_string())
    );
}

#[test]
fn a_regular_user_entering_the_shop_is_asked_the_phone() {
    let out = simulate("regular-user.json", "moment-login-shop.json");
    assert_eq!(out["step"], "shop_phone");
    assert_eq!(out["required"], true);
}

#[test]
fn a_regular_user_clicking_see_pricing_is_asked_the_company_size() {
    let out = simulate("regular-user.json", "moment-pricing.json");
    assert_eq!(out["step"], "pricing");
    assert_eq!(out["fields"], json!(["company_size"]));
}

#[test]
fn a_regular_user_signing_in_to_the_web_app_proceeds() {
    let out = simulate("regular-user.json", "moment-login.json");
    assert_eq!(out["decision"], "proceed");
    assert_eq!(out["step"], serde_json::Value::Null);
}

#[test]
fn a_skipped_birthday_waits_one_more_signin() {
    let out = simulate("skipped-birthday-user.json", "moment-login.json");
    assert_eq!(out["decision"], "proceed");
    let birthday = out["explanation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["step"] == "birthday")
        .unwrap();
    assert_eq!(birthday["reason"], "skipped; re-ask after 1 more sign-in");
    let mut later = facts("skipped-birthday-user.json");
    later.credentialed_logins = 4;
    let out = decision_json(&decide(
        &example(),
        &later,
        &moment("moment-login.json"),
        WHEN,
    ));
    assert_eq!(out["step"], "birthday");
}

#[test]
fn a_step_skipped_in_this_signin_is_not_asked_again_by_a_later_decide_call() {
    let mut user = facts("skipped-birthday-user.json");
    user.credentialed_logins = 4;
    let out = decision_json(&decide(
        &example(),
        &user,
        &moment("moment-login-after-skip.json"),
        WHEN,
    ));
    assert_eq!(out["decision"], "proceed");
}

#[test]
fn the_text_rendering_names_the_step_and_every_reason() {
    let decision = decide(
        &example(),
        &facts("third-login-user.json"),
        &moment("moment-login.json"),
        WHEN,
    );
    let text = decision_text(&decision);
    assert!(
        text.starts_with("ask step \"work\" (required): company, job_title\n"),
        "{text}"
    );
    assert!(
        text.contains("pre-filled company = \"Analytical Engines Ltd\""),
        "{text}"
    );
    assert!(text.contains("birthday"), "{text}");
    assert_eq!(text.lines().count(), 1 + 1 + 1 + 8, "{text}");
}

#[test]
fn moments_read_and_write_the_flat_json_shape() {
    let event = moment("moment-pricing.json");
    assert_eq!(event, Moment::event("cta:pricing").with_client("web"));
    let written = serde_json::to_value(&event).unwrap();
    assert_eq!(written["kind"], "event");
    assert_eq!(written["event"], "cta:pricing");
    assert!(serde_json::from_str::<Moment>(r#"{"kind":"event"}"#).is_err());
    assert!(serde_json::from_str::<Moment>(r#"{"kind":"login","event":"x"}"#).is_err());
}

#[test]
fn user_facts_round_trip_through_json() {
    let user = facts("regular-user.json");
    let again: UserFacts = serde_json::from_value(serde_json::to_value(&user).unwrap()).unwrap();
    assert_eq!(again, user);
    let _ = NOW;
}
