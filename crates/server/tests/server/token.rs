//! The token endpoint, revocation and introspection over HTTP.

use serde_json::Value;

use crate::rp::{self, ClientSpec, REDIRECT, VERIFIER};
use crate::support::{Backend, TestApp, each_backend};

async fn sqlite() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await.unwrap()
}

async fn post_form(
    app: &TestApp,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = app.browser.client.post(app.url(path)).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_the_tokens_of_its_first_use() {
    each_backend(|app| async move {
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        let browser = rp::sign_up(&app, "reuse@example.com").await;
        let back = rp::authorize(
            &browser,
            &rp::authorize_path("web", "openid email", ""),
            "reuse@example.com",
        )
        .await;
        let code = rp::code_of(&back);
        let (status, first) = rp::redeem(&app, "web", Some(&secret), &code).await;
        assert_eq!(status, 200, "{first}");
        let access = first["access_token"].as_str().unwrap();
        assert_eq!(rp::userinfo(&app, access).await.status(), 200);

        let (status, second) = rp::redeem(&app, "web", Some(&secret), &code).await;
        assert_eq!(
            (status, second["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert_eq!(rp::userinfo(&app, access).await.status(), 401);
        let refresh = first["refresh_token"].as_str().unwrap();
        let response = rp::token_request(
            &app,
            "web",
            Some(&secret),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_eq!(response.status(), 400, "the refresh token is revoked too");
    })
    .await;
}

#[tokio::test]
async fn a_wrong_pkce_verifier_or_redirect_uri_is_invalid_grant() {
    let app = sqlite().await;
    let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
    let browser = rp::sign_up(&app, "pkce@example.com").await;
    for (verifier, redirect) in [
        ("wrong-verifier-wrong-verifier-wrong-verifier-000", REDIRECT),
        (VERIFIER, "http://localhost:9999/other"),
    ] {
        let back = rp::authorize(
            &browser,
            &rp::authorize_path("web", "openid", ""),
            "pkce@example.com",
        )
        .await;
        let response = rp::token_request(
            &app,
            "web",
            Some(&secret),
            &[
                ("grant_type", "authorization_code"),
                ("code", &rp::code_of(&back)),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ],
        )
        .await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }
}

#[tokio::test]
async fn client_secret_basic_is_accepted_and_a_wrong_secret_gets_401_with_a_basic_challenge() {
    let app = sqlite().await;
    let secret = rp::register(
        &app,
        ClientSpec {
            grants: &["client_credentials"],
            scopes: &["read"],
            ..ClientSpec::web("svc")
        },
    )
    .await
    .unwrap();
    let form = [("grant_type", "client_credentials")];
    let (status, headers, body) = post_form(&app, "/token", Some(("svc", &secret)), &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");

    let (status, headers, body) = post_form(&app, "/token", Some(("svc", "wrong")), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );

    let (status, headers, _) = post_form(
        &app,
        "/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "svc"),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        !headers.contains_key("www-authenticate"),
        "no challenge when the secret came in the body"
    );
}

#[tokio::test]
async fn repeated_failed_client_authentication_is_rate_limited() {
    let app = sqlite().await;
    rp::register(&app, ClientSpec::web("web")).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let (status, _, _) = post_form(
            &app,
            "/token",
            Some(("web", "guess")),
            &[("grant_type", "client_credentials")],
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses[0], 401);
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

#[tokio::test]
async fn a_public_client_redeems_with_pkce_and_no_secret() {
    let app = sqlite().await;
    rp::register(
        &app,
        ClientSpec {
            public: true,
            ..ClientSpec::web("spa")
        },
    )
    .await;
    let body = rp::tokens_for(&app, "spa", None, "spa@example.com", "openid").await;
    assert!(body["id_token"].is_string());
    assert!(body["refresh_token"].is_string());
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family() {
    each_backend(|app| async move {
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        let first = rp::tokens_for(&app, "web", Some(&secret), "fam@example.com", "openid").await;
        let old = first["refresh_token"].as_str().unwrap().to_owned();
        let refresh = |token: String| {
            let app = &app;
            let secret = secret.clone();
            async move {
                let response = rp::token_request(
                    app,
                    "web",
                    Some(&secret),
                    &[("grant_type", "refresh_token"), ("refresh_token", &token)],
                )
                .await;
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap())
            }
        };
        let (status, second) = refresh(old.clone()).await;
        assert_eq!(status, 200, "{second}");
        let newest = second["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(newest, old);
        let (status, reuse) = refresh(old).await;
        assert_eq!(
            (status, reuse["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let (status, _) = refresh(newest).await;
        assert_eq!(status, 400, "the successor is revoked with the family");
        let access = second["access_token"].as_str().unwrap();
        assert_eq!(rp::userinfo(&app, access).await.status(), 401);
    })
    .await;
}

#[tokio::test]
async fn a_narrower_scope_on_refresh_is_granted_and_a_wider_one_refused() {
    let app = sqlite().await;
    let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
    let first = rp::tokens_for(&app, "web", Some(&secret), "n@example.com", "openid email").await;
    let refresh = first["refresh_token"].as_str().unwrap();
    let wider = rp::token_request(
        &app,
        "web",
        Some(&secret),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("scope", "openid email phone"),
        ],
    )
    .await;
    assert_eq!(
        wider.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );
    let narrower = rp::token_request(
        &app,
        "web",
        Some(&secret),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("scope", "openid"),
        ],
    )
    .await;
    let body: Value = narrower.json().await.unwrap();
    assert_eq!(body["scope"], "openid", "{body}");
}

#[tokio::test]
async fn client_credentials_refuse_user_scopes_unregistered_audiences_and_public_clients() {
    let app = sqlite().await;
    let secret = rp::register(
        &app,
        ClientSpec {
            grants: &["client_credentials"],
            scopes: &["openid", "read"],
            audience: &["https://api.example.com"],
            ..ClientSpec::web("svc")
        },
    )
    .await
    .unwrap();
    let ask = |extra: &'static [(&'static str, &'static str)]| {
        let app = &app;
        let secret = secret.clone();
        async move {
            let mut form = vec![("grant_type", "client_credentials")];
            form.extend_from_slice(extra);
            let response = rp::token_request(app, "svc", Some(&secret), &form).await;
            response.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(ask(&[("scope", "openid")]).await["error"], "invalid_scope");
    assert_eq!(
        ask(&[("audience", "https://evil.example")]).await["error"],
        "invalid_request"
    );
    let ok = ask(&[("resource", "https://api.example.com")]).await;
    assert_eq!(
        rp::jwt_payload(ok["access_token"].as_str().unwrap())["aud"],
        "https://api.example.com"
    );

    rp::register(
        &app,
        ClientSpec {
            public: true,
            grants: &["client_credentials"],
            ..ClientSpec::web("pub")
        },
    )
    .await;
    let response =
        rp::token_request(&app, "pub", None, &[("grant_type", "client_credentials")]).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
}

#[tokio::test]
async fn an_unknown_grant_type_and_a_non_form_body_are_refused() {
    let app = sqlite().await;
    let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
    let response =
        rp::token_request(&app, "web", Some(&secret), &[("grant_type", "password")]).await;
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let response = app
        .browser
        .client
        .post(app.url("/token"))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn introspection_describes_live_tokens_and_forgets_revoked_ones() {
    each_backend(|app| async move {
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        let tokens = rp::tokens_for(&app, "web", Some(&secret), "in@example.com", "openid").await;
        let access = tokens["access_token"].as_str().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let basic = Some(("web", secret.as_str()));
        let (status, _, body) = post_form(&app, "/introspect", basic, &[("token", access)]).await;
        assert_eq!(status, 200);
        assert_eq!(body["active"], true);
        assert_eq!(body["client_id"], "web");
        let (_, _, body) = post_form(&app, "/introspect", basic, &[("token", refresh)]).await;
        assert_eq!(body["active"], true);
        assert_eq!(body["token_type"], "refresh_token");
        let (_, _, body) = post_form(&app, "/introspect", basic, &[("token", "nonsense")]).await;
        assert_eq!(body, serde_json::json!({"active": false}));

        let (status, headers, _) = post_form(
            &app,
            "/revoke",
            basic,
            &[("token", refresh), ("token_type_hint", "refresh_token")],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(headers["cache-control"], "no-store");
        let (_, _, body) = post_form(&app, "/introspect", basic, &[("token", access)]).await;
        assert_eq!(
            body["active"], false,
            "revoking the refresh token revokes its grant"
        );
        assert_eq!(rp::userinfo(&app, access).await.status(), 401);
    })
    .await;
}

#[tokio::test]
async fn a_client_cannot_revoke_or_introspect_another_clients_tokens() {
    let app = sqlite().await;
    let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
    let other = rp::register(&app, ClientSpec::web("other")).await.unwrap();
    let tokens = rp::tokens_for(&app, "web", Some(&secret), "own@example.com", "openid").await;
    let access = tokens["access_token"].as_str().unwrap();
    let basic = Some(("other", other.as_str()));
    let (status, _, _) = post_form(&app, "/revoke", basic, &[("token", access)]).await;
    assert_eq!(status, 200, "revocation answers 200 whatever happens");
    assert_eq!(
        rp::userinfo(&app, access).await.status(),
        200,
        "still valid"
    );
    let (_, _, body) = post_form(&app, "/introspect", basic, &[("token", access)]).await;
    assert_eq!(body["active"], false);
}

#[tokio::test]
async fn a_refresh_token_presented_by_another_client_is_refused_and_stays_usable() {
    each_backend(|app| async move {
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        let other = rp::register(&app, ClientSpec::web("other")).await.unwrap();
        let first = rp::tokens_for(&app, "web", Some(&secret), "o@example.com", "openid").await;
        let token = first["refresh_token"].as_str().unwrap();
        let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
        let stolen = rp::token_request(&app, "other", Some(&other), &form).await;
        assert_eq!(stolen.status(), 400);
        let body: Value = stolen.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant", "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("another client"),
            "{body}"
        );
        let own = rp::token_request(&app, "web", Some(&secret), &form).await;
        assert_eq!(
            own.status(),
            200,
            "the owner's token was neither used nor revoked"
        );
    })
    .await;
}
