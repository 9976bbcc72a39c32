//! `/api/v1/users`: create, read, list, merge patches, ETags, history, delete.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api_client::{Api, admin, pricing_policy, problem};
use crate::support::{Backend, TestApp, each_backend};

async fn create(api: &Api<'_>, body: Value) -> Value {
    let response = api.post("/users", &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_user_is_created_with_or_without_a_password_and_read_back_with_an_etag() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let with = create(
            &api,
            json!({"email": "ada@example.com", "password": "correct horse battery",
                   "user_metadata": {"team": {"name": "core"}}, "profile": {"given_name": "Ada"}}),
        )
        .await;
        assert_eq!(with["has_password"], true);
        assert_eq!(with["user_metadata"]["team"]["name"], "core");
        assert_eq!(with["profile"]["given_name"], "Ada");
        let without = create(&api, json!({"email": "bob@example.com"})).await;
        assert_eq!(without["has_password"], false);

        let id = with["id"].as_str().unwrap();
        let response = api.get(&format!("/users/{id}")).await;
        assert_eq!(response.status(), 200);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(etag, format!("\"{}\"", body["version"]));
        assert!(body.get("password_hash").is_none());
        // The read is in the audit log (who looked: the person's own export lists it).
        let reads = app
            .store
            .list_audit_about(&format!("user:{id}"), 10)
            .await
            .unwrap();
        assert_eq!(reads.len(), 2, "created, then read: {reads:?}");
        assert_eq!(reads[0].entry.action, "user.viewed");
        assert!(reads[0].entry.actor.starts_with("client:"));
        assert_eq!(reads[0].entry.after, Some(json!({ "read": "profile" })));

        // The password works on the hosted sign-in page.
        let signed_in = app
            .sign_in("ada@example.com", "correct horse battery")
            .await;
        assert_eq!(signed_in.status(), 303);
    })
    .await;
}

