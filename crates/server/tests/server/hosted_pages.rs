//! What people see on the hosted pages: the account page after an error, the prompt page's way
//! out and progress, the home page, plain error pages, and the password note after an error.

use accrete_core::Policy;
use accrete_store::{EventKind, Location, ProfileChange};
use time::OffsetDateTime;

use crate::authorize::{REDIRECT, authorize_path, register_client};
use crate::profiling::{
    Landing, PASSWORD, answer, follow, location, post_prompt, setup, sign_in_to, step_of,
};
use crate::support::{Browser, each_backend, hidden_input};

/// A page fetched with `Accept-Language: fr`.
async fn french(browser: &Browser, path: &str) -> String {
    browser
        .client
        .get(browser.url(path))
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn the_account_page_shown_again_after_an_error_keeps_the_read_only_values() {
    each_backend(|app| async move {
        setup(&app, "fay@example.com").await;
        let user = app
            .store
            .find_user_by_email("fay@example.com")
            .await
            .unwrap()
            .unwrap();
        // A write-once birthday and the terms accepted at sign-up (read only).
        let birthdate = [ProfileChange::set(
            Location::Profile,
            "birthdate",
            serde_json::json!("1990-05-17"),
        )];
        app.store
            .apply_profile_changes(
                user.id,
                None,
                &birthdate,
                "admin",
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        let browser = app.new_browser();
        browser.sign_in("fay@example.com", PASSWORD).await;
        let page = browser.get("/account").await.text().await.unwrap();
        assert!(page.contains("1990-05-17"), "{page}");
        assert!(page.contains("I accept the terms of service"), "{page}");
        let csrf = hidden_input(&page, "csrf").unwrap();
        let bad = browser
            .post_form(
                "/account",
                &[("csrf", &csrf), ("team_size", "many"), ("action", "submit")],
            )
            .await;
        assert_eq!(bad.status(), 400);
        let again = bad.text().await.unwrap();
        assert!(
            again.contains("value=\"many\""),
            "the entry is kept: {again}"
        );
        assert!(
            again.contains("1990-05-17"),
            "the write-once birthday is still shown: {again}"
        );
        assert!(
            again.contains("I accept the terms of service"),
            "the accepted terms are still shown: {again}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_required_prompt_says_who_is_signed_in_and_cancel_returns_access_denied_to_the_application()
 {
    each_backend(|app| async move {
        setup(&app, "cy@example.com").await;
        let (browser, landing) = sign_in_to(&app, "shop", "cy@example.com").await;
        assert_eq!(step_of(&landing), "shop_phone");
        let Landing::Prompt(tx, html) = &landing else {
            unreachable!()
        };
        assert!(html.contains("cy@example.com"), "who is signed in: {html}");
        assert!(html.contains("Not you?"), "{html}");
        assert!(
            html.contains("name=\"action\" value=\"switch_account\""),
            "{html}"
        );
        assert!(
            html.contains("name=\"action\" value=\"cancel\""),
            "a way out of a required step: {html}"
        );
        let fr = french(&browser, &format!("/prompt?tx={tx}")).await;
        assert!(
            fr.contains("Ce n’est pas vous ?") && fr.contains("Annuler"),
            "{fr}"
        );

        let response = post_prompt(&browser, tx, html, "cancel", &[]).await;
        assert_eq!(response.status(), 303);
        let back = location(&response);
        assert!(back.starts_with(REDIRECT), "{back}");
        assert_eq!(
            query_param(&back, "error").as_deref(),
            Some("access_denied")
        );
        assert_eq!(query_param(&back, "state").as_deref(), Some("xyz"));
        assert_eq!(
            query_param(&back, "iss").as_deref(),
            Some(app.base.as_str())
        );
        assert!(query_param(&back, "code").is_none());
        // The transaction is over: resuming it issues nothing.
        let resumed = browser.get(&format!("/authorize/resume?tx={tx}")).await;
        assert_eq!(resumed.status(), 400);
        // The unanswered step is recorded as abandoned, once (not again when it would expire).
        let events = app.store.list_events(0, 1000).await.unwrap();
        let abandoned = |events: &[accrete_store::Event]| {
            events
                .iter()
                .filter(|e| {
                    e.kind == EventKind::PromptAbandoned && e.step.as_deref() == Some("shop_phone")
                })
                .count()
        };
        assert_eq!(abandoned(&events), 1);
        let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
        accrete_server::sweep_abandoned(app.store.as_ref(), later)
            .await
            .unwrap();
        let events = app.store.list_events(0, 1000).await.unwrap();
        assert_eq!(abandoned(&events), 1);
    })
    .await;
}

#[tokio::test]
async fn not_you_on_a_prompt_signs_out_and_continues_the_sign_in_with_another_account() {
    each_backend(|app| async move {
        setup(&app, "cy@example.com").await;
        // Bea has already given her names, the terms, her phone number and her birthday.
        let other = app.new_browser();
        let csrf = other.csrf("/signup").await;
        let form = [
            ("csrf", csrf.as_str()),
            ("email", "bea@example.com"),
            ("password", PASSWORD),
            ("given_name", "Bea"),
            ("family_name", "Ray"),
            ("terms", "true"),
        ];
        assert_eq!(
            location(&other.post_form("/signup", &form).await),
            "/account"
        );
        let bea = app
            .store
            .find_user_by_email("bea@example.com")
            .await
            .unwrap()
            .unwrap();
        let phone = [
            ProfileChange::set(
                Location::Profile,
                "phone_number",
                serde_json::json!("+33612345678"),
            ),
            ProfileChange::set(
                Location::Profile,
                "birthdate",
                serde_json::json!("1990-01-01"),
            ),
        ];
        app.store
            .apply_profile_changes(bea.id, None, &phone, "admin", OffsetDateTime::now_utc())
            .await
            .unwrap();

        let (browser, landing) = sign_in_to(&app, "shop", "cy@example.com").await;
        let Landing::Prompt(tx, html) = &landing else {
            panic!("expected the shop's step, got {landing:?}")
        };
        let response = post_prompt(&browser, tx, html, "switch_account", &[]).await;
        assert_eq!(response.status(), 303);
        let login = location(&response);
        assert_eq!(login, format!("/login?tx={tx}"), "the same sign-in goes on");
        // Cy is signed out of this browser.
        assert_eq!(location(&browser.get("/account").await), "/login");
        // Bea signs in through the same transaction and goes back to the shop with a code.
        let csrf = browser.csrf(&login).await;
        let response = browser
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("tx", tx),
                    ("email", "bea@example.com"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        let landing = follow(&browser, location(&response)).await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
        let cy = app
            .store
            .find_user_by_email("cy@example.com")
            .await
            .unwrap()
            .unwrap();
        let events = app.store.list_events(0, 1000).await.unwrap();
        assert!(
            events.iter().any(|e| e.kind == EventKind::PromptAbandoned
                && e.user_id == Some(cy.id)
                && e.step.as_deref() == Some("shop_phone")),
            "Cy's unanswered step is abandoned"
        );
    })
    .await;
}

const ONE_AT_A_TIME: &str = r#"
version = 1

[settings]
default_locale = "en"

[[fields]]
key = "company"
kind = "text"
labels = { en = "Company" }

[[fields]]
key = "job_title"
kind = "text"
labels = { en = "Job title" }

[[fields]]
key = "team"
kind = "text"
labels = { en = "Team" }

[[steps]]
id = "work"
title = { en = "About your work" }
fields = ["company", "job_title", "team"]
presentation = "one_at_a_time"
mode = "required"
trigger = { moments = ["login"] }
"#;

#[tokio::test]
async fn a_one_at_a_time_step_shows_which_question_of_how_many() {
    each_backend(|app| async move {
        let policy = Policy::from_toml_str(ONE_AT_A_TIME).unwrap();
        policy.compile().unwrap();
        let document = serde_json::to_value(&policy).unwrap();
        app.store
            .publish_policy(&document, None, OffsetDateTime::now_utc())
            .await
            .unwrap();
        register_client(&app, "web", false).await;
        app.new_browser().sign_up("ivy@example.com", PASSWORD).await;
        let (browser, landing) = sign_in_to(&app, "web", "ivy@example.com").await;
        let Landing::Prompt(tx, html) = &landing else {
            panic!("expected the work step, got {landing:?}")
        };
        assert!(html.contains("Question 1 of 3"), "{html}");
        let fr = french(&browser, &format!("/prompt?tx={tx}")).await;
        assert!(fr.contains("Question 1 sur 3"), "{fr}");
        let landing = answer(&browser, landing, "submit", &[("company", "Acme")]).await;
        let Landing::Prompt(_, html) = &landing else {
            panic!("expected the second question, got {landing:?}")
        };
        assert!(
            html.contains("name=\"job_title\"") && html.contains("Question 2 of 3"),
            "{html}"
        );
        let landing = answer(&browser, landing, "submit", &[("job_title", "CTO")]).await;
        let Landing::Prompt(_, html) = &landing else {
            panic!("expected the third question, got {landing:?}")
        };
        assert!(html.contains("Question 3 of 3"), "{html}");
        let landing = answer(&browser, landing, "submit", &[("team", "Platform")]).await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
    })
    .await;
}

#[tokio::test]
async fn the_home_page_says_what_the_server_is_and_links_to_the_account_and_discovery() {
    each_backend(|app| async move {
        let response = app.get("/").await;
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap().replace("&#x2f;", "/");
        assert!(html.contains("href=\"/account\""), "{html}");
        assert!(
            html.contains("/.well-known/openid-configuration"),
            "discovery for developers: {html}"
        );
        assert!(html.contains("<h1>"), "{html}");
        let fr = french(&app.browser, "/").await;
        assert!(
            fr.contains("lang=\"fr\"") && fr.contains("Votre compte"),
            "{fr}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_authorization_error_page_speaks_plainly_and_keeps_the_code_for_developers() {
    each_backend(|app| async move {
        let response = app.get(&authorize_path("nope", "")).await;
        assert_eq!(response.status(), 400);
        let html = response.text().await.unwrap();
        let alert_at = html.find("role=\"alert\"").expect("an alert");
        let alert = &html[alert_at..alert_at + html[alert_at..].find("</p>").unwrap()];
        assert!(
            !alert.contains("invalid_request") && !alert.contains("client_id"),
            "no protocol code in the sentence for people: {alert}"
        );
        assert!(alert.contains("application"), "{alert}");
        assert!(html.contains("<details"), "{html}");
        assert!(
            html.contains("invalid_request") && html.contains("unknown client_id"),
            "the code stays for developers: {html}"
        );
        let fr = french(&app.browser, &authorize_path("nope", "")).await;
        assert!(fr.contains("Détails pour les développeurs"), "{fr}");
    })
    .await;
}

/// The password input and the note next to it, from a page's HTML.
fn password_input(html: &str) -> &str {
    let start = html
        .find("<input id=\"f-password\"")
        .expect("a password input");
    &html[start..start + html[start..].find('>').unwrap()]
}

#[tokio::test]
async fn after_a_failed_sign_in_the_page_says_the_password_must_be_entered_again() {
    each_backend(|app| async move {
        app.sign_up("kim@example.com", PASSWORD).await;
        let browser = app.new_browser();
        let blank = browser.get("/login").await.text().await.unwrap();
        assert!(!blank.contains("enter your password again"), "{blank}");
        let response = browser.sign_in("kim@example.com", "wrong password").await;
        assert_eq!(response.status(), 401);
        let html = response.text().await.unwrap();
        assert!(
            html.contains("For your security, enter your password again."),
            "{html}"
        );
        let input = password_input(&html);
        assert!(!input.contains("wrong password"), "never echoed: {input}");
        assert!(
            input.contains("f-password-note"),
            "the note is tied to the input: {input}"
        );
        let csrf = hidden_input(&html, "csrf").unwrap();
        let fr = browser
            .client
            .post(browser.url("/login"))
            .header("accept-language", "fr")
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "kim@example.com"),
                ("password", "wrong password"),
            ])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            fr.contains("Pour votre sécurité, saisissez à nouveau votre mot de passe."),
            "{fr}"
        );
    })
    .await;
}

#[tokio::test]
async fn after_a_refused_sign_up_the_page_says_the_password_must_be_entered_again() {
    each_backend(|app| async move {
        let browser = app.new_browser();
        let response = browser.sign_up("not-an-email", PASSWORD).await;
        assert_eq!(response.status(), 400);
        let html = response.text().await.unwrap();
        assert!(
            html.contains("For your security, enter your password again."),
            "{html}"
        );
        assert!(
            html.contains("At least 8 characters, hard to guess"),
            "{html}"
        );
        assert!(!password_input(&html).contains(PASSWORD));
    })
    .await;
}
