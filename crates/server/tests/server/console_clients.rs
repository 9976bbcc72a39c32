//! The console's applications over HTTP: the wizard creates a client and shows its secret
//! once (a secret that works at the token endpoint and is stored hashed), its page changes its
//! settings with refused values placed on their inputs, rotating the secret and deleting the
//! client ask for a recent sign-in and a confirmation, every change is in the audit log without
//! a secret, and a viewer is refused by the server, not only by the page.

use crate::api::token_status;
use crate::console::{follow, make_admin};
use crate::rp::{PASSWORD, location, sign_up};
use crate::support::{Browser, each_backend, hidden_input};

/// The text of the element with `id` (up to its closing tag), unescaped of `&amp;` only.
pub(crate) fn element(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\">");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('<')?;
    Some(html[start..start + end].replace("&amp;", "&"))
}

/// Follows `start` within the server, signing in with the password when the sign-in page asks
/// (as `prompt=login` makes it): the first response that is neither a redirect nor that page.
pub(crate) async fn sign_in_again(
    browser: &Browser,
    start: &str,
    email: &str,
) -> reqwest::Response {
    let mut response = browser.get(start).await;
    for _ in 0..12 {
        if !response.status().is_redirection() {
            return response;
        }
        let to = location(&response);
        let path = to.strip_prefix(&browser.base).unwrap_or(&to).to_owned();
        assert!(path.starts_with('/'), "left the server: {to}");
        response = if let Some(tx) = path.strip_prefix("/login?tx=") {
            let csrf = browser.csrf(&path).await;
            browser
                .post_form(
                    "/login",
                    &[
                        ("csrf", &csrf),
                        ("tx", tx),
                        ("email", email),
                        ("password", PASSWORD),
                        ("action", "submit"),
                    ],
                )
                .await
        } else {
            browser.get(&path).await
        };
    }
    panic!("too many redirects from {start}");
}

