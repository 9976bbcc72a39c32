//! The console's signing keys: an owner rotates them once confirmed (published now, signing
//! later, the old ones kept) right after signing in; an editor is refused.

use crate::console::{follow, make_admin};
use crate::rp::{location, sign_up};
use crate::support::{each_backend, hidden_input};

#[tokio::test]
async fn an_owner_rotates_the_signing_keys_once_confirmed_and_an_editor_cannot() {
    each_backend(|app| async move {
        let ada = sign_up(&app, "ada@example.com").await;
        let eve = sign_up(&app, "eve@example.com").await;
        make_admin(&app, "ada@example.com", "owner").await;
        make_admin(&app, "eve@example.com", "editor").await;
        assert_eq!(follow(&ada, "/admin").await.status(), 200);
        let html = ada.get("/admin/keys").await.text().await.unwrap();
        assert_eq!(html.matches(">signing<").count(), 3, "{html}");
        let csrf = hidden_input(&html, "csrf").unwrap();
        let before = app.store.list_signing_keys().await.unwrap().len();

        let unconfirmed = ada
            .post_form("/admin/keys/rotate", &[("csrf", &csrf), ("alg", "ES256")])
            .await;
        assert_eq!(unconfirmed.status(), 400);
        assert_eq!(app.store.list_signing_keys().await.unwrap().len(), before);
        let rotated = ada
            .post_form(
                "/admin/keys/rotate",
                &[("csrf", &csrf), ("alg", "ES256"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(location(&rotated), "/admin/keys?rotated=1");
        assert_eq!(
            app.store.list_signing_keys().await.unwrap().len(),
            before + 1
        );
        let html = ada.get("/admin/keys").await.text().await.unwrap();
        assert!(html.contains("published, signs soon"), "{html}");
        assert_eq!(html.matches(">signing<").count(), 3, "{html}");
        // The new key is in the JWKS already.
        let jwks: serde_json::Value = ada.get("/jwks.json").await.json().await.unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), before + 1, "{jwks}");

        // An editor reads the page, has no form, and is refused.
        assert_eq!(follow(&eve, "/admin").await.status(), 200);
        let html = eve.get("/admin/keys").await.text().await.unwrap();
        assert!(!html.contains("/admin/keys/rotate"), "{html}");
        let csrf_eve = hidden_input(&html, "csrf").unwrap();
        let refused = eve
            .post_form(
                "/admin/keys/rotate",
                &[("csrf", &csrf_eve), ("alg", "RS256"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(refused.status(), 403);
        assert_eq!(
            app.store.list_signing_keys().await.unwrap().len(),
            before + 1
        );

        let audit = ada.get("/admin/audit").await.text().await.unwrap();
        assert!(audit.contains("keys.rotated"), "{audit}");

        // Rotating is for a recent sign-in only: an older one signs in again first.
        let sessions = "UPDATE console_sessions SET auth_time = auth_time - 3600000";
        accrete_store::testing::execute_sql(&app.sql_url(), sessions).await;
        let stale = ada
            .post_form(
                "/admin/keys/rotate",
                &[("csrf", &csrf), ("alg", "RS256"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(
            location(&stale),
            "/admin/login?next=%2Fadmin%2Fkeys&fresh=1"
        );
        assert_eq!(
            app.store.list_signing_keys().await.unwrap().len(),
            before + 1
        );
    })
    .await;
}
