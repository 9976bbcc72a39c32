//! The seeds' stories, played against `examples/policy.toml`.

use accrete_core::Moment;
use serde_json::json;

use crate::support::*;

#[test]
fn the_example_policy_compiles() {
    let policy = example();
    assert_eq!(policy.steps().len(), 8);
    assert!(policy.field("company").is_some());
    assert!(policy.step("birthday").is_some());
}

#[test]
fn names_and_terms_are_asked_at_signup() {
    let policy = example();
    let decision = at(&policy, &user(0), &Moment::signup());
    assert_eq!(asked(&decision), Some("names"));
    assert_eq!(
        asked_fields(&decision),
        ["given_name", "family_name", "terms"]
    );
    assert!(decision.ask().unwrap().required);
}

#[test]
fn names_supplied_by_the_identity_provider_are_not_asked_again() {
    let policy = example();
    let mut facts = user(0);
    know(&mut facts, "given_name", json!("Ada"));
    know(&mut facts, "family_name", json!("Lovelace"));
    let decision = at(&policy, &facts, &Moment::signup());
    assert_eq!(asked_fields(&decision), ["terms"]);
}

#[test]
fn company_and_job_title_are_asked_on_the_third_signin_only() {
    let policy = example();
    for (logins, expected) in [(2, None), (3, Some("work")), (4, None)] {
        let decision = at(&policy, &signed_up_user(logins), &Moment::login());
        let work_asked = asked(&decision) == Some("work");
        assert_eq!(work_asked, expected.is_some(), "login {logins}");
    }
    let decision = at(&policy, &signed_up_user(3), &Moment::login());
    assert_eq!(asked_fields(&decision), ["company", "job_title"]);
    assert!(decision.ask().unwrap().required);
}

#[test]
fn the_phone_is_asked_the_first_time_the_user_enters_the_shop() {
    let policy = example();
    let facts = signed_up_user(1);
    let blog = at(&policy, &facts, &Moment::login().with_client("blog"));
    assert_ne!(asked(&blog), Some("shop_phone"));
    let shop = at(&policy, &facts, &Moment::login().with_client("shop"));
    assert_eq!(asked(&shop), Some("shop_phone"));
    assert!(shop.ask().unwrap().required);

    let mut answered = facts.clone();
    know(&mut answered, "phone_number", json!("+33612345678"));
    let again = at(&policy, &answered, &Moment::login().with_client("shop"));
    assert_eq!(asked(&again), None);
    assert_eq!(reason_of(&again, "shop_phone"), "all fields known");

    // Asked with sources, the explanation says where the known value came from.
    answered.values.insert(
        "phone_number".to_owned(),
        accrete_core::KnownValue::new(json!("+33612345678"), "idp:google"),
    );
    let explained = at(&policy, &answered, &Moment::login().with_client("shop"))
        .with_sources(&policy, &answered);
    assert_eq!(
        reason_of(&explained, "shop_phone"),
        "all fields known (phone_number known from idp:google)"
    );
}

#[test]
fn company_size_is_asked_when_the_user_clicks_see_pricing() {
    let policy = example();
    let facts = signed_up_user(1);
    let decision = at(&policy, &facts, &Moment::event("cta:pricing"));
    assert_eq!(asked(&decision), Some("pricing"));
    assert_eq!(asked_fields(&decision), ["company_size"]);
    assert!(!decision.ask().unwrap().required);
    let other = at(&policy, &facts, &Moment::event("cta:docs"));
    assert_eq!(asked(&other), None);
}

#[test]
fn the_birthday_is_reasked_two_signins_after_a_skip_and_at_most_twice() {
    let policy = example();
    let mut facts = signed_up_user(2);
    know(&mut facts, "company", json!("Analytical Engines"));
    know(&mut facts, "job_title", json!("Engineer"));

    // Second sign-in: asked, skipped.
    let decision = at(&policy, &facts, &Moment::login());
    assert_eq!(asked(&decision), Some("birthday"));
    record_skip(&mut facts, "birthday", NOW);

    // Third sign-in: waiting.
    facts.credentialed_logins = 3;
    let decision = at(&policy, &facts, &Moment::login());
    assert_eq!(asked(&decision), None);
    assert_eq!(
        reason_of(&decision, "birthday"),
        "skipped; re-ask after 1 more sign-in"
    );

    // Fourth sign-in: asked again, skipped again.
    facts.credentialed_logins = 4;
    let decision = at(&policy, &facts, &Moment::login());
    assert_eq!(asked(&decision), Some("birthday"));
    record_skip(&mut facts, "birthday", NOW);

    // Never again.
    for logins in 5..12 {
        facts.credentialed_logins = logins;
        let decision = at(&policy, &facts, &Moment::login());
        assert_eq!(asked(&decision), None, "login {logins}");
        assert_eq!(code_of(&decision, "birthday"), "skip_limit_reached");
    }
}

#[test]
fn profile_details_are_asked_one_question_at_a_time_to_established_users() {
    let policy = example();
    let mut facts = signed_up_user(5);
    know(&mut facts, "birthdate", json!("1990-12-10"));
    facts.created_at = NOW - time::Duration::days(50);
    let web = Moment::login()
        .with_client("web")
        .with_scopes(&["openid", "profile"]);
    let decision = at(&policy, &facts, &web);
    assert_eq!(asked(&decision), Some("profile_details"));
    assert_eq!(asked_fields(&decision), ["country"]);
    assert!(!decision.ask().unwrap().required);

    let console = Moment::login()
        .with_client("admin-console")
        .with_scopes(&["openid", "profile"]);
    assert_eq!(asked(&at(&policy, &facts, &console)), None);

    facts.created_at = NOW - time::Duration::days(10);
    assert_eq!(asked(&at(&policy, &facts, &web)), None);
}

#[test]
fn the_newsletter_is_offered_on_the_blog_by_an_expression() {
    let policy = example();
    let mut facts = signed_up_user(5);
    know(&mut facts, "birthdate", json!("1990-12-10"));
    let blog = Moment::login().with_client("blog");
    assert_eq!(asked(&at(&policy, &facts, &blog)), Some("newsletter"));
    facts.created_at = NOW - time::Duration::days(2);
    assert_eq!(asked(&at(&policy, &facts, &blog)), None);
}

#[test]
fn a_quote_is_asked_from_the_application_or_every_fifth_work_signin() {
    let policy = example();
    let mut facts = signed_up_user(5);
    know(&mut facts, "birthdate", json!("1990-12-10"));
    let decision = at(&policy, &facts, &Moment::event("cta:quote"));
    assert_eq!(asked(&decision), Some("quote"));
    let work = Moment::login().with_scopes(&["openid", "work"]);
    assert_eq!(asked(&at(&policy, &facts, &work)), Some("quote"));
    facts.credentialed_logins = 6;
    assert_eq!(asked(&at(&policy, &facts, &work)), None);
}
