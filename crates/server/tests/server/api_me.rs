//! `/api/v1/me`: the user's own profile, in-app events and answers, CORS, and the widget.

use serde_json::{Value, json};

use crate::api_client::{Api, admin, ensure_client, pricing_policy, problem, stored_user};
use crate::support::each_backend;

#[tokio::test]
async fn an_event_asks_the_due_step_in_the_requested_locale_and_an_answer_ends_it() {
    each_backend(|app| async move {
        let (tokens, api) = admin(&app).await;
        api.publish(&pricing_policy()).await;
        let user = stored_user(&app, "ada@example.com").await;
        let me = Api {
            app: &app,
            token: tokens.user(&app, &user, "shop").await,
        };
        let asked: Value = me
            .post("/me/events?locale=fr", &json!({"name": "cta:pricing"}))
            .await
            .json()
            .await
            .unwrap();
        let step = &asked["step"];
        assert_eq!(step["id"], "company");
        assert_eq!(step["required"], false);
        let field = &step["fields"][0];
        assert_eq!(field["key"], "company_size");
        assert_eq!(field["type"], "select");
        assert_eq!(field["label"], "Taille de l'entreprise");
        assert_eq!(
            field["help"], "How many people work there?",
            "falls back to en"
        );
        assert_eq!(field["options"][2]["label"], "More than 50");

        let other_event: Value = me
            .post("/me/events", &json!({"name": "cta:other"}))
            .await
            .json()
            .await
            .unwrap();
        assert!(other_event["step"].is_null());

        let refused = problem(
            me.post(
                "/me/steps/company/answers",
                &json!({"answers": {"company_size": "huge"}}),
            )
            .await,
            400,
        )
        .await;
        assert!(refused["fields"]["company_size"][0]["message"].is_string());
        let missing = problem(
            me.post("/me/steps/company/answers", &json!({"answers": {}}))
                .await,
            400,
        )
        .await;
        assert_eq!(missing["fields"]["company_size"][0]["code"], "required");

        let answered = me
            .post(
                "/me/steps/company/answers",
                &json!({"answers": {"company_size": "11-50"}}),
            )
            .await;
        assert_eq!(answered.status(), 200);
        let stored = app.store.get_user(user.id).await.unwrap();
        assert_eq!(stored.user_metadata["company_size"], "11-50");
        let provenance = app.store.value_provenance(user.id).await.unwrap();
        assert_eq!(provenance[0].source, "prompt:company");

        let again: Value = me
            .post("/me/events", &json!({"name": "cta:pricing"}))
            .await
            .json()
            .await
            .unwrap();
        assert!(again["step"].is_null(), "a second click asks nothing");
        problem(
            me.post("/me/steps/nope/answers", &json!({"answers": {}}))
                .await,
            404,
        )
        .await;
        problem(me.post("/me/events", &json!({"name": ""})).await, 400).await;
    })
    .await;
}

