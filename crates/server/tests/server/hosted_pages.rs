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
        assert!(html.contains("At least 8 characters."), "{html}");
        assert!(!password_input(&html).contains(PASSWORD));
    })
    .await;
}
