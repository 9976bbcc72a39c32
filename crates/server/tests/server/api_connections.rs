//! The management API of connections to upstream identity providers, and the connections a
//! client offers.

use accrete_federation::spec::Secrets;
use serde_json::{Value, json};

use crate::api_client::{Api, Tokens, admin, ensure_client, problem};
use crate::federation::federation_layer;
use crate::support::{TEST_MASTER_KEY, TestApp, each_backend, each_backend_with};

const SECRET: &str = "acme-client-secret-never-shown";

fn acme(issuer: &str) -> Value {
    json!({
        "name": "acme",
        "preset": "oidc",
        "display_name": "Acme",
        "issuer": issuer,
        "client_id": "accrete",
        "client_secret": SECRET,
        "domains": ["acme.example"],
        "mapping": [
            {"claim": "/given_name", "field": "given_name"},
            {"claim": "/org/name", "field": "company", "sync": "always"}
        ]
    })
}

/// The secrets of a stored connection, opened with the test master key.
async fn stored_secrets(app: &TestApp, name: &str) -> Secrets {
    let secrets = accrete_server::secrets::ServerSecrets::load(
        Some(TEST_MASTER_KEY),
        std::path::Path::new("/nonexistent"),
    )
    .unwrap();
    let upstream =
        accrete_federation::Upstream::new(accrete_federation::HttpOptions::default()).unwrap();
    let federation = accrete_app::connections::Federation::new(
        upstream,
        &secrets.key_encryption_key,
        secrets.federation_hasher.clone(),
    )
    .unwrap();
    let row = app.store.get_connection(name).await.unwrap().unwrap();
    federation.open(&row).unwrap().provider_secrets()
}

/// The body of a response as text, checked to hold no secret.
async fn text_without_secrets(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.contains("new-secret"), "{text}");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn connections_are_created_listed_read_replaced_and_deleted_their_secrets_never_shown() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let created = api
            .post("/connections", &acme("https://login.acme.example"))
            .await;
        assert_eq!(created.headers()["location"], "/api/v1/connections/acme");
        assert_eq!(created.headers()["etag"], "\"1\"");
        let (status, created) = text_without_secrets(created).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["client_secret"], "********");
        assert_eq!(
            created["callback_url"],
            format!("{}/login/acme/callback", app.base)
        );
        assert_eq!(created["version"], 1);
        assert_eq!(created["mapping"][1]["sync"], "always");
        assert_eq!(created["enabled"], true);
        assert!(created["created_at"].is_string());

        let (status, list) = text_without_secrets(api.get("/connections").await).await;
        assert_eq!(status, 200);
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(list["items"][0]["name"], "acme");
        let read = api.get("/connections/acme").await;
        assert_eq!(read.headers()["etag"], "\"1\"");
        let (_, read) = text_without_secrets(read).await;
        assert_eq!(read, created);

        // A replacement without the secret keeps it, as does the secret as reads show it.
        let mut body = acme("https://login.acme.example/v2");
        body.as_object_mut().unwrap().remove("client_secret");
        body.as_object_mut().unwrap().remove("name");
        let replaced = api
            .request(reqwest::Method::PUT, "/connections/acme")
            .header("if-match", "\"1\"")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(replaced.headers()["etag"], "\"2\"");
        let (status, replaced) = text_without_secrets(replaced).await;
        assert_eq!(status, 200, "{replaced}");
        assert_eq!(replaced["issuer"], "https://login.acme.example/v2");
        assert_eq!(replaced["client_secret"], "********");
        assert_eq!(
            stored_secrets(&app, "acme").await.client_secret.as_deref(),
            Some(SECRET)
        );
        let mut shown = replaced.clone();
        for read_only in ["callback_url", "created_at", "updated_at", "version"] {
            shown.as_object_mut().unwrap().remove(read_only);
        }
        let (status, _) = text_without_secrets(api.put("/connections/acme", &shown).await).await;
        assert_eq!(status, 200);
        assert_eq!(
            stored_secrets(&app, "acme").await.client_secret.as_deref(),
            Some(SECRET)
        );

        // A secret given replaces it.
        body["client_secret"] = json!("new-secret");
        let (status, replaced) =
            text_without_secrets(api.put("/connections/acme", &body).await).await;
        assert_eq!(status, 200);
        assert_eq!(replaced["version"], 4);
        assert_eq!(
            stored_secrets(&app, "acme").await.client_secret.as_deref(),
            Some("new-secret")
        );

        // A change based on an old version is refused, whatever the body.
        let stale = api
            .request(reqwest::Method::PUT, "/connections/acme")
            .header("if-match", "\"1\"")
            .json(&body)
            .send()
            .await
            .unwrap();
        let stale = problem(stale, 412).await;
        assert!(
            stale["detail"].as_str().unwrap().contains("\"4\""),
            "{stale}"
        );

        assert_eq!(api.delete("/connections/acme").await.status(), 204);
        problem(api.get("/connections/acme").await, 404).await;
        problem(api.delete("/connections/acme").await, 404).await;
        problem(api.put("/connections/acme", &body).await, 404).await;
        problem(api.post("/connections/acme/test", &json!({})).await, 404).await;
    })
    .await;
}

