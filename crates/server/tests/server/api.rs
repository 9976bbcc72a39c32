//! The management API: authentication, errors, OpenAPI, clients and statistics.

use serde_json::{Value, json};

use crate::api_client::{
    ALL_SCOPES, Api, Tokens, admin, ensure_client, pricing_policy, problem, stored_user,
};
use crate::support::each_backend;

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_every_route() {
    each_backend(|app| async move {
        let response = app.get("/api/v1/openapi.json").await;
        assert_eq!(response.status(), 200);
        let doc: Value = response.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/users",
            "/users/{id}",
            "/users/{id}/history",
            "/policy",
            "/policy/draft",
            "/policy/validate",
            "/policy/simulate",
            "/policy/draft/impact",
            "/policy/publish",
            "/policy/versions",
            "/policy/versions/{version}",
            "/policy/rollback",
            "/policy/fields/{key}",
            "/policy/steps/{id}",
            "/clients",
            "/clients/{id}",
            "/clients/{id}/secret",
            "/connections",
            "/connections/{name}",
            "/connections/{name}/test",
            "/stats",
            "/me",
            "/me/events",
            "/me/steps/{step}/answers",
            "/me/steps/{step}/skip",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} is documented");
        }
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        let schemas = &doc["components"]["schemas"];
        let presets = schemas["NewConnection"]["oneOf"].as_array().unwrap();
        assert_eq!(presets.len(), 7, "one shape per preset");
        assert_eq!(presets[0]["properties"]["client_secret"]["writeOnly"], true);
        assert_eq!(
            schemas["Connection"]["properties"]["client_secret"]["enum"],
            json!(["********"])
        );
        assert!(schemas["ConnectionReplacement"]["oneOf"].is_array());
        assert_eq!(
            doc["paths"]["/connections"]["post"]["security"][0]["bearer"],
            json!(["connections:write"])
        );
        assert_eq!(
            doc["paths"]["/connections/{name}"]["get"]["security"][0]["bearer"],
            json!(["connections:read"])
        );
        assert!(schemas["ClientSettings"]["properties"]["connections"].is_object());
        assert!(schemas["ClientView"]["properties"]["password_signin"].is_object());
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    })
    .await;
}

#[tokio::test]
async fn a_request_without_a_token_gets_401_with_a_bearer_challenge() {
    each_backend(|app| async move {
        let response = app.get("/api/v1/users").await;
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"accrete\""
        );
        problem(response, 401).await;
    })
    .await;
}

#[tokio::test]
async fn an_invalid_token_gets_401_invalid_token() {
    each_backend(|app| async move {
        let _ = Tokens::install(&app).await;
        let api = Api {
            app: &app,
            token: "not.a.token".into(),
        };
        let response = api.get("/users").await;
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        problem(response, 401).await;
        let basic = app
            .client
            .get(app.url("/api/v1/users"))
            .basic_auth("a", Some("b"))
            .send()
            .await
            .unwrap();
        problem(basic, 401).await;
    })
    .await;
}

#[tokio::test]
async fn a_token_without_the_scope_gets_403_insufficient_scope() {
    each_backend(|app| async move {
        let tokens = Tokens::install(&app).await;
        ensure_client(&app, "reader", &[]).await;
        let api = Api {
            app: &app,
            token: tokens.backend("reader", &["users:read"]),
        };
        assert_eq!(api.get("/users").await.status(), 200);
        let response = api.post("/users", &json!({"email": "a@example.com"})).await;
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            challenge,
            "Bearer realm=\"accrete\", error=\"insufficient_scope\", scope=\"users:write\""
        );
        problem(response, 403).await;
        for path in ["/policy", "/clients", "/stats", "/connections"] {
            problem(api.get(path).await, 403).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_users_own_token_cannot_use_the_management_api() {
    each_backend(|app| async move {
        let tokens = Tokens::install(&app).await;
        let user = stored_user(&app, "me@example.com").await;
        let api = Api {
            app: &app,
            token: tokens.user(&app, &user, "shop").await,
        };
        problem(api.get("/users").await, 403).await;
        ensure_client(&app, "backend", &[]).await;
        let backend = Api {
            app: &app,
            token: tokens.backend("backend", ALL_SCOPES),
        };
        problem(backend.get("/me").await, 403).await;
    })
    .await;
}

#[tokio::test]
async fn malformed_requests_get_problem_documents_never_500() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let bad_json = api
            .request(reqwest::Method::POST, "/users")
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        problem(bad_json, 400).await;
        let wrong_type = api
            .request(reqwest::Method::POST, "/users")
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        problem(wrong_type, 415).await;
        let wrong_shape = api.post("/users", &json!({"email": 5})).await;
        problem(wrong_shape, 400).await;
        let unknown_member = api
            .post("/users", &json!({"email": "a@b.c", "admin": true}))
            .await;
        problem(unknown_member, 400).await;
        problem(api.get("/users/not-a-uuid").await, 400).await;
        problem(api.get("/users?limit=abc").await, 400).await;
        problem(api.get("/nothing/here").await, 404).await;
        problem(api.delete("/users").await, 405).await;
    })
    .await;
}

