//! The OpenID Foundation's Basic OP certification plan, mirrored as our own tests (named after the
//! plan's modules). Covered elsewhere: code reuse, PKCE mismatch and refresh in `token.rs`;
//! unregistered redirect URI in `authorize.rs`; logout with a bad `id_token_hint` or
//! `post_logout_redirect_uri` in `logout.rs`; the full flow through a relying-party library in
//! `oidc_flow.rs`.

use accrete_store::{Location, ProfileChange, SsoSession};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::rp::{self, ClientSpec, REDIRECT};
use crate::support::{Backend, TestApp};

async fn app_with_web_client() -> (TestApp, String) {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
    (app, secret)
}

#[tokio::test]
async fn oidcc_server_id_token_is_signed_rs256_with_a_published_kid() {
    let (app, secret) = app_with_web_client().await;
    let tokens = rp::tokens_for(&app, "web", Some(&secret), "kid@example.com", "openid").await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let header = rp::jwt_header(id_token);
    assert_eq!(header["alg"], "RS256");
    let jwks: Value = app.get("/jwks.json").await.json().await.unwrap();
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(published.contains(&header["kid"].as_str().unwrap()));
    let claims = rp::jwt_payload(id_token);
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], "web");
    assert_eq!(claims["nonce"], "n-1");
    assert!(claims["exp"].as_i64().unwrap() > OffsetDateTime::now_utc().unix_timestamp());
}

#[tokio::test]
async fn oidcc_discovery_names_every_endpoint_under_the_issuer() {
    let (app, _) = app_with_web_client().await;
    let response = app.get("/.well-known/openid-configuration").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], app.base.as_str());
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        assert!(
            doc[endpoint].as_str().unwrap().starts_with(&app.base),
            "{endpoint}"
        );
    }
    let algs = doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("RS256")) && algs.contains(&json!("EdDSA")));
}

#[tokio::test]
async fn oidcc_idtoken_unsigned_alg_none_is_never_accepted() {
    let (app, secret) = app_with_web_client().await;
    let tokens = rp::tokens_for(&app, "web", Some(&secret), "none@example.com", "openid").await;
    let access = tokens["access_token"].as_str().unwrap();
    let payload = access.split('.').nth(1).unwrap();
    for typ in ["at+jwt", "JWT"] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"{typ}"}}"#));
        let unsigned = format!("{header}.{payload}.");
        let response = rp::userinfo(&app, &unsigned).await;
        assert_eq!(response.status(), 401, "{typ}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
    let id_payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
    let response = app
        .get(&format!("/logout?id_token_hint={header}.{id_payload}."))
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn oidcc_userinfo_get_post_header_and_post_body_all_answer() {
    let (app, secret) = app_with_web_client().await;
    let tokens = rp::tokens_for(&app, "web", Some(&secret), "ui@example.com", "openid email").await;
    let access = tokens["access_token"].as_str().unwrap();
    let client = &app.browser.client;
    let get = client.get(app.url("/userinfo")).bearer_auth(access);
    let post_header = client.post(app.url("/userinfo")).bearer_auth(access);
    let post_body = client
        .post(app.url("/userinfo"))
        .form(&[("access_token", access)]);
    for request in [get, post_header, post_body] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["email"], "ui@example.com");
        assert_eq!(body["email_verified"], false);
    }
    let query = client
        .get(app.url(&format!("/userinfo?access_token={access}")))
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 401, "tokens in the URL are not accepted");
}

#[tokio::test]
async fn oidcc_nonce_is_optional_in_the_code_flow() {
    let (app, secret) = app_with_web_client().await;
    let browser = rp::sign_up(&app, "nonce@example.com").await;
    let path = rp::authorize_path("web", "openid", "").replace("&nonce=n-1", "");
    let back = rp::authorize(&browser, &path, "nonce@example.com").await;
    let (status, tokens) = rp::redeem(&app, "web", Some(&secret), &rp::code_of(&back)).await;
    assert_eq!(status, 200);
    assert!(
        rp::jwt_payload(tokens["id_token"].as_str().unwrap())
            .get("nonce")
            .is_none()
    );
}

