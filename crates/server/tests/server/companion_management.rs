//! Companion mode's write-back through Auth0's Management API, on both backends: a visit that
//! answers a root attribute (`given_name`) records a write, and the writer sends it to a
//! stand-in of Auth0 on 127.0.0.1 that follows Auth0's documented API (`POST /oauth/token` with
//! the client credentials grant and the Management API's audience; `PATCH /api/v2/users/{id}`
//! with the bearer token, a JSON body of root attributes, Auth0's error bodies). The writer is
//! driven one pass at a time with the time given, so retries come due without waiting.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accrete_app::companion::Companions;
use accrete_app::companion::management::ManagementWriter;
use accrete_app::webhooks::WebhookSettings;
use accrete_server::Layer;
use accrete_server::config::WebhooksLayer;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api_client::{Api, admin, ensure_client};
use crate::companion::{
    SECRET, TENANT, hs256, post_prompt, publish as publish_work, returned, start_claims,
    start_path, visit,
};
use crate::support::{TestApp, each_backend_with};

const M2M_ID: &str = "m2m-accrete";
const M2M_SECRET: &str = "the machine-to-machine secret of the tenant";

/// A request the stand-in got.
#[derive(Debug, Clone)]
struct Call {
    /// `token` or `patch`.
    kind: &'static str,
    /// The path as sent (still percent-encoded).
    raw_path: String,
    /// `PATCH`: the user id, decoded; the bearer token.
    user_id: String,
    bearer: String,
    body: Value,
    answered: u16,
}

/// A scripted answer of `PATCH` (then 200s).
#[derive(Debug, Clone)]
enum Reply {
    Status(u16, Value),
    RateLimited { reset: i64 },
}

#[derive(Default)]
struct Tenant {
    calls: Vec<Call>,
    /// Tokens issued and not revoked.
    valid: Vec<String>,
    issued: usize,
    script: VecDeque<Reply>,
}

/// Auth0 as its Management API documents it, for one tenant.
struct Auth0 {
    base: String,
    tenant: Arc<Mutex<Tenant>>,
    patched: Arc<tokio::sync::Notify>,
}

/// Auth0's error body.
fn auth0_error(status: u16, message: &str, code: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let body = json!({
        "statusCode": status.as_u16(), "error": status.canonical_reason().unwrap_or(""),
        "message": message, "errorCode": code,
    });
    (status, axum::Json(body)).into_response()
}

