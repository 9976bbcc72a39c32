//! Verified email, forgotten password and email change, with the mail read from a real SMTP
//! server (aiosmtpd, started by the test), on both backends.

use std::time::Duration;

use accrete_mail::testing::{ReceivedMail, SmtpSink};
use accrete_server::Layer;
use accrete_server::config::EmailLayer;
use accrete_store::EventKind;
use serde_json::Value;

use crate::rp::{self, ClientSpec};
use crate::support::{Backend, Browser, TestApp, hidden_input};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "purple elephant marmalade";
/// How long a test waits for a mail the server sends after answering (a bound, not a pause).
const MAIL_WAIT: Duration = Duration::from_secs(20);

/// A server whose mail goes to `sink`.
fn mail_to(sink: &SmtpSink) -> Layer {
    Layer {
        email: Some(EmailLayer {
            smtp_url: Some(sink.url()),
            from_address: Some("accounts@accrete.test".into()),
            from_name: Some("Accrete tests".into()),
        }),
        ..Layer::default()
    }
}

/// Runs `test` on each backend with a fresh SMTP sink; skipped (with a note) when the sink
/// cannot run outside CI.
async fn each_backend_with_mail<F, Fut>(test: F)
where
    F: Fn(TestApp, SmtpSink) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(sink) = SmtpSink::start() else {
            eprintln!("SKIPPED: no aiosmtpd (run scripts/install-deps)");
            return;
        };
        if let Some(app) = TestApp::spawn_with(backend, mail_to(&sink)).await {
            test(app, sink).await;
        }
    }
}

/// The next mail, which must be for `to`.
async fn mail_for(sink: &SmtpSink, to: &str) -> ReceivedMail {
    let mail = sink.next_mail_async(MAIL_WAIT).await;
    assert_eq!(mail.to, vec![to.to_owned()], "{}", mail.subject());
    mail
}

/// The path and query of the link in `mail` that goes to `path`.
fn link_to(mail: &ReceivedMail, path: &str) -> String {
    let link = mail
        .link_containing(path)
        .unwrap_or_else(|| panic!("a link to {path} in {:?}", mail.text_body()));
    let url = url::Url::parse(&link).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// Signs up `email` in a new browser; returns it with the verification mail it got.
async fn signed_up(app: &TestApp, sink: &SmtpSink, email: &str) -> (Browser, ReceivedMail) {
    let browser = app.new_browser();
    let response = browser.sign_up(email, PASSWORD).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    (browser, mail_for(sink, email).await)
}

async fn signed_in(browser: &Browser) -> bool {
    browser.get("/account").await.status() == 200
}

#[tokio::test]
async fn sign_up_mails_a_code_that_verifies_the_address_once() {
    each_backend_with_mail(|app, sink| async move {
        let (ada, mail) = signed_up(&app, &sink, "ada@example.com").await;
        assert!(mail.subject().contains("Confirm"), "{}", mail.subject());
        let code = mail.code().expect("a 6-digit code");
        assert!(mail.html_body().contains(&code));
        let user = app
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert!(!user.email_verified);

        // The page of the signed-in user; a wrong code first.
        let page = ada.get("/verify-email").await.text().await.unwrap();
        let csrf = hidden_input(&page, "csrf").unwrap();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let refused = ada
            .post_form("/verify-email", &[("csrf", &csrf), ("code", wrong)])
            .await;
        assert_eq!(refused.status(), 400);
        assert!(refused.text().await.unwrap().contains("4 more"));
        let done = ada
            .post_form("/verify-email", &[("csrf", &csrf), ("code", &code)])
            .await;
        assert_eq!(done.status(), 303);
        assert_eq!(rp::location(&done), "/account/email");
        assert!(app.store.get_user(user.id).await.unwrap().email_verified);
        let events = app.store.list_events(0, 50).await.unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.kind == EventKind::EmailVerified && e.user_id == Some(user.id))
        );

        // The link of the same mail no longer works.
        let again = ada.get(&link_to(&mail, "/verify-email")).await;
        assert_eq!(again.status(), 410);
    })
    .await;
}

#[tokio::test]
async fn the_mailed_link_verifies_the_address_without_signing_in() {
    each_backend_with_mail(|app, sink| async move {
        let (_ada, mail) = signed_up(&app, &sink, "link@example.com").await;
        let stranger = app.new_browser();
        let page = stranger.get(&link_to(&mail, "/verify-email")).await;
        assert_eq!(page.status(), 200);
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("link@example.com is confirmed")
        );
        let user = app
            .store
            .find_user_by_email("link@example.com")
            .await
            .unwrap()
            .unwrap();
        assert!(user.email_verified);
    })
    .await;
}

