//! Claims released for a grant: the ID token and userinfo agree, and discovery lists the
//! policy's custom scopes and claims.

use accrete_core::Policy;
use accrete_store::{Location, ProfileChange};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::api_client::admin;
use crate::rp::{self, ClientSpec};
use crate::support::{TestApp, each_backend};

/// A policy whose fields are released by a custom scope `work` (one under its key, one under
/// its own claim name) and a profile field released by `profile`. No step asks anything.
const WORK_POLICY: &str = r#"
version = 1

[[fields]]
key = "company"
kind = "text"
labels = { en = "Company" }
scope = "work"
required = false

[[fields]]
key = "job_title"
kind = "text"
labels = { en = "Job title" }
scope = "work"
required = false
claim = "title"

[[fields]]
key = "given_name"
kind = "text"
labels = { en = "First name" }
storage = { profile = { claim = "given_name" } }
required = false
"#;

fn policy_document(policy: &str) -> Value {
    let policy = Policy::from_toml_str(policy).unwrap();
    policy.compile().unwrap();
    serde_json::to_value(&policy).unwrap()
}

/// Publishes `policy` through the store, as `accrete policy import` does.
async fn publish(app: &TestApp, policy: &str) {
    app.store
        .publish_policy(
            &policy_document(policy),
            Some("test"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
}

/// The profile claims of an ID token or a userinfo answer: everything but the protocol claims.
fn profile_claims(claims: &Value) -> Map<String, Value> {
    claims
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| *name == "sub" || !accrete_oidc::jwt::is_reserved(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

#[tokio::test]
async fn userinfo_releases_the_same_custom_scope_claims_as_the_id_token() {
    each_backend(|app| async move {
        publish(&app, WORK_POLICY).await;
        let secret = rp::register(
            &app,
            ClientSpec {
                scopes: &["openid", "profile", "email", "work"],
                ..ClientSpec::web("web")
            },
        )
        .await
        .unwrap();
        let browser = rp::sign_up(&app, "ann@example.com").await;
        let user = app
            .store
            .find_user_by_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();
        let changes = [
            ProfileChange::set(Location::UserMetadata, "company", json!("Acme")),
            ProfileChange::set(Location::UserMetadata, "job_title", json!("CTO")),
            ProfileChange::set(Location::Profile, "given_name", json!("Ann")),
        ];
        app.store
            .apply_profile_changes(user.id, None, &changes, "admin", OffsetDateTime::now_utc())
            .await
            .unwrap();

        let back = rp::authorize(
            &browser,
            &rp::authorize_path("web", "openid profile work", ""),
            "ann@example.com",
        )
        .await;
        let (status, tokens) = rp::redeem(&app, "web", Some(&secret), &rp::code_of(&back)).await;
        assert_eq!(status, 200, "{tokens}");
        let id_token = rp::jwt_payload(tokens["id_token"].as_str().unwrap());
        let response = rp::userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(response.status(), 200);
        let userinfo: Value = response.json().await.unwrap();

        let expected = json!({
            "sub": user.id.to_string(),
            "company": "Acme",
            "title": "CTO",
            "given_name": "Ann",
        });
        assert_eq!(
            Value::Object(profile_claims(&id_token)),
            expected,
            "{:?}",
            app.backend
        );
        assert_eq!(
            Value::Object(profile_claims(&userinfo)),
            expected,
            "{:?}",
            app.backend
        );
    })
    .await;
}

async fn discovery(app: &TestApp) -> Value {
    let response = app.get("/.well-known/openid-configuration").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn discovery_lists_the_published_policys_custom_scopes_and_claims() {
    each_backend(|app| async move {
        let before = discovery(&app).await;
        let listed = |doc: &Value, member: &str, name: &str| {
            doc[member]
                .as_array()
                .unwrap()
                .iter()
                .any(|item| item == name)
        };
        assert!(!listed(&before, "scopes_supported", "work"));

        // Published through this node's API: in force at once, discovery included.
        let (_tokens, api) = admin(&app).await;
        api.publish(&policy_document(WORK_POLICY)).await;
        let after = discovery(&app).await;
        assert!(listed(&after, "scopes_supported", "work"), "{after}");
        for claim in ["company", "title", "given_name"] {
            assert!(
                listed(&after, "claims_supported", claim),
                "{claim}: {after}"
            );
        }
        assert!(!listed(&after, "claims_supported", "job_title"), "{after}");
        let scopes = after["scopes_supported"].as_array().unwrap();
        assert_eq!(
            scopes.iter().filter(|s| *s == "work").count(),
            1,
            "listed once: {after}"
        );
    })
    .await;
}
