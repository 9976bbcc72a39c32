//! The management API tells the truth: what its OpenAPI document says is what it accepts and
//! answers, and odd input gets a 4xx, never a 500.

use serde_json::{Value, json};

use crate::api_client::{admin, problem};
use crate::support::each_backend;

#[tokio::test]
async fn a_field_filter_key_that_looks_like_json_path_syntax_finds_exactly_that_key() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        // Keys a JSON path reads as syntax (metadata keys cannot hold `.` or `$`).
        let keys = ["\\", "a\"b", "\"", "[0]", "x[", "a\\\"b", "é*", "#", "'"];
        let mut ids = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let created = api
                .post(
                    "/users",
                    &json!({"email": format!("u{i}@example.com"), "user_metadata": {*key: i}}),
                )
                .await;
            assert_eq!(created.status(), 201, "{key:?}");
            let user: Value = created.json().await.unwrap();
            ids.push(user["id"].clone());
        }
        for (i, key) in keys.iter().enumerate() {
            for location in ["profile", "user_metadata", "app_metadata"] {
                let field = format!("{location}.{key}");
                let response = api
                    .request(reqwest::Method::GET, "/users")
                    .query(&[("field", field.as_str()), ("value", &i.to_string())])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "{field:?}");
                let page: Value = response.json().await.unwrap();
                let found: Vec<Value> = page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|user| user["id"].clone())
                    .collect();
                let expected = if location == "user_metadata" {
                    vec![ids[i].clone()]
                } else {
                    vec![]
                };
                assert_eq!(found, expected, "{field:?}");
                let missing = api
                    .request(reqwest::Method::GET, "/users")
                    .query(&[("field", field.as_str()), ("missing", "true")])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(missing.status(), 200, "{field:?}");
            }
        }
        for field in [
            "profile.$#",
            "user_metadata.$",
            "app_metadata.$.x",
            "user_metadata.a.b",
        ] {
            let response = api
                .request(reqwest::Method::GET, "/users")
                .query(&[("field", field), ("value", "1")])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{field:?}");
            let page: Value = response.json().await.unwrap();
            assert_eq!(page["items"], json!([]), "{field:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn client_scopes_are_oauth_scope_tokens_printable_ascii_only() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let scopes = json!([
            "work:read",
            "ctl\u{1}",
            "caf\u{e9}",
            "tab\there",
            "del\u{7f}",
            "nbsp\u{a0}"
        ]);
        let body = problem(
            api.post(
                "/clients",
                &json!({"id": "shop", "name": "Shop", "scopes": scopes}),
            )
            .await,
            400,
        )
        .await;
        let fields = body["fields"].as_object().unwrap();
        let mut refused: Vec<&str> = fields.keys().map(String::as_str).collect();
        refused.sort_unstable();
        assert_eq!(
            refused,
            [
                "scopes[1]",
                "scopes[2]",
                "scopes[3]",
                "scopes[4]",
                "scopes[5]"
            ]
        );
        assert_eq!(fields["scopes[1]"][0]["code"], "invalid_scope");
        let created = api
            .post(
                "/clients",
                &json!({"id": "shop", "name": "Shop", "scopes": ["openid", "a!#[]^{}~"]}),
            )
            .await;
        assert_eq!(created.status(), 201);
        let replaced = problem(
            api.put(
                "/clients/shop",
                &json!({"name": "Shop", "scopes": ["ok", "\u{2028}"]}),
            )
            .await,
            400,
        )
        .await;
        assert!(replaced["fields"]["scopes[1]"].is_array(), "{replaced}");
    })
    .await;
}
