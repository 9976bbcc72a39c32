//! The console's Theme page: an editor's save shows on the real sign-in page and in the audit
//! log, refused values are shown next to their input, a reset asks first; a viewer sees no
//! button and a forged save is refused; previews render the real pages, inert, in a locale and
//! a theme from the query, framed by the console only.

use accrete_store::NewAuditEntry;
use serde_json::json;

use crate::console::follow;
use crate::rp::sign_up;
use crate::support::{Browser, TestApp, each_backend, hidden_input};

/// Ada, the first owner, signed in to the console.
async fn owner(app: &TestApp) -> Browser {
    let ada = sign_up(app, "ada@example.com").await;
    assert_eq!(follow(&ada, &app.console_setup).await.status(), 200);
    ada
}

/// Someone else with `role`, signed in to the console.
async fn with_role(app: &TestApp, email: &str, role: &str) -> Browser {
    let browser = sign_up(app, email).await;
    let user = app.store.find_user_by_email(email).await.unwrap().unwrap();
    let audit = NewAuditEntry {
        at: time::OffsetDateTime::now_utc(),
        actor: "cli".into(),
        action: "admin.granted".into(),
        target: None,
        before: None,
        after: None,
        ip: None,
    };
    app.store
        .set_admin_role(user.id, Some(role), audit)
        .await
        .unwrap();
    assert_eq!(follow(&browser, "/admin/theme").await.status(), 200);
    browser
}

/// The form's fields as a browser would post them, with `changes`.
fn form<'a>(csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("csrf", csrf), ("action", "save")];
    form.extend_from_slice(changes);
    form
}