#[tokio::test]
async fn clients_are_created_read_replaced_and_deleted() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let created = api
            .post(
                "/clients",
                &json!({
                    "id": "shop",
                    "name": "Shop",
                    "redirect_uris": ["https://shop.example/cb"],
                    "allowed_origins": ["https://shop.example"],
                    "theme": {"primary": "#123456"}
                }),
            )
            .await;
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        assert!(created["client_secret"].as_str().unwrap().len() > 20);
        let read: Value = api.get("/clients/shop").await.json().await.unwrap();
        assert_eq!(read["allowed_origins"][0], "https://shop.example");
        assert!(
            read.get("client_secret").is_none(),
            "the secret is shown once"
        );
        let stored = app.store.get_client("shop").await.unwrap().unwrap();
        assert!(stored.secret_hash.is_some());

        let replaced = api
            .put(
                "/clients/shop",
                &json!({"name": "Shop 2", "redirect_uris": ["https://shop.example/cb2"]}),
            )
            .await;
        assert_eq!(replaced.status(), 200);
        let replaced: Value = replaced.json().await.unwrap();
        assert_eq!(replaced["name"], "Shop 2");
        assert_eq!(replaced["allowed_origins"], json!([]));

        let list: Value = api.get("/clients").await.json().await.unwrap();
        let ids: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|client| client["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["backend", "shop"], "the caller's own client and shop");
        problem(
            api.post(
                "/clients",
                &json!({"id": "shop", "name": "x", "redirect_uris": ["https://shop.example/cb"]}),
            )
            .await,
            409,
        )
        .await;
        assert_eq!(api.delete("/clients/shop").await.status(), 204);
        problem(api.get("/clients/shop").await, 404).await;
        problem(api.delete("/clients/shop").await, 404).await;
    })
    .await;
}

/// The status of a client-credentials request of `client` with `secret`.
pub async fn token_status(app: &crate::support::TestApp, client: &str, secret: String) -> u16 {
    let grant = [("grant_type", "client_credentials")];
    crate::rp::token_request(app, client, Some(&secret), &grant)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_rotated_secret_replaces_the_old_one_at_the_token_endpoint_at_once() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let created: Value = api
            .post(
                "/clients",
                &json!({"id": "svc", "name": "Service", "grant_types": ["client_credentials"]}),
            )
            .await
            .json()
            .await
            .unwrap();
        let old = created["client_secret"].as_str().unwrap().to_owned();
        let status = |secret: String| token_status(&app, "svc", secret);
        assert_eq!(status(old.clone()).await, 200);

        let rotated = api.post("/clients/svc/secret", &json!({})).await;
        assert_eq!(rotated.status(), 200);
        let rotated: Value = rotated.json().await.unwrap();
        assert_eq!(rotated["client_id"], "svc");
        let new = rotated["client_secret"].as_str().unwrap().to_owned();
        assert!(new.len() > 20 && new != old);
        assert_eq!(status(old.clone()).await, 401, "the old secret is refused");
        assert_eq!(status(new.clone()).await, 200, "the new one is accepted");
        let stored = app.store.get_client("svc").await.unwrap().unwrap();
        assert_ne!(stored.secret_hash.as_deref(), Some(new.as_str()), "hashed");

        // Recorded, without the secret.
        let log = app.store.list_audit(None, 10).await.unwrap();
        let entry = log
            .iter()
            .find(|e| e.entry.action == "client.secret_rotated")
            .expect("the rotation is in the audit log");
        assert_eq!(entry.entry.target.as_deref(), Some("client:svc"));
        let recorded = serde_json::to_string(&entry.entry.after).unwrap();
        assert!(!recorded.contains(&new) && !recorded.contains(&old));

        // A public client has no secret; an unknown one is not found; the scope is needed.
        let public = api
            .post(
                "/clients",
                &json!({"id": "pub", "name": "SPA", "public": true,
                        "redirect_uris": ["https://spa.example/cb"]}),
            )
            .await;
        assert_eq!(public.status(), 201);
        problem(api.post("/clients/pub/secret", &json!({})).await, 400).await;
        problem(api.post("/clients/nope/secret", &json!({})).await, 404).await;
        let reader = Api {
            app: &app,
            token: Tokens::install(&app)
                .await
                .backend("backend", &["clients:read"]),
        };
        problem(reader.post("/clients/svc/secret", &json!({})).await, 403).await;
        assert_eq!(status(new).await, 200, "a refused rotation changes nothing");
    })
    .await;
}

