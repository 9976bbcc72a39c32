//! The discovery document tells the truth about the revocation and introspection endpoints.

use serde_json::Value;

use crate::rp::{self, ClientSpec};
use crate::support::{TestApp, each_backend};

/// Calls `path` authenticating with `method` (as a confidential client `web` with `secret`, or
/// as the public client `spa` for `none`); returns the status.
async fn call_with(app: &TestApp, path: &str, method: &str, secret: &str, token: &str) -> u16 {
    let request = app.browser.client.post(app.url(path));
    let request = match method {
        "client_secret_basic" => request
            .basic_auth("web", Some(secret))
            .form(&[("token", token)]),
        "client_secret_post" => request.form(&[
            ("token", token),
            ("client_id", "web"),
            ("client_secret", secret),
        ]),
        "none" => request.form(&[("token", token), ("client_id", "spa")]),
        other => panic!("discovery lists a method the test does not know: {other}"),
    };
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn every_advertised_auth_method_of_revocation_and_introspection_is_accepted() {
    each_backend(|app| async move {
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        rp::register(
            &app,
            ClientSpec {
                public: true,
                ..ClientSpec::web("spa")
            },
        )
        .await;
        let doc: Value = app
            .get("/.well-known/openid-configuration")
            .await
            .json()
            .await
            .unwrap();
        for (member, path) in [
            ("revocation_endpoint_auth_methods_supported", "/revoke"),
            (
                "introspection_endpoint_auth_methods_supported",
                "/introspect",
            ),
        ] {
            let methods = doc[member].as_array().unwrap();
            assert!(!methods.is_empty(), "{member}");
            for method in methods {
                let method = method.as_str().unwrap();
                let status = call_with(&app, path, method, &secret, "unknown-token").await;
                assert_eq!(status, 200, "{member} lists {method}: {:?}", app.backend);
            }
        }
        // RFC 7662: the caller must be authorized; a public client cannot authenticate.
        let introspection = doc["introspection_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap();
        assert!(!introspection.iter().any(|m| m == "none"), "{doc}");
    })
    .await;
}

#[tokio::test]
async fn a_public_client_revokes_its_own_refresh_token_without_a_secret() {
    each_backend(|app| async move {
        rp::register(
            &app,
            ClientSpec {
                public: true,
                ..ClientSpec::web("spa")
            },
        )
        .await;
        let tokens = rp::tokens_for(&app, "spa", None, "pub@example.com", "openid").await;
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let revoked = app
            .browser
            .client
            .post(app.url("/revoke"))
            .form(&[("token", refresh), ("client_id", "spa")])
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 200);
        let response = rp::token_request(
            &app,
            "spa",
            None,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_eq!(response.status(), 400, "{:?}", app.backend);
    })
    .await;
}
