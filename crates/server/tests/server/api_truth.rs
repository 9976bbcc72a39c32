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
                &json!({"id": "shop", "name": "Shop", "scopes": scopes,
                        "redirect_uris": ["https://shop.example/cb"]}),
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
                &json!({"id": "shop", "name": "Shop", "scopes": ["openid", "a!#[]^{}~"],
                        "redirect_uris": ["https://shop.example/cb"]}),
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

/// The schema of `name` in the document's components.
fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

/// Whether `schema` admits every JSON value: no `type`, no `$ref`, no combinator.
fn admits_any_json(schema: &Value) -> bool {
    schema.as_object().is_some_and(|object| {
        ["type", "$ref", "oneOf", "anyOf", "allOf", "enum", "const"]
            .iter()
            .all(|key| !object.contains_key(*key))
    })
}

#[tokio::test]
async fn the_openapi_document_declares_values_of_any_json_type_as_any_json() {
    each_backend(|app| async move {
        let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
        let field = &schema(&doc, "FieldView")["properties"]["value"];
        assert!(admits_any_json(field), "FieldView.value: {field}");
        for name in ["old_value", "new_value"] {
            let value = &schema(&doc, "HistoryView")["properties"][name];
            assert!(admits_any_json(value), "HistoryView.{name}: {value}");
        }
        let validate = &doc["paths"]["/policy/validate"]["post"]["requestBody"];
        let body = &validate["content"]["application/json"]["schema"];
        assert!(admits_any_json(body), "/policy/validate body: {body}");
    })
    .await;
}

#[tokio::test]
async fn the_openapi_document_says_what_the_server_refuses() {
    each_backend(|app| async move {
        let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
        let publish = &doc["paths"]["/policy/publish"]["post"]["requestBody"];
        assert_ne!(publish["required"], json!(true), "{publish}");
        let params = doc["paths"]["/users"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!(limit["schema"]["minimum"], json!(1), "{limit}");
        assert_eq!(limit["schema"]["maximum"], json!(1000), "{limit}");
        let params = doc["paths"]["/users/{id}"]["patch"]["parameters"]
            .as_array()
            .unwrap();
        let if_match = params.iter().find(|p| p["name"] == "If-Match").unwrap();
        let pattern = regex::Regex::new(if_match["schema"]["pattern"].as_str().unwrap()).unwrap();
        for described in ["*", "\"7\"", "W/\"7\""] {
            assert!(pattern.is_match(described), "{described}");
        }
        for refused in ["null", "7", "\"7", "\"\""] {
            assert!(!pattern.is_match(refused), "{refused}");
        }
        // Empty strings are not date-times, nor event names.
        for (path, name) in [
            ("/users", "created_after"),
            ("/users", "created_before"),
            ("/stats", "from"),
            ("/stats", "to"),
        ] {
            let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
            let param = params.iter().find(|p| p["name"] == name).unwrap();
            assert_eq!(param["schema"]["format"], "date-time", "{path} {name}");
        }
        assert_eq!(
            schema(&doc, "EventBody")["properties"]["name"]["minLength"],
            1
        );
    })
    .await;
}

#[tokio::test]
async fn values_the_document_allows_are_accepted() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        api.publish(&crate::api_client::pricing_policy()).await;
        // JSON Schema's integers include 1.0.
        let rolled = api.post("/policy/rollback", &json!({"version": 1.0})).await;
        assert_eq!(rolled.status(), 201, "{}", rolled.text().await.unwrap());
        problem(
            api.post("/policy/rollback", &json!({"version": 1.5})).await,
            400,
        )
        .await;
        // The publish body is optional and nullable.
        for body in ["", "null", "{}"] {
            let saved = api
                .put("/policy/draft", &crate::api_client::pricing_policy())
                .await;
            assert_eq!(saved.status(), 200);
            let published = api
                .request(reqwest::Method::POST, "/policy/publish")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(published.status(), 201, "{body:?}");
        }
        // Any JSON value can be validated; anything but a document is reported as a problem.
        for body in [json!([1]), json!("text"), json!(null), json!(3)] {
            let response = api.post("/policy/validate", &body).await;
            assert_eq!(response.status(), 200, "{body}");
            let validation: Value = response.json().await.unwrap();
            assert_eq!(validation["valid"], false, "{body}");
        }
    })
    .await;
}