#[tokio::test]
async fn a_skipped_optional_step_is_recorded_and_not_asked_again_at_once() {
    each_backend(|app| async move {
        let (tokens, api) = admin(&app).await;
        api.publish(&pricing_policy()).await;
        let user = stored_user(&app, "ada@example.com").await;
        let me = Api {
            app: &app,
            token: tokens.user(&app, &user, "shop").await,
        };
        let asked: Value = me
            .post("/me/events", &json!({"name": "cta:pricing"}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(asked["step"]["id"], "company");
        let skipped = me
            .request(reqwest::Method::POST, "/me/steps/company/skip")
            .send()
            .await
            .unwrap();
        assert_eq!(skipped.status(), 200);
        let states = app.store.prompt_states(user.id).await.unwrap();
        assert_eq!(states[0].skipped, 1);
        assert_eq!(states[0].shown, 1);
    })
    .await;
}

#[tokio::test]
async fn my_profile_shows_visible_fields_and_accepts_changes_to_editable_ones() {
    each_backend(|app| async move {
        let (tokens, api) = admin(&app).await;
        api.publish(&pricing_policy()).await;
        let user = stored_user(&app, "ada@example.com").await;
        let me = Api {
            app: &app,
            token: tokens.user(&app, &user, "shop").await,
        };
        let profile: Value = me.get("/me").await.json().await.unwrap();
        assert_eq!(profile["email"], "ada@example.com");
        let keys: Vec<&str> = profile["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect();
        assert!(!keys.contains(&"plan"), "user_access none is hidden");
        assert!(keys.contains(&"given_name"));

        let changed: Value = me
            .patch("/me", &json!({"given_name": "Ada", "job_title": "CTO"}))
            .await
            .json()
            .await
            .unwrap();
        let given = changed["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "given_name")
            .unwrap();
        assert_eq!(given["value"], "Ada");
        let stored = app.store.get_user(user.id).await.unwrap();
        assert_eq!(stored.profile["given_name"], "Ada");
        let history = app.store.user_history(user.id).await.unwrap();
        assert!(history.iter().all(|e| e.source == "account"));

        let refused = problem(
            me.patch("/me", &json!({"plan": "pro", "nope": 1})).await,
            400,
        )
        .await;
        assert_eq!(refused["fields"]["plan"][0]["code"], "read_only");
        assert_eq!(refused["fields"]["nope"][0]["code"], "unknown_field");
        let invalid = problem(
            me.patch("/me", &json!({"job_title": "x".repeat(40)})).await,
            400,
        )
        .await;
        assert!(invalid["fields"]["job_title"].is_array());
        let cleared: Value = me
            .patch("/me", &json!({"job_title": null}))
            .await
            .json()
            .await
            .unwrap();
        let job = cleared["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "job_title")
            .unwrap();
        assert!(job["value"].is_null());
    })
    .await;
}

#[tokio::test]
async fn fields_name_countries_in_the_requested_locale_and_carry_autocomplete_tokens() {
    each_backend(|app| async move {
        let (tokens, api) = admin(&app).await;
        let mut policy = pricing_policy();
        policy["fields"].as_array_mut().unwrap().push(json!(
            {"key": "country", "kind": "country", "required": false, "labels": {"en": "Country"}}
        ));
        api.publish(&policy).await;
        let user = stored_user(&app, "ada@example.com").await;
        let me = Api {
            app: &app,
            token: tokens.user(&app, &user, "shop").await,
        };
        let profile: Value = me.get("/me?locale=fr").await.json().await.unwrap();
        let field = |key: &str| {
            profile["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["key"] == key)
                .unwrap()
                .clone()
        };
        let options = field("country")["options"].as_array().unwrap().clone();
        assert!(options.contains(&json!({"value": "GB", "label": "Royaume-Uni"})));
        assert!(options.contains(&json!({"value": "DE", "label": "Allemagne"})));
        assert_eq!(field("given_name")["autocomplete"], "given-name");
        assert!(field("country")["autocomplete"].is_null(), "user_metadata");
    })
    .await;
}

#[tokio::test]
async fn cors_allows_only_origins_registered_by_clients() {
    each_backend(|app| async move {
        let (tokens, api) = admin(&app).await;
        ensure_client(&app, "shop", &["https://shop.example"]).await;
        ensure_client(&app, "blog", &["https://blog.example"]).await;
        api.publish(&pricing_policy()).await;
        let preflight = |origin: &'static str| {
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/api/v1/me/events"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, content-type",
                )
                .send()
        };
        let allowed = preflight("https://shop.example").await.unwrap();
        assert_eq!(allowed.status(), 204);
        assert_eq!(
            allowed.headers()["access-control-allow-origin"],
            "https://shop.example"
        );
        let refused = preflight("https://evil.example").await.unwrap();
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );

        let user = stored_user(&app, "ada@example.com").await;
        let token = tokens.user(&app, &user, "shop").await;
        let call = |origin: &'static str| {
            app.client
                .get(app.url("/api/v1/me"))
                .bearer_auth(&token)
                .header("origin", origin)
                .send()
        };
        let own = call("https://shop.example").await.unwrap();
        assert_eq!(own.status(), 200);
        assert_eq!(
            own.headers()["access-control-allow-origin"],
            "https://shop.example"
        );
        let other_clients_origin = call("https://blog.example").await.unwrap();
        assert!(
            other_clients_origin
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn the_widget_script_is_served_as_javascript() {
    each_backend(|app| async move {
        let response = app.get("/widget.js").await;
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        let script = response.text().await.unwrap();
        assert!(script.contains("Accrete"));
        assert!(script.contains("prompt"));
    })
    .await;
}

#[tokio::test]
async fn my_export_is_the_account_centers_document() {
    each_backend(|app| async move {
        let (tokens, _api) = admin(&app).await;
        let user = stored_user(&app, "ada@example.com").await;
        let me = Api {
            app: &app,
            token: tokens.user(&app, &user, "shop").await,
        };
        let response = me.get("/me/export").await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(
            !text.contains("argon2") && !text.contains("\"hash\""),
            "{text}"
        );
        let document: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(document["account"]["email"], "ada@example.com");
        assert!(document["sessions"].is_array());
    })
    .await;
}

#[tokio::test]
async fn a_second_factor_step_is_said_to_the_widget_and_not_answered_with_answers() {
    each_backend(|app| async move {
        let (tokens, api) = admin(&app).await;
        api.publish(&json!({
            "version": 1,
            "fields": [{ "key": "company", "kind": "text", "labels": { "en": "Company" },
                         "required": false }],
            "steps": [{ "id": "protect", "second_factor": true,
                        "mode": { "optional": {} },
                        "trigger": { "moments": ["event"], "events": ["cta:security"] } }],
        }))
        .await;
        let user = stored_user(&app, "ada@example.com").await;
        let me = Api {
            app: &app,
            token: tokens.user(&app, &user, "shop").await,
        };
        let asked: Value = me
            .post("/me/events", &json!({"name": "cta:security"}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(asked["step"]["id"], "protect");
        assert_eq!(asked["step"]["second_factor"], true);
        assert_eq!(asked["step"]["fields"], json!([]));
        let refused = problem(
            me.post("/me/steps/protect/answers", &json!({"answers": {}}))
                .await,
            409,
        )
        .await;
        assert!(
            refused["detail"].as_str().unwrap().contains("/mfa/setup"),
            "{refused}"
        );
    })
    .await;
}
