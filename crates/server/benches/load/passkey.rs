//! `LOAD_ONLY=passkey`: server CPU per sign-in with a passkey. A server whose public URL is
//! `http://localhost:PORT` (passkeys need a domain name); one user signs up and registers a
//! passkey of webauthn-authenticator-rs's `SoftPasskey` (in this process: the authenticator's
//! signing is not counted); each measured operation is what a browser does on the sign-in page:
//! `GET /login`, `POST /passkeys/login/options`, the authenticator's assertion, `POST
//! /passkeys/login` (webauthn-rs's verification, the counter stored, the sign-in counted, the
//! session started).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};

use super::{PASSWORD, ServerProcess, boot_with, browser, cpu_ms, hidden, page};

fn base64url(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// The passkey the measured sign-ins use: the authenticator, the credential and its owner's
/// user handle.
struct Key {
    authenticator: Mutex<SoftPasskey>,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    origin: url::Url,
}

impl Key {
    fn assert(&self, options: &Value) -> Value {
        let mut options: RequestChallengeResponse =
            serde_json::from_value(options.clone()).unwrap();
        // SoftPasskey keeps no resident keys: name the credential and give back the user
        // handle a discoverable credential would.
        options.public_key.allow_credentials = vec![AllowCredentials {
            type_: "public-key".into(),
            id: self.credential_id.clone(),
            transports: None,
        }];
        let mut credential = self
            .authenticator
            .lock()
            .unwrap()
            .do_authentication(self.origin.clone(), options)
            .unwrap();
        credential.response.user_handle = Some(self.user_handle.clone());
        serde_json::to_value(&credential).unwrap()
    }
}

/// Signs a user up and registers a passkey for them.
async fn register(base: &str, origin: &url::Url) -> Key {
    let client = browser();
    let csrf = hidden(&page(&client, &format!("{base}/signup")).await, "csrf");
    let status = client
        .post(format!("{base}/signup"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "passkey@example.com"),
            ("password", PASSWORD),
            ("action", "submit"),
        ])
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_redirection(), "sign-up: {status}");
    let started: Value = client
        .post(format!("{base}/account/security/passkeys/options"))
        .json(&json!({ "csrf": csrf }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let user_handle = options.public_key.user.id.clone();
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.require_resident_key = false;
        selection.resident_key = None;
    }
    let mut authenticator = SoftPasskey::new(true);
    let credential: RegisterPublicKeyCredential = authenticator
        .do_registration(origin.clone(), options)
        .unwrap();
    let added = client
        .post(format!("{base}/account/security/passkeys"))
        .json(&json!({
            "csrf": csrf,
            "ceremony": started["ceremony"],
            "name": "Load",
            "credential": credential,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200, "{}", added.text().await.unwrap());
    Key {
        authenticator: Mutex::new(authenticator),
        credential_id: base64url(&credential.id),
        user_handle,
        origin: origin.clone(),
    }
}

/// One sign-in with the passkey by a new browser, as the sign-in page's script does it.
async fn sign_in(base: &str, key: &Key) {
    let client = browser();
    let csrf = hidden(&page(&client, &format!("{base}/login")).await, "csrf");
    let started: Value = client
        .post(format!("{base}/passkeys/login/options"))
        .json(&json!({ "csrf": csrf, "autofill": false }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credential = key.assert(&started["options"]);
    let done = client
        .post(format!("{base}/passkeys/login"))
        .json(&json!({ "csrf": csrf, "ceremony": started["ceremony"], "credential": credential }))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
}

pub(super) async fn passkey_phase(scale: usize) {
    let server: ServerProcess = boot_with(&[("ACCRETE_TEST_LOAD_LOCALHOST", "1")]);
    let pid = server.child.id();
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let base = format!("http://localhost:{port}");
    let origin = url::Url::parse(&base).unwrap();
    let key = Arc::new(register(&base, &origin).await);
    for _ in 0..5 {
        sign_in(&base, &key).await;
    }
    // One at a time: the authenticator's counter orders the assertions, and the server stores
    // each only over the counter it checked.
    let n = 200 * scale;
    let before = cpu_ms(pid);
    for _ in 0..n {
        sign_in(&base, &key).await;
    }
    let per = (cpu_ms(pid) - before) / n as f64;
    println!(
        "passkey sign-in (GET form + options + assertion, ES256, SQLite unless LOAD_DATABASE): {per:.3} ms CPU (n = {n})"
    );
}
