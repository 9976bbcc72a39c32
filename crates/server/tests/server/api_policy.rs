//! `/api/v1/policy`: draft, validation, simulation, impact preview, publication and rollback.

use serde_json::{Value, json};

use crate::api_client::{admin, pricing_policy, problem, stored_user};
use crate::support::each_backend;

#[tokio::test]
async fn an_invalid_draft_is_refused_with_every_problem_located() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let mut document = pricing_policy();
        document["steps"][0]["fields"] = json!(["compnay_size"]);
        document["fields"][1]["validation"]["pattern"] = json!("(");
        let body = problem(api.put("/policy/draft", &document).await, 400).await;
        let fields = body["fields"].as_object().unwrap();
        assert!(fields.contains_key("steps[0].fields[0]"), "{fields:?}");
        assert!(fields.contains_key("fields[1].validation.pattern"));
        let not_policy = problem(
            api.put("/policy/draft", &json!({"version": "x"})).await,
            400,
        )
        .await;
        assert!(not_policy["fields"]["$"].is_array());
        problem(api.get("/policy/draft").await, 404).await;

        let report: Value = api
            .post("/policy/validate", &document)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(report["valid"], false);
        assert!(report["problems"].as_array().unwrap().len() >= 2);
        let report: Value = api
            .post("/policy/validate", &pricing_policy())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(report, json!({"valid": true, "problems": []}));
    })
    .await;
}

#[tokio::test]
async fn a_draft_is_saved_published_listed_and_rolled_back() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        problem(api.get("/policy").await, 404).await;
        problem(api.post("/policy/publish", &json!({})).await, 409).await;
        assert_eq!(
            api.put("/policy/draft", &pricing_policy()).await.status(),
            200
        );
        let draft: Value = api.get("/policy/draft").await.json().await.unwrap();
        assert_eq!(draft["document"]["steps"][0]["id"], "company");
        let published = api
            .request(reqwest::Method::POST, "/policy/publish")
            .send()
            .await
            .unwrap();
        assert_eq!(published.status(), 201, "an empty body is allowed");
        problem(api.get("/policy/draft").await, 404).await;

        let mut second = pricing_policy();
        second["steps"][0]["priority"] = json!(5);
        api.publish(&second).await;
        let current: Value = api.get("/policy").await.json().await.unwrap();
        assert_eq!(current["version"], 2);
        let versions: Value = api.get("/policy/versions").await.json().await.unwrap();
        assert_eq!(versions["items"][0]["version"], 2);
        assert_eq!(versions["items"][1]["version"], 1);
        let one: Value = api.get("/policy/versions/1").await.json().await.unwrap();
        assert!(one["document"]["steps"][0].get("priority").is_none());
        problem(api.get("/policy/versions/99").await, 404).await;

        let rolled = api.post("/policy/rollback", &json!({"version": 1})).await;
        assert_eq!(rolled.status(), 201);
        let rolled: Value = rolled.json().await.unwrap();
        assert_eq!(rolled["version"], 3);
        assert_eq!(rolled["note"], "rollback to 1");
        problem(
            api.post("/policy/rollback", &json!({"version": 42})).await,
            404,
        )
        .await;

        let field: Value = api
            .get("/policy/fields/company_size")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(field["kind"], "select");
        let fields: Value = api.get("/policy/fields").await.json().await.unwrap();
        assert_eq!(fields.as_array().unwrap().len(), 4);
        let step: Value = api.get("/policy/steps/company").await.json().await.unwrap();
        assert_eq!(step["fields"], json!(["company_size"]));
        assert_eq!(api.get("/policy/steps").await.status(), 200);
        problem(api.get("/policy/fields/nope").await, 404).await;
        problem(api.get("/policy/steps/nope").await, 404).await;
        problem(api.get("/policy/steps?source=draft").await, 404).await;
        problem(api.get("/policy/steps?source=elsewhere").await, 400).await;
        assert_eq!(api.delete("/policy/draft").await.status(), 204);
    })
    .await;
}

