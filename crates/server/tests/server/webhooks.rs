//! Webhooks end to end, on both backends: endpoints managed through the API, events written
//! with the change they report, delivered to a real HTTP receiver on 127.0.0.1 in the Standard
//! Webhooks format (signatures checked here with the `hmac` crate, independently of the
//! server's code), retried after a failure.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accrete_server::Layer;
use accrete_server::config::WebhooksLayer;
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::api_client::{Api, admin, ensure_client, problem};
use crate::support::{each_backend, each_backend_with};

/// A request the receiver got.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) id: String,
    pub(crate) timestamp: String,
    pub(crate) signature: String,
    pub(crate) body: Vec<u8>,
    pub(crate) answered: u16,
}

impl Received {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on 127.0.0.1: answers each request with the next scripted status (200
/// once the script is done) and hands the request to the test.
pub(crate) struct Receiver {
    pub(crate) url: String,
    requests: mpsc::UnboundedReceiver<Received>,
}

impl Receiver {
    pub(crate) async fn start(script: &[u16]) -> Receiver {
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (sender, requests) = mpsc::unbounded_channel();
        let route = axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let script = script.clone();
            let sender = sender.clone();
            async move {
                let status = script.lock().unwrap().pop_front().unwrap_or(200);
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let _ = sender.send(Received {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signature: header("webhook-signature"),
                    body: body.to_vec(),
                    answered: status,
                });
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, axum::Router::new().route("/hook", route))
                .await
                .unwrap();
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            requests,
        }
    }

    /// The next request, within ten seconds.
    pub(crate) async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.requests.recv())
            .await
            .expect("the receiver got no request within ten seconds")
            .unwrap()
    }
}

