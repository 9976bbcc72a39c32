//! Phone numbers proven with a code sent by text message, read from a real SMS relay
//! (`accrete_sms::testing::SmsReceiver`, checking each signature): a `verify = true` field on a
//! prompt, then the number changed and verified again on the account page; on both backends.

use std::time::Duration;

use accrete_core::Policy;
use accrete_server::Layer;
use accrete_server::config::SmsLayer;
use accrete_sms::SmsPurpose;
use accrete_sms::testing::{SmsReceiver, TEST_SECRET};
use accrete_store::EventKind;
use serde_json::Value;
use time::OffsetDateTime;

use crate::rp::{self, ClientSpec};
use crate::support::{Backend, Browser, TestApp, hidden_input};

const PASSWORD: &str = "correct horse battery";
/// How long a test waits for a message the server sends after answering (a bound, not a pause).
const WAIT: Duration = Duration::from_secs(20);

fn sms_to(receiver: &SmsReceiver) -> Layer {
    Layer {
        sms: Some(SmsLayer {
            url: Some(receiver.url()),
            secret: Some(TEST_SECRET.to_owned()),
            timeout: None,
        }),
        ..Layer::default()
    }
}

/// The example policy with its phone field (asked when entering `shop`) to be verified.
async fn publish(app: &TestApp) {
    let text = include_str!("../../../../examples/policy.toml").replace(
        "storage = { profile = { claim = \"phone_number\" } }",
        "storage = { profile = { claim = \"phone_number\" } }\nverify = true",
    );
    let policy = Policy::from_toml_str(&text).unwrap();
    policy.compile().unwrap();
    let document = serde_json::to_value(&policy).unwrap();
    app.store
        .publish_policy(&document, Some("phone"), OffsetDateTime::now_utc())
        .await
        .unwrap();
}

fn location(response: &reqwest::Response) -> String {
    rp::location(response)
}

/// Signs `email` up (with the sign-up step's names and terms) in a browser of its own.
async fn sign_up(app: &TestApp, email: &str) -> Browser {
    let browser = app.new_browser();
    let csrf = browser.csrf("/signup").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("email", email),
        ("password", PASSWORD),
        ("given_name", "Ann"),
        ("family_name", "Lee"),
        ("terms", "true"),
    ];
    let response = browser.post_form("/signup", &form).await;
    assert_eq!(location(&response), "/account");
    browser
}

/// Follows redirects inside the server until a page of it (its path and HTML) or the client.
async fn follow(browser: &Browser, mut to: String) -> (String, String) {
    for _ in 0..6 {
        if !to.starts_with('/') {
            return (to, String::new());
        }
        let response = browser.get(&to).await;
        if response.status().is_redirection() {
            to = location(&response);
        } else {
            assert_eq!(response.status(), 200, "{to}");
            return (to, response.text().await.unwrap());
        }
    }
    panic!("too many redirects: {to}")
}

async fn post_prompt(
    browser: &Browser,
    path: &str,
    html: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let tx = path.split("tx=").nth(1).unwrap().to_owned();
    let csrf = hidden_input(html, "csrf").unwrap();
    let step = hidden_input(html, "step").unwrap();
    let mut all = vec![
        ("csrf", csrf.as_str()),
        ("tx", tx.as_str()),
        ("step", step.as_str()),
    ];
    all.extend_from_slice(form);
    browser.post_form("/prompt", &all).await
}

fn wrong(code: &str) -> String {
    let first = (code.as_bytes()[0] - b'0' + 1) % 10;
    format!("{first}{}", &code[1..])
}

async fn each_backend_with_relay<F, Fut>(test: F)
where
    F: Fn(TestApp, SmsReceiver) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let receiver = SmsReceiver::start();
        if let Some(app) = TestApp::spawn_with(backend, sms_to(&receiver)).await {
            test(app, receiver).await;
        }
    }
}