#[tokio::test]
async fn creating_a_user_refuses_a_taken_email_and_bad_values() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        create(&api, json!({"email": "ada@example.com"})).await;
        problem(
            api.post("/users", &json!({"email": "ADA@example.com"}))
                .await,
            409,
        )
        .await;
        let body = problem(
            api.post("/users", &json!({"email": "nope", "password": "short"}))
                .await,
            400,
        )
        .await;
        assert!(body["fields"]["email"].is_array());
        assert!(body["fields"]["password"].is_array());
        // Long enough but easy to guess: the address itself with a digit.
        let body = problem(
            api.post(
                "/users",
                &json!({"email": "ada@example.com", "password": "ada@example.com1"}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(body["fields"]["password"][0]["code"], "too_weak");
        let body = problem(
            api.post(
                "/users",
                &json!({"email": "b@example.com", "password": "password1",
                        "profile": {"given_name": "Bea"}}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(body["fields"]["password"][0]["code"], "too_weak");
        let body = problem(
            api.post(
                "/users",
                &json!({"email": "c@example.com", "profile": {"favourite_colour": "red"}}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(
            body["fields"]["profile.favourite_colour"][0]["code"],
            "unknown_claim"
        );
    })
    .await;
}

#[tokio::test]
async fn a_password_is_8_to_1024_characters_as_on_the_sign_up_page() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (_tokens, api) = admin(&app).await;
    // Refused before any hash: too long, and too long counted in characters, not bytes.
    for password in ["x".repeat(1025), "é".repeat(1025)] {
        let body = problem(
            api.post(
                "/users",
                &json!({"email": "ann@example.com", "password": password}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(body["fields"]["password"][0]["code"], "invalid_length");
    }
    // 200 characters: the API refused more than 128 where the sign-up page allowed 1024.
    let created = create(
        &api,
        json!({"email": "ann@example.com", "password": format!("correct horse battery {}", "p".repeat(178))}),
    )
    .await;
    assert_eq!(created["has_password"], true);
}

#[tokio::test]
async fn an_unknown_user_is_404() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let missing = uuid::Uuid::now_v7();
        problem(api.get(&format!("/users/{missing}")).await, 404).await;
        problem(
            api.patch(&format!("/users/{missing}"), &json!({})).await,
            404,
        )
        .await;
        problem(api.delete(&format!("/users/{missing}")).await, 404).await;
        problem(api.get(&format!("/users/{missing}/history")).await, 404).await;
    })
    .await;
}

#[tokio::test]
async fn a_merge_patch_merges_deeply_and_null_deletes_with_api_provenance_in_history() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let user = create(
            &api,
            json!({"email": "ada@example.com",
                   "user_metadata": {"prefs": {"theme": "dark", "lang": "en"}, "old": 1}}),
        )
        .await;
        let id = user["id"].as_str().unwrap();
        let patched = api
            .patch(
                &format!("/users/{id}"),
                &json!({"user_metadata": {"prefs": {"lang": null, "tz": "UTC"}, "old": null},
                        "app_metadata": {"tier": "gold"},
                        "profile": {"given_name": "Ada"}}),
            )
            .await;
        assert_eq!(patched.status(), 200);
        let patched: Value = patched.json().await.unwrap();
        assert_eq!(
            patched["user_metadata"],
            json!({"prefs": {"theme": "dark", "tz": "UTC"}})
        );
        assert_eq!(patched["app_metadata"], json!({"tier": "gold"}));
        assert_eq!(patched["profile"]["given_name"], "Ada");

        let history: Value = api
            .get(&format!("/users/{id}/history"))
            .await
            .json()
            .await
            .unwrap();
        let items = history["items"].as_array().unwrap();
        assert!(items.iter().all(|e| e["source"] == "api:backend"));
        let old = items
            .iter()
            .find(|e| e["key"] == "old" && e["new_value"].is_null())
            .unwrap();
        assert_eq!(old["old_value"], 1);
        assert!(
            items
                .iter()
                .any(|e| e["location"] == "app_metadata" && e["key"] == "tier")
        );
    })
    .await;
}

#[tokio::test]
async fn metadata_keys_with_dots_or_dollars_and_oversized_bags_are_refused_with_400() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let user = create(&api, json!({"email": "ada@example.com"})).await;
        let path = format!("/users/{}", user["id"].as_str().unwrap());
        let body = problem(
            api.patch(
                &path,
                &json!({"user_metadata": {"a.b": 1, "ok": {"$where": 2}}}),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(
            body["fields"]["user_metadata.a.b"][0]["code"],
            "invalid_key"
        );
        assert_eq!(
            body["fields"]["user_metadata.ok.$where"][0]["code"],
            "invalid_key"
        );
        let big = "x".repeat(17 * 1024);
        let body = problem(
            api.patch(&path, &json!({"app_metadata": {"blob": big}}))
                .await,
            400,
        )
        .await;
        assert_eq!(body["fields"]["app_metadata"][0]["code"], "too_large");
        problem(api.patch(&path, &json!({"user_metadata": [1]})).await, 400).await;
    })
    .await;
}

#[tokio::test]
async fn typed_fields_are_validated_by_the_engine_and_normalised() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        api.publish(&pricing_policy()).await;
        let user = create(&api, json!({"email": "ada@example.com"})).await;
        let path = format!("/users/{}", user["id"].as_str().unwrap());
        let body = problem(
            api.patch(
                &path,
                &json!({"user_metadata": {"company_size": "huge", "job_title": "x".repeat(30)},
                        "app_metadata": {"plan": "platinum"}}),
            )
            .await,
            400,
        )
        .await;
        let fields = body["fields"].as_object().unwrap();
        assert!(
            fields.contains_key("user_metadata.company_size"),
            "{fields:?}"
        );
        assert!(fields.contains_key("user_metadata.job_title"));
        assert!(fields.contains_key("app_metadata.plan"));
        let ok: Value = api
            .patch(
                &path,
                &json!({"user_metadata": {"company_size": "11-50", "job_title": "  CTO  "}}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(ok["user_metadata"]["company_size"], "11-50");
        assert_eq!(
            ok["user_metadata"]["job_title"], "CTO",
            "normalised (trimmed)"
        );
    })
    .await;
}