#[tokio::test]
async fn oidcc_scope_profile_email_address_phone_release_their_claims_only() {
    let (app, secret) = app_with_web_client().await;
    let browser = rp::sign_up(&app, "claims@example.com").await;
    let user = app
        .store
        .find_user_by_email("claims@example.com")
        .await
        .unwrap()
        .unwrap();
    let changes = [
        ("name", json!("Grace Hopper")),
        ("phone_number", json!("+14155550100")),
        ("address", json!({"country": "US"})),
    ]
    .map(|(key, value)| ProfileChange::set(Location::Profile, key, value));
    app.store
        .apply_profile_changes(user.id, None, &changes, "admin", OffsetDateTime::now_utc())
        .await
        .unwrap();
    let info = |scope: &'static str| {
        let (app, browser, secret) = (&app, &browser, secret.clone());
        async move {
            let back = rp::authorize(
                browser,
                &rp::authorize_path("web", scope, ""),
                "claims@example.com",
            )
            .await;
            let (_, tokens) = rp::redeem(app, "web", Some(&secret), &rp::code_of(&back)).await;
            let access = tokens["access_token"].as_str().unwrap();
            let body: Value = rp::userinfo(app, access).await.json().await.unwrap();
            (body, rp::jwt_payload(tokens["id_token"].as_str().unwrap()))
        }
    };
    let (all, id_claims) = info("openid profile email address phone").await;
    assert_eq!(all["name"], "Grace Hopper");
    assert_eq!(all["email"], "claims@example.com");
    assert_eq!(all["phone_number"], "+14155550100");
    assert_eq!(all["address"], json!({"country": "US"}));
    assert_eq!(all["sub"], user.id.to_string());
    assert_eq!(id_claims["name"], "Grace Hopper");
    let (email_only, _) = info("openid email").await;
    assert!(email_only.get("name").is_none() && email_only.get("phone_number").is_none());
    assert_eq!(email_only["email"], "claims@example.com");
}

#[tokio::test]
async fn oidcc_prompt_none_logged_in_returns_a_code_without_any_page() {
    let (app, _) = app_with_web_client().await;
    let browser = rp::sign_up(&app, "quiet@example.com").await;
    let response = browser
        .get(&rp::authorize_path("web", "openid", "&prompt=none"))
        .await;
    let back = rp::location(&response);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert!(rp::query_param(&back, "code").is_some());
}

#[tokio::test]
async fn oidcc_prompt_login_reauthenticates_and_moves_auth_time() {
    let (app, secret) = app_with_web_client().await;
    let browser = rp::sign_up(&app, "again@example.com").await;
    let first = rp::authorize(
        &browser,
        &rp::authorize_path("web", "openid", ""),
        "again@example.com",
    )
    .await;
    let (_, tokens) = rp::redeem(&app, "web", Some(&secret), &rp::code_of(&first)).await;
    let first_auth = rp::jwt_payload(tokens["id_token"].as_str().unwrap())["auth_time"].as_i64();
    let response = browser
        .get(&rp::authorize_path("web", "openid", "&prompt=login"))
        .await;
    assert!(rp::location(&response).starts_with("/login?tx="));
    let second = rp::authorize(
        &browser,
        &rp::authorize_path("web", "openid", "&prompt=login"),
        "again@example.com",
    )
    .await;
    let (_, tokens) = rp::redeem(&app, "web", Some(&secret), &rp::code_of(&second)).await;
    let second_auth = rp::jwt_payload(tokens["id_token"].as_str().unwrap())["auth_time"].as_i64();
    assert!(second_auth >= first_auth);
}

