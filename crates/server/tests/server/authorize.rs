//! The authorization endpoint and its transaction, up to the code redirect.

use accrete_store::Client;
use time::OffsetDateTime;

use crate::support::{Backend, TestApp, each_backend};

pub const REDIRECT: &str = "http://localhost:9999/callback";

/// Registers a confidential web client `web` with a known secret hash (not used here).
pub async fn register_client(app: &TestApp, id: &str, public: bool) {
    let now = OffsetDateTime::now_utc();
    app.store
        .create_client(Client {
            id: id.to_owned(),
            secret_hash: if public {
                None
            } else {
                Some("unused".to_owned())
            },
            name: format!("The {id} app"),
            redirect_uris: vec![REDIRECT.to_owned()],
            post_logout_redirect_uris: vec![],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            audience: vec![],
            public,
            id_token_alg: "RS256".into(),
            allowed_origins: vec![],
            theme: serde_json::json!({}),
            connections: None,
            password_signin: true,
            self_signup: None,
            email_verification: None,
            mfa: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
}

pub fn authorize_path(client: &str, extra: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={client}&redirect_uri={}&scope=openid%20email&state=xyz&nonce=n-1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256{extra}",
        url_escape(REDIRECT)
    )
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).unwrap();
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn without_a_session_the_user_signs_in_and_returns_with_a_code() {
    each_backend(|app| async move {
        register_client(&app, "web", false).await;
        app.sign_up("ann@example.com", "correct horse battery")
            .await;
        let browser = app.new_browser();
        let response = browser.get(&authorize_path("web", "")).await;
        assert_eq!(response.status(), 303, "{:?}", app.backend);
        let login = location(&response);
        assert!(login.starts_with("/login?tx="), "{login}");
        let tx = login.trim_start_matches("/login?tx=").to_owned();
        let page = browser.get(&login).await.text().await.unwrap();
        assert!(
            page.contains("The web app"),
            "the sign-in page names the client: {page}"
        );
        let csrf = crate::support::hidden_input(&page, "csrf").unwrap();
        let response = browser
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("tx", &tx),
                    ("email", "ann@example.com"),
                    ("password", "correct horse battery"),
                ],
            )
            .await;
        assert_eq!(location(&response), format!("/authorize/resume?tx={tx}"));
        let response = browser.get(&location(&response)).await;
        let back = location(&response);
        assert!(back.starts_with(REDIRECT), "{back}");
        assert!(query_param(&back, "code").is_some());
        assert_eq!(query_param(&back, "state").as_deref(), Some("xyz"));
        assert_eq!(
            query_param(&back, "iss").as_deref(),
            Some(app.base.as_str())
        );
        let user = app
            .store
            .find_user_by_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((user.credentialed_logins, user.sso_logins), (2, 0));
    })
    .await;
}

#[tokio::test]
async fn an_existing_session_is_reused_and_counted_as_single_sign_on() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    register_client(&app, "web", false).await;
    app.sign_up("bob@example.com", "correct horse battery")
        .await;
    let response = app.get(&authorize_path("web", "")).await;
    let back = location(&response);
    assert!(
        back.starts_with(REDIRECT) && back.contains("code="),
        "{back}"
    );
    let user = app
        .store
        .find_user_by_email("bob@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((user.credentialed_logins, user.sso_logins), (1, 1));
}

#[tokio::test]
async fn prompt_none_without_a_session_returns_login_required() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    register_client(&app, "web", false).await;
    let back = location(&app.get(&authorize_path("web", "&prompt=none")).await);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("xyz"));
}

#[tokio::test]
async fn prompt_login_asks_for_credentials_despite_a_session() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    register_client(&app, "web", false).await;
    app.sign_up("cat@example.com", "correct horse battery")
        .await;
    let response = app.get(&authorize_path("web", "&prompt=login")).await;
    assert!(location(&response).starts_with("/login?tx="));
}

#[tokio::test]
async fn an_unregistered_redirect_uri_is_shown_and_never_followed() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    register_client(&app, "web", false).await;
    let path = authorize_path("web", "").replace(
        &url_escape(REDIRECT),
        &url_escape("https://evil.example/cb"),
    );
    let response = app.get(&path).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("redirect_uri"));
}

#[tokio::test]
async fn an_unknown_client_is_shown_on_a_page() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let response = app.get(&authorize_path("nobody", "")).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("unknown client_id"));
}

#[tokio::test]
async fn a_completed_transaction_cannot_issue_a_second_code() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    register_client(&app, "web", false).await;
    app.sign_up("dan@example.com", "correct horse battery")
        .await;
    let browser = app.new_browser();
    let login = location(&browser.get(&authorize_path("web", "")).await);
    let tx = login.trim_start_matches("/login?tx=").to_owned();
    let csrf = browser.csrf(&login).await;
    browser
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("tx", &tx),
                ("email", "dan@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    let first = browser.get(&format!("/authorize/resume?tx={tx}")).await;
    assert!(location(&first).contains("code="));
    let again = browser.get(&format!("/authorize/resume?tx={tx}")).await;
    assert_eq!(
        again.status(),
        400,
        "reload or back button: a clear page, no second code"
    );
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("expired or was already completed")
    );
}

#[tokio::test]
async fn a_missing_response_type_is_redirected_as_invalid_request() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    register_client(&app, "web", false).await;
    let path = authorize_path("web", "").replace("response_type=code&", "");
    let back = location(&app.get(&path).await);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request")
    );
}
