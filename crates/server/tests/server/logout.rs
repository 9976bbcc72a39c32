//! RP-initiated logout.

use crate::rp::{self, AFTER_LOGOUT, ClientSpec};
use crate::support::{Backend, Browser, TestApp, each_backend, hidden_input};

/// Signs `email` up and in to `web`; returns the browser and the ID token.
async fn signed_in(app: &TestApp, email: &str) -> (Browser, String) {
    let secret = rp::register(app, ClientSpec::web("web")).await.unwrap();
    let browser = rp::sign_up(app, email).await;
    let back = rp::authorize(&browser, &rp::authorize_path("web", "openid", ""), email).await;
    let (_, tokens) = rp::redeem(app, "web", Some(&secret), &rp::code_of(&back)).await;
    (browser, tokens["id_token"].as_str().unwrap().to_owned())
}

async fn still_signed_in(browser: &Browser) -> bool {
    let response = browser
        .get(&rp::authorize_path("web", "openid", "&prompt=none"))
        .await;
    rp::query_param(&rp::location(&response), "code").is_some()
}

#[tokio::test]
async fn logout_with_an_id_token_hint_ends_the_session_and_returns_with_state() {
    each_backend(|app| async move {
        let (browser, id_token) = signed_in(&app, "out@example.com").await;
        assert!(still_signed_in(&browser).await);
        let response = browser
            .client
            .post(app.url("/logout"))
            .form(&[
                ("id_token_hint", id_token.as_str()),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
                ("state", "s1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(rp::location(&response), format!("{AFTER_LOGOUT}?state=s1"));
        assert!(!still_signed_in(&browser).await);
    })
    .await;
}

#[tokio::test]
async fn a_bad_id_token_hint_is_shown_and_the_session_kept() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (browser, id_token) = signed_in(&app, "bad@example.com").await;
    let mut forged = id_token.clone();
    forged.pop();
    forged.push(if id_token.ends_with('A') { 'B' } else { 'A' });
    let response = browser
        .get(&format!(
            "/logout?id_token_hint={forged}&post_logout_redirect_uri={}",
            rp::escape(AFTER_LOGOUT)
        ))
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("id_token_hint"));
    assert!(still_signed_in(&browser).await);
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_uri_is_shown_and_never_followed() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (browser, id_token) = signed_in(&app, "evil@example.com").await;
    let response = browser
        .get(&format!(
            "/logout?id_token_hint={id_token}&post_logout_redirect_uri={}",
            rp::escape("https://evil.example/bye")
        ))
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(still_signed_in(&browser).await);
}

#[tokio::test]
async fn without_a_hint_the_user_confirms_on_a_page_before_the_session_ends() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (browser, _) = signed_in(&app, "ask@example.com").await;
    let path = format!(
        "/logout?client_id=web&post_logout_redirect_uri={}&state=s2",
        rp::escape(AFTER_LOGOUT)
    );
    let page = browser.get(&path).await.text().await.unwrap();
    assert!(page.contains("Do you want to sign out?"), "{page}");
    assert!(
        still_signed_in(&browser).await,
        "a link alone signs no one out"
    );

    let forged = browser
        .post_form(
            "/logout",
            &[
                ("csrf", "forged"),
                ("action", "submit"),
                ("client_id", "web"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 200);
    assert!(
        still_signed_in(&browser).await,
        "a forged confirmation is ignored"
    );

    let csrf = hidden_input(&page, "csrf").unwrap();
    let response = browser
        .post_form(
            "/logout",
            &[
                ("csrf", &csrf),
                ("action", "submit"),
                ("client_id", "web"),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
                ("state", "s2"),
            ],
        )
        .await;
    assert_eq!(rp::location(&response), format!("{AFTER_LOGOUT}?state=s2"));
    assert!(!still_signed_in(&browser).await);
}

#[tokio::test]
async fn logout_without_a_session_or_redirect_shows_the_signed_out_page() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let response = app.get("/logout").await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("You are signed out.")
    );
}
