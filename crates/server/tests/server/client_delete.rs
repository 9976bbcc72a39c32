//! Deleting a client ends its tokens: refresh tokens at once (deleted with it), access tokens at
//! once on the node that deleted it and within the client cache's time on the others.

use serde_json::{Value, json};

use crate::api_client::{Api, admin, ensure_client};
use crate::rp::{self, ClientSpec};
use crate::support::{TestApp, each_backend};

/// Registers `svc`, a back end with the management scopes, and gets a client-credentials token
/// from the token endpoint.
async fn back_end_token(app: &TestApp) -> String {
    let secret = rp::register(
        app,
        ClientSpec {
            grants: &["client_credentials"],
            scopes: &["users:read", "users:write"],
            ..ClientSpec::web("svc")
        },
    )
    .await
    .unwrap();
    let response = rp::token_request(
        app,
        "svc",
        Some(&secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_deleted_clients_access_token_is_refused_by_the_api_at_once() {
    each_backend(|app| async move {
        let (_tokens, admin) = admin(&app).await;
        let svc = Api {
            app: &app,
            token: back_end_token(&app).await,
        };
        assert_eq!(svc.get("/users").await.status(), 200);

        assert_eq!(admin.delete("/clients/svc").await.status(), 204);

        assert_eq!(svc.get("/users").await.status(), 401, "{:?}", app.backend);
        let created = svc.post("/users", &json!({"email": "x@example.com"})).await;
        assert_eq!(created.status(), 401, "{:?}", app.backend);
        assert_eq!(
            app.store.count_users().await.unwrap(),
            0,
            "nothing was written"
        );
    })
    .await;
}

#[tokio::test]
async fn a_deleted_clients_user_tokens_stop_at_userinfo_introspection_and_refresh() {
    each_backend(|app| async move {
        let (_tokens, admin) = admin(&app).await;
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        let other = rp::register(&app, ClientSpec::web("other")).await.unwrap();
        let tokens = rp::tokens_for(&app, "web", Some(&secret), "del@example.com", "openid").await;
        let access = tokens["access_token"].as_str().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        assert_eq!(rp::userinfo(&app, access).await.status(), 200);

        assert_eq!(admin.delete("/clients/web").await.status(), 204);

        assert_eq!(rp::userinfo(&app, access).await.status(), 401);
        let refreshed = rp::token_request(
            &app,
            "web",
            Some(&secret),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_eq!(refreshed.status(), 401, "the client itself is gone");
        let hash = rp::hash_secret(refresh);
        assert!(
            app.store.get_refresh_token(&hash).await.unwrap().is_none(),
            "its refresh tokens were deleted with it"
        );
        let introspected: Value = app
            .browser
            .client
            .post(app.url("/introspect"))
            .basic_auth("other", Some(&other))
            .form(&[("token", access)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(introspected, json!({"active": false}));
    })
    .await;
}

#[tokio::test]
async fn a_client_registered_again_under_a_deleted_ones_id_does_not_accept_its_predecessors_tokens()
{
    each_backend(|app| async move {
        let (tokens, admin) = admin(&app).await;
        // A token of the first `svc`, issued two minutes ago and not expired...
        let earlier = time::OffsetDateTime::now_utc() - time::Duration::minutes(2);
        let old = Api {
            app: &app,
            token: tokens.backend_issued_at("svc", &["users:read"], earlier),
        };
        // ...is refused by the `svc` registered since (deleted and created again).
        ensure_client(&app, "svc", &[]).await;
        assert_eq!(old.get("/users").await.status(), 401, "{:?}", app.backend);
        let new = Api {
            app: &app,
            token: tokens.backend("svc", &["users:read"]),
        };
        assert_eq!(new.get("/users").await.status(), 200, "{:?}", app.backend);
        drop(admin);
    })
    .await;
}