#[tokio::test]
async fn a_refused_definition_names_every_problem_by_its_path() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let refused = problem(
            api.post(
                "/connections",
                &json!({
                    "name": "Acme",
                    "preset": "oidc",
                    "issuer": "http://login.acme.example",
                    "tenant": "common",
                    "client_id": "accrete",
                    "domains": ["acme.example", "ACME"],
                    "mapping": [{"claim": "given_name", "field": "given name"}]
                }),
            )
            .await,
            400,
        )
        .await;
        let fields = refused["fields"].as_object().unwrap();
        let mut paths: Vec<&str> = fields.keys().map(String::as_str).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "client_secret",
                "domains/1",
                "issuer",
                "mapping/0/claim",
                "mapping/0/field",
                "name",
                "tenant"
            ]
        );
        assert_eq!(fields["issuer"][0]["code"], "insecure_url");
        assert_eq!(fields["tenant"][0]["code"], "not_applicable");
        assert_eq!(fields["client_secret"][0]["code"], "required");
        assert!(app.store.list_connections().await.unwrap().is_empty());

        // Not a definition at all: the shape is refused.
        for body in [
            json!({"name": "a", "preset": "okta", "client_id": "c"}),
            json!({"name": "a", "preset": "oidc", "client_id": "c", "colour": "red"}),
            json!([]),
        ] {
            problem(api.post("/connections", &body).await, 400).await;
        }

        // The secret as reads show it is not a secret.
        let mut shown = acme("https://login.acme.example");
        shown["client_secret"] = json!("********");
        let refused = problem(api.post("/connections", &shown).await, 400).await;
        assert_eq!(refused["fields"]["client_secret"][0]["code"], "redacted");

        // A name is taken once; a domain is bound to one connection; a name cannot change.
        let created = api
            .post("/connections", &acme("https://login.acme.example"))
            .await;
        assert_eq!(created.status(), 201);
        problem(
            api.post("/connections", &acme("https://other.example"))
                .await,
            409,
        )
        .await;
        let mut other = acme("https://login.other.example");
        other["name"] = json!("other");
        other["domains"] = json!(["other.example", "acme.example"]);
        let taken = problem(api.post("/connections", &other).await, 400).await;
        let fields = taken["fields"].as_object().unwrap();
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["domains/1"]);
        assert_eq!(fields["domains/1"][0]["code"], "taken");
        let renamed = problem(api.put("/connections/acme", &other).await, 400).await;
        assert_eq!(renamed["fields"]["name"][0]["code"], "immutable");
        problem(
            api.request(reqwest::Method::PUT, "/connections/acme")
                .header("if-match", "yesterday")
                .json(&acme("https://login.acme.example"))
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn connections_need_their_scopes() {
    each_backend(|app| async move {
        let tokens = Tokens::install(&app).await;
        ensure_client(&app, "reader", &[]).await;
        problem(app.get("/api/v1/connections").await, 401).await;
        let reader = Api {
            app: &app,
            token: tokens.backend("reader", &["connections:read"]),
        };
        assert_eq!(reader.get("/connections").await.status(), 200);
        let refused = reader
            .post("/connections", &acme("https://login.acme.example"))
            .await;
        assert_eq!(
            refused.headers()["www-authenticate"],
            "Bearer realm=\"accrete\", error=\"insufficient_scope\", scope=\"connections:write\""
        );
        problem(refused, 403).await;
        problem(reader.delete("/connections/acme").await, 403).await;
        problem(reader.post("/connections/acme/test", &json!({})).await, 403).await;
        let clients_only = Api {
            app: &app,
            token: tokens.backend("reader", &["clients:read", "clients:write"]),
        };
        problem(clients_only.get("/connections").await, 403).await;
        problem(clients_only.get("/connections/acme").await, 403).await;
    })
    .await;
}

#[tokio::test]
async fn testing_a_connection_reaches_the_provider_and_says_what_it_found() {
    each_backend_with(&federation_layer(), |app| async move {
        let (_tokens, api) = admin(&app).await;
        // This server is an OpenID provider: the connection's provider is itself.
        let created = api.post("/connections", &acme(&app.base)).await;
        assert_eq!(created.status(), 201);
        let (status, found) =
            text_without_secrets(api.post("/connections/acme/test", &json!({})).await).await;
        assert_eq!(status, 200);
        assert_eq!(found["ok"], true, "{found}");
        assert!(
            found["message"].as_str().unwrap().contains("127.0.0.1"),
            "{found}"
        );

        // A provider that is not there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gone = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let mut body = acme(&gone);
        body["name"] = json!("gone");
        body["domains"] = json!([]);
        assert_eq!(api.post("/connections", &body).await.status(), 201);
        let found: Value = api
            .post("/connections/gone/test", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(found["ok"], false, "{found}");
        let message = found["message"].as_str().unwrap();
        assert!(!message.is_empty() && !message.contains('\n'), "{message}");
    })
    .await;
}

#[tokio::test]
async fn a_client_offers_the_connections_it_names_and_may_drop_passwords() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        for name in ["acme", "beta"] {
            let mut body = acme("https://login.acme.example");
            body["name"] = json!(name);
            body["domains"] = json!([]);
            assert_eq!(api.post("/connections", &body).await.status(), 201);
        }
        let created = api
            .post(
                "/clients",
                &json!({
                    "id": "shop",
                    "name": "Shop",
                    "redirect_uris": ["https://shop.example/cb"],
                    "connections": ["beta", "acme"],
                    "password_signin": false
                }),
            )
            .await;
        assert_eq!(created.status(), 201);
        let read: Value = api.get("/clients/shop").await.json().await.unwrap();
        assert_eq!(read["connections"], json!(["beta", "acme"]));
        assert_eq!(read["password_signin"], false);
        let stored = app.store.get_client("shop").await.unwrap().unwrap();
        assert_eq!(stored.connections.unwrap(), ["beta", "acme"]);
        assert!(!stored.password_signin);

        // Left out: every enabled connection, and passwords.
        let replaced: Value = api
            .put(
                "/clients/shop",
                &json!({"name": "Shop", "redirect_uris": ["https://shop.example/cb"]}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(replaced["connections"], Value::Null);
        assert_eq!(replaced["password_signin"], true);

        let refused = problem(
            api.put(
                "/clients/shop",
                &json!({"name": "Shop", "redirect_uris": ["https://shop.example/cb"],
                        "connections": ["acme", "nope", "acme"]}),
            )
            .await,
            400,
        )
        .await;
        let fields = refused["fields"].as_object().unwrap();
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["connections/1", "connections/2"]
        );
        assert_eq!(fields["connections/1"][0]["code"], "unknown_connection");
        assert_eq!(fields["connections/2"][0]["code"], "duplicate");
        let refused = problem(
            api.post(
                "/clients",
                &json!({"id": "other", "name": "", "redirect_uris": ["https://shop.example/cb"],
                        "connections": ["nope"]}),
            )
            .await,
            400,
        )
        .await;
        let fields = refused["fields"].as_object().unwrap();
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["connections/0", "name"]);
        assert!(app.store.get_client("other").await.unwrap().is_none());
    })
    .await;
}