#[tokio::test]
async fn simulate_explains_a_decision_for_inline_facts_or_a_stored_user() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        api.publish(&pricing_policy()).await;
        let moment = json!({"kind": "event", "event": "cta:pricing"});
        let inline: Value = api
            .post(
                "/policy/simulate",
                &json!({"facts": {"created_at": "2026-01-01T00:00:00Z"}, "moment": moment,
                        "now": "2026-02-01T00:00:00Z"}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(inline["decision"], "ask");
        assert_eq!(inline["step"], "company");
        assert_eq!(inline["explanation"][0]["code"], "due");

        let user = stored_user(&app, "ada@example.com").await;
        api.patch(
            &format!("/users/{}", user.id),
            &json!({"user_metadata": {"company_size": "51+"}}),
        )
        .await;
        let stored: Value = api
            .post(
                "/policy/simulate",
                &json!({"user_id": user.id, "moment": moment}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stored["decision"], "proceed");
        assert_eq!(stored["explanation"][0]["code"], "all_fields_known");
        // The decision showed the user's values: the read is recorded.
        let about = app
            .store
            .list_audit_about(&format!("user:{}", user.id), 50)
            .await
            .unwrap();
        assert!(
            about.iter().any(|a| a.entry.action == "user.viewed"
                && a.entry.after == Some(json!({"read": "simulation"}))),
            "{about:?}"
        );

        problem(
            api.post("/policy/simulate", &json!({"moment": moment}))
                .await,
            400,
        )
        .await;
        problem(
            api.post(
                "/policy/simulate",
                &json!({"user_id": uuid::Uuid::now_v7(), "moment": moment}),
            )
            .await,
            404,
        )
        .await;
        problem(
            api.post(
                "/policy/simulate",
                &json!({"user_id": user.id, "moment": {"kind": "event"}}),
            )
            .await,
            400,
        )
        .await;
        problem(
            api.post(
                "/policy/simulate",
                &json!({"source": "draft", "user_id": user.id, "moment": moment}),
            )
            .await,
            404,
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn the_impact_preview_counts_users_each_policy_would_prompt_per_step() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        api.publish(&pricing_policy()).await;
        for i in 0..3 {
            let user = stored_user(&app, &format!("u{i}@example.com")).await;
            if i == 0 {
                api.patch(
                    &format!("/users/{}", user.id),
                    &json!({"user_metadata": {"company_size": "1-10"}}),
                )
                .await;
            }
        }
        let mut draft = pricing_policy();
        draft["steps"].as_array_mut().unwrap().push(
            json!({"id": "job", "fields": ["job_title"], "mode": "required", "title": {"en": "Job"},
                         "trigger": {"moments": ["login"]}}),
        );
        assert_eq!(api.put("/policy/draft", &draft).await.status(), 200);
        let impact: Value = api.get("/policy/draft/impact").await.json().await.unwrap();
        assert_eq!(impact["users"], 3);
        // A few users are all counted: exact figures, no margin.
        assert_eq!(impact["examined"], 3);
        assert_eq!(impact["exact"], true);
        assert_eq!(impact["draft_prompted"], 3);
        assert_eq!(impact["draft_prompted_margin"], 0);
        assert_eq!(impact["published_prompted"], 0);
        let job = impact["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == "job")
            .unwrap();
        assert_eq!(job["draft"], 3);
        assert_eq!(job["draft_margin"], 0);
        assert_eq!(job["published"], 0);
        let every: Value = api
            .get("/policy/draft/impact?every=true")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (every["exact"].clone(), every["draft_prompted"].clone()),
            (json!(true), json!(3))
        );

        let at_event: Value = api
            .get("/policy/draft/impact?moment=event&event=cta:pricing")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(at_event["draft_prompted"], 2);
        assert_eq!(at_event["published_prompted"], 2);
        problem(api.get("/policy/draft/impact?moment=event").await, 400).await;
        problem(api.get("/policy/draft/impact?moment=sometime").await, 400).await;
    })
    .await;
}

#[tokio::test]
async fn validation_locates_misspelt_expressions_and_absurd_durations_and_accepts_relative_dates() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let mut document = pricing_policy();
        document["steps"][0]["trigger"]["condition"] =
            json!({"expression": {"cel": "usr.logins >= 2 && user.logins >= 'three'"}});
        document["steps"][0]["mode"] = json!({"optional": {"reask_after": "10000y"}});
        let report: Value = api
            .post("/policy/validate", &document)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(report["valid"], false, "{report}");
        let text = report["problems"].to_string();
        assert!(
            text.contains("steps[0].trigger.condition.expression.cel"),
            "{text}"
        );
        assert!(text.contains("did you mean \\\"user\\\"?"), "{text}");
        assert!(
            text.contains("(a number) with `\\\"three\\\"` (a string)"),
            "{text}"
        );
        assert!(
            text.contains("steps[0].mode.optional.reask_after"),
            "{text}"
        );
        assert!(text.contains("at most 100y"), "{text}");

        let mut document = pricing_policy();
        document["fields"].as_array_mut().unwrap().push(
            json!({"key": "birthdate", "kind": "date", "required": false,
                         "labels": {"en": "Birthdate"},
                         "validation": {"min": "-120y", "max": "today"}}),
        );
        let report: Value = api
            .post("/policy/validate", &document)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(report, json!({"valid": true, "problems": []}));
    })
    .await;
}