/// Whether `signature` (`v1,<b64> v1,<b64>`) holds a valid signature of the request under
/// `secret`, computed here as the Standard Webhooks specification says.
pub(crate) fn signed_with(request: &Received, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", request.id, request.timestamp).as_bytes());
    mac.update(&request.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    request.signature.split(' ').any(|s| s == expected)
}

/// Loopback receivers over plain http allowed; quick retries.
pub(crate) fn loopback() -> Layer {
    Layer {
        webhooks: Some(WebhooksLayer {
            allow_private: Some(true),
            allow_http: Some(true),
            first_retry_ms: Some(50),
            poll_interval_ms: Some(20),
            ..WebhooksLayer::default()
        }),
        ..Layer::default()
    }
}

async fn create_endpoint(api: &Api<'_>, url: &str, events: &[&str]) -> Value {
    let created = api
        .post("/webhooks", &json!({"url": url, "events": events}))
        .await;
    assert_eq!(created.status(), 201);
    created.json().await.unwrap()
}

/// The endpoint's deliveries once the first one is no longer pending (polled, for at most ten
/// seconds).
async fn settled_deliveries(api: &Api<'_>, id: &str) -> Value {
    for _ in 0..500 {
        let list: Value = api
            .get(&format!("/webhooks/{id}/deliveries"))
            .await
            .json()
            .await
            .unwrap();
        if list["items"][0]["status"]
            .as_str()
            .is_some_and(|s| s != "pending")
        {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the delivery was still pending after ten seconds");
}

/// Waits (ten seconds at most) until the endpoint has `n` deliveries, every one delivered.
async fn all_delivered(api: &Api<'_>, id: &str, n: usize) {
    for _ in 0..500 {
        let list: Value = api
            .get(&format!("/webhooks/{id}/deliveries"))
            .await
            .json()
            .await
            .unwrap();
        let items = list["items"].as_array().unwrap();
        if items.len() == n && items.iter().all(|d| d["status"] == "delivered") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the deliveries were not all delivered after ten seconds");
}

#[tokio::test]
async fn a_sign_up_reaches_the_receiver_as_user_created_signed_with_the_endpoints_secret() {
    each_backend_with(&loopback(), |app| async move {
        let (_tokens, api) = admin(&app).await;
        let mut receiver = Receiver::start(&[]).await;
        let endpoint = create_endpoint(&api, &receiver.url, &["user.created"]).await;
        let secret = endpoint["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{endpoint}");
        assert_eq!(endpoint["enabled"], true);

        let signed_up = app
            .sign_up("ada@example.com", "correct horse battery")
            .await;
        assert!(signed_up.status().is_success() || signed_up.status().is_redirection());
        let request = receiver.next().await;
        assert!(signed_with(&request, &secret), "{request:?}");
        assert!(request.id.starts_with("msg_"), "{request:?}");
        let age = time::OffsetDateTime::now_utc().unix_timestamp()
            - request.timestamp.parse::<i64>().unwrap();
        assert!((0..60).contains(&age), "{request:?}");
        let body = request.json();
        assert_eq!(body["type"], "user.created");
        assert_eq!(body["data"]["user"]["email"], "ada@example.com");
        let user = app
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(body["data"]["user"]["id"], user.id.to_string());
        assert!(body["timestamp"].is_string());

        let id = endpoint["id"].as_str().unwrap();
        let deliveries = settled_deliveries(&api, id).await;
        let first = &deliveries["items"][0];
        assert_eq!(first["status"], "delivered", "{deliveries}");
        assert_eq!(first["event_id"], request.id);
        assert_eq!(first["log"][0]["status_code"], 200);
        // Published policies are not what this endpoint asked for.
        assert_eq!(deliveries["items"].as_array().unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_delivery_answered_500_is_retried_and_delivered_with_every_attempt_logged() {
    each_backend_with(&loopback(), |app| async move {
        let (_tokens, api) = admin(&app).await;
        let mut receiver = Receiver::start(&[500]).await;
        let endpoint = create_endpoint(&api, &receiver.url, &["user.created"]).await;
        let created = api
            .post("/users", &json!({"email": "bob@example.com"}))
            .await;
        assert_eq!(created.status(), 201);

        let first = receiver.next().await;
        assert_eq!(first.answered, 500);
        let second = receiver.next().await;
        assert_eq!(second.answered, 200);
        // The same message, signed again.
        assert_eq!(first.id, second.id);
        assert_eq!(first.body, second.body);
        assert!(signed_with(&second, endpoint["secret"].as_str().unwrap()));

        let id = endpoint["id"].as_str().unwrap();
        let deliveries = settled_deliveries(&api, id).await;
        let delivery = &deliveries["items"][0];
        assert_eq!(delivery["status"], "delivered", "{deliveries}");
        assert_eq!(delivery["attempts"], 2);
        assert_eq!(delivery["log"][0]["status_code"], 500);
        assert_eq!(delivery["log"][0]["error"], "answered 500");
        assert_eq!(delivery["log"][1]["status_code"], 200);

        // Replayed on demand: the same message once more.
        let delivery_id = delivery["id"].as_str().unwrap();
        let replayed = api
            .post(
                &format!("/webhooks/{id}/deliveries/{delivery_id}/replay"),
                &json!({}),
            )
            .await;
        assert_eq!(replayed.status(), 202);
        let again = receiver.next().await;
        assert_eq!(again.id, first.id);
    })
    .await;
}

#[tokio::test]
async fn after_a_rotation_deliveries_are_signed_with_the_new_and_the_previous_secret() {
    each_backend_with(&loopback(), |app| async move {
        let (_tokens, api) = admin(&app).await;
        let mut receiver = Receiver::start(&[]).await;
        let endpoint = create_endpoint(&api, &receiver.url, &["user.created"]).await;
        let old = endpoint["secret"].as_str().unwrap().to_owned();
        let id = endpoint["id"].as_str().unwrap();
        let rotated: Value = api
            .post(&format!("/webhooks/{id}/secret"), &json!({}))
            .await
            .json()
            .await
            .unwrap();
        let new = rotated["secret"].as_str().unwrap().to_owned();
        assert_ne!(new, old);

        api.post("/users", &json!({"email": "cy@example.com"}))
            .await;
        let request = receiver.next().await;
        assert_eq!(request.signature.split(' ').count(), 2, "{request:?}");
        assert!(signed_with(&request, &new));
        assert!(signed_with(&request, &old));
    })
    .await;
}

#[tokio::test]
async fn a_user_whose_event_cannot_be_written_is_not_created() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        // Wanted, so that fan-out keeps it in the outbox.
        create_endpoint(&api, "https://hooks.example.com/accrete", &["user.created"]).await;
        let url = app.sql_url();
        let (inject, remove) = if url.starts_with("sqlite:") {
            (
                "CREATE TRIGGER inject_failure BEFORE INSERT ON webhook_events \
                 BEGIN SELECT RAISE(ABORT, 'injected'); END;",
                "DROP TRIGGER inject_failure",
            )
        } else {
            (
                "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected'; END $$; \
                 CREATE TRIGGER inject_failure BEFORE INSERT ON webhook_events \
                 FOR EACH ROW EXECUTE FUNCTION inject_failure();",
                "DROP TRIGGER inject_failure ON webhook_events; DROP FUNCTION inject_failure();",
            )
        };
        accrete_store::testing::execute_sql(&url, inject).await;
        let refused = api
            .post("/users", &json!({"email": "dee@example.com"}))
            .await;
        assert!(refused.status().is_server_error(), "{:?}", refused.status());
        assert!(
            app.store
                .find_user_by_email("dee@example.com")
                .await
                .unwrap()
                .is_none()
        );
        let signed_up = app
            .sign_up("eve@example.com", "correct horse battery")
            .await;
        assert!(!signed_up.status().is_redirection());
        assert!(
            app.store
                .find_user_by_email("eve@example.com")
                .await
                .unwrap()
                .is_none()
        );

        accrete_store::testing::execute_sql(&url, remove).await;
        let created = api
            .post("/users", &json!({"email": "dee@example.com"}))
            .await;
        assert_eq!(created.status(), 201);
        let events = app.store.recent_webhook_events(10).await.unwrap();
        let created: Vec<_> = events.iter().filter(|e| e.kind == "user.created").collect();
        assert_eq!(created.len(), 1, "{events:?}");
        assert_eq!(events[0].kind, "user.created");
        assert_eq!(events[0].payload["user"]["email"], "dee@example.com");
    })
    .await;
}

#[tokio::test]
async fn deleting_a_user_and_publishing_a_policy_write_their_events() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        // Wanted, so that fan-out keeps them in the outbox (an event nobody wants leaves it).
        let kinds = ["user.created", "user.deleted", "policy.published"];
        create_endpoint(&api, "https://hooks.example.com/accrete", &kinds).await;
        let created: Value = api
            .post("/users", &json!({"email": "fay@example.com"}))
            .await
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap();
        assert_eq!(api.delete(&format!("/users/{id}")).await.status(), 204);
        api.publish(&crate::api_client::pricing_policy()).await;
        let events = app.store.recent_webhook_events(10).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).take(3).collect();
        assert_eq!(
            kinds,
            ["policy.published", "user.deleted", "user.created"],
            "{events:?}"
        );
        assert_eq!(events[1].payload["user"]["id"], id);
        assert!(events[0].payload["policy"]["version"].is_i64());
    })
    .await;
}

#[tokio::test]
async fn private_addresses_and_plain_http_are_refused_unless_the_configuration_allows_them() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        for (url, code) in [
            ("https://127.0.0.1:9/hook", "private_address"),
            ("https://localhost/hook", "private_address"),
            (
                "https://169.254.169.254/latest/meta-data",
                "private_address",
            ),
            ("https://[::1]/hook", "private_address"),
            ("https://192.168.0.10/hook", "private_address"),
            ("http://hooks.example.com/hook", "https_required"),
        ] {
            let refused = api.post("/webhooks", &json!({"url": url})).await;
            let body = problem(refused, 400).await;
            assert_eq!(body["fields"]["url"][0]["code"], code, "{url}: {body}");
        }
        let refused = api
            .post(
                "/webhooks",
                &json!({"url": "https://hooks.example.com/", "events": ["user.exploded"]}),
            )
            .await;
        let body = problem(refused, 400).await;
        assert_eq!(body["fields"]["events[0]"][0]["code"], "unknown_event");
        assert_eq!(
            api.get("/webhooks").await.json::<Value>().await.unwrap()["items"],
            json!([])
        );
    })
    .await;
}

