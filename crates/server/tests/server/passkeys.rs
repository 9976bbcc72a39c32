//! Passkeys over HTTP with a software authenticator (`SoftPasskey`): registered from the
//! Security section's JSON endpoints, used to sign in with no password, renamed and removed
//! with the section's forms; bad input answered 4xx with a sentence, never a 500; no passkeys on
//! a server whose public URL is an IP address.

use accrete_server::Layer;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, RequestChallengeResponse};

use crate::support::{Browser, TestApp, each_backend, each_backend_with, hidden_input};

/// The relying party of these servers: a domain name (the browser reaches them at their IP
/// address; the origin the authenticator signs is the public URL's).
const PUBLIC_URL: &str = "http://localhost:8443";
const PASSWORD: &str = "correct horse battery staple";

fn file() -> Layer {
    Layer {
        public_url: Some(PUBLIC_URL.into()),
        ..Layer::default()
    }
}

fn origin() -> url::Url {
    url::Url::parse(PUBLIC_URL).unwrap()
}

async fn post_json(browser: &Browser, path: &str, body: &Value) -> (u16, Value) {
    let response = browser
        .client
        .post(browser.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

struct Registered {
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
}

async fn add_passkey(browser: &Browser, authenticator: &mut SoftPasskey, name: &str) -> Registered {
    let csrf = browser.csrf("/account/security").await;
    let (status, started) = post_json(
        browser,
        "/account/security/passkeys/options",
        &json!({ "csrf": csrf }),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let mut options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let user_handle: Vec<u8> = options.public_key.user.id.clone();
    let selection = options.public_key.authenticator_selection.as_mut().unwrap();
    selection.require_resident_key = false;
    selection.resident_key = None;
    let credential = authenticator.do_registration(origin(), options).unwrap();
    let (status, done) = post_json(
        browser,
        "/account/security/passkeys",
        &json!({ "csrf": csrf, "ceremony": started["ceremony"], "name": name, "credential": credential }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["redirect"], "/account/security?done=passkey_added");
    use base64::Engine as _;
    Registered {
        credential_id: base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&credential.id)
            .unwrap(),
        user_handle,
    }
}

/// A sign-in with the passkey from the sign-in page; the finish's status and answer.
async fn passkey_sign_in(
    browser: &Browser,
    authenticator: &mut SoftPasskey,
    key: &Registered,
) -> (u16, Value) {
    let csrf = browser.csrf("/login").await;
    let (status, started) = post_json(
        browser,
        "/passkeys/login/options",
        &json!({ "csrf": csrf, "autofill": false }),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let mut options: RequestChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    options.public_key.allow_credentials = vec![AllowCredentials {
        type_: "public-key".into(),
        id: key.credential_id.clone(),
        transports: None,
    }];
    let mut credential = authenticator.do_authentication(origin(), options).unwrap();
    credential.response.user_handle = Some(key.user_handle.clone());
    post_json(
        browser,
        "/passkeys/login",
        &json!({ "csrf": csrf, "ceremony": started["ceremony"], "credential": credential }),
    )
    .await
}

#[tokio::test]
async fn a_passkey_added_on_the_security_page_signs_in_without_a_password() {
    each_backend_with(&file(), |app: TestApp| async move {
        app.sign_up("pia@example.com", PASSWORD).await;
        let mut authenticator = SoftPasskey::new(true);
        let key = add_passkey(&app, &mut authenticator, "Work laptop").await;
        let page = app.get("/account/security").await.text().await.unwrap();
        assert!(page.contains("Work laptop"), "{page}");
        assert!(page.contains("/assets/passkeys.js"));

        // Another browser, with no session: the passkey alone signs in.
        let other = app.new_browser();
        assert_eq!(other.get("/account").await.status(), 303);
        let (status, done) = passkey_sign_in(&other, &mut authenticator, &key).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["redirect"], "/account");
        assert_eq!(other.get("/account").await.status(), 200);
        let sessions = app
            .store
            .list_user_sessions(
                app.store
                    .find_user_by_email("pia@example.com")
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
                time::OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        assert!(
            sessions.iter().any(|s| s.amr == ["hwk", "user", "mfa"]),
            "{sessions:?}"
        );

        // Renamed, then removed (the sign-in is recent), from the section's forms.
        let page = other.get("/account/security").await.text().await.unwrap();
        let csrf = hidden_input(&page, "csrf").unwrap();
        let marker = "/account/security/passkeys/";
        let start = page.find(marker).unwrap() + marker.len();
        let id = &page[start..start + 36];
        let empty = other
            .post_form(
                &format!("/account/security/passkeys/{id}/rename"),
                &[("csrf", &csrf), ("name", "  ")],
            )
            .await;
        assert_eq!(empty.status(), 400);
        assert!(empty.text().await.unwrap().contains("1 to 64 characters"));
        let renamed = other
            .post_form(
                &format!("/account/security/passkeys/{id}/rename"),
                &[("csrf", &csrf), ("name", "Old laptop")],
            )
            .await;
        assert_eq!(renamed.status(), 303);
        let removed = other
            .post_form(
                &format!("/account/security/passkeys/{id}/remove"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(removed.status(), 303);
        let page = other.get("/account/security").await.text().await.unwrap();
        assert!(!page.contains("Old laptop"));
        let gone = other
            .post_form(
                "/account/security/passkeys/not-an-id/remove",
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(gone.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn bad_passkey_requests_get_a_sentence_and_never_a_server_error() {
    each_backend_with(&file(), |app: TestApp| async move {
        let csrf = app.csrf("/login").await;
        let (status, answer) = post_json(&app, "/passkeys/login/options", &json!({})).await;
        assert_eq!(status, 403, "no CSRF token: {answer}");
        assert!(answer["message"].as_str().unwrap().len() > 10);
        let response = app
            .client
            .post(app.url("/passkeys/login/options"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let (status, answer) = post_json(
            &app,
            "/passkeys/login",
            &json!({ "csrf": csrf, "ceremony": "made-up", "credential": {"id": 1} }),
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"], "expired");
        let (status, started) = post_json(
            &app,
            "/passkeys/login/options",
            &json!({ "csrf": csrf, "autofill": true }),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(started["options"]["mediation"], "conditional");
        let (status, answer) = post_json(
            &app,
            "/passkeys/login",
            &json!({ "csrf": csrf, "ceremony": started["ceremony"], "credential": "garbage" }),
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"], "malformed");
        // Adding one needs a session.
        let (status, answer) = post_json(
            &app,
            "/account/security/passkeys/options",
            &json!({ "csrf": csrf }),
        )
        .await;
        assert_eq!(status, 401, "{answer}");
        let page = app.get("/login").await.text().await.unwrap();
        assert!(page.contains("Sign in with a passkey"));
        assert!(page.contains("username webauthn"));
    })
    .await;
}

#[tokio::test]
async fn a_server_on_an_ip_address_offers_no_passkeys() {
    each_backend(|app: TestApp| async move {
        let page = app.get("/login").await.text().await.unwrap();
        assert!(!page.contains("Sign in with a passkey"));
        let csrf = hidden_input(&page, "csrf").unwrap();
        let (status, answer) =
            post_json(&app, "/passkeys/login/options", &json!({ "csrf": csrf })).await;
        assert_eq!(status, 404, "{answer}");
        assert_eq!(answer["error"], "unavailable");
        let script = app.get("/assets/passkeys.js").await;
        assert_eq!(script.status(), 200);
        assert!(
            script.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
    })
    .await;
}

/// The signed-in user's second factor with their passkey on `/mfa`: the finish's status and
/// answer.
async fn passkey_second_factor(browser: &Browser, authenticator: &mut SoftPasskey) -> (u16, Value) {
    let page = browser.get("/mfa").await.text().await.unwrap();
    assert!(page.contains("Use my passkey"), "{page}");
    let csrf = hidden_input(&page, "csrf").unwrap();
    let (status, started) =
        post_json(browser, "/mfa/passkey/options", &json!({ "csrf": csrf })).await;
    assert_eq!(status, 200, "{started}");
    let options: RequestChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    // Only this user's passkeys are allowed.
    assert_eq!(options.public_key.allow_credentials.len(), 1);
    let credential = authenticator.do_authentication(origin(), options).unwrap();
    post_json(
        browser,
        "/mfa/passkey",
        &json!({ "csrf": csrf, "ceremony": started["ceremony"], "credential": credential }),
    )
    .await
}

#[tokio::test]
async fn a_passkey_is_the_second_factor_after_a_password_until_an_administrator_resets_it() {
    each_backend_with(&file(), |app: TestApp| async move {
        app.sign_up("pia@example.com", PASSWORD).await;
        let mut authenticator = SoftPasskey::new(true);
        add_passkey(&app, &mut authenticator, "Work laptop").await;
        let pia = app
            .store
            .find_user_by_email("pia@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pia.mfa_factors, 1);

        // Her password alone is not enough any more: the passkey is asked next.
        let other = app.new_browser();
        let signed_in = other.sign_in("pia@example.com", PASSWORD).await;
        assert_eq!(crate::rp::location(&signed_in), "/mfa");
        assert_eq!(crate::rp::location(&other.get("/account").await), "/mfa");

        // Someone else's passkey does not pass for hers.
        let stranger = app.new_browser();
        stranger.sign_up("max@example.com", PASSWORD).await;
        let mut theirs = SoftPasskey::new(true);
        add_passkey(&stranger, &mut theirs, "Max's key").await;
        let page = other.get("/mfa").await.text().await.unwrap();
        let csrf = hidden_input(&page, "csrf").unwrap();
        let (_, started) =
            post_json(&other, "/mfa/passkey/options", &json!({ "csrf": csrf })).await;
        let mut options: RequestChallengeResponse =
            serde_json::from_value(started["options"].clone()).unwrap();
        options.public_key.allow_credentials = vec![];
        let wrong = theirs.do_authentication(origin(), options);
        if let Ok(credential) = wrong {
            let (status, refused) = post_json(
                &other,
                "/mfa/passkey",
                &json!({ "csrf": csrf, "ceremony": started["ceremony"], "credential": credential }),
            )
            .await;
            assert_eq!(status, 401, "{refused}");
            assert!(
                refused["message"]
                    .as_str()
                    .unwrap()
                    .contains("not registered")
            );
        }

        let (status, done) = passkey_second_factor(&other, &mut authenticator).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["redirect"], "/account");
        assert_eq!(other.get("/account").await.status(), 200);
        let sessions = app
            .store
            .list_user_sessions(pia.id, time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert!(
            sessions.iter().any(|s| s.amr == ["pwd", "hwk", "mfa"]),
            "{sessions:?}"
        );

        // An administrator's reset takes the passkey away too (she has a password). (The API's
        // answer is tested in mfa.rs; these servers' issuer is not the API tests'.)
        let reset = accrete_store::NewEvent {
            kind: accrete_store::EventKind::MfaReset,
            user_id: pia.id,
            step: None,
            client_id: None,
            at: time::OffsetDateTime::now_utc(),
            logins: None,
            data: json!({ "by": "test" }),
        };
        assert_eq!(app.store.reset_factors(pia.id, reset).await.unwrap(), 1);
        let fresh = app.new_browser();
        let signed_in = fresh.sign_in("pia@example.com", PASSWORD).await;
        assert_eq!(crate::rp::location(&signed_in), "/account");
    })
    .await;
}