#[tokio::test]
async fn an_editor_saves_the_theme_and_the_real_sign_in_page_shows_it() {
    each_backend(|app| async move {
        let _ada = owner(&app).await;
        let eve = with_role(&app, "eve@example.com", "editor").await;
        let html = eve
            .get("/admin/theme")
            .await
            .text()
            .await
            .map(|h| unescaped(&h))
            .unwrap();
        assert!(html.contains("Save the theme"), "{html}");
        assert!(
            html.contains("aria-current=\"page\">Theme</a>"),
            "theme is in the nav"
        );
        assert!(html.contains("<iframe class=\"preview\" data-preview-form=\"theme-form\""));
        assert!(html.contains("src=\"/assets/console-preview.js\""));
        let csrf = hidden_input(&html, "csrf").unwrap();

        // Refused values come back next to their input, in the console's words.
        let refused = eve
            .post_form(
                "/admin/theme",
                &form(
                    &csrf,
                    &[
                        ("theme.brand", "Shop"),
                        ("theme.logo_url", "http://x/logo.png"),
                    ],
                ),
            )
            .await;
        assert_eq!(refused.status(), 400);
        let html = refused.text().await.map(|h| unescaped(&h)).unwrap();
        assert!(html.contains("id=\"f-logo_url-error\""), "{html}");
        assert!(html.contains("Use an https:// address"), "{html}");
        assert!(
            html.contains("value=\"Shop\""),
            "what was typed stays: {html}"
        );
        assert!(app.store.server_theme().await.unwrap().is_none());

        let saved = eve
            .post_form(
                "/admin/theme",
                &form(
                    &csrf,
                    &[
                        ("theme.brand", "Shop Online"),
                        ("theme.logo_url", ""),
                        ("theme.primary", "#d9480f"),
                        // Left at the built-in colour: not saved.
                        ("theme.surface", "#ffffff"),
                        ("theme.css", ""),
                    ],
                ),
            )
            .await;
        assert_eq!(saved.status(), 200);
        assert!(saved.text().await.unwrap().contains("The theme is saved"));
        let stored = app.store.server_theme().await.unwrap().unwrap();
        assert_eq!(
            stored.theme,
            json!({"brand": "Shop Online", "primary": "#d9480f"})
        );

        // The real sign-in page, for anyone.
        let visitor = app.new_browser();
        let html = visitor
            .get("/login")
            .await
            .text()
            .await
            .map(|h| unescaped(&h))
            .unwrap();
        assert!(html.contains("Shop Online"), "{html}");
        let at = html.find("href=\"/assets/theme.css?v=").unwrap() + "href=\"".len();
        let css_url = &html[at..at + html[at..].find('"').unwrap()];
        let css = visitor
            .get(css_url)
            .await
            .text()
            .await
            .map(|h| unescaped(&h))
            .unwrap();
        assert!(css.contains("--primary: #d9480f;"), "{css}");

        // The audit log says who changed what.
        let log = app.store.list_audit(None, 1).await.unwrap();
        let entry = &log[0].entry;
        assert_eq!(entry.action, "theme.updated");
        let eve_id = app
            .store
            .find_user_by_email("eve@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        assert_eq!(entry.actor, format!("user:{eve_id}"));
        assert_eq!(entry.before, Some(json!({})));
        assert_eq!(entry.after, Some(stored.theme.clone()));
        assert_eq!(entry.ip.as_deref(), Some("127.0.0.1"));

        // A reset asks first, then goes back to the configuration.
        let asked = eve
            .post_form("/admin/theme", &[("csrf", &csrf), ("action", "reset")])
            .await;
        assert_eq!(asked.status(), 200);
        assert!(asked.text().await.unwrap().contains("Yes, reset the theme"));
        assert_eq!(app.store.server_theme().await.unwrap().unwrap().version, 1);
        let reset = eve
            .post_form(
                "/admin/theme",
                &[("csrf", &csrf), ("action", "reset"), ("confirmed", "yes")],
            )
            .await;
        assert_eq!(reset.status(), 200);
        assert_eq!(
            app.store.server_theme().await.unwrap().unwrap().theme,
            json!({})
        );
        let html = visitor
            .get("/login")
            .await
            .text()
            .await
            .map(|h| unescaped(&h))
            .unwrap();
        assert!(!html.contains("Shop Online"), "{html}");
        assert_eq!(
            app.store.list_audit(None, 1).await.unwrap()[0].entry.action,
            "theme.reset"
        );
    })
    .await;
}

#[tokio::test]
async fn a_viewer_sees_no_save_button_and_a_forged_save_is_refused() {
    each_backend(|app| async move {
        let _ada = owner(&app).await;
        let bob = with_role(&app, "bob@example.com", "viewer").await;
        let html = bob
            .get("/admin/theme")
            .await
            .text()
            .await
            .map(|h| unescaped(&h))
            .unwrap();
        assert!(!html.contains("Save the theme"), "{html}");
        assert!(!html.contains("Reset to the configuration"), "{html}");
        assert!(
            html.contains("can read this page but not change it"),
            "{html}"
        );
        let csrf = hidden_input(&html, "csrf").unwrap();
        let forged = bob
            .post_form("/admin/theme", &form(&csrf, &[("theme.brand", "Mine")]))
            .await;
        assert_eq!(forged.status(), 403);
        let reset = bob
            .post_form(
                "/admin/theme",
                &[("csrf", &csrf), ("action", "reset"), ("confirmed", "yes")],
            )
            .await;
        assert_eq!(reset.status(), 403);
        assert!(app.store.server_theme().await.unwrap().is_none());
        // Without the form's token, no change either.
        let no_token = bob.post_form("/admin/theme", &[("action", "save")]).await;
        assert_eq!(no_token.status(), 403);
        // Previews are every role's.
        assert_eq!(bob.get("/admin/preview/signin").await.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn a_prompt_step_is_previewed_in_french_as_a_person_sees_it_and_cannot_be_submitted() {
    each_backend(|app| async move {
        let ada = owner(&app).await;
        let (_tokens, api) = crate::api_client::admin(&app).await;
        api.publish(&crate::api_client::pricing_policy()).await;

        let preview = ada
            .get("/admin/preview/prompt?step=company&locale=fr&theme.primary=%23123456&theme.font=serif")
            .await;
        assert_eq!(preview.status(), 200);
        let csp = preview.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
        assert!(csp.contains("form-action 'none'"), "{csp}");
        assert!(csp.contains("sandbox"), "{csp}");
        assert_eq!(preview.headers()["x-frame-options"], "SAMEORIGIN");
        let html = preview.text().await.map(|h| unescaped(&h)).unwrap();
        assert!(html.contains("lang=\"fr\""), "{html}");
        assert!(html.contains("Taille de l&#x27;entreprise") || html.contains("Taille de l'entreprise"), "{html}");
        assert!(html.contains("Aperçu : cette page ne fait rien."), "{html}");
        assert!(html.contains("non valides : font"), "the refused value is named: {html}");
        // Its stylesheet carries the query's colour.
        let at = html.find("href=\"/admin/preview/theme.css?").unwrap() + "href=\"".len();
        let css_url = &html[at..at + html[at..].find('"').unwrap()];
        let css = ada.get(css_url).await.text().await.map(|h| unescaped(&h)).unwrap();
        assert!(css.contains("--primary: #123456;"), "{css}");

        // The published policy's step; an unknown step or page is a plain 404.
        assert_eq!(ada.get("/admin/preview/prompt?step=nope").await.status(), 404);
        assert_eq!(ada.get("/admin/preview/account").await.status(), 404);
        assert_eq!(ada.get("/admin/preview/signin?client=nope").await.status(), 404);
        // Sign-in and sign-up are previewed too; no transaction is created.
        for page in ["signin", "signup"] {
            let response = ada.get(&format!("/admin/preview/{page}?locale=en")).await;
            assert_eq!(response.status(), 200, "{page}");
            assert!(response.text().await.unwrap().contains("Preview: this page does nothing."));
        }
        // Without a console session: the way to sign in, not the page.
        let stranger = app.new_browser();
        let response = stranger.get("/admin/preview/signin").await;
        assert!(response.status().is_redirection(), "{}", response.status());
    })
    .await;
}

/// A page's text with the entities its attributes use written out.
fn unescaped(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}