impl Auth0 {
    async fn start() -> Auth0 {
        let tenant: Arc<Mutex<Tenant>> = Arc::default();
        let patched = Arc::new(tokio::sync::Notify::new());
        let state = tenant.clone();
        let token = axum::routing::post(move |headers: HeaderMap, uri: Uri, body: String| {
            let tenant = state.clone();
            async move {
                let json = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/json"));
                let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let mut tenant = tenant.lock().unwrap();
                let (status, answer) = if !json {
                    (400, json!({ "error": "invalid_request" }))
                } else if request["grant_type"] != "client_credentials" {
                    (400, json!({ "error": "unsupported_grant_type" }))
                } else if request["client_id"] != M2M_ID || request["client_secret"] != M2M_SECRET {
                    (
                        401,
                        json!({ "error": "access_denied", "error_description": "Unauthorized" }),
                    )
                } else if request["audience"] != format!("https://{TENANT}/api/v2/") {
                    let audience = request["audience"].as_str().unwrap_or_default();
                    (
                        403,
                        json!({ "error": "access_denied",
                            "error_description": format!("Service not found: {audience}") }),
                    )
                } else {
                    tenant.issued += 1;
                    let token = format!("mgmt-token-{}", tenant.issued);
                    tenant.valid.push(token.clone());
                    (
                        200,
                        json!({ "access_token": token, "token_type": "Bearer",
                            "expires_in": 86400, "scope": "update:users" }),
                    )
                };
                tenant.calls.push(Call {
                    kind: "token",
                    raw_path: uri.path().to_owned(),
                    user_id: String::new(),
                    bearer: String::new(),
                    body: request,
                    answered: status,
                });
                (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response()
            }
        });
        let (state, notify) = (tenant.clone(), patched.clone());
        let patch = axum::routing::patch(
            move |axum::extract::Path(id): axum::extract::Path<String>,
                  headers: HeaderMap,
                  uri: Uri,
                  body: String| {
                let (tenant, notify) = (state.clone(), notify.clone());
                async move {
                    let bearer = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .unwrap_or_default()
                        .to_owned();
                    let json = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.starts_with("application/json"));
                    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    let mut tenant = tenant.lock().unwrap();
                    let root = [
                        "given_name",
                        "family_name",
                        "name",
                        "nickname",
                        "picture",
                        "user_metadata",
                        "app_metadata",
                    ];
                    let response = if !tenant.valid.contains(&bearer) {
                        auth0_error(401, "Invalid token", "invalid_token")
                    } else if !json || !request.is_object() {
                        auth0_error(
                            400,
                            "Payload validation error: 'Expected type object'.",
                            "invalid_body",
                        )
                    } else if let Some(extra) = request
                        .as_object()
                        .unwrap()
                        .keys()
                        .find(|k| !root.contains(&k.as_str()))
                    {
                        let message = format!(
                            "Payload validation error: 'Additional properties not allowed: {extra}'."
                        );
                        auth0_error(400, &message, "invalid_body")
                    } else {
                        match tenant.script.pop_front() {
                            Some(Reply::Status(status, answer)) => {
                                (StatusCode::from_u16(status).unwrap(), axum::Json(answer))
                                    .into_response()
                            }
                            Some(Reply::RateLimited { reset }) => {
                                let mut response = auth0_error(
                                    429,
                                    "Global limit has been reached",
                                    "too_many_requests",
                                );
                                let headers = response.headers_mut();
                                headers.insert("x-ratelimit-limit", "10".parse().unwrap());
                                headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
                                headers.insert("x-ratelimit-reset", reset.into());
                                response
                            }
                            None => {
                                let mut user = request.clone();
                                user["user_id"] = json!(id);
                                (StatusCode::OK, axum::Json(user)).into_response()
                            }
                        }
                    };
                    tenant.calls.push(Call {
                        kind: "patch",
                        raw_path: uri.path().to_owned(),
                        user_id: id,
                        bearer,
                        body: request,
                        answered: response.status().as_u16(),
                    });
                    notify.notify_one();
                    response
                }
            },
        );
        let router = axum::Router::new()
            .route("/oauth/token", token)
            .route("/api/v2/users/{id}", patch);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Auth0 {
            base: format!("http://{addr}"),
            tenant,
            patched,
        }
    }

    fn reset(&self) {
        *self.tenant.lock().unwrap() = Tenant::default();
    }

    fn script(&self, replies: &[Reply]) {
        self.tenant
            .lock()
            .unwrap()
            .script
            .extend(replies.iter().cloned());
    }

    /// Revokes every token issued (as an administrator rotating the signing key would).
    fn revoke_tokens(&self) {
        self.tenant.lock().unwrap().valid.clear();
    }