#[tokio::test]
async fn a_number_entered_on_a_prompt_is_stored_verified_only_with_the_code_sent_to_it() {
    each_backend_with_relay(|app, receiver| async move {
        publish(&app).await;
        let secret = rp::register(&app, ClientSpec::web("shop")).await;
        sign_up(&app, "cy@example.com").await;
        let browser = app.new_browser();
        let login = location(
            &browser
                .get(&rp::authorize_path("shop", "openid phone", ""))
                .await,
        );
        let tx = login.split("tx=").nth(1).unwrap().to_owned();
        let csrf = browser.csrf(&login).await;
        let response = browser
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("tx", &tx),
                    ("email", "cy@example.com"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        let (path, html) = follow(&browser, location(&response)).await;
        assert!(path.starts_with("/prompt?tx="), "{path}");
        assert_eq!(hidden_input(&html, "step").as_deref(), Some("shop_phone"));

        // The number: a code goes to it, and nothing is stored yet.
        let response = post_prompt(
            &browser,
            &path,
            &html,
            &[("action", "submit"), ("phone_number", "06 12 34 56 78")],
        )
        .await;
        assert_eq!(response.status(), 303);
        let (path, html) = follow(&browser, location(&response)).await;
        assert!(html.contains("name=\"code\""), "{html}");
        assert!(html.contains("autocomplete=\"one-time-code\""), "{html}");
        assert!(html.contains("+33612345678"), "{html}");
        let message = receiver.next_message(WAIT).await;
        assert_eq!(
            (message.to.as_str(), message.purpose),
            ("+33612345678", SmsPurpose::VerifyPhone)
        );
        assert!(message.body.contains(&message.code), "{}", message.body);
        let user = app
            .store
            .find_user_by_email("cy@example.com")
            .await
            .unwrap()
            .unwrap();
        assert!(
            user.profile.get("phone_number").is_none(),
            "stored only once proven"
        );

        // A wrong code says how many tries are left; another code cannot be asked at once.
        let response = post_prompt(
            &browser,
            &path,
            &html,
            &[("action", "verify_code"), ("code", &wrong(&message.code))],
        )
        .await;
        assert_eq!(response.status(), 400);
        let page = response.text().await.unwrap();
        assert!(page.contains("You can try 4 more times"), "{page}");
        assert!(page.contains("id=\"f-code-error\""), "{page}");
        let response = post_prompt(&browser, &path, &page, &[("action", "resend_code")]).await;
        assert_eq!(response.status(), 429);
        let page = response.text().await.unwrap();
        assert!(page.contains("A code was sent a moment ago"), "{page}");
        assert!(receiver.try_next().is_none());

        // The right code: the number is stored verified, the step answered, the code issued.
        let response = post_prompt(
            &browser,
            &path,
            &page,
            &[("action", "verify_code"), ("code", &message.code)],
        )
        .await;
        assert_eq!(response.status(), 303);
        let (mut back, mut html) = follow(&browser, location(&response)).await;
        // The example policy's optional birthday of a second sign-in, skipped.
        while back.starts_with("/prompt") {
            let response = post_prompt(&browser, &back, &html, &[("action", "skip")]).await;
            (back, html) = follow(&browser, location(&response)).await;
        }
        let (status, tokens) =
            rp::redeem(&app, "shop", secret.as_deref(), &rp::code_of(&back)).await;
        assert_eq!(status, 200, "{tokens}");
        let id_token = rp::jwt_payload(tokens["id_token"].as_str().unwrap());
        let info: Value = rp::userinfo(&app, tokens["access_token"].as_str().unwrap())
            .await
            .json()
            .await
            .unwrap();
        for claims in [&id_token, &info] {
            assert_eq!(claims["phone_number"], "+33612345678", "{claims}");
            assert_eq!(claims["phone_number_verified"], true, "{claims}");
        }
        let user = app
            .store
            .find_user_by_email("cy@example.com")
            .await
            .unwrap()
            .unwrap();
        let history = app.store.user_history(user.id).await.unwrap();
        assert!(
            history
                .iter()
                .any(|h| h.key == "phone_number_verified" && h.source == "sms")
        );
        let events = app.store.list_events(0, 100).await.unwrap();
        let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&EventKind::PhoneCodeFailed), "{kinds:?}");
        assert!(kinds.contains(&EventKind::PhoneVerified), "{kinds:?}");
        assert!(kinds.contains(&EventKind::PromptAnswered), "{kinds:?}");
        assert_eq!(receiver.refused(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_number_changed_on_the_account_page_is_unverified_until_its_code_is_entered() {
    each_backend_with_relay(|app, receiver| async move {
        publish(&app).await;
        let browser = sign_up(&app, "dee@example.com").await;
        let user = app
            .store
            .find_user_by_email("dee@example.com")
            .await
            .unwrap()
            .unwrap();
        // The profile page: a new number is saved, and offered for verification.
        let csrf = browser.csrf("/account").await;
        let response = browser
            .post_form(
                "/account",
                &[
                    ("csrf", &csrf),
                    ("action", "submit"),
                    ("given_name", "Dee"),
                    ("family_name", "Lee"),
                    ("phone_number", "+14155550100"),
                ],
            )
            .await;
        assert!(response.status().is_redirection(), "{}", response.status());
        let page = browser.get("/account").await.text().await.unwrap();
        assert!(
            page.contains("Your phone number +14155550100 is not verified yet."),
            "{page}"
        );
        assert!(page.contains("Verify the number"), "{page}");
        let stored = app.store.get_user(user.id).await.unwrap();
        assert_eq!(stored.profile["phone_number"], "+14155550100");
        assert!(stored.profile.get("phone_number_verified").is_none());

        // /account/phone: send, a wrong code, the right one.
        let page = browser.get("/account/phone").await.text().await.unwrap();
        assert!(page.contains("Not verified yet"), "{page}");
        let csrf = hidden_input(&page, "csrf").unwrap();
        let response = browser
            .post_form("/account/phone/send", &[("csrf", &csrf)])
            .await;
        assert_eq!(location(&response), "/account/phone?done=phone_sent");
        let message = receiver.next_message(WAIT).await;
        assert_eq!(message.to, "+14155550100");
        let page = browser
            .get("/account/phone?done=phone_sent")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("We sent a 6-digit code to +14155550100"),
            "{page}"
        );
        let csrf = hidden_input(&page, "csrf").unwrap();
        let response = browser
            .post_form(
                "/account/phone/verify",
                &[("csrf", &csrf), ("code", &wrong(&message.code))],
            )
            .await;
        assert_eq!(response.status(), 400);
        let page = response.text().await.unwrap();
        assert!(page.contains("You can try 4 more times"), "{page}");
        let response = browser
            .post_form(
                "/account/phone/verify",
                &[("csrf", &csrf), ("code", "12 34")],
            )
            .await;
        assert_eq!(response.status(), 400);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Enter the 6 digits")
        );
        let response = browser
            .post_form(
                "/account/phone/verify",
                &[("csrf", &csrf), ("code", &message.code)],
            )
            .await;
        assert_eq!(location(&response), "/account/security?done=phone_verified");
        let page = browser
            .get("/account/security?done=phone_verified")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Your phone number is verified."), "{page}");
        let stored = app.store.get_user(user.id).await.unwrap();
        assert_eq!(stored.profile["phone_number_verified"], true);
        // The code is used up.
        let response = browser
            .post_form(
                "/account/phone/verify",
                &[("csrf", &csrf), ("code", &message.code)],
            )
            .await;
        assert_eq!(response.status(), 400);

        // Changing the number again (here by an administrator's write) unverifies it.
        let changes = [accrete_store::ProfileChange::set(
            accrete_store::Location::Profile,
            "phone_number",
            serde_json::json!("+447700900123"),
        )];
        let stored = app
            .store
            .apply_profile_changes(user.id, None, &changes, "admin", OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert!(stored.profile.get("phone_number_verified").is_none());
        let page = browser.get("/account/security").await.text().await.unwrap();
        assert!(page.contains("+447700900123"), "{page}");
        assert!(page.contains("Verify the number"), "{page}");
    })
    .await;
}

/// Saves `number` on the profile page and verifies it with the code texted to it.
async fn verify_number(browser: &Browser, receiver: &SmsReceiver, number: &str) {
    let csrf = browser.csrf("/account").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("action", "submit"),
        ("given_name", "Eve"),
        ("family_name", "Lee"),
        ("phone_number", number),
    ];
    assert!(
        browser
            .post_form("/account", &form)
            .await
            .status()
            .is_redirection()
    );
    let csrf = browser.csrf("/account/phone").await;
    browser
        .post_form("/account/phone/send", &[("csrf", &csrf)])
        .await;
    let message = receiver.next_message(WAIT).await;
    let verified = browser
        .post_form(
            "/account/phone/verify",
            &[("csrf", &csrf), ("code", &message.code)],
        )
        .await;
    assert_eq!(location(&verified), "/account/security?done=phone_verified");
}

#[tokio::test]
async fn a_verified_phone_set_up_for_sign_in_codes_is_a_second_factor() {
    each_backend_with_relay(|app, receiver| async move {
        publish(&app).await;
        let secret = rp::register(&app, ClientSpec::web("web")).await;
        let browser = sign_up(&app, "eve@example.com").await;
        verify_number(&browser, &receiver, "+14155550111").await;

        // The set-up page offers the verified number instead of an app.
        let page = browser.get("/mfa/setup").await.text().await.unwrap();
        assert!(page.contains("/mfa/setup/sms"), "{page}");
        let csrf = hidden_input(&page, "csrf").unwrap();
        let sent = browser
            .post_form("/mfa/setup/sms", &[("csrf", &csrf)])
            .await;
        assert_eq!(sent.status(), 200);
        let message = receiver.next_message(WAIT).await;
        assert_eq!(message.to, "+14155550111");
        let form = [("csrf", csrf.as_str()), ("method", "sms"), ("code", "")];
        let empty = browser.post_form("/mfa/setup", &form).await;
        assert_eq!(empty.status(), 400);
        let form = [
            ("csrf", csrf.as_str()),
            ("method", "sms"),
            ("code", &message.code),
        ];
        let done = browser.post_form("/mfa/setup", &form).await;
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("recovery-codes"));

        // The next sign-in asks for a texted code (a minute later: one code a minute, so the
        // set-up's code is moved into the past rather than waited for).
        accrete_store::testing::execute_sql(
            &app.sql_url(),
            "UPDATE account_tokens SET created_at = created_at - 120000",
        )
        .await;
        let path = rp::authorize_path("web", "openid phone", "");
        let other = app.new_browser();
        let login = location(&other.get(&path).await);
        let tx = login.trim_start_matches("/login?tx=").to_owned();
        let csrf = other.csrf(&login).await;
        let form = [
            ("csrf", csrf.as_str()),
            ("tx", tx.as_str()),
            ("email", "eve@example.com"),
            ("password", PASSWORD),
            ("action", "submit"),
        ];
        let resume = location(&other.post_form("/login", &form).await);
        let target = location(&other.get(&resume).await);
        assert!(target.starts_with("/mfa?tx="), "{target}");
        let page = other.get(&target).await.text().await.unwrap();
        assert!(page.contains("Text a code to +1"), "{page}");
        let csrf = hidden_input(&page, "csrf").unwrap();
        let sent = other
            .post_form("/mfa/sms", &[("csrf", &csrf), ("tx", &tx)])
            .await;
        assert_eq!(sent.status(), 200);
        let message = receiver.next_message(WAIT).await;
        let form = [
            ("csrf", csrf.as_str()),
            ("tx", tx.as_str()),
            ("method", "sms"),
            ("code", &wrong(&message.code)),
        ];
        assert_eq!(other.post_form("/mfa", &form).await.status(), 400);
        let form = [
            ("csrf", csrf.as_str()),
            ("tx", tx.as_str()),
            ("method", "sms"),
            ("code", &message.code),
        ];
        let right = other.post_form("/mfa", &form).await;
        assert_eq!(location(&right), format!("/authorize/resume?tx={tx}"));
        // The session now says which factors it passed (the ID tokens it gives carry them).
        let user = app
            .store
            .find_user_by_email("eve@example.com")
            .await
            .unwrap()
            .unwrap();
        let sessions = app
            .store
            .list_user_sessions(user.id, OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert!(
            sessions
                .iter()
                .any(|s| s.amr == ["pwd", "sms", "mfa"] && s.mfa_at.is_some()),
            "{sessions:?}"
        );
        let _ = secret;
        let events = app.store.list_events(0, 1000).await.unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.kind == EventKind::MfaEnrolled && e.data["factor"] == "sms")
        );
    })
    .await;
}
