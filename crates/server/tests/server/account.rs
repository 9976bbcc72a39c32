//! Hosted sign-up and sign-in pages.

use crate::support::{Backend, TestApp, each_backend, hidden_input};

#[tokio::test]
async fn sign_up_creates_the_account_and_starts_a_session() {
    each_backend(|app| async move {
        let response = app
            .sign_up("Ann@Example.com", "correct horse battery")
            .await;
        assert_eq!(response.status(), 303, "{:?}", app.backend);
        assert_eq!(response.headers()["location"], "/account");
        let cookies: Vec<_> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let session = cookies
            .iter()
            .find(|c| c.starts_with("accrete_session="))
            .expect("a session cookie");
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Lax"),
            "{session}"
        );
        let user = app
            .store
            .find_user_by_email("ann@example.com")
            .await
            .unwrap()
            .expect("the user exists");
        assert_eq!(user.credentialed_logins, 1);
        assert!(user.password_hash.unwrap().starts_with("$argon2id$"));
    })
    .await;
}

#[tokio::test]
async fn sign_in_with_the_right_password_counts_a_credentialed_sign_in() {
    each_backend(|app| async move {
        app.sign_up("bob@example.com", "correct horse battery")
            .await;
        let browser = app.new_browser();
        let response = browser
            .sign_in("BOB@example.com", "correct horse battery")
            .await;
        assert_eq!(response.status(), 303);
        let user = app
            .store
            .find_user_by_email("bob@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.credentialed_logins, 2);
        assert_eq!(user.sso_logins, 0);
    })
    .await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    app.sign_up("cat@example.com", "correct horse battery")
        .await;
    let wrong = app.sign_in("cat@example.com", "wrong password!").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let unknown = app.sign_in("nobody@example.com", "wrong password!").await;
    assert_eq!(wrong_status, 401);
    assert_eq!(unknown.status(), 401);
    let unknown_body = unknown.text().await.unwrap();
    assert!(wrong_body.contains("The email or password is incorrect."));
    assert!(unknown_body.contains("The email or password is incorrect."));
    assert!(
        wrong_body.contains("value=\"cat@example.com\""),
        "the email is kept"
    );
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    app.get("/signup").await;
    let response = app
        .post_form(
            "/signup",
            &[
                ("email", "dan@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("This form has expired")
    );
    assert!(
        app.store
            .find_user_by_email("dan@example.com")
            .await
            .unwrap()
            .is_none(),
        "nothing was created"
    );
}

#[tokio::test]
async fn sign_up_reports_every_invalid_input_next_to_its_field() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let csrf = app.csrf("/signup").await;
    let response = app
        .post_form(
            "/signup",
            &[
                ("csrf", &csrf),
                ("email", "not-an-email"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"f-email-error\""), "{html}");
    assert!(
        html.contains("aria-describedby=\"f-email-error\""),
        "{html}"
    );
    assert!(html.contains("Use at least 8 characters."), "{html}");
    assert!(
        html.contains("value=\"not-an-email\""),
        "the entered email is kept"
    );
    assert_eq!(hidden_input(&html, "csrf").as_deref(), Some(csrf.as_str()));
}

#[tokio::test]
async fn a_second_account_with_the_same_email_in_other_case_is_refused() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    app.sign_up("eve@example.com", "correct horse battery")
        .await;
    let other = app.new_browser();
    let response = other.sign_up("EVE@example.com", "another password").await;
    assert_eq!(response.status(), 409);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("An account with this email already exists.")
    );
}

#[tokio::test]
async fn pages_follow_accept_language() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let html = app
        .client
        .get(app.url("/login"))
        .header("accept-language", "fr-FR,fr;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("lang=\"fr\""));
    assert!(html.contains("Se connecter"));
}

#[tokio::test]
async fn an_unknown_transaction_is_a_clear_error_page() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let response = app.get("/login?tx=does-not-exist").await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("This sign-in has expired")
    );
}

#[tokio::test]
async fn repeated_failures_on_one_account_are_rate_limited() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(
            app.sign_in("target@example.com", "guess-guess")
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses[0], 401);
}