    fn calls(&self, kind: &str) -> Vec<Call> {
        self.tenant
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.kind == kind)
            .cloned()
            .collect()
    }

    /// Waits (ten seconds at most) until `n` PATCH requests arrived.
    async fn patches(&self, n: usize) -> Vec<Call> {
        let wait = async {
            loop {
                let notified = self.patched.notified();
                let calls = self.calls("patch");
                if calls.len() >= n {
                    return calls;
                }
                notified.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .expect("the stand-in got the PATCH requests within ten seconds")
    }
}

/// The `auth0` companion writing through the stand-in's Management API; loopback over plain
/// http allowed; the server's own writer running only when `deliver`.
fn with_management(base_url: &str, deliver: bool) -> Layer {
    Layer {
        webhooks: Some(WebhooksLayer {
            allow_private: Some(true),
            allow_http: Some(true),
            deliver: Some(deliver),
            ..WebhooksLayer::default()
        }),
        companions: Some(
            serde_json::from_value(json!([{
                "name": "auth0",
                "issuer": TENANT,
                "secret": SECRET,
                "client": "auth0-companion",
                "management": {
                    "client_id": M2M_ID,
                    "client_secret": M2M_SECRET,
                    "base_url": base_url,
                },
            }]))
            .unwrap(),
        ),
        ..Layer::default()
    }
}

/// A writer of the server's store with the companions of `layer` (what `accrete serve` runs,
/// here driven one pass at a time).
fn writer(app: &TestApp, layer: &Layer) -> ManagementWriter {
    let settings = WebhookSettings {
        allow_private: true,
        allow_http: true,
        ..WebhookSettings::default()
    };
    let companions = Companions::new(layer.companions.clone().unwrap(), &settings).unwrap();
    ManagementWriter::new(app.store.clone(), Arc::new(companions))
}

/// The first name (a root attribute) and the company (`user_metadata`), asked at sign-in.
async fn publish_names(api: &Api<'_>) {
    let policy = r#"
version = 1
[[fields]]
key = "given_name"
kind = "text"
labels = { en = "First name" }
storage = { profile = { claim = "given_name" } }
[[fields]]
key = "company"
kind = "text"
labels = { en = "Company" }
[[steps]]
id = "about"
title = { en = "About you" }
fields = ["given_name", "company"]
mode = { optional = { reask_after_logins = 2 } }
trigger = { moments = ["login"] }
"#;
    let document =
        serde_json::to_value(accrete_core::Policy::from_toml_str(policy).unwrap()).unwrap();
    api.publish(&document).await;
}

/// A visit of Auth0's user `sub` answering `answers`; the claims of the answers token.
async fn visit_answering(app: &TestApp, sub: &str, jti: &str, answers: &[(&str, &str)]) -> Value {
    let browser = app.new_browser();
    let claims = start_claims(app, sub, jti, json!({ "logins_count": 2 }));
    let (page, _, html) = visit(
        &browser,
        &start_path(&hs256(&claims, SECRET), "auth0-state-1"),
    )
    .await;
    assert!(page.starts_with("/prompt?tx="), "{page}: {html}");
    let (_, status, html) = post_prompt(&browser, &html, "submit", answers).await;
    assert_eq!(status, 200, "{html}");
    returned(&html).1
}

#[tokio::test]
async fn an_answered_first_name_is_written_to_the_auth0_user_with_one_token_for_two_writes() {
    let auth0 = Auth0::start().await;
    let layer = with_management(&auth0.base, false);
    each_backend_with(&layer, |app| {
        let (auth0, layer) = (&auth0, &layer);
        async move {
            auth0.reset();
            let (_, api) = admin(&app).await;
            publish_names(&api).await;
            ensure_client(&app, "auth0-companion", &[]).await;

            let claims = visit_answering(
                &app,
                "auth0|65f0a1",
                "w-1",
                &[("given_name", "Ada"), ("company", "Acme")],
            )
            .await;
            // The Action still gets every answer; the root attribute is also kept to be written.
            assert_eq!(claims["profile"], json!({ "given_name": "Ada" }));
            assert_eq!(claims["user_metadata"], json!({ "company": "Acme" }));
            let pending = app.store.list_companion_writes(10).await.unwrap();
            assert_eq!(pending.len(), 1, "{pending:?}");
            assert_eq!(pending[0].subject, "auth0|65f0a1");
            assert_eq!(pending[0].fields, vec!["given_name"]);
            assert!(
                auth0.calls("patch").is_empty(),
                "the writer sends, not the visit"
            );

            let writer = writer(&app, layer);
            let now = OffsetDateTime::now_utc();
            let pass = writer.deliver_due(now).await.unwrap();
            assert_eq!((pass.leased, pass.written), (1, 1), "{pass:?}");
            let tokens = auth0.calls("token");
            assert_eq!(tokens.len(), 1);
            assert_eq!(tokens[0].answered, 200, "{tokens:?}");
            assert_eq!(tokens[0].body["grant_type"], "client_credentials");
            let patches = auth0.calls("patch");
            assert_eq!(patches.len(), 1);
            assert_eq!(patches[0].raw_path, "/api/v2/users/auth0%7C65f0a1");
            assert_eq!(patches[0].user_id, "auth0|65f0a1");
            assert_eq!(patches[0].body, json!({ "given_name": "Ada" }));
            assert_eq!(patches[0].answered, 200);
            assert!(
                app.store
                    .list_companion_writes(10)
                    .await
                    .unwrap()
                    .is_empty()
            );

            // Another user's answer: the same token.
            visit_answering(
                &app,
                "auth0|77b2",
                "w-2",
                &[("given_name", "Grace"), ("company", "Acme")],
            )
            .await;
            let pass = writer.deliver_due(OffsetDateTime::now_utc()).await.unwrap();
            assert_eq!(pass.written, 1, "{pass:?}");
            let patches = auth0.calls("patch");
            assert_eq!(patches.len(), 2);
            assert_eq!(patches[1].raw_path, "/api/v2/users/auth0%7C77b2");
            assert_eq!(patches[1].body, json!({ "given_name": "Grace" }));
            assert_eq!(patches[1].bearer, patches[0].bearer, "the token is kept");
            assert_eq!(auth0.calls("token").len(), 1);
            // Nothing is left: a pass later sends nothing more.
            let later = writer
                .deliver_due(now + time::Duration::days(2))
                .await
                .unwrap();
            assert_eq!(later.leased, 0);
            assert_eq!(auth0.calls("patch").len(), 2);
        }
    })
    .await;
}

#[tokio::test]
async fn a_failed_write_is_sent_again_when_due_and_a_refused_one_is_given_up() {
    let auth0 = Auth0::start().await;
    let layer = with_management(&auth0.base, false);
    each_backend_with(&layer, |app| {
        let (auth0, layer) = (&auth0, &layer);
        async move {
            auth0.reset();
            let (_, api) = admin(&app).await;
            publish_names(&api).await;
            ensure_client(&app, "auth0-companion", &[]).await;
            let writer = writer(&app, layer);

            // 500 then 200: tried again once due, not before.
            auth0.script(&[Reply::Status(
                500,
                json!({ "statusCode": 500, "error": "Internal Server Error", "message": "" }),
            )]);
            visit_answering(&app, "auth0|500", "f-1", &[("given_name", "Ada"), ("company", "Acme")]).await;
            let now = OffsetDateTime::now_utc();
            let pass = writer.deliver_due(now).await.unwrap();
            assert_eq!((pass.written, pass.retried), (0, 1), "{pass:?}");
            let pending = app.store.list_companion_writes(10).await.unwrap();
            assert_eq!(pending[0].attempts, 1);
            assert!(
                pending[0].last_error.as_deref().unwrap().contains("answered 500"),
                "{pending:?}"
            );
            assert!(pending[0].next_attempt_at > now);
            assert_eq!(writer.deliver_due(now).await.unwrap().leased, 0, "not due yet");
            assert_eq!(auth0.calls("patch").len(), 1);
            let due = now + time::Duration::minutes(2);
            let pass = writer.deliver_due(due).await.unwrap();
            assert_eq!(pass.written, 1, "{pass:?}");
            let patches = auth0.calls("patch");
            assert_eq!(patches.len(), 2);
            assert_eq!(patches[1].body, json!({ "given_name": "Ada" }));
            assert!(app.store.list_companion_writes(10).await.unwrap().is_empty());

            // 400: refused for good, with Auth0's message (not the value), never sent again.
            auth0.script(&[Reply::Status(
                400,
                json!({ "statusCode": 400, "error": "Bad Request", "errorCode": "operation_not_supported",
                    "message": "The following user attributes cannot be updated: given_name (Zelda). The connection (google-oauth2) must either be a custom database connection with import mode disabled, or a non-custom database connection with sync enabled." }),
            )]);
            visit_answering(&app, "google-oauth2|400", "f-2", &[("given_name", "Zelda"), ("company", "Acme")]).await;
            let now = OffsetDateTime::now_utc();
            let pass = writer.deliver_due(now).await.unwrap();
            assert_eq!(pass.given_up.len(), 1, "{pass:?}");
            let why = &pass.given_up[0];
            assert!(why.contains("answered 400"), "{why}");
            assert!(why.contains("cannot be updated: given_name"), "{why}");
            assert!(why.contains("operation_not_supported"), "{why}");
            assert!(!why.contains("Zelda"), "no values in the log: {why}");
            assert!(app.store.list_companion_writes(10).await.unwrap().is_empty());
            let later = writer
                .deliver_due(now + time::Duration::days(2))
                .await
                .unwrap();
            assert_eq!(later.leased, 0);
            assert_eq!(auth0.calls("patch").len(), 3, "not retried");

            // A user deleted before the write goes: nothing is sent (the write went with them).
            visit_answering(&app, "auth0|gone", "f-3", &[("given_name", "Gone"), ("company", "Acme")]).await;
            assert_eq!(app.store.list_companion_writes(10).await.unwrap().len(), 1);
            let user = app
                .store
                .companion_user("auth0", "auth0|gone")
                .await
                .unwrap()
                .unwrap();
            app.store.delete_user(user.id).await.unwrap();
            assert!(app.store.list_companion_writes(10).await.unwrap().is_empty());
            let now = OffsetDateTime::now_utc();
            assert_eq!(writer.deliver_due(now).await.unwrap().leased, 0);
            assert_eq!(auth0.calls("patch").len(), 3);
        }
    })
    .await;
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once_and_a_rate_limit_is_waited_out() {
    let auth0 = Auth0::start().await;
    let layer = with_management(&auth0.base, false);
    each_backend_with(&layer, |app| {
        let (auth0, layer) = (&auth0, &layer);
        async move {
            auth0.reset();
            let (_, api) = admin(&app).await;
            publish_names(&api).await;
            ensure_client(&app, "auth0-companion", &[]).await;
            let writer = writer(&app, layer);
            visit_answering(
                &app,
                "auth0|r1",
                "t-1",
                &[("given_name", "Ada"), ("company", "Acme")],
            )
            .await;
            let now = OffsetDateTime::now_utc();
            assert_eq!(writer.deliver_due(now).await.unwrap().written, 1);

            // The kept token is refused: a fresh one, once, and the write goes through.
            auth0.revoke_tokens();
            visit_answering(
                &app,
                "auth0|r2",
                "t-2",
                &[("given_name", "Bea"), ("company", "Acme")],
            )
            .await;
            let now = OffsetDateTime::now_utc();
            let pass = writer.deliver_due(now).await.unwrap();
            assert_eq!(pass.written, 1, "{pass:?}");
            let patches = auth0.calls("patch");
            assert_eq!(
                patches.iter().map(|c| c.answered).collect::<Vec<_>>(),
                [200, 401, 200]
            );
            assert_ne!(patches[2].bearer, patches[1].bearer);
            assert_eq!(auth0.calls("token").len(), 2);

            // 429: not sent again before X-RateLimit-Reset.
            visit_answering(
                &app,
                "auth0|r3",
                "t-3",
                &[("given_name", "Cy"), ("company", "Acme")],
            )
            .await;
            let now = OffsetDateTime::now_utc();
            let reset = now + time::Duration::seconds(40);
            auth0.script(&[Reply::RateLimited {
                reset: reset.unix_timestamp(),
            }]);
            assert_eq!(writer.deliver_due(now).await.unwrap().retried, 1);
            let early = now + time::Duration::seconds(20);
            assert_eq!(writer.deliver_due(early).await.unwrap().leased, 0);
            let pass = writer.deliver_due(reset).await.unwrap();
            assert_eq!(pass.written, 1, "{pass:?}");
            let last = auth0.calls("patch").pop().unwrap();
            assert_eq!(last.body, json!({ "given_name": "Cy" }));
        }
    })
    .await;
}

#[tokio::test]
async fn the_servers_own_writer_sends_a_visits_write() {
    let auth0 = Auth0::start().await;
    let layer = with_management(&auth0.base, true);
    each_backend_with(&layer, |app| {
        let auth0 = &auth0;
        async move {
            auth0.reset();
            let (_, api) = admin(&app).await;
            publish_names(&api).await;
            ensure_client(&app, "auth0-companion", &[]).await;
            visit_answering(
                &app,
                "auth0|bg",
                "b-1",
                &[("given_name", "Ada"), ("company", "Acme")],
            )
            .await;
            let patches = auth0.patches(1).await;
            assert_eq!(patches[0].user_id, "auth0|bg");
            assert_eq!(patches[0].body, json!({ "given_name": "Ada" }));
        }
    })
    .await;
}

#[tokio::test]
async fn nothing_is_recorded_without_management_or_without_a_root_attribute_answered() {
    // No `management`: an answered first name is in the answers token only.
    each_backend_with(&crate::companion::with_companion(), |app| async move {
        let (_, api) = admin(&app).await;
        publish_names(&api).await;
        ensure_client(&app, "auth0-companion", &[]).await;
        let claims = visit_answering(
            &app,
            "auth0|plain",
            "n-1",
            &[("given_name", "Ada"), ("company", "Acme")],
        )
        .await;
        assert_eq!(claims["profile"], json!({ "given_name": "Ada" }));
        assert!(
            app.store
                .list_companion_writes(10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
    // `management`, but only `user_metadata` answered: the Action writes it, nothing is kept.
    let auth0 = Auth0::start().await;
    let layer = with_management(&auth0.base, false);
    each_backend_with(&layer, |app| async move {
        let (_, api) = admin(&app).await;
        publish_work(&api).await;
        ensure_client(&app, "auth0-companion", &[]).await;
        let claims = visit_answering(&app, "auth0|meta", "n-2", &[("company", "Acme")]).await;
        assert_eq!(claims["user_metadata"], json!({ "company": "Acme" }));
        assert!(
            app.store
                .list_companion_writes(10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}
