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
async fn a_password_of_1000_accented_letters_set_at_sign_up_signs_in() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    // 1000 characters, 2000 bytes: within the 1024 characters sign-up allows (and hard to
    // guess: zxcvbn reads the first 100).
    let password = format!("correct horse battery {}", "é".repeat(978));
    let signed_up = app.sign_up("ann@example.com", &password).await;
    assert_eq!(signed_up.status(), 303);
    let signed_in = app
        .new_browser()
        .sign_in("ann@example.com", &password)
        .await;
    assert_eq!(signed_in.status(), 303);
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
async fn sign_up_refuses_a_password_built_on_the_email_address() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let response = app.sign_up("ada@example.com", "ada@example.com1").await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("This password is too easy to guess."),
        "{html}"
    );
    assert!(
        html.contains("aria-describedby=\"f-password-error"),
        "{html}"
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

fn from(app: &TestApp, last_octet: u8) -> crate::support::Browser {
    crate::support::Browser::from_address(
        app.browser.base.clone(),
        std::net::IpAddr::from([127, 0, 0, last_octet]),
    )
}

/// Wrong passwords from `browser` until the throttle refuses one; returns that refusal.
async fn exhaust(browser: &crate::support::Browser, email: &str) -> reqwest::Response {
    for _ in 0..20 {
        let response = browser.sign_in(email, "wrong-guess-1").await;
        if response.status() == 429 {
            return response;
        }
        assert_eq!(response.status(), 401);
    }
    panic!("twenty wrong passwords were never refused");
}

#[tokio::test]
async fn an_attacker_elsewhere_cannot_keep_a_user_from_signing_in() {
    each_backend(|app| async move {
        let email = "victim@example.com";
        assert!(
            app.new_browser()
                .sign_up(email, "correct horse battery")
                .await
                .status()
                .is_redirection()
        );
        let attacker = from(&app, 2);
        exhaust(&attacker, email).await;
        assert_eq!(
            attacker
                .sign_in(email, "correct horse battery")
                .await
                .status(),
            429,
            "the attacker's address is refused even with the right password"
        );
        let user = from(&app, 3);
        let response = user.sign_in(email, "correct horse battery").await;
        assert!(response.status().is_redirection(), "{:?}", app.backend);
        let typo = from(&app, 4).sign_in(email, "a typo").await;
        assert_eq!(
            typo.status(),
            401,
            "a wrong password from elsewhere is not refused either"
        );
    })
    .await;
}

#[tokio::test]
async fn the_retry_after_of_a_refused_sign_in_covers_the_whole_refusal() {
    each_backend(|app| async move {
        let email = "someone@example.com";
        let refused = exhaust(&from(&app, 2), email).await;
        let seconds: f64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let counters = app
            .store
            .credential_failures(email, "127.0.0.2")
            .await
            .unwrap();
        let now = time::OffsetDateTime::now_utc();
        let throttle = accrete_oidc::throttle::SignInThrottle::default();
        let to_source = |c: Option<accrete_store::FailureCount>| {
            c.map(|c| accrete_oidc::throttle::Failures {
                count: c.failures,
                last_at: c.last_failure_at,
            })
        };
        let remaining = throttle
            .check(
                to_source(counters.from_source),
                to_source(counters.on_account),
                now,
            )
            .unwrap_err();
        assert!(
            seconds >= remaining.as_secs_f64(),
            "Retry-After {seconds} s, refused for {remaining:?} more"
        );
    })
    .await;
}

#[tokio::test]
async fn failed_sign_ins_are_counted_across_nodes() {
    let Some(node_a) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let node_b = node_a.spawn_node().await.unwrap();
    let email = "shared@example.com";
    exhaust(&from(&node_a, 2), email).await;
    let on_b = from(&node_b, 2).sign_in(email, "wrong-guess-2").await;
    assert_eq!(on_b.status(), 429, "node B sees node A's counts");
    node_b.stop().await.unwrap();
}