#[tokio::test]
async fn the_consoles_own_client_cannot_be_deleted() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        // The console registers its client on first use.
        let _ = app.get("/admin/login").await;
        let refused = problem(api.delete("/clients/accrete-console").await, 400).await;
        assert!(refused.to_string().contains("console"), "{refused}");
        assert!(
            app.store
                .get_client("accrete-console")
                .await
                .unwrap()
                .is_some()
        );
    })
    .await;
}

#[tokio::test]
async fn invalid_client_settings_are_refused_field_by_field() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let body = problem(
            api.post(
                "/clients",
                &json!({
                    "name": "",
                    "redirect_uris": ["/relative", "https://ok.example/cb#frag"],
                    "allowed_origins": ["https://app.example/path"],
                    "grant_types": ["password"],
                    "id_token_alg": "HS256"
                }),
            )
            .await,
            400,
        )
        .await;
        let fields = body["fields"].as_object().unwrap();
        for key in [
            "name",
            "redirect_uris[0]",
            "redirect_uris[1]",
            "allowed_origins[0]",
            "grant_types[0]",
            "id_token_alg",
        ] {
            assert!(fields.contains_key(key), "{key} in {fields:?}");
        }
        problem(
            api.post("/clients", &json!({"id": "bad id!", "name": "x"}))
                .await,
            400,
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_client_with_the_authorization_code_grant_needs_a_redirect_uri() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        // Written, or one of the default grant types.
        for body in [
            json!({"id": "shop", "name": "Shop", "grant_types": ["authorization_code"]}),
            json!({"id": "shop", "name": "Shop", "redirect_uris": []}),
        ] {
            let refused = problem(api.post("/clients", &body).await, 400).await;
            let fields = refused["fields"].as_object().unwrap();
            assert_eq!(fields.keys().collect::<Vec<_>>(), ["redirect_uris"], "{body}");
            assert_eq!(fields["redirect_uris"][0]["code"], "redirect_uri_required");
        }
        assert!(app.store.get_client("shop").await.unwrap().is_none());
        let created = api
            .post(
                "/clients",
                &json!({"id": "shop", "name": "Shop", "redirect_uris": ["https://shop.example/cb"]}),
            )
            .await;
        assert_eq!(created.status(), 201);
        let replaced = problem(
            api.put("/clients/shop", &json!({"name": "Shop", "redirect_uris": []}))
                .await,
            400,
        )
        .await;
        assert_eq!(
            replaced["fields"]["redirect_uris"][0]["code"],
            "redirect_uri_required"
        );
        let backend = api
            .post(
                "/clients",
                &json!({"id": "reports", "name": "Reports", "grant_types": ["client_credentials"]}),
            )
            .await;
        assert_eq!(backend.status(), 201);
    })
    .await;
}