#[tokio::test]
async fn a_forgotten_password_is_reset_once_and_every_session_and_refresh_token_ends() {
    each_backend_with_mail(|app, sink| async move {
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        // Signs up grace (her verification mail), then gets tokens with a refresh token.
        let tokens =
            rp::tokens_for(&app, "web", Some(&secret), "grace@example.com", "openid").await;
        mail_for(&sink, "grace@example.com").await;
        let refresh = tokens["refresh_token"].as_str().map(str::to_owned);
        let laptop = app.new_browser();
        assert_eq!(
            laptop.sign_in("grace@example.com", PASSWORD).await.status(),
            303
        );
        assert!(signed_in(&laptop).await);

        // Someone who forgot: the page says the same for an unknown address, and mails nothing.
        let phone = app.new_browser();
        let csrf = phone.csrf("/forgot-password").await;
        let unknown = phone
            .post_form(
                "/forgot-password",
                &[("csrf", &csrf), ("email", "nobody@example.com")],
            )
            .await;
        assert_eq!(unknown.status(), 200);
        let unknown = unknown.text().await.unwrap();
        let known = phone
            .post_form(
                "/forgot-password",
                &[("csrf", &csrf), ("email", "grace@example.com")],
            )
            .await;
        assert_eq!(known.status(), 200);
        let known = known.text().await.unwrap();
        assert_eq!(
            unknown.replace("nobody@example.com", "X"),
            known.replace("grace@example.com", "X"),
            "the same answer whether or not the address has an account"
        );
        // The next mail is grace's: none went to the unknown address before it.
        let mail = mail_for(&sink, "grace@example.com").await;
        let link = link_to(&mail, "/reset-password");

        let form = phone.get(&link).await.text().await.unwrap();
        assert!(form.contains("grace@example.com"));
        let token = hidden_input(&form, "token").unwrap();
        let csrf = hidden_input(&form, "csrf").unwrap();
        let mismatch = phone
            .post_form(
                "/reset-password",
                &[
                    ("csrf", &csrf),
                    ("token", &token),
                    ("password", NEW_PASSWORD),
                    ("confirm", "other"),
                ],
            )
            .await;
        assert_eq!(mismatch.status(), 400);
        let done = phone
            .post_form(
                "/reset-password",
                &[
                    ("csrf", &csrf),
                    ("token", &token),
                    ("password", NEW_PASSWORD),
                    ("confirm", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("signed out everywhere"));
        let notice = mail_for(&sink, "grace@example.com").await;
        assert!(notice.text_body().to_lowercase().contains("password"));

        // Every session and refresh token is gone; the old password no longer works.
        assert!(!signed_in(&laptop).await);
        if let Some(refresh) = refresh {
            let refreshed = rp::token_request(
                &app,
                "web",
                Some(&secret),
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await;
            assert_eq!(refreshed.status(), 400);
            let body: Value = refreshed.json().await.unwrap();
            assert_eq!(body["error"], "invalid_grant");
        }
        let old = app.new_browser();
        assert_eq!(
            old.sign_in("grace@example.com", PASSWORD).await.status(),
            401
        );
        let new = app.new_browser();
        assert_eq!(
            new.sign_in("grace@example.com", NEW_PASSWORD)
                .await
                .status(),
            303
        );

        // The link works once.
        let again = phone.get(&link).await;
        assert_eq!(again.status(), 200);
        assert!(again.text().await.unwrap().contains("no longer works"));
        let replay = phone
            .post_form(
                "/reset-password",
                &[
                    ("csrf", &csrf),
                    ("token", &token),
                    ("password", "another fine password"),
                    ("confirm", "another fine password"),
                ],
            )
            .await;
        assert_eq!(replay.status(), 410);
        let events = app.store.list_events(0, 50).await.unwrap();
        assert_eq!(
            events
                .iter()
                .filter(|e| e.kind == EventKind::PasswordReset)
                .count(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn a_new_address_replaces_the_old_one_once_its_code_is_entered_and_the_old_one_is_told() {
    each_backend_with_mail(|app, sink| async move {
        let (ada, _) = signed_up(&app, &sink, "ada@old.example").await;
        let page = ada.get("/account/email").await.text().await.unwrap();
        assert!(page.contains("ada@old.example"), "{page}");
        let csrf = hidden_input(&page, "csrf").unwrap();
        let wrong = ada
            .post_form(
                "/account/email",
                &[
                    ("csrf", &csrf),
                    ("email", "ada@new.example"),
                    ("password", "not it at all"),
                ],
            )
            .await;
        assert_eq!(wrong.status(), 400);
        assert!(
            wrong
                .text()
                .await
                .unwrap()
                .contains("not your current password")
        );
        let asked = ada
            .post_form(
                "/account/email",
                &[
                    ("csrf", &csrf),
                    ("email", "ada@new.example"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(asked.status(), 303);
        let mail = mail_for(&sink, "ada@new.example").await;
        let code = mail.code().unwrap();
        // Nothing changed yet.
        let user = app
            .store
            .find_user_by_email("ada@old.example")
            .await
            .unwrap()
            .unwrap();
        let pending = ada.get("/account/email").await.text().await.unwrap();
        assert!(pending.contains("ada@new.example"));

        let done = ada
            .post_form(
                "/account/email/confirm",
                &[("csrf", &csrf), ("code", &code)],
            )
            .await;
        assert_eq!(done.status(), 303);
        let after = app.store.get_user(user.id).await.unwrap();
        assert_eq!(
            (after.email.as_str(), after.email_verified),
            ("ada@new.example", true)
        );
        let told = mail_for(&sink, "ada@old.example").await;
        assert!(told.text_body().contains("ada@new.example"));
        assert!(
            app.store
                .find_user_by_email("ada@old.example")
                .await
                .unwrap()
                .is_none()
        );
        let events = app.store.list_events(0, 50).await.unwrap();
        assert!(events.iter().any(|e| e.kind == EventKind::EmailChanged));
    })
    .await;
}

#[tokio::test]
async fn an_administrator_mails_a_reset_link_at_most_once_a_minute() {
    each_backend_with_mail(|app, sink| async move {
        let (_ada, _) = signed_up(&app, &sink, "admin-reset@example.com").await;
        let user = app
            .store
            .find_user_by_email("admin-reset@example.com")
            .await
            .unwrap()
            .unwrap();
        let (_, admin) = crate::api_client::admin(&app).await;
        let sent = admin
            .post(
                &format!("/users/{}/password-reset", user.id),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(sent.status(), 202);
        let body: Value = sent.json().await.unwrap();
        assert_eq!(body["sent_to"], "admin-reset@example.com");
        let mail = mail_for(&sink, "admin-reset@example.com").await;
        assert!(mail.link_containing("/reset-password?token=").is_some());
        let again = admin
            .post(
                &format!("/users/{}/password-reset", user.id),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(again.status(), 429);
        assert!(again.headers().get("retry-after").is_some());
        let unknown = admin
            .post(
                &format!("/users/{}/password-reset", uuid::Uuid::new_v4()),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(unknown.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn the_recovery_pages_speak_french() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let page = app
        .client
        .get(app.url("/forgot-password"))
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Réinitialiser votre mot de passe"), "{page}");
    let expired = app
        .client
        .get(app.url("/reset-password?token=nothing"))
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(expired.contains("Ce lien ne fonctionne plus"), "{expired}");
}

/// Sets `client`'s own `email_verification`.
async fn require_verification(app: &TestApp, client: &str) {
    let mut stored = app.store.get_client(client).await.unwrap().unwrap();
    stored.email_verification = Some("required".into());
    app.store.update_client(stored).await.unwrap();
}

#[tokio::test]
async fn a_client_that_requires_a_verified_address_gets_a_code_only_once_the_address_is_confirmed()
{
    each_backend_with_mail(|app, sink| async move {
        let secret = rp::register(&app, ClientSpec::web("bank")).await.unwrap();
        require_verification(&app, "bank").await;
        // Ada signed up elsewhere and has not confirmed her address yet.
        let (ada, mail) = signed_up(&app, &sink, "ada@bank.example").await;

        // Without interaction the client is told that the user must act.
        let silent = ada
            .get(&rp::authorize_path("bank", "openid email", "&prompt=none"))
            .await;
        let back = rp::location(&silent);
        assert_eq!(
            rp::query_param(&back, "error").as_deref(),
            Some("interaction_required")
        );

        // With interaction: the verification page stands between sign-in and the code.
        let to = rp::location(
            &ada.get(&rp::authorize_path("bank", "openid email", ""))
                .await,
        );
        assert!(to.starts_with("/verify-email?tx="), "{to}");
        let tx = to.trim_start_matches("/verify-email?tx=").to_owned();
        let page = ada.get(&to).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("needs a confirmed email address"), "{page}");
        assert!(
            page.contains("ada@bank.example"),
            "where the code went: {page}"
        );
        // The sign-up's code is live: asking another within the minute is refused, politely.
        let csrf = hidden_input(&page, "csrf").unwrap();
        let resent = ada
            .post_form("/verify-email/resend", &[("csrf", &csrf), ("tx", &tx)])
            .await;
        assert_eq!(resent.status(), 429);
        assert!(resent.text().await.unwrap().contains("a moment ago"));

        let code = mail.code().unwrap();
        let confirmed = ada
            .post_form(
                "/verify-email",
                &[("csrf", &csrf), ("tx", &tx), ("code", &code)],
            )
            .await;
        assert_eq!(confirmed.status(), 303);
        let resume = rp::location(&confirmed);
        assert!(resume.starts_with("/authorize/resume?tx="), "{resume}");
        let back = rp::location(&ada.get(&resume).await);
        let (status, tokens) = rp::redeem(&app, "bank", Some(&secret), &rp::code_of(&back)).await;
        assert_eq!(status, 200, "{tokens}");
        let claims = rp::jwt_payload(tokens["id_token"].as_str().unwrap());
        assert_eq!(claims["email_verified"], true, "{claims}");
        let events = app.store.list_events(0, 50).await.unwrap();
        let verified = events
            .iter()
            .find(|e| e.kind == EventKind::EmailVerified)
            .unwrap();
        assert_eq!(verified.client_id.as_deref(), Some("bank"));
    })
    .await;
}
