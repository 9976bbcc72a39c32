//! The server's theme through the API: read layer by layer, replaced with every refused value
//! named, audited with the saved theme before and after, shown at once by the hosted pages,
//! and refused without its scope.

use serde_json::{Value, json};

use crate::api_client::{Api, admin, problem};
use accrete_server::Layer;

use crate::support::each_backend_with;

fn configured() -> Layer {
    let text = "[theme]\nbrand = \"Acme\"\nprimary = \"#111111\"\n";
    Layer::from_toml(std::path::Path::new("accrete.toml"), text).unwrap()
}

#[tokio::test]
async fn the_server_theme_is_replaced_over_the_configuration_and_audited() {
    each_backend_with(&configured(), |app| async move {
        let (tokens, api) = admin(&app).await;
        let first: Value = api.get("/theme").await.json().await.unwrap();
        assert_eq!(first["theme"], json!({}));
        assert_eq!(
            first["configured"],
            json!({"brand": "Acme", "primary": "#111111"})
        );
        assert_eq!(first["effective"], first["configured"]);
        assert!(first["version"].is_null());

        let refused = api
            .put("/theme", &json!({"primary": "teal", "font": "serif"}))
            .await;
        let body = problem(refused, 400).await;
        assert_eq!(body["fields"]["font"][0]["code"], "unknown_field");
        let refused = api
            .put(
                "/theme",
                &json!({"primary": "teal", "logo_url": "http://x"}),
            )
            .await;
        let body = problem(refused, 400).await;
        assert_eq!(body["fields"]["primary"][0]["code"], "invalid_colour");
        assert_eq!(body["fields"]["logo_url"][0]["code"], "invalid_url");
        // `null` and a list are not themes (schemathesis found `null` taken as `{}`).
        for not_a_theme in [json!(null), json!([])] {
            problem(api.put("/theme", &not_a_theme).await, 400).await;
        }

        let saved = api
            .put(
                "/theme",
                &json!({"primary": "#0a7d5a", "brand": null, "logo_url": "/logo.svg"}),
            )
            .await;
        assert_eq!(saved.status(), 200);
        let saved: Value = saved.json().await.unwrap();
        assert_eq!(
            saved["theme"],
            json!({"primary": "#0a7d5a", "logo_url": "/logo.svg"})
        );
        assert_eq!(
            saved["effective"]["brand"], "Acme",
            "the configuration's, under the saved"
        );
        assert_eq!(saved["effective"]["primary"], "#0a7d5a");
        assert_eq!(saved["version"], 1);
        assert_eq!(saved["updated_by"], "client:backend");

        // The node that saved shows it at once.
        let html = app
            .get("/login")
            .await
            .text()
            .await
            .map(|h| unescaped(&h))
            .unwrap();
        assert!(html.contains("src=\"/logo.svg\""), "{html}");
        let css_at = html.find("href=\"/assets/theme.css?v=").unwrap() + "href=\"".len();
        let css_url = &html[css_at..css_at + html[css_at..].find('"').unwrap()];
        let css = app
            .get(css_url)
            .await
            .text()
            .await
            .map(|h| unescaped(&h))
            .unwrap();
        assert!(css.contains("--primary: #0a7d5a;"), "{css}");

        let log: Value = api.get("/audit?limit=1").await.json().await.unwrap();
        let entry = &log["items"][0];
        assert_eq!(entry["action"], "theme.updated");
        assert_eq!(entry["target"], "theme");
        assert_eq!(entry["before"], json!({}));
        assert_eq!(entry["after"], saved["theme"]);

        // Without the scope: refused.
        let reader = Api {
            app: &app,
            token: tokens.backend("backend", &["theme:read"]),
        };
        assert_eq!(reader.get("/theme").await.status(), 200);
        problem(reader.put("/theme", &json!({})).await, 403).await;
        let nobody = Api {
            app: &app,
            token: tokens.backend("backend", &["users:read"]),
        };
        problem(nobody.get("/theme").await, 403).await;
    })
    .await;
}

#[tokio::test]
async fn every_node_shows_a_theme_saved_on_another() {
    let Some(one) = crate::support::TestApp::spawn(crate::support::Backend::Postgres).await else {
        return;
    };
    let two = one.spawn_node().await.unwrap();
    let before = two
        .get("/login")
        .await
        .text()
        .await
        .map(|h| unescaped(&h))
        .unwrap();
    assert!(!before.contains("Saved Elsewhere"));
    let (_tokens, api) = admin(&one).await;
    let saved = api
        .put("/theme", &json!({"brand": "Saved Elsewhere"}))
        .await;
    assert_eq!(saved.status(), 200);
    // The other node re-reads the theme's version at most every two seconds.
    let deadline = std::time::Instant::now() + accrete_app::theme::RECHECK * 3;
    loop {
        let html = two
            .get("/login")
            .await
            .text()
            .await
            .map(|h| unescaped(&h))
            .unwrap();
        if html.contains("Saved Elsewhere") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other node never showed it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A page's text with the entities its attributes use written out.
fn unescaped(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}
