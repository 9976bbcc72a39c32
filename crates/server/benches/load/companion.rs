//! `LOAD_ONLY=companion`: the check call of companion mode (docs/companion.md), which an
//! identity provider makes at every sign-in of every user (target: at most 0.3 ms of server
//! CPU). The example policy is published; a companion `auth0` with its client is configured.
//! Two cases: a user Accrete has never met (one read, the decision), and a user it keeps (the
//! user, its prompt history and value dates read, the decision).

use std::sync::Arc;

use accrete_store::{CompanionStart, Location, NewAuthTransaction, ProfileChange};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::{bench_client, boot_with, browser, by_thread, measure, threads_cpu_ns};

/// The companion's client (and its secret: `<id>-secret`).
const CLIENT: &str = "auth0-companion";

/// The `[[companions]]` of the measured server.
pub(super) fn companions() -> Vec<accrete_app::companion::CompanionSpec> {
    serde_json::from_value(json!([{
        "name": "auth0",
        "issuer": "tenant.example.auth0.com",
        "secret": "a shared secret of at least thirty-two characters",
        "client": CLIENT,
    }]))
    .unwrap()
}

/// The companion's client, and a user kept for `auth0|known` (called by the server child
/// before it serves).
pub(super) async fn seed(store: &Arc<dyn accrete_store::Store>) {
    let now = OffsetDateTime::now_utc();
    store
        .create_client(bench_client(
            CLIENT,
            &["client_credentials"],
            &["companion:check"],
        ))
        .await
        .unwrap();
    store
        .start_companion(CompanionStart {
            companion: "auth0".into(),
            subject: "auth0|known".into(),
            jti: "seed".into(),
            token_expires_at: now + Duration::minutes(10),
            email: "known@example.com".into(),
            email_verified: true,
            logins: 7,
            changes: vec![ProfileChange::set(
                Location::Profile,
                "given_name",
                json!("Ada"),
            )],
            source: "companion:auth0".into(),
            transaction: NewAuthTransaction {
                client_id: CLIENT.into(),
                request: json!({ "companion": "auth0" }),
                state: json!({}),
                now,
                expires_at: now + Duration::minutes(30),
            },
            session_hash: None,
            now,
        })
        .await
        .unwrap();
}

pub(super) async fn companion_phase(scale: usize) {
    let server = boot_with(&[
        ("ACCRETE_TEST_LOAD_POLICY", "1"),
        ("ACCRETE_TEST_LOAD_COMPANION", "1"),
    ]);
    let (pid, base) = (server.child.id(), server.base.clone());
    let http = browser();
    let token: serde_json::Value = http
        .post(format!("{base}/token"))
        .basic_auth(CLIENT, Some(format!("{CLIENT}-secret")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "companion:check"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let n = 3000 * scale;
    for (case, subject) in [
        ("a user never met", "auth0|new"),
        ("a user kept by Accrete", "auth0|known"),
    ] {
        let check = {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            move |_| {
                let (http, base, token) = (http.clone(), base.clone(), token.clone());
                async move {
                    let body = json!({
                        "user_id": subject, "email": "ada@example.com", "email_verified": true,
                        "client_id": "shop", "logins_count": 7,
                        "user_metadata": { "company": "Acme" }, "app_metadata": {},
                        "profile": { "given_name": "Ada" },
                    });
                    let response = http
                        .post(format!("{base}/api/v1/companion/auth0/check"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    let _ = response.bytes().await;
                }
            }
        };
        measure(pid, 300, 4, check.clone()).await; // warm-up
        let threads = threads_cpu_ns(pid);
        let ms = measure(pid, n, 4, check).await;
        println!("companion check call, {case}: {ms:.3} ms CPU per call (n = {n}; target 0.3)");
        println!("{}", by_thread(pid, &threads, n));
    }
}