#[tokio::test]
async fn webhooks_are_managed_with_their_scopes_never_show_a_secret_again_and_are_audited() {
    each_backend(|app| async move {
        let (tokens, api) = admin(&app).await;
        ensure_client(&app, "reader", &[]).await;
        let reader = Api {
            app: &app,
            token: tokens.backend("reader", &["webhooks:read"]),
        };
        let refused = reader
            .post("/webhooks", &json!({"url": "https://hooks.example.com/a"}))
            .await;
        assert_eq!(refused.status(), 403);
        assert_eq!(reader.get("/webhooks").await.status(), 200);
        let nobody = Api {
            app: &app,
            token: tokens.backend("reader", &["users:read"]),
        };
        assert_eq!(nobody.get("/webhooks").await.status(), 403);

        let created = api
            .post(
                "/webhooks",
                &json!({"url": "https://hooks.example.com/a", "description": "CRM"}),
            )
            .await;
        assert_eq!(created.status(), 201);
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = created.json().await.unwrap();
        let secret = created["secret"].as_str().unwrap().to_owned();
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(location, format!("/api/v1/webhooks/{id}"));
        assert_eq!(created["events"], json!([]));

        let read = api
            .get(&format!("/webhooks/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(!read.contains(&secret), "{read}");
        let listed = api.get("/webhooks").await.text().await.unwrap();
        assert!(
            !listed.contains(&secret) && listed.contains(&id),
            "{listed}"
        );

        let patched: Value = api
            .patch(
                &format!("/webhooks/{id}"),
                &json!({"enabled": false, "events": ["user.deleted"], "description": ""}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(patched["enabled"], false);
        assert_eq!(patched["events"], json!(["user.deleted"]));
        assert_eq!(patched["description"], Value::Null);
        let refused = api
            .patch(&format!("/webhooks/{id}"), &json!({"url": "ftp://x"}))
            .await;
        problem(refused, 400).await;

        let rotated = api
            .post(&format!("/webhooks/{id}/secret"), &json!({}))
            .await;
        assert_eq!(rotated.status(), 200);
        assert_eq!(api.delete(&format!("/webhooks/{id}")).await.status(), 204);
        assert_eq!(api.get(&format!("/webhooks/{id}")).await.status(), 404);
        assert_eq!(api.delete(&format!("/webhooks/{id}")).await.status(), 404);

        let log = app.store.list_audit(None, 50).await.unwrap();
        let actions: Vec<&str> = log
            .iter()
            .filter(|e| e.entry.target.as_deref() == Some(&format!("webhook:{id}")))
            .map(|e| e.entry.action.as_str())
            .collect();
        assert_eq!(
            actions,
            [
                "webhook.deleted",
                "webhook.secret_rotated",
                "webhook.updated",
                "webhook.created"
            ]
        );
        let whole = format!("{log:?}");
        assert!(!whole.contains("whsec_"), "{whole}");
    })
    .await;
}

/// The requests of `receiver` until one of type `kind` arrives (within ten seconds each).
async fn next_of(receiver: &mut Receiver, kind: &str) -> Value {
    loop {
        let body = receiver.next().await.json();
        if body["type"] == kind {
            return body;
        }
    }
}

#[tokio::test]
async fn what_people_and_administrators_do_reaches_receivers_and_values_only_those_that_ask() {
    each_backend_with(&loopback(), |app| async move {
        let (_tokens, api) = admin(&app).await;
        let mut plain = Receiver::start(&[]).await;
        let mut valued = Receiver::start(&[]).await;
        let everything = &[
            "user.updated",
            "signin.succeeded",
            "signin.failed",
            "client.created",
            "client.updated",
            "client.deleted",
        ];
        create_endpoint(&api, &plain.url, everything).await;
        let created = api
            .post(
                "/webhooks",
                &json!({"url": valued.url, "events": ["user.updated"], "include_values": true}),
            )
            .await;
        assert_eq!(created.status(), 201);
        assert_eq!(created.json::<Value>().await.unwrap()["include_values"], true);

        // A person signs up and in; an administrator changes the person's metadata.
        let signed_up = app
            .sign_up("ada@example.com", "correct horse battery")
            .await;
        assert!(!signed_up.status().is_client_error());
        let user = app
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        let changed = api
            .patch(
                &format!("/users/{}", user.id),
                &json!({"user_metadata": {"company_size": "1-10"}}),
            )
            .await;
        assert_eq!(changed.status(), 200);
        let hidden = next_of(&mut plain, "user.updated").await;
        let shown = next_of(&mut valued, "user.updated").await;
        for body in [&hidden, &shown] {
            assert_eq!(body["data"]["user"]["id"], user.id.to_string(), "{body}");
            assert_eq!(body["data"]["changes"][0]["key"], "company_size", "{body}");
            assert_eq!(body["data"]["changes"][0]["location"], "user_metadata");
            assert!(body["data"]["source"].is_string(), "{body}");
        }
        assert_eq!(shown["data"]["changes"][0]["value"], "1-10", "{shown}");
        assert!(hidden["data"]["changes"][0].get("value").is_none(), "{hidden}");

        // A wrong password, then the right one.
        app.sign_in("ada@example.com", "wrong horse battery").await;
        let failed = next_of(&mut plain, "signin.failed").await;
        assert_eq!(failed["data"]["email"], "ada@example.com", "{failed}");
        assert_eq!(failed["data"]["user"]["id"], user.id.to_string());
        assert_eq!(failed["data"]["reason"], "wrong_credentials");
        app.sign_in("ada@example.com", "correct horse battery").await;
        let succeeded = next_of(&mut plain, "signin.succeeded").await;
        assert_eq!(succeeded["data"]["user"]["id"], user.id.to_string());
        assert_eq!(succeeded["data"]["kind"], "credentialed");

        // Clients registered, changed and removed; never a secret.
        let client = api
            .post(
                "/clients",
                &json!({"id": "crm", "name": "CRM", "redirect_uris": ["https://crm.example.com/cb"]}),
            )
            .await;
        assert_eq!(client.status(), 201);
        let client_id = "crm";
        let renamed = api
            .put(
                "/clients/crm",
                &json!({"name": "CRM 2", "redirect_uris": ["https://crm.example.com/cb"]}),
            )
            .await;
        assert_eq!(renamed.status(), 200);
        assert_eq!(api.delete("/clients/crm").await.status(), 204);
        // Deliveries run concurrently: the three may arrive in any order.
        let mut clients = std::collections::HashMap::new();
        while clients.len() < 3 {
            let body = plain.next().await.json();
            if let Some(kind) = body["type"].as_str().filter(|k| k.starts_with("client.")) {
                clients.insert(kind.to_owned(), body);
            }
        }
        for (kind, name) in [
            ("client.created", "CRM"),
            ("client.updated", "CRM 2"),
            ("client.deleted", "CRM 2"),
        ] {
            let body = &clients[kind];
            assert_eq!(body["data"]["client"]["id"], client_id, "{body}");
            assert_eq!(body["data"]["client"]["name"], name, "{body}");
            assert!(!body.to_string().contains("secret"), "{body}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_deliveries_of_a_time_range_are_sent_again_and_bad_ranges_are_refused_per_field() {
    each_backend_with(&loopback(), |app| async move {
        let (_tokens, api) = admin(&app).await;
        let mut receiver = Receiver::start(&[]).await;
        let endpoint = create_endpoint(&api, &receiver.url, &["user.created"]).await;
        let id = endpoint["id"].as_str().unwrap().to_owned();
        let mut first = Vec::new();
        for name in ["ann", "bea", "cy"] {
            let created = api
                .post("/users", &json!({"email": format!("{name}@example.com")}))
                .await;
            assert_eq!(created.status(), 201);
            first.push(receiver.next().await);
        }
        // The range of the second event's timestamp only, then of all three.
        let stamp = |r: &Received| {
            time::OffsetDateTime::parse(
                r.json()["timestamp"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        let rfc = |at: time::OffsetDateTime| {
            at.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let second = stamp(&first[1]);
        let just_after = second + time::Duration::milliseconds(1);
        // Settled before replaying, so that no attempt still holds a lease.
        all_delivered(&api, &id, 3).await;
        let replayed = api
            .post(
                &format!("/webhooks/{id}/replay"),
                &json!({"from": rfc(second), "to": rfc(just_after)}),
            )
            .await;
        assert_eq!(replayed.status(), 202);
        let replayed: Value = replayed.json().await.unwrap();
        assert_eq!(replayed["replayed"], 1, "{replayed}");
        let again = receiver.next().await;
        assert_eq!(again.id, first[1].id);

        let everything = json!({
            "from": rfc(stamp(&first[0])),
            "to": rfc(time::OffsetDateTime::now_utc() + time::Duration::seconds(1)),
        });
        let replayed: Value = api
            .post(&format!("/webhooks/{id}/replay"), &everything)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(replayed["replayed"], 3, "{replayed}");
        let mut ids: Vec<String> = Vec::new();
        for _ in 0..3 {
            ids.push(receiver.next().await.id);
        }
        ids.sort();
        let mut expected: Vec<String> = first.iter().map(|r| r.id.clone()).collect();
        expected.sort();
        assert_eq!(ids, expected);

        // Refused, each value said.
        let refused = api
            .post(
                &format!("/webhooks/{id}/replay"),
                &json!({"from": "yesterday", "to": "2026-01-01T00:00:00Z"}),
            )
            .await;
        let body = problem(refused, 400).await;
        assert_eq!(body["fields"]["from"][0]["code"], "invalid_time", "{body}");
        let backwards = api
            .post(
                &format!("/webhooks/{id}/replay"),
                &json!({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
            )
            .await;
        let body = problem(backwards, 400).await;
        assert_eq!(body["fields"]["to"][0]["code"], "empty_range", "{body}");
        let missing = api
            .post(
                &format!("/webhooks/{id}/replay"),
                &json!({"from": "2026-01-02T00:00:00Z"}),
            )
            .await;
        problem(missing, 400).await;
        let unknown = api
            .post(
                &format!("/webhooks/{}/replay", uuid::Uuid::nil()),
                &everything,
            )
            .await;
        problem(unknown, 404).await;

        let log = app.store.list_audit(None, 50).await.unwrap();
        let replays: Vec<_> = log
            .iter()
            .filter(|e| e.entry.action == "webhook.deliveries_replayed")
            .collect();
        assert_eq!(replays.len(), 2);
        assert_eq!(
            replays[0].entry.target.as_deref(),
            Some(format!("webhook:{id}").as_str())
        );
    })
    .await;
}

#[tokio::test]
async fn with_a_minute_between_polls_a_committed_event_is_delivered_at_once() {
    let mut layer = loopback();
    if let Some(webhooks) = layer.webhooks.as_mut() {
        webhooks.poll_interval_ms = Some(60_000);
    }
    each_backend_with(&layer, |app| async move {
        let (_tokens, api) = admin(&app).await;
        let mut receiver = Receiver::start(&[]).await;
        create_endpoint(&api, &receiver.url, &["user.created"]).await;
        for name in ["dee", "eve"] {
            let created = api
                .post("/users", &json!({"email": format!("{name}@example.com")}))
                .await;
            assert_eq!(created.status(), 201);
            // Within ten seconds: woken by the commit, not by the next poll a minute later.
            let request = receiver.next().await;
            assert_eq!(
                request.json()["data"]["user"]["email"],
                format!("{name}@example.com")
            );
        }
    })
    .await;
}