#[tokio::test]
async fn statistics_count_prompts_per_step_and_the_share_of_known_fields() {
    each_backend(|app| async move {
        let (tokens, api) = admin(&app).await;
        api.publish(&pricing_policy()).await;
        let known = stored_user(&app, "known@example.com").await;
        let _unknown = stored_user(&app, "unknown@example.com").await;
        let patched = api
            .patch(
                &format!("/users/{}", known.id),
                &json!({"user_metadata": {"company_size": "1-10"}}),
            )
            .await;
        assert_eq!(patched.status(), 200);
        let me = Api {
            app: &app,
            token: tokens.user(&app, &known, "shop").await,
        };
        // Known already: nothing shown. Another user is shown the step.
        let other = stored_user(&app, "other@example.com").await;
        let other = Api {
            app: &app,
            token: tokens.user(&app, &other, "shop").await,
        };
        let _ = me.post("/me/events", &json!({"name": "cta:pricing"})).await;
        let shown: Value = other
            .post("/me/events", &json!({"name": "cta:pricing"}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(shown["step"]["id"], "company");

        let stats: Value = api.get("/stats").await.json().await.unwrap();
        assert_eq!(stats["users"], 3);
        let company = stats["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == "company")
            .unwrap();
        assert_eq!(company["shown"], 1);
        let size = stats["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == "company_size")
            .unwrap();
        assert_eq!(size["known"], 1);
        assert!((size["share"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        // Every UTC day of the last 30 days, today last, with today's three sign-ups.
        let days = stats["days"].as_array().unwrap();
        assert_eq!(days.len(), 31, "{days:?}");
        let today = time::OffsetDateTime::now_utc().date().to_string();
        let last = days.last().unwrap();
        assert_eq!(last["day"], today.as_str());
        assert_eq!(last["sign_ups"], 3);
        assert!(days[..30].iter().all(|d| d["sign_ups"] == 0));
        problem(api.get("/stats?from=nonsense").await, 400).await;
        problem(
            api.get("/stats?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z")
                .await,
            400,
        )
        .await;
        problem(
            api.get("/stats?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z")
                .await,
            400,
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_client_registered_through_the_api_gets_a_token_from_the_token_endpoint_that_the_api_accepts()
 {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let created: Value = api
            .post(
                "/clients",
                &json!({"id": "reporting", "name": "Reporting",
                        "grant_types": ["client_credentials"], "scopes": ["users:read"]}),
            )
            .await
            .json()
            .await
            .unwrap();
        let secret = created["client_secret"].as_str().unwrap();
        let issued: Value = app
            .client
            .post(app.url("/token"))
            .basic_auth("reporting", Some(secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "users:read"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let reporting = Api {
            app: &app,
            token: issued["access_token"].as_str().unwrap().to_owned(),
        };
        assert_eq!(reporting.get("/users").await.status(), 200);
        problem(
            reporting
                .post("/users", &json!({"email": "a@example.com"}))
                .await,
            403,
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_token_issued_for_another_resource_server_is_refused_until_it_names_the_issuer() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let created: Value = api
            .post(
                "/clients",
                &json!({"id": "billing", "name": "Billing",
                        "grant_types": ["client_credentials"], "scopes": ["users:read"],
                        "audience": ["https://billing.example"]}),
            )
            .await
            .json()
            .await
            .unwrap();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        let token_for = |audience: Option<String>| {
            let (app, secret) = (&app, secret.clone());
            async move {
                let mut form = vec![
                    ("grant_type", "client_credentials".to_owned()),
                    ("scope", "users:read".to_owned()),
                ];
                if let Some(audience) = audience {
                    form.push(("audience", audience));
                }
                let issued: Value = app
                    .client
                    .post(app.url("/token"))
                    .basic_auth("billing", Some(secret))
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                issued["access_token"].as_str().unwrap().to_owned()
            }
        };
        // By default the token is for the client's own API, not for Accrete's.
        let elsewhere = Api {
            app: &app,
            token: token_for(None).await,
        };
        let response = elsewhere.get("/users").await;
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("invalid_token"), "{challenge}");
        let body = problem(response, 401).await;
        assert!(
            body["detail"].as_str().unwrap().contains("audience"),
            "{body}"
        );
        // Asking for the issuer as audience is always allowed and reaches the API.
        let here = Api {
            app: &app,
            token: token_for(Some(app.base.clone())).await,
        };
        assert_eq!(here.get("/users").await.status(), 200);
    })
    .await;
}