/// A browser whose SSO session authenticated `age` ago (written to the store directly, so the
/// test needs no sleep).
async fn session_aged(app: &TestApp, email: &str, age: Duration) -> reqwest::Client {
    rp::sign_up(app, email).await;
    let user = app.store.find_user_by_email(email).await.unwrap().unwrap();
    let value = accrete_oidc::secrets::random_opaque();
    let then = OffsetDateTime::now_utc() - age;
    app.store
        .create_session(SsoSession {
            hash: rp::hash_secret(&value),
            user_id: user.id,
            created_at: then,
            auth_time: then,
            last_seen_at: then,
            expires_at: OffsetDateTime::now_utc() + Duration::days(1),
            credentialed: true,
            amr: vec!["pwd".into()],
            acr: None,
            id: uuid::Uuid::new_v4(),
            user_agent: None,
            ip: None,
            mfa_at: None,
        })
        .await
        .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        format!("accrete_session={value}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

#[tokio::test]
async fn oidcc_max_age_1_asks_an_older_session_to_sign_in_and_max_age_10000_does_not() {
    let (app, _) = app_with_web_client().await;
    let browser = session_aged(&app, "aged@example.com", Duration::seconds(30)).await;
    let go = |max_age: &'static str| {
        let (app, browser) = (&app, browser.clone());
        async move {
            let path = rp::authorize_path("web", "openid", &format!("&max_age={max_age}"));
            let response = browser.get(app.url(&path)).send().await.unwrap();
            rp::location(&response)
        }
    };
    assert!(go("1").await.starts_with("/login?tx="));
    let back = go("10000").await;
    assert!(rp::query_param(&back, "code").is_some(), "{back}");
}

#[tokio::test]
async fn oidcc_unknown_parameters_are_ignored() {
    let (app, _) = app_with_web_client().await;
    let browser = rp::sign_up(&app, "extra@example.com").await;
    let back = rp::authorize(
        &browser,
        &rp::authorize_path("web", "openid", "&extra=foobar&vendor_x=1"),
        "extra@example.com",
    )
    .await;
    assert!(rp::query_param(&back, "code").is_some());
}

#[tokio::test]
async fn oidcc_login_hint_prefills_and_ui_locales_translates_the_sign_in_page() {
    let (app, _) = app_with_web_client().await;
    let browser = app.new_browser();
    let path = rp::authorize_path(
        "web",
        "openid",
        "&login_hint=hint%40example.com&ui_locales=fr-CA%20fr",
    );
    let login = rp::location(&browser.get(&path).await);
    let page = browser.get(&login).await.text().await.unwrap();
    assert!(page.contains("hint@example.com"), "{page}");
    assert!(page.contains("lang=\"fr\""), "{page}");
}

#[tokio::test]
async fn oidcc_request_and_request_uri_are_answered_with_their_not_supported_errors() {
    let (app, _) = app_with_web_client().await;
    for (extra, error) in [
        ("&request=eyJhbGciOiJub25lIn0.e30.", "request_not_supported"),
        (
            "&request_uri=https%3A%2F%2Fclient.example%2Freq",
            "request_uri_not_supported",
        ),
    ] {
        let response = app.get(&rp::authorize_path("web", "openid", extra)).await;
        let back = rp::location(&response);
        assert!(back.starts_with(REDIRECT), "{back}");
        assert_eq!(rp::query_param(&back, "error").as_deref(), Some(error));
    }
}

#[tokio::test]
async fn oidcc_client_secret_basic_redeems_a_code() {
    let (app, secret) = app_with_web_client().await;
    let browser = rp::sign_up(&app, "basic@example.com").await;
    let back = rp::authorize(
        &browser,
        &rp::authorize_path("web", "openid", ""),
        "basic@example.com",
    )
    .await;
    let response = app
        .browser
        .client
        .post(app.url("/token"))
        .basic_auth("web", Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", rp::code_of(&back).as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", rp::VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["id_token"].is_string());
}