#[tokio::test]
async fn if_match_with_a_stale_etag_is_refused_with_412() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let user = create(&api, json!({"email": "ada@example.com"})).await;
        let path = format!("/users/{}", user["id"].as_str().unwrap());
        let etag = format!("\"{}\"", user["version"]);
        let first = api
            .request(reqwest::Method::PATCH, &path)
            .header("if-match", &etag)
            .json(&json!({"user_metadata": {"a": 1}}))
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 200);
        let new_etag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(new_etag, etag);
        let stale = api
            .request(reqwest::Method::PATCH, &path)
            .header("if-match", &etag)
            .json(&json!({"user_metadata": {"a": 2}}))
            .send()
            .await
            .unwrap();
        problem(stale, 412).await;
        let current: Value = api.get(&path).await.json().await.unwrap();
        assert_eq!(current["user_metadata"]["a"], 1);
        let bad = api
            .request(reqwest::Method::PATCH, &path)
            .header("if-match", "garbage")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        problem(bad, 400).await;
    })
    .await;
}

#[tokio::test]
async fn the_email_can_be_changed_but_not_to_a_taken_one() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let user = create(&api, json!({"email": "ada@example.com"})).await;
        create(&api, json!({"email": "bob@example.com"})).await;
        let path = format!("/users/{}", user["id"].as_str().unwrap());
        let changed: Value = api
            .patch(
                &path,
                &json!({"email": "ada@new.example", "email_verified": true}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(changed["email"], "ada@new.example");
        assert_eq!(changed["email_verified"], true);
        // One patch is one change: a taken email keeps the rest of it from landing too.
        problem(
            api.patch(
                &path,
                &json!({
                    "email": "bob@example.com",
                    "profile": {"given_name": "Ada"},
                    "user_metadata": {"theme": "dark"},
                    "app_metadata": {"plan": "pro"},
                }),
            )
            .await,
            409,
        )
        .await;
        let after: Value = api.get(&path).await.json().await.unwrap();
        assert_eq!(after["email"], "ada@new.example");
        assert_eq!(after["version"], changed["version"]);
        assert_eq!(after["profile"], json!({}));
        assert_eq!(after["user_metadata"], json!({}));
        assert_eq!(after["app_metadata"], json!({}));
        problem(
            api.patch(&path, &json!({"email": "not an email"})).await,
            400,
        )
        .await;
        // Email, claims and both bags in one patch: one new version.
        let all: Value = api
            .patch(
                &path,
                &json!({
                    "email": "ada@lovelace.example",
                    "profile": {"given_name": "Ada"},
                    "user_metadata": {"theme": "dark"},
                    "app_metadata": {"plan": "pro"},
                }),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(all["version"], changed["version"].as_i64().unwrap() + 1);
        assert_eq!(all["email"], "ada@lovelace.example");
        assert_eq!(all["email_verified"], false);
        assert_eq!(all["profile"]["given_name"], "Ada");
        assert_eq!(all["user_metadata"]["theme"], "dark");
        assert_eq!(all["app_metadata"]["plan"], "pro");
    })
    .await;
}

#[tokio::test]
async fn users_are_listed_by_pages_with_filters() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        api.publish(&pricing_policy()).await;
        for i in 0..5 {
            let mut body = json!({"email": format!("u{i}@example.com")});
            if i % 2 == 0 {
                body["user_metadata"] = json!({"company_size": "1-10"});
            }
            create(&api, body).await;
        }
        let first: Value = api.get("/users?limit=2").await.json().await.unwrap();
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        let cursor = first["next_cursor"].as_str().unwrap();
        let second: Value = api
            .get(&format!("/users?limit=2&cursor={cursor}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(second["items"][0]["email"], "u2@example.com");

        let by_email: Value = api
            .get("/users?email=U3@example.com")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(by_email["items"].as_array().unwrap().len(), 1);
        let with_value: Value = api
            .get("/users?field=company_size&value=1-10")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(with_value["items"].as_array().unwrap().len(), 3);
        let missing: Value = api
            .get("/users?field=user_metadata.company_size&missing=true")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(missing["items"].as_array().unwrap().len(), 2);
        let none_before: Value = api
            .get("/users?created_before=2000-01-01T00:00:00Z")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(none_before["items"], json!([]));
        assert!(none_before["next_cursor"].is_null());

        problem(api.get("/users?field=nope&missing=true").await, 400).await;
        problem(api.get("/users?value=3").await, 400).await;
        problem(api.get("/users?limit=0").await, 400).await;
        problem(api.get("/users?created_after=yesterday").await, 400).await;
    })
    .await;
}

