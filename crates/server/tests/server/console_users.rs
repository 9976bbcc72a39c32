//! The console's actions on a user (issue 21): disabling an account refuses every way in (a
//! password, the session it had, its refresh and access tokens) until it is enabled again;
//! the data export, ending sessions, revoking an application and editing `app_metadata` as
//! checked JSON; each recorded in the audit log, and each refused to a viewer by the server.

use serde_json::{Value, json};

use crate::console::{follow, make_admin};
use crate::rp::PASSWORD;
use crate::rp::{self, ClientSpec, location, sign_up};
use crate::support::{TestApp, each_backend, hidden_input};

async fn user_id(app: &TestApp, email: &str) -> uuid::Uuid {
    app.store
        .find_user_by_email(email)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Signs `email` in to the `web` client in its own browser: the browser and the tokens.
async fn signed_in_to_web(
    app: &TestApp,
    email: &str,
    secret: &str,
) -> (crate::support::Browser, Value) {
    let browser = sign_up(app, email).await;
    let back = rp::authorize(
        &browser,
        &rp::authorize_path("web", "openid email", ""),
        email,
    )
    .await;
    let (status, tokens) = rp::redeem(app, "web", Some(secret), &rp::code_of(&back)).await;
    assert_eq!(status, 200, "{tokens}");
    (browser, tokens)
}

async fn refresh(app: &TestApp, secret: &str, token: &str) -> reqwest::Response {
    rp::token_request(
        app,
        "web",
        Some(secret),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

#[tokio::test]
async fn a_disabled_user_is_refused_every_way_in_until_enabled() {
    each_backend(|app| async move {
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        let (dee, tokens) = signed_in_to_web(&app, "dee@example.com", &secret).await;
        let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
        let access_token = tokens["access_token"].as_str().unwrap().to_owned();
        let id = user_id(&app, "dee@example.com").await;
        let sue = sign_up(&app, "sue@example.com").await;
        make_admin(&app, "sue@example.com", "support").await;
        assert_eq!(follow(&sue, "/admin").await.status(), 200);
        let page = sue
            .get(&format!("/admin/users/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Disable the account") && page.contains("can sign in"));
        let csrf = hidden_input(&page, "csrf").unwrap();
        let path = format!("/admin/users/{id}/disable");

        // The address must be typed again; a wrong one is said next to its input.
        let wrong = sue
            .post_form(
                &path,
                &[("csrf", &csrf), ("disable_confirm", "dee@example.org")],
            )
            .await;
        assert_eq!(wrong.status(), 400);
        let html = wrong.text().await.unwrap();
        assert!(html.contains("id=\"f-disable_confirm-error\""), "{html}");
        assert!(!app.store.get_user(id).await.unwrap().is_disabled());

        let done = sue
            .post_form(
                &path,
                &[("csrf", &csrf), ("disable_confirm", "Dee@Example.com")],
            )
            .await;
        assert_eq!(done.status(), 200);
        let html = done.text().await.unwrap();
        assert!(html.contains("The account is disabled"), "{html}");
        assert!(html.contains("Enable the account"), "{html}");
        let found = sue
            .get("/admin/users?email=dee%40example.com")
            .await
            .text()
            .await
            .unwrap();
        assert!(found.contains("badge-off"), "the search says it: {found}");

        // Every way in is refused: the session it had, its tokens, its password.
        assert!(dee.get("/account").await.status().is_redirection());
        let refreshed = refresh(&app, &secret, &refresh_token).await;
        assert_eq!(refreshed.status(), 400);
        let body: Value = refreshed.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(rp::userinfo(&app, &access_token).await.status(), 401);
        let again = app.new_browser();
        let refused = again.sign_in("dee@example.com", PASSWORD).await;
        assert_eq!(refused.status(), 403);
        let html = refused.text().await.unwrap();
        assert!(html.contains("This account is disabled"), "{html}");
        // A wrong password is still only a wrong password.
        let wrong = app
            .new_browser()
            .sign_in("dee@example.com", "not the password")
            .await;
        assert_eq!(wrong.status(), 401);
        // Through an application: the sign-in page refuses it the same way.
        let back = app.new_browser();
        let start = location(&back.get(&rp::authorize_path("web", "openid", "")).await);
        assert!(start.starts_with("/login?tx="), "{start}");
        let tx = start.trim_start_matches("/login?tx=").to_owned();
        let csrf_tx = back.csrf(&start).await;
        let refused = back
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf_tx),
                    ("tx", &tx),
                    ("email", "dee@example.com"),
                    ("password", PASSWORD),
                    ("action", "submit"),
                ],
            )
            .await;
        assert_eq!(refused.status(), 403);

        // Enabled: a sign-in works again; both changes are in the audit log.
        let enabled = sue
            .post_form(&format!("/admin/users/{id}/enable"), &[("csrf", &csrf)])
            .await;
        assert_eq!(enabled.status(), 200);
        assert!(enabled.text().await.unwrap().contains("can sign in again"));
        let back_in = app.new_browser().sign_in("dee@example.com", PASSWORD).await;
        assert!(back_in.status().is_redirection(), "{}", back_in.status());
        let audit = sue.get("/admin/audit").await.text().await.unwrap();
        assert!(
            audit.contains("user.disabled") && audit.contains("user.enabled"),
            "{audit}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_viewer_sees_no_action_and_every_action_is_refused_by_the_server() {
    each_backend(|app| async move {
        sign_up(&app, "dee@example.com").await;
        let id = user_id(&app, "dee@example.com").await;
        let val = sign_up(&app, "val@example.com").await;
        make_admin(&app, "val@example.com", "viewer").await;
        let ed = sign_up(&app, "ed@example.com").await;
        make_admin(&app, "ed@example.com", "editor").await;
        for admin in [&val, &ed] {
            assert_eq!(follow(admin, "/admin").await.status(), 200);
            let html = admin
                .get(&format!("/admin/users/{id}"))
                .await
                .text()
                .await
                .unwrap();
            for button in [
                "Disable the account",
                "Download their data",
                "Sign out everywhere",
                "Save app_metadata",
            ] {
                assert!(!html.contains(button), "{button} shown to a reader");
            }
            let csrf = hidden_input(&html, "csrf").unwrap();
            for (action, extra) in [
                ("disable", ("disable_confirm", "dee@example.com")),
                ("enable", ("x", "")),
                ("export", ("x", "")),
                ("sessions/end", ("all", "1")),
                ("applications/revoke", ("client_id", "web")),
                ("app-metadata", ("app_metadata", "{}")),
            ] {
                let refused = admin
                    .post_form(
                        &format!("/admin/users/{id}/{action}"),
                        &[("csrf", &csrf), extra],
                    )
                    .await;
                assert_eq!(refused.status(), 403, "{action}");
            }
        }
        assert!(!app.store.get_user(id).await.unwrap().is_disabled());

        // A read is recorded for the user who is there, not for an id nobody has.
        let reads = |log: Vec<accrete_store::AuditEntry>| {
            log.into_iter()
                .filter(|r| r.entry.action == "user.viewed")
                .map(|r| r.entry.target.unwrap_or_default())
                .collect::<Vec<_>>()
        };
        let before = reads(app.store.list_audit(None, 500).await.unwrap());
        let nobody = uuid::Uuid::now_v7();
        let missing = val.get(&format!("/admin/users/{nobody}")).await;
        assert_eq!(missing.status(), 404);
        let after = reads(app.store.list_audit(None, 500).await.unwrap());
        assert_eq!(after.len(), before.len(), "{after:?}");
        assert!(!after.contains(&format!("user:{nobody}")));
    })
    .await;
}

#[tokio::test]
async fn support_exports_ends_sessions_revokes_an_application_and_edits_app_metadata() {
    each_backend(|app| async move {
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        let (dee, tokens) = signed_in_to_web(&app, "dee@example.com", &secret).await;
        let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
        let id = user_id(&app, "dee@example.com").await;
        let sue = sign_up(&app, "sue@example.com").await;
        make_admin(&app, "sue@example.com", "support").await;
        assert_eq!(follow(&sue, "/admin").await.status(), 200);
        let page_path = format!("/admin/users/{id}");
        let page = sue.get(&page_path).await.text().await.unwrap();
        let csrf = hidden_input(&page, "csrf").unwrap();

        // The export: a JSON file to download, with the account and no hash.
        let export = sue
            .post_form(&format!("/admin/users/{id}/export"), &[("csrf", &csrf)])
            .await;
        assert_eq!(export.status(), 200);
        let disposition = export.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        let document: Value = export.json().await.unwrap();
        assert_eq!(document["account"]["email"], "dee@example.com");
        assert!(!document.to_string().contains("argon2"));

        // The application and its refresh tokens.
        assert!(page.contains("The web app"), "{page}");
        let revoked = sue
            .post_form(
                &format!("/admin/users/{id}/applications/revoke"),
                &[("csrf", &csrf), ("client_id", "web")],
            )
            .await;
        assert_eq!(revoked.status(), 200);
        assert!(
            !revoked
                .text()
                .await
                .unwrap()
                .contains("Revoke access for The web app")
        );
        assert_eq!(refresh(&app, &secret, &refresh_token).await.status(), 400);

        // One session, then every one.
        let session = hidden_input(&page, "session").unwrap();
        let ended = sue
            .post_form(
                &format!("/admin/users/{id}/sessions/end"),
                &[("csrf", &csrf), ("session", &session)],
            )
            .await;
        assert_eq!(ended.status(), 200);
        assert!(ended.text().await.unwrap().contains("Sessions ended: 1"));
        assert!(dee.get("/account").await.status().is_redirection());
        let one = app.new_browser();
        let two = app.new_browser();
        for browser in [&one, &two] {
            let signed_in = browser.sign_in("dee@example.com", PASSWORD).await;
            assert!(signed_in.status().is_redirection());
            assert_eq!(browser.get("/account").await.status(), 200);
        }
        let all = sue
            .post_form(
                &format!("/admin/users/{id}/sessions/end"),
                &[("csrf", &csrf), ("all", "1")],
            )
            .await;
        assert!(all.text().await.unwrap().contains("Sessions ended: 2"));
        for browser in [&one, &two] {
            assert!(browser.get("/account").await.status().is_redirection());
        }

        // app_metadata: refused JSON is said on the textarea, with where it breaks.
        let version = hidden_input(&page, "version").unwrap();
        let metadata = format!("/admin/users/{id}/app-metadata");
        let post = |text: &'static str, version: String| {
            let csrf = csrf.clone();
            let sue = &sue;
            let metadata = metadata.clone();
            async move {
                sue.post_form(
                    &metadata,
                    &[
                        ("csrf", &csrf),
                        ("app_metadata", text),
                        ("version", &version),
                    ],
                )
                .await
            }
        };
        let syntax = post("{\n  \"plan\": pro\n}", version.clone()).await;
        assert_eq!(syntax.status(), 400);
        let html = syntax.text().await.unwrap();
        assert!(html.contains("line 2, column"), "{html}");
        assert!(html.contains("id=\"f-app_metadata-error\""), "{html}");
        assert!(
            html.contains("&quot;plan&quot;: pro") || html.contains("\"plan\": pro"),
            "typed text kept: {html}"
        );
        let array = post("[1, 2]", version.clone()).await;
        assert_eq!(array.status(), 400);
        assert!(
            array
                .text()
                .await
                .unwrap()
                .contains("must be a JSON object")
        );
        let key = post("{\"a.b\": 1}", version.clone()).await;
        assert_eq!(key.status(), 400);
        assert!(key.text().await.unwrap().contains("app_metadata.a.b"));
        let saved = post("{\"plan\": \"pro\", \"seats\": 5}", version.clone()).await;
        assert_eq!(saved.status(), 200);
        assert!(saved.text().await.unwrap().contains("app_metadata saved"));
        assert_eq!(
            app.store.get_user(id).await.unwrap().app_metadata,
            json!({"plan": "pro", "seats": 5})
        );
        let stale = post("{}", version).await;
        assert_eq!(stale.status(), 409);
        assert_eq!(
            app.store.get_user(id).await.unwrap().app_metadata,
            json!({"plan": "pro", "seats": 5}),
            "a change based on an old version is refused"
        );

        let audit = sue.get("/admin/audit").await.text().await.unwrap();
        for action in [
            "user.exported",
            "user.application_revoked",
            "user.sessions_ended",
            "user.app_metadata_changed",
        ] {
            assert!(audit.contains(action), "{action}: {audit}");
        }
        assert!(
            audit.contains("seats"),
            "the values after the change: {audit}"
        );
    })
    .await;
}
