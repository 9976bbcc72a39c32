//! The audit log through the API: changes made by a back end are recorded with the client, the
//! address and the values before and after (never a secret, never a user's values), paged
//! newest first; administrators' roles granted and revoked through the API, the last owner kept.

use serde_json::{Value, json};

use crate::api_client::{admin, problem, stored_user};
use crate::support::each_backend;

#[tokio::test]
async fn api_changes_are_in_the_audit_log_and_roles_are_managed_through_the_api() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let created = api
            .post(
                "/clients",
                &json!({"name": "Shop", "redirect_uris": ["https://shop.example/cb"]}),
            )
            .await;
        assert_eq!(created.status(), 201);
        let client: Value = created.json().await.unwrap();
        let id = client["id"].as_str().unwrap().to_owned();
        let secret = client["client_secret"].as_str().unwrap().to_owned();
        let renamed = api
            .put(
                &format!("/clients/{id}"),
                &json!({"name": "Shop 2", "redirect_uris": ["https://shop.example/cb"]}),
            )
            .await;
        assert_eq!(renamed.status(), 200);
        let user = stored_user(&app, "ada@example.com").await;
        let patched = api
            .patch(
                &format!("/users/{}", user.id),
                &json!({"user_metadata": {"nickname": "Countess"}}),
            )
            .await;
        assert_eq!(patched.status(), 200);

        let page: Value = api.get("/audit?limit=2").await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["action"], "user.updated");
        assert_eq!(items[0]["actor"], "client:backend");
        assert_eq!(items[0]["ip"], "127.0.0.1");
        assert_eq!(items[0]["after"], json!({"changed": ["user_metadata"]}));
        assert!(!items[0].to_string().contains("Countess"), "no user values");
        assert_eq!(items[1]["action"], "client.updated");
        assert_eq!(items[1]["target"], format!("client:{id}"));
        assert_eq!(items[1]["before"]["name"], "Shop");
        assert_eq!(items[1]["after"]["name"], "Shop 2");
        let before = page["next_before"].as_i64().unwrap();
        let older: Value = api
            .get(&format!("/audit?before={before}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(older["items"][0]["action"], "client.created");
        let everything = serde_json::to_string(&older).unwrap();
        assert!(
            !everything.contains(&secret),
            "the secret is never recorded"
        );
        for limit in ["0", "501"] {
            let refused = problem(api.get(&format!("/audit?limit={limit}")).await, 400).await;
            assert_eq!(
                refused["fields"]["limit"][0]["code"], "out_of_range",
                "{refused}"
            );
        }

        // Roles through the API.
        assert_eq!(
            api.put("/admins/ada@example.com", &json!({"role": "owner"}))
                .await
                .status(),
            204
        );
        let admins: Value = api.get("/admins").await.json().await.unwrap();
        assert_eq!(admins["items"][0]["email"], "ada@example.com");
        assert_eq!(admins["items"][0]["role"], "owner");
        assert_eq!(admins["items"][0]["granted_by"], "client:backend");
        problem(api.delete("/admins/ada@example.com").await, 409).await;
        problem(
            api.put("/admins/nobody@example.com", &json!({"role": "viewer"}))
                .await,
            404,
        )
        .await;
        let root = problem(
            api.put("/admins/ada@example.com", &json!({"role": "root"}))
                .await,
            400,
        )
        .await;
        assert_eq!(root["fields"]["role"][0]["code"], "not_an_option", "{root}");
        let page: Value = api.get("/audit?limit=1").await.json().await.unwrap();
        assert_eq!(page["items"][0]["action"], "admin.granted");
        assert_eq!(page["items"][0]["after"], json!({"role": "owner"}));
    })
    .await;
}