#[tokio::test]
async fn an_if_match_that_is_not_an_etag_is_refused() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let created = api
            .post("/users", &json!({"email": "ada@example.com"}))
            .await;
        let mut etag = created.headers()["etag"].to_str().unwrap().to_owned();
        let user: Value = created.json().await.unwrap();
        let path = format!("/users/{}", user["id"].as_str().unwrap());
        for (i, if_match) in ["null", "1", "\"\"", "ETAG", "W/ETAG", "*"]
            .iter()
            .enumerate()
        {
            let if_match = if_match.replace("ETAG", &etag);
            let response = api
                .request(reqwest::Method::PATCH, &path)
                .header("content-type", "application/merge-patch+json")
                .header("if-match", &if_match)
                .body(json!({"user_metadata": {"n": i}}).to_string())
                .send()
                .await
                .unwrap();
            let expected = if i < 3 { 400 } else { 200 };
            assert_eq!(response.status(), expected, "If-Match: {if_match}");
            if let Some(next) = response.headers().get("etag") {
                etag = next.to_str().unwrap().to_owned();
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_json_array_is_not_a_policy_document() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let body = problem(api.put("/policy/draft", &json!([1])).await, 400).await;
        assert!(body["fields"]["$"].is_array(), "{body}");
    })
    .await;
}

#[tokio::test]
async fn the_openapi_document_declares_what_a_request_needs_to_be_accepted() {
    each_backend(|app| async move {
        let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
        let param = |path: &str, method: &str, name: &str| {
            doc["paths"][path][method]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap()["schema"]
                .clone()
        };
        // A header is a string, never JSON null.
        assert_eq!(param("/users/{id}", "patch", "If-Match")["type"], "string");
        // The impact preview's moment is one of three words; an event is named.
        let moment = param("/policy/draft/impact", "get", "moment");
        let pattern = regex::Regex::new(moment["pattern"].as_str().unwrap()).unwrap();
        for word in ["login", "signup", "event"] {
            assert!(pattern.is_match(word), "{word}");
        }
        for refused in ["", "Login", "events", "sign-up"] {
            assert!(!pattern.is_match(refused), "{refused}");
        }
        assert_eq!(param("/policy/draft/impact", "get", "event")["minLength"], 1);
        // A new user's email is an address; a password 8 to 1024 characters.
        let create = schema(&doc, "CreateUser");
        assert_eq!(create["properties"]["email"]["format"], "email");
        assert_eq!(create["properties"]["password"]["minLength"], 8);
        assert_eq!(create["properties"]["password"]["maxLength"], 1024);
        assert_eq!(
            schema(&doc, "PatchUser")["properties"]["email"]["format"],
            "email"
        );
        // A policy document has `version` 1.
        let policy = &doc["paths"]["/policy/draft"]["put"]["requestBody"]["content"]
            ["application/json"]["schema"];
        assert_eq!(policy["required"], json!(["version"]), "{policy}");
        assert_eq!(policy["properties"]["version"]["minimum"], 1, "{policy}");
        assert_eq!(policy["properties"]["version"]["maximum"], 1, "{policy}");
        // A simulated moment has a kind, and an event name exactly when it is an event.
        let moments = schema(&doc, "Simulate")["properties"]["moment"]["oneOf"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(moments.len(), 2);
        for branch in &moments {
            assert!(
                branch["required"].as_array().unwrap().contains(&json!("kind")),
                "{branch}"
            );
            assert_eq!(branch["additionalProperties"], false, "{branch}");
        }
        assert_eq!(moments[0]["properties"]["event"]["type"], "null");
        assert_eq!(moments[1]["required"], json!(["kind", "event"]));
    })
    .await;
}

#[tokio::test]
async fn a_simulated_moment_of_each_documented_shape_is_accepted() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        api.publish(&crate::api_client::pricing_policy()).await;
        let facts = json!({"created_at": "2026-01-01T00:00:00Z"});
        for moment in [
            json!({"kind": "signup"}),
            json!({"kind": "login", "event": null, "client_id": null}),
            json!({"kind": "event", "event": "", "client_id": "shop", "scopes": ["openid"],
                "optional_steps_asked": 4294967295u32, "skipped_this_signin": []}),
        ] {
            let response = api
                .post(
                    "/policy/simulate",
                    &json!({"facts": facts, "moment": moment}),
                )
                .await;
            assert_eq!(response.status(), 200, "{moment}");
        }
        for moment in [
            json!({}),
            json!({"kind": "login", "event": "x"}),
            json!({"kind": "event"}),
            json!({"kind": "event", "event": null}),
            json!({"kind": "login", "other": 1}),
        ] {
            problem(
                api.post(
                    "/policy/simulate",
                    &json!({"facts": facts, "moment": moment}),
                )
                .await,
                400,
            )
            .await;
        }
    })
    .await;
}