#[tokio::test]
async fn deleting_a_user_removes_them_and_their_history() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let user = create(
            &api,
            json!({"email": "ada@example.com", "user_metadata": {"a": 1}}),
        )
        .await;
        let id: uuid::Uuid = user["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(api.delete(&format!("/users/{id}")).await.status(), 204);
        problem(api.get(&format!("/users/{id}")).await, 404).await;
        assert!(app.store.user_history(id).await.unwrap().is_empty());
        assert!(
            app.store
                .find_user_by_email("ada@example.com")
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn the_consoles_last_owner_is_not_deleted_until_another_owner_exists() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let olga = create(&api, json!({"email": "olga@example.com"})).await;
        let grace = create(&api, json!({"email": "grace@example.com"})).await;
        crate::console::make_admin(&app, "olga@example.com", "owner").await;
        let olga = olga["id"].as_str().unwrap().to_owned();
        let refused = problem(api.delete(&format!("/users/{olga}")).await, 409).await;
        assert!(
            refused["detail"].as_str().unwrap().contains("last owner"),
            "{refused}"
        );
        assert_eq!(app.store.list_admins().await.unwrap().len(), 1);
        crate::console::make_admin(&app, "grace@example.com", "owner").await;
        assert_eq!(api.delete(&format!("/users/{olga}")).await.status(), 204);
        let grace = grace["id"].as_str().unwrap().to_owned();
        problem(api.delete(&format!("/users/{grace}")).await, 409).await;
    })
    .await;
}

#[tokio::test]
async fn a_hundred_concurrent_merge_patches_of_different_keys_lose_none() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let user = create(&api, json!({"email": "ada@example.com"})).await;
        let url = api.url(&format!("/users/{}", user["id"].as_str().unwrap()));
        let client = app.client.clone();
        let token = Arc::new(api.token.clone());
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let (client, url, token) = (client.clone(), url.clone(), token.clone());
                tokio::spawn(async move {
                    client
                        .patch(url)
                        .bearer_auth(token.as_str())
                        .json(&json!({"user_metadata": {format!("k{i}"): i}}))
                        .send()
                        .await
                        .unwrap()
                        .status()
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 200);
        }
        let stored: Value = api
            .get(&format!("/users/{}", user["id"].as_str().unwrap()))
            .await
            .json()
            .await
            .unwrap();
        let bag = stored["user_metadata"].as_object().unwrap();
        assert_eq!(bag.len(), 100);
        for i in 0..100 {
            assert_eq!(bag[&format!("k{i}")], i);
        }
    })
    .await;
}

#[tokio::test]
async fn a_patch_disables_a_user_who_can_no_longer_sign_in_until_enabled() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let ada = create(
            &api,
            json!({"email": "ada@example.com", "password": "correct horse battery"}),
        )
        .await;
        assert_eq!(ada["disabled"], false);
        assert!(ada.get("disabled_at").is_none());
        let id = ada["id"].as_str().unwrap();
        let browser = app.new_browser();
        let signed_in = browser
            .sign_in("ada@example.com", "correct horse battery")
            .await;
        assert!(signed_in.status().is_redirection());
        assert_eq!(browser.get("/account").await.status(), 200);

        let response = api
            .patch(&format!("/users/{id}"), &json!({"disabled": true}))
            .await;
        assert_eq!(response.status(), 200);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["disabled"], true);
        assert!(body["disabled_at"].is_string(), "{body}");
        assert_ne!(etag, format!("\"{}\"", ada["version"]), "the ETag changes");
        assert!(
            browser.get("/account").await.status().is_redirection(),
            "the session ended"
        );
        let refused = app
            .new_browser()
            .sign_in("ada@example.com", "correct horse battery")
            .await;
        assert_eq!(refused.status(), 403);

        // A wrong type is a problem, not a change.
        let bad = api
            .patch(&format!("/users/{id}"), &json!({"disabled": "yes"}))
            .await;
        assert_eq!(bad.status(), 400);

        let response = api
            .patch(&format!("/users/{id}"), &json!({"disabled": false}))
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["disabled"], false);
        let back = app
            .new_browser()
            .sign_in("ada@example.com", "correct horse battery")
            .await;
        assert!(back.status().is_redirection());
        let audit = api.get("/audit").await.text().await.unwrap();
        assert!(
            audit.contains("user.disabled") && audit.contains("user.enabled"),
            "{audit}"
        );
    })
    .await;
}
