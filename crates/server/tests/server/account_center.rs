//! The account center over HTTP, on both backends: profile grouped by step with where each
//! value came from, changing the password, sessions and applications, the data export, deleting
//! the account, `return_to`, and French pages.

use accrete_store::{EventKind, Location, ProfileChange, StoreError};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::profiling::publish_example;
use crate::rp::{self, ClientSpec, PASSWORD, REDIRECT};
use crate::support::{Browser, TestApp, each_backend, hidden_input};

const NEW_PASSWORD: &str = "velvet lantern orbit cactus";

fn location(response: &reqwest::Response) -> String {
    rp::location(response)
}

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

async fn events(app: &TestApp, kind: EventKind) -> Vec<accrete_store::Event> {
    app.store
        .list_events(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

/// Publishes the example policy, then signs `email` up in a browser of its own, answering the
/// sign-up step (names and terms).
async fn sign_up_with_the_example(app: &TestApp, email: &str) -> Browser {
    publish_example(app).await;
    let browser = app.new_browser();
    let csrf = browser.csrf("/signup").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("email", email),
        ("password", PASSWORD),
        ("given_name", "Ann"),
        ("family_name", "Lee"),
        ("terms", "true"),
    ];
    let response = browser.post_form("/signup", &form).await;
    assert_eq!(location(&response), "/account");
    browser
}

async fn change_password(browser: &Browser, current: &str, new: &str) -> reqwest::Response {
    let csrf = browser.csrf("/account/security").await;
    browser
        .post_form(
            "/account/security/password",
            &[
                ("csrf", &csrf),
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await
}

#[tokio::test]
async fn the_password_is_changed_only_with_the_current_one_and_a_strong_new_one() {
    each_backend(|app| async move {
        let browser = rp::sign_up(&app, "ada@example.com").await;
        let wrong = change_password(&browser, "not my password", NEW_PASSWORD).await;
        assert_eq!(wrong.status(), 400);
        let html = wrong.text().await.unwrap();
        assert!(
            html.contains("This is not your current password."),
            "{html}"
        );
        assert!(
            html.contains("aria-describedby=\"f-current_password-error\""),
            "{html}"
        );
        let weak = change_password(&browser, PASSWORD, "ada@example.com1").await;
        assert_eq!(weak.status(), 400);
        let html = weak.text().await.unwrap();
        assert!(
            html.contains("This password is too easy to guess."),
            "{html}"
        );
        assert!(html.contains("f-new_password-error"), "{html}");
        assert!(events(&app, EventKind::PasswordChanged).await.is_empty());

        let changed = change_password(&browser, PASSWORD, NEW_PASSWORD).await;
        assert_eq!(
            location(&changed),
            "/account/security?done=password_changed"
        );
        let html = browser
            .get("/account/security?done=password_changed")
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("Your password is changed."), "{html}");
        // This browser stays signed in; elsewhere the old password is refused, the new works.
        assert_eq!(browser.get("/account").await.status(), 200);
        let old = app.new_browser().sign_in("ada@example.com", PASSWORD).await;
        assert!(!old.status().is_redirection(), "{}", old.status());
        let new = app
            .new_browser()
            .sign_in("ada@example.com", NEW_PASSWORD)
            .await;
        assert_eq!(new.status(), 303);
        let recorded = events(&app, EventKind::PasswordChanged).await;
        assert_eq!(recorded.len(), 1);
        let user = app
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(recorded[0].user_id, Some(user.id));
    })
    .await;
}

#[tokio::test]
async fn signing_out_another_session_makes_it_sign_in_again() {
    each_backend(|app| async move {
        rp::register(&app, ClientSpec::web("web")).await;
        let here = rp::sign_up(&app, "bob@example.com").await;
        let there = app.new_browser();
        assert_eq!(
            there.sign_in("bob@example.com", PASSWORD).await.status(),
            303
        );
        let html = here.get("/account/sessions").await.text().await.unwrap();
        assert_eq!(html.matches("This device").count(), 1, "{html}");
        assert_eq!(html.matches("name=\"session\"").count(), 1, "{html}");
        let user = app
            .store
            .find_user_by_email("bob@example.com")
            .await
            .unwrap()
            .unwrap();
        let stored = app
            .store
            .list_user_sessions(user.id, OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert_eq!(stored.len(), 2);
        for session in &stored {
            assert!(
                !html.contains(&session.hash),
                "never a session hash in a page"
            );
            assert!(html.contains(&session.id.to_string()) || session.id.to_string().len() == 36);
        }
        let other = hidden_input(&html, "session").unwrap();
        let csrf = hidden_input(&html, "csrf").unwrap();
        let ended = here
            .post_form(
                "/account/sessions",
                &[("csrf", &csrf), ("action", "end"), ("session", &other)],
            )
            .await;
        assert_eq!(location(&ended), "/account/sessions?done=session_ended");
        // The other browser is signed out: its next authorization asks to sign in.
        let again = there.get(&rp::authorize_path("web", "openid", "")).await;
        assert!(
            location(&again).starts_with("/login?tx="),
            "{}",
            location(&again)
        );
        assert_eq!(here.get("/account").await.status(), 200, "this one stays");
        let revoked = events(&app, EventKind::SessionRevoked).await;
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked[0].data["what"], "session");
        // Another user's session id changes nothing (and is not an error page).
        let response = here
            .post_form(
                "/account/sessions",
                &[
                    ("csrf", &csrf),
                    ("action", "end"),
                    ("session", "not-a-uuid"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
    })
    .await;
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_this_browser() {
    each_backend(|app| async move {
        let here = rp::sign_up(&app, "cy@example.com").await;
        let there = app.new_browser();
        there.sign_in("cy@example.com", PASSWORD).await;
        let csrf = here.csrf("/account/sessions").await;
        let ended = here
            .post_form(
                "/account/sessions",
                &[("csrf", &csrf), ("action", "end_others")],
            )
            .await;
        assert_eq!(location(&ended), "/account/sessions?done=others_ended");
        assert_eq!(location(&there.get("/account").await), "/login");
        assert_eq!(here.get("/account").await.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn a_revoked_application_can_no_longer_refresh() {
    each_backend(|app| async move {
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        let browser = rp::sign_up(&app, "dee@example.com").await;
        let back = rp::authorize(
            &browser,
            &rp::authorize_path("web", "openid email", ""),
            "dee@example.com",
        )
        .await;
        let (status, tokens) = rp::redeem(&app, "web", Some(&secret), &rp::code_of(&back)).await;
        assert_eq!(status, 200, "{tokens}");
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let html = browser.get("/account/sessions").await.text().await.unwrap();
        assert!(html.contains("The web app"), "{html}");
        let csrf = hidden_input(&html, "csrf").unwrap();
        let revoked = browser
            .post_form(
                "/account/sessions",
                &[("csrf", &csrf), ("action", "revoke"), ("client_id", "web")],
            )
            .await;
        assert_eq!(location(&revoked), "/account/sessions?done=app_revoked");
        let html = browser.get("/account/sessions").await.text().await.unwrap();
        assert!(!html.contains("The web app"), "{html}");
        let response = rp::token_request(
            &app,
            "web",
            Some(&secret),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
        let recorded = events(&app, EventKind::SessionRevoked).await;
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].data["what"], "application");
        assert_eq!(recorded[0].data["client_id"], "web");
    })
    .await;
}

#[tokio::test]
async fn the_export_holds_the_profile_and_no_hash() {
    each_backend(|app| async move {
        let browser = sign_up_with_the_example(&app, "eve@example.com").await;
        let csrf = browser.csrf("/account").await;
        let saved = browser
            .post_form(
                "/account",
                &[
                    ("csrf", &csrf),
                    ("given_name", "Eve"),
                    ("family_name", "Lee"),
                ],
            )
            .await;
        assert_eq!(location(&saved), "/account?done=saved");
        let response = browser.get("/account/data/export").await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-disposition"],
            "attachment; filename=\"accrete-data.json\""
        );
        let text = response.text().await.unwrap();
        assert!(!text.contains("argon2"), "no password hash: {text}");
        assert!(!text.contains("\"hash\""), "no session hash: {text}");
        let document: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(document["account"]["email"], "eve@example.com");
        assert_eq!(document["account"]["has_password"], true);
        assert_eq!(document["profile"]["given_name"], "Eve");
        let provenance = document["provenance"].as_array().unwrap();
        assert!(
            provenance
                .iter()
                .any(|p| p["key"] == "given_name" && p["source"] == "account"),
            "{provenance:?}"
        );
        assert_eq!(document["sessions"].as_array().unwrap().len(), 1);
        assert!(
            document["history"]
                .as_array()
                .is_some_and(|h| !h.is_empty())
        );
        assert!(document["events"].is_array());
        assert_eq!(document["schema"], "accrete.user-data/1");
        assert_eq!(document["second_factors"], json!([]));
        assert_eq!(document["recovery_codes_left"], 0);
        // The terms accepted on the sign-up page: which version, when, where.
        let consents = document["consents"].as_array().unwrap();
        assert_eq!(consents.len(), 1, "{consents:?}");
        assert_eq!(consents[0]["field"], "terms");
        assert_eq!(consents[0]["accepted"], true);
        assert!(consents[0]["version"].is_string(), "{consents:?}");
        assert_eq!(consents[0]["source"], "signup");
        assert!(consents[0]["at"].is_string());

        // The retention's purge takes the history: the record the person holds is still
        // listed, with its own time.
        let later = time::OffsetDateTime::now_utc() + time::Duration::days(1);
        assert!(app.store.purge_history(later).await.unwrap() > 0);
        let purged: Value = browser
            .get("/account/data/export")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(purged["history"], json!([]));
        assert_eq!(purged["consents"], document["consents"], "{purged}");
    })
    .await;
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_removes_the_user() {
    each_backend(|app| async move {
        let browser = rp::sign_up(&app, "fay@example.com").await;
        let user = app
            .store
            .find_user_by_email("fay@example.com")
            .await
            .unwrap()
            .unwrap();
        let csrf = browser.csrf("/account/data").await;
        let refused = browser
            .post_form(
                "/account/data/delete",
                &[("csrf", &csrf), ("confirmation", "not the password")],
            )
            .await;
        assert_eq!(refused.status(), 400);
        let html = refused.text().await.unwrap();
        assert!(html.contains("This is not your password."), "{html}");
        assert!(app.store.get_user(user.id).await.is_ok());

        // The console's only owner keeps the account, and is told why: nothing typed is wrong.
        crate::console::make_admin(&app, "fay@example.com", "owner").await;
        let kept = browser
            .post_form(
                "/account/data/delete",
                &[("csrf", &csrf), ("confirmation", PASSWORD)],
            )
            .await;
        assert_eq!(kept.status(), 409);
        let html = kept.text().await.unwrap();
        assert!(
            html.contains("You are the only owner of the administration console"),
            "{html}"
        );
        assert!(!html.contains("aria-invalid=\"true\""), "{html}");
        assert!(app.store.get_user(user.id).await.is_ok());
        crate::console::make_admin(&app, "fay@example.com", "viewer").await;

        let deleted = browser
            .post_form(
                "/account/data/delete",
                &[("csrf", &csrf), ("confirmation", PASSWORD)],
            )
            .await;
        assert_eq!(deleted.status(), 200);
        let html = deleted.text().await.unwrap();
        assert!(html.contains("Account deleted"), "{html}");
        assert!(matches!(
            app.store.get_user(user.id).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(location(&browser.get("/account").await), "/login");
        let recorded = events(&app, EventKind::AccountDeleted).await;
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].user_id, None);
        assert_eq!(recorded[0].data["user_id"], user.id.to_string());
    })
    .await;
}

#[tokio::test]
async fn return_to_is_kept_only_for_a_registered_uri() {
    each_backend(|app| async move {
        rp::register(&app, ClientSpec::web("web")).await;
        let browser = rp::sign_up(&app, "gus@example.com").await;
        let known = format!("/account/sessions?return_to={}", rp::escape(REDIRECT));
        let html = browser.get(&known).await.text().await.unwrap();
        assert!(html.contains("Back to The web app"), "{html}");
        assert!(
            html.contains("href=\"http:&#x2f;&#x2f;localhost:9999&#x2f;callback\""),
            "{html}"
        );
        // The navigation carries it to the other sections.
        assert!(
            html.contains(&format!(
                "href=\"/account/data?return_to={}\"",
                rp::escape(REDIRECT)
            )),
            "{html}"
        );
        for unknown in [
            "https://evil.example/callback",
            "http://localhost:9999/callback/more",
            "javascript:alert(1)",
        ] {
            let path = format!("/account?return_to={}", rp::escape(unknown));
            let response = browser.get(&path).await;
            assert_eq!(response.status(), 200);
            let html = response.text().await.unwrap();
            assert!(!html.contains("Back to"), "{unknown}: {html}");
            assert!(!html.contains("evil.example"), "{html}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_profile_groups_fields_by_step_and_says_where_values_came_from() {
    each_backend(|app| async move {
        let browser = sign_up_with_the_example(&app, "hal@example.com").await;
        let user = app
            .store
            .find_user_by_email("hal@example.com")
            .await
            .unwrap()
            .unwrap();
        let changes = [
            ProfileChange::set(Location::Profile, "given_name", json!("Hal")),
            ProfileChange::set(Location::AppMetadata, "company_size", json!("11-50")),
        ];
        app.store
            .apply_profile_changes(user.id, None, &changes, "admin", OffsetDateTime::now_utc())
            .await
            .unwrap();
        let html = browser.get("/account").await.text().await.unwrap();
        let names = html.find("Welcome! Tell us your name").unwrap();
        let work = html.find("About your work").unwrap();
        let pricing = html.find("Help us tailor our offer").unwrap();
        assert!(names < work && work < pricing, "steps in their order");
        // A read-only value, shown as a value with its source.
        assert!(html.contains("11 to 50 people"), "{html}");
        assert!(!html.contains("name=\"company_size\""), "read-only: {html}");
        assert_eq!(
            html.matches("Added by an administrator").count(),
            2,
            "{html}"
        );
        assert!(html.contains("aria-current=\"page\""), "{html}");
    })
    .await;
}

#[tokio::test]
async fn every_section_speaks_french() {
    each_backend(|app| async move {
        let browser = sign_up_with_the_example(&app, "ida@example.com").await;
        for (path, words) in [
            ("/account", "Bienvenue ! Comment vous appelez-vous ?"),
            ("/account/security", "Changer le mot de passe"),
            ("/account/sessions", "Où vous êtes connecté"),
            ("/account/data", "Supprimer mon compte"),
        ] {
            let html = french(&browser, path).await;
            assert!(html.contains("lang=\"fr\""), "{path}");
            assert!(html.contains(words), "{path}: {html}");
            assert!(html.contains("Sessions et applications"), "{path}");
            assert!(!html.contains("account."), "no raw keys on {path}: {html}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_sections_need_a_session_and_a_csrf_token() {
    each_backend(|app| async move {
        let anonymous = app.new_browser();
        for path in ["/account/security", "/account/sessions", "/account/data"] {
            assert_eq!(location(&anonymous.get(path).await), "/login", "{path}");
        }
        let browser = rp::sign_up(&app, "jo@example.com").await;
        browser.get("/account/data").await;
        let forged = browser
            .post_form(
                "/account/data/delete",
                &[("csrf", "forged"), ("confirmation", PASSWORD)],
            )
            .await;
        assert_eq!(forged.status(), 403);
        assert!(
            app.store
                .find_user_by_email("jo@example.com")
                .await
                .unwrap()
                .is_some()
        );
    })
    .await;
}

#[tokio::test]
async fn signing_out_from_the_account_center_goes_back_to_the_application() {
    each_backend(|app| async move {
        rp::register(&app, ClientSpec::web("web")).await;
        let browser = rp::sign_up(&app, "kai@example.com").await;
        let path = format!("/account/data?return_to={}", rp::escape(rp::AFTER_LOGOUT));
        let html = browser.get(&path).await.text().await.unwrap();
        let csrf = hidden_input(&html, "csrf").unwrap();
        assert_eq!(
            hidden_input(&html, "post_logout_redirect_uri").map(|v| v.replace("&#x2f;", "/")),
            Some(rp::AFTER_LOGOUT.to_owned())
        );
        let signed_out = browser
            .post_form(
                "/logout",
                &[
                    ("csrf", &csrf),
                    ("action", "submit"),
                    ("client_id", "web"),
                    ("post_logout_redirect_uri", rp::AFTER_LOGOUT),
                ],
            )
            .await;
        assert_eq!(location(&signed_out), rp::AFTER_LOGOUT);
        assert_eq!(location(&browser.get("/account").await), "/login");
        // Without an application: the sign-out button alone.
        let other = rp::sign_up(&app, "lea@example.com").await;
        let csrf = other.csrf("/account").await;
        let done = other
            .post_form("/logout", &[("csrf", &csrf), ("action", "submit")])
            .await;
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("You are signed out."));
        assert_eq!(location(&other.get("/account").await), "/login");
    })
    .await;
}

#[tokio::test]
async fn the_sign_in_page_links_a_signed_in_browser_to_its_account() {
    each_backend(|app| async move {
        let browser = rp::sign_up(&app, "max@example.com").await;
        let html = browser.get("/login").await.text().await.unwrap();
        assert!(html.contains("Signed in as max@example.com"), "{html}");
        assert!(html.contains("Manage your account"), "{html}");
        let anonymous = app.new_browser().get("/login").await.text().await.unwrap();
        assert!(!anonymous.contains("Manage your account"));
    })
    .await;
}