/// The parts (`allOf`) of the bodies that carry a client's settings: a new client's, and the
/// replacement's of `PUT /clients/{id}`; both say the rules across settings.
fn client_bodies(doc: &Value) -> [Vec<Value>; 2] {
    let put = &doc["paths"]["/clients/{id}"]["put"]["requestBody"]["content"]["application/json"]["schema"];
    [schema(doc, "NewClient"), put].map(|body| {
        body["allOf"]
            .as_array()
            .unwrap_or_else(|| panic!("not an allOf: {body}"))
            .clone()
    })
}

#[tokio::test]
async fn the_openapi_document_says_a_public_client_cannot_use_client_credentials() {
    each_backend(|app| async move {
        let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
        let rule = json!({"anyOf": [
            {"type": "object", "properties": {"public": {"type": "boolean", "enum": [false]}}},
            {"type": "object", "properties": {"grant_types": {"type": "array",
                "items": {"type": "string", "enum": ["authorization_code", "refresh_token"]}}}},
        ]});
        for parts in client_bodies(&doc) {
            let found = parts.iter().any(|part| part["anyOf"] == rule["anyOf"]);
            assert!(found, "{parts:?}");
        }
        let (_tokens, api) = admin(&app).await;
        problem(
            api.post(
                "/clients",
                &json!({"name": "x", "public": true, "grant_types": ["client_credentials"]}),
            )
            .await,
            400,
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn the_openapi_document_says_the_authorization_code_grant_needs_a_redirect_uri() {
    each_backend(|app| async move {
        let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
        // Absent grant types are the defaults, `authorization_code` among them: hence `required`.
        let rule = json!({"anyOf": [
            {"type": "object", "required": ["redirect_uris"],
             "properties": {"redirect_uris": {"type": "array", "items": {}, "minItems": 1}}},
            {"type": "object", "required": ["grant_types"],
             "properties": {"grant_types": {"type": "array",
                "items": {"type": "string", "enum": ["refresh_token", "client_credentials"]}}}},
        ]});
        for parts in client_bodies(&doc) {
            let found = parts.iter().any(|part| part["anyOf"] == rule["anyOf"]);
            assert!(found, "{parts:?}");
        }
        let description =
            schema(&doc, "ClientSettings")["properties"]["redirect_uris"]["description"]
                .as_str()
                .unwrap();
        assert!(description.contains("authorization_code"), "{description}");
        // That the server refuses it, on registration and replacement alike:
        // `api::a_client_with_the_authorization_code_grant_needs_a_redirect_uri`.
    })
    .await;
}