#[tokio::test]
async fn an_editor_creates_edits_rotates_and_deletes_an_application_and_a_viewer_cannot() {
    each_backend(|app| async move {
        let ada = sign_up(&app, "ada@example.com").await;
        let val = sign_up(&app, "val@example.com").await;
        make_admin(&app, "ada@example.com", "editor").await;
        make_admin(&app, "val@example.com", "viewer").await;
        assert_eq!(follow(&ada, "/admin").await.status(), 200);
        assert_eq!(follow(&val, "/admin").await.status(), 200);

        // The list, linked from the navigation, with the console's own client.
        let list = ada
            .get("/admin/clients")
            .await
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/");
        assert!(list.contains("href=\"/admin/clients\""), "{list}");
        assert!(list.contains("accrete-console") && list.contains("New application"));

        // The wizard: the kind, then its few fields; a refused value is shown on its input.
        let kinds = ada
            .get("/admin/clients/new")
            .await
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/");
        assert!(kinds.contains("Machine to machine"), "{kinds}");
        let form = ada
            .get("/admin/clients/new?kind=web")
            .await
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/");
        let csrf = hidden_input(&form, "csrf").unwrap();
        let refused = ada
            .post_form(
                "/admin/clients/new",
                &[
                    ("csrf", &csrf),
                    ("kind", "web"),
                    ("name", "Shop"),
                    (
                        "redirect_uris",
                        "https://shop.example/cb\nhttp://shop.example/cb",
                    ),
                    ("scopes", "openid email"),
                ],
            )
            .await;
        assert_eq!(refused.status(), 400);
        let html = refused.text().await.unwrap().replace("&#x2f;", "/");
        let error = element(&html, "f-redirect_uris-error").expect("the error on its input");
        assert!(error.starts_with("Line 2"), "{error}");
        assert!(
            html.contains("http://shop.example/cb"),
            "the form keeps what was typed"
        );

        let created = ada
            .post_form(
                "/admin/clients/new",
                &[
                    ("csrf", &csrf),
                    ("kind", "machine"),
                    ("name", "Billing"),
                    ("client_id", "billing"),
                    ("scopes", ""),
                ],
            )
            .await;
        assert_eq!(created.status(), 200);
        assert_eq!(created.headers()["cache-control"], "no-store");
        let html = created.text().await.unwrap().replace("&#x2f;", "/");
        let secret = element(&html, "client-secret").expect("the secret, once");
        assert!(html.contains("grant_type=client_credentials"), "{html}");
        assert!(
            html.contains(&format!("{}/token", app.base)),
            "the real issuer"
        );
        assert_eq!(token_status(&app, "billing", secret.clone()).await, 200);
        let stored = app.store.get_client("billing").await.unwrap().unwrap();
        assert!(stored.secret_hash.is_some_and(|h| h != secret));
        let page = ada
            .get("/admin/clients/billing")
            .await
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/");
        assert!(!page.contains(&secret), "shown once");

        // The client's page: settings and theme inputs, with the preview beside them.
        assert!(page.contains("name=\"theme.primary\""), "{page}");
        assert!(page.contains("data-preview-form=\"client-form\""));
        assert!(
            page.contains("src=\"/admin/preview/signin?client=billing\""),
            "{page}"
        );
        let csrf = hidden_input(&page, "csrf").unwrap();
        let edit = |name: &'static str, primary: &'static str| {
            let csrf = csrf.clone();
            let ada = ada.clone();
            async move {
                ada.post_form(
                    "/admin/clients/billing",
                    &[
                        ("csrf", &csrf),
                        ("name", name),
                        ("scopes", "users:read"),
                        ("grant_client_credentials", "on"),
                        ("id_token_alg", "ES256"),
                        ("password_signin", "on"),
                        ("connections_mode", "all"),
                        ("theme.primary", primary),
                    ],
                )
                .await
            }
        };
        let bad = edit("Billing 2", "#zzz").await;
        assert_eq!(bad.status(), 400);
        let html = bad.text().await.unwrap().replace("&#x2f;", "/");
        assert!(element(&html, "f-theme.primary-error").is_some(), "{html}");
        let saved = edit("Billing 2", "#123456").await;
        assert_eq!(saved.status(), 200);
        assert!(
            saved
                .text()
                .await
                .unwrap()
                .replace("&#x2f;", "/")
                .contains("Saved.")
        );
        let stored = app.store.get_client("billing").await.unwrap().unwrap();
        assert_eq!(stored.name, "Billing 2");
        assert_eq!(stored.theme["primary"], "#123456");
        assert_eq!(stored.scopes, ["users:read"]);
        assert_eq!(stored.id_token_alg, "ES256");
        assert_eq!(
            token_status(&app, "billing", secret.clone()).await,
            200,
            "kept"
        );

        // A viewer reads, and cannot change: no buttons, and forged posts are refused.
        let html = val
            .get("/admin/clients")
            .await
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/");
        assert!(!html.contains("New application"), "{html}");
        let html = val
            .get("/admin/clients/billing")
            .await
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/");
        assert!(!html.contains("Rotate the secret") && !html.contains(">Save<"));
        let csrf_val = hidden_input(&html, "csrf").unwrap();
        assert_eq!(val.get("/admin/clients/new").await.status(), 403);
        for (path, form) in [
            (
                "/admin/clients/new",
                vec![("kind", "machine"), ("name", "Mine")],
            ),
            ("/admin/clients/billing", vec![("name", "Mine")]),
            ("/admin/clients/billing/secret", vec![]),
            (
                "/admin/clients/billing/delete",
                vec![("confirm", "billing")],
            ),
        ] {
            let mut form = form;
            form.push(("csrf", &csrf_val));
            let forged = val.post_form(path, &form).await;
            assert_eq!(forged.status(), 403, "{path}");
        }
        assert_eq!(app.store.list_clients().await.unwrap().len(), 2);

        // Rotating wants a recent sign-in: an old one is sent to sign in again, and nothing
        // changes until then.
        let sessions = "UPDATE console_sessions SET auth_time = auth_time - 3600000";
        accrete_store::testing::execute_sql(&app.sql_url(), sessions).await;
        let confirm = ada
            .get("/admin/clients/billing")
            .await
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/");
        let csrf = hidden_input(&confirm, "csrf").unwrap();
        let stale = ada
            .post_form("/admin/clients/billing/secret", &[("csrf", &csrf)])
            .await;
        let to = location(&stale);
        assert_eq!(
            to,
            "/admin/login?next=%2Fadmin%2Fclients%2Fbilling%2Fsecret&fresh=1"
        );
        assert_eq!(token_status(&app, "billing", secret.clone()).await, 200);
        let authorize = location(&ada.get(&to).await);
        assert!(authorize.contains("prompt=login"), "{authorize}");
        let back = sign_in_again(&ada, &to, "ada@example.com").await;
        assert_eq!(back.status(), 200);
        assert!(back.url().path().ends_with("/admin/clients/billing/secret"));
        let html = back.text().await.unwrap().replace("&#x2f;", "/");
        assert!(html.contains("Rotate the secret of Billing 2?"), "{html}");
        let csrf = hidden_input(&html, "csrf").unwrap();
        let rotated = ada
            .post_form("/admin/clients/billing/secret", &[("csrf", &csrf)])
            .await;
        assert_eq!(rotated.status(), 200);
        let new = element(
            &rotated.text().await.unwrap().replace("&#x2f;", "/"),
            "client-secret",
        )
        .unwrap();
        assert_ne!(new, secret);
        assert_eq!(token_status(&app, "billing", secret.clone()).await, 401);
        assert_eq!(token_status(&app, "billing", new.clone()).await, 200);

        // Deleting: the client_id typed again; never the console's own client.
        let wrong = ada
            .post_form(
                "/admin/clients/billing/delete",
                &[("csrf", &csrf), ("confirm", "Billing")],
            )
            .await;
        assert_eq!(wrong.status(), 400);
        assert!(
            wrong
                .text()
                .await
                .unwrap()
                .replace("&#x2f;", "/")
                .contains("nothing was deleted"),
            "the sentence beside the input"
        );
        let console = ada
            .post_form(
                "/admin/clients/accrete-console/delete",
                &[("csrf", &csrf), ("confirm", "accrete-console")],
            )
            .await;
        assert_eq!(console.status(), 400);
        assert!(
            console
                .text()
                .await
                .unwrap()
                .replace("&#x2f;", "/")
                .contains("cannot be deleted")
        );
        let deleted = ada
            .post_form(
                "/admin/clients/billing/delete",
                &[("csrf", &csrf), ("confirm", "billing")],
            )
            .await;
        assert_eq!(location(&deleted), "/admin/clients?deleted=billing");
        assert!(app.store.get_client("billing").await.unwrap().is_none());
        assert_eq!(token_status(&app, "billing", new.clone()).await, 401);

        // Every change is in the log, with who, and never a secret.
        let log = app.store.list_audit(None, 50).await.unwrap();
        let ada_id = app
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        for action in [
            "client.created",
            "client.updated",
            "client.secret_rotated",
            "client.deleted",
        ] {
            let entry = log
                .iter()
                .find(|e| e.entry.action == action)
                .unwrap_or_else(|| panic!("{action} is recorded"));
            assert_eq!(entry.entry.actor, format!("user:{ada_id}"));
            assert_eq!(entry.entry.target.as_deref(), Some("client:billing"));
            assert_eq!(entry.entry.ip.as_deref(), Some("127.0.0.1"));
        }
        let updated = log
            .iter()
            .find(|e| e.entry.action == "client.updated")
            .unwrap();
        assert_eq!(updated.entry.before.as_ref().unwrap()["name"], "Billing");
        assert_eq!(updated.entry.after.as_ref().unwrap()["name"], "Billing 2");
        let everything = serde_json::to_string(
            &log.iter()
                .map(|e| (&e.entry.before, &e.entry.after))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(!everything.contains(&secret) && !everything.contains(&new));
        assert!(!everything.contains("secret_hash"));
    })
    .await;
}
