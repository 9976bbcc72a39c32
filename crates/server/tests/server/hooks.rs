//! Synchronous hooks end to end, on both backends: real HTTP receivers on 127.0.0.1 answer
//! enrichment, validation and post-sign-in calls (their signatures checked here with the `hmac`
//! crate, independently of the server's code), and the sign-in, the prompt page and the API
//! show what the replies made of them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accrete_core::Policy;
use accrete_server::Layer;
use accrete_server::config::WebhooksLayer;
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::api_client::admin;
use crate::profiling::PASSWORD;
use crate::rp::{
    ClientSpec, authorize_path, code_of, jwt_payload, location, query_param, redeem, register,
};
use crate::support::{Browser, TestApp, each_backend_with, hidden_input};

pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr";

/// What a receiver does with a call.
pub(crate) enum Reply {
    Json(u16, Value),
    /// Never answers.
    Hang,
}

/// A request a receiver got.
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Whether its `webhook-signature` is the Standard Webhooks signature under [`SECRET`].
    fn signed(&self) -> bool {
        let header = |name: &str| self.headers[name].to_str().unwrap().to_owned();
        let key = STANDARD
            .decode(SECRET.strip_prefix("whsec_").unwrap())
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.", header("webhook-id"), header("webhook-timestamp")).as_bytes());
        mac.update(&self.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        header("webhook-signature") == expected
    }
}

type Behaviour = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

/// A hook receiver on 127.0.0.1 answering each call as `behaviour` says.
pub(crate) struct Receiver {
    pub(crate) url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) async fn start(
        behaviour: impl Fn(&Value) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        let behaviour: Behaviour = Arc::new(behaviour);
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let route = axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (behaviour, log) = (behaviour.clone(), log.clone());
            async move {
                let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                log.lock().unwrap().push(Received {
                    headers,
                    body: body.to_vec(),
                });
                match behaviour(&request) {
                    Reply::Json(status, value) => (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        axum::Json(value),
                    ),
                    Reply::Hang => std::future::pending().await,
                }
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
            received,
        }
    }

    /// The requests of `kind` received so far.
    pub(crate) fn of_kind(&self, kind: &str) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(Received::json)
            .filter(|r| r["type"] == kind)
            .collect()
    }

    fn all_signed(&self) -> bool {
        let received = self.received.lock().unwrap();
        !received.is_empty() && received.iter().all(Received::signed)
    }
}

/// Loopback receivers over plain http allowed, and `hooks` (JSON of `[[hooks]]` tables).
pub(crate) fn with_hooks(hooks: Value) -> Layer {
    Layer {
        webhooks: Some(WebhooksLayer {
            allow_private: Some(true),
            allow_http: Some(true),
            deliver: Some(false),
            ..WebhooksLayer::default()
        }),
        hooks: Some(serde_json::from_value(hooks).unwrap()),
        ..Layer::default()
    }
}

pub(crate) fn hook(name: &str, kind: &str, url: &str, more: Value) -> Value {
    let mut hook = json!({ "name": name, "kind": kind, "url": url, "secret": SECRET });
    hook.as_object_mut()
        .unwrap()
        .extend(more.as_object().unwrap().clone());
    hook
}

/// A company asked at every sign-in while unknown (so right after a sign-up), and a job title
/// asked only of the `enterprise` segment that a post-sign-in hook names.
async fn publish(app: &TestApp) {
    let policy = Policy::from_toml_str(
        r#"
version = 1
[[fields]]
key = "company"
kind = "text"
labels = { en = "Company", fr = "Entreprise" }
validation = { max_length = 20 }
[[fields]]
key = "job_title"
kind = "text"
required = false
labels = { en = "Job title", fr = "Poste" }
[[steps]]
id = "work"
title = { en = "Your work", fr = "Votre travail" }
fields = ["company"]
mode = "required"
trigger = { moments = ["login"] }
[[steps]]
id = "vip"
title = { en = "For our best customers", fr = "Pour nos meilleurs clients" }
fields = ["job_title"]
mode = "required"
trigger = { moments = ["login"], condition = { expression = { cel = "has(user.facts.segment) && user.facts.segment == 'enterprise'" } } }
"#,
    )
    .unwrap();
    policy.compile().unwrap();
    let document = serde_json::to_value(&policy).unwrap();
    app.store
        .publish_policy(&document, Some("hooks"), OffsetDateTime::now_utc())
        .await
        .unwrap();
}

/// Signs `email` up inside an authorization of `web` (`extra` parameters); where the browser
/// is sent after the sign-up.
async fn sign_up_in_flow(app: &TestApp, email: &str, extra: &str) -> (Browser, String) {
    let browser = app.new_browser();
    let path = authorize_path("web", "openid email", &format!("&prompt=create{extra}"));
    let signup = location(&browser.get(&path).await);
    assert!(signup.starts_with("/signup?tx="), "{signup}");
    let tx = signup.trim_start_matches("/signup?tx=").to_owned();
    let csrf = browser.csrf(&signup).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("tx", tx.as_str()),
        ("email", email),
        ("password", PASSWORD),
        ("action", "submit"),
    ];
    let response = browser.post_form("/signup", &form).await;
    let target = settle(&browser, location(&response)).await;
    (browser, target)
}

/// Signs `email` in to `web` in a new browser; where the browser is sent after the sign-in.
async fn sign_in(app: &TestApp, email: &str, extra: &str) -> (Browser, String, reqwest::Response) {
    let browser = app.new_browser();
    let login = location(
        &browser
            .get(&authorize_path("web", "openid email", extra))
            .await,
    );
    let tx = login.trim_start_matches("/login?tx=").to_owned();
    let csrf = browser.csrf(&login).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("tx", tx.as_str()),
        ("email", email),
        ("password", PASSWORD),
        ("action", "submit"),
    ];
    let response = browser.post_form("/login", &form).await;
    let mut target = location(&response);
    // Through the resume redirect, up to a page or the client.
    let mut last = browser.get(&target).await;
    while last.status().is_redirection() {
        target = location(&last);
        if !target.starts_with('/') {
            break;
        }
        last = browser.get(&target).await;
    }
    (browser, target, last)
}

/// Follows redirects up to a page of ours that is not a redirect, or the client.
async fn settle(browser: &Browser, mut target: String) -> String {
    while target.starts_with('/') {
        let response = browser.get(&target).await;
        if !response.status().is_redirection() {
            return target;
        }
        target = location(&response);
    }
    target
}

/// A user who signed up outside any transaction.
async fn user(app: &TestApp, email: &str) {
    let browser = app.new_browser();
    let response = browser.sign_up(email, PASSWORD).await;
    assert!(response.status().is_redirection(), "{}", response.status());
}

/// Posts the prompt page at `target` with `answers`.
async fn post_prompt(
    browser: &Browser,
    target: &str,
    answers: &[(&str, &str)],
) -> reqwest::Response {
    let html = browser.get(target).await.text().await.unwrap();
    let csrf = hidden_input(&html, "csrf").unwrap();
    let step = hidden_input(&html, "step").unwrap();
    let tx = target.trim_start_matches("/prompt?tx=");
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("tx", tx),
        ("step", step.as_str()),
        ("action", "submit"),
    ];
    form.extend_from_slice(answers);
    browser.post_form("/prompt", &form).await
}

/// The stored user of `email`.
async fn stored_user(app: &TestApp, email: &str) -> accrete_store::User {
    app.store
        .find_user_by_email(email)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no user {email}"))
}

async fn source_of(app: &TestApp, email: &str, key: &str) -> Option<String> {
    let user = stored_user(app, email).await;
    app.store
        .value_provenance(user.id)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.key == key)
        .map(|p| p.source)
}

#[tokio::test]
async fn enrichment_fills_an_unknown_company_with_its_provenance_and_the_step_is_not_asked() {
    let receiver = Receiver::start(|request| {
        let domain = request["user"]["email_domain"].as_str().unwrap_or("");
        Reply::Json(
            200,
            json!({ "company": { "name": format!("Corp of {domain}") } }),
        )
    })
    .await;
    let hooks = json!([hook(
        "clearbit",
        "enrichment",
        &receiver.url,
        json!({ "fields": { "company": "company.name" } })
    )]);
    each_backend_with(&with_hooks(hooks), |app| {
        let receiver = &receiver;
        async move {
            publish(&app).await;
            register(&app, ClientSpec::web("web")).await;
            let (_, target) = sign_up_in_flow(&app, "ann@acme.example", "").await;
            assert!(
                target.contains("code="),
                "the company is not asked: {target}"
            );
            let user = stored_user(&app, "ann@acme.example").await;
            assert_eq!(user.user_metadata["company"], "Corp of acme.example");
            assert_eq!(
                source_of(&app, "ann@acme.example", "company")
                    .await
                    .as_deref(),
                Some("enrichment:clearbit")
            );
            let calls = receiver.of_kind("enrichment");
            let call = calls.last().unwrap();
            assert_eq!(call["trigger"], "signup");
            assert_eq!(call["user"]["email"], "ann@acme.example");
            assert!(
                receiver.all_signed(),
                "every call is signed with the hook's secret"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn an_enrichment_after_the_response_never_holds_the_sign_up_and_lands_a_moment_later() {
    let receiver =
        Receiver::start(|_| Reply::Json(200, json!({ "fields": { "company": "Later Ltd" } })))
            .await;
    let hooks = json!([hook(
        "later",
        "enrichment",
        &receiver.url,
        json!({ "timing": "after_response" })
    )]);
    each_backend_with(&with_hooks(hooks), |app| async move {
        publish(&app).await;
        register(&app, ClientSpec::web("web")).await;
        let (_, target) = sign_up_in_flow(&app, "fay@example.com", "").await;
        // Not waited for: the decision was made without it.
        assert!(target.starts_with("/prompt?tx="), "{target}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let fay = stored_user(&app, "fay@example.com").await;
            if fay.user_metadata.get("company").is_some() {
                assert_eq!(fay.user_metadata["company"], "Later Ltd");
                break;
            }
            assert!(Instant::now() < deadline, "the enrichment never landed");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            source_of(&app, "fay@example.com", "company")
                .await
                .as_deref(),
            Some("enrichment:later")
        );
    })
    .await;
}

#[tokio::test]
async fn enrichment_never_overwrites_a_value_the_user_gave_and_runs_on_demand() {
    let receiver = Receiver::start(|_| {
        Reply::Json(
            200,
            json!({ "fields": { "company": "Enriched Ltd", "job_title": "CTO" } }),
        )
    })
    .await;
    let hooks = json!([hook(
        "crm",
        "enrichment",
        &receiver.url,
        json!({ "when": ["api"] })
    )]);
    each_backend_with(&with_hooks(hooks), |app| async move {
        publish(&app).await;
        user(&app, "bea@example.com").await;
        let bea = stored_user(&app, "bea@example.com").await;
        app.store
            .apply_profile_changes(
                bea.id,
                None,
                &[accrete_store::ProfileChange {
                    location: accrete_store::Location::UserMetadata,
                    key: "company".into(),
                    value: Some(json!("Mine")),
                }],
                "account",
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        let (_tokens, api) = admin(&app).await;
        let response = api
            .post(&format!("/users/{}/enrich", bea.id), &json!({}))
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "results": [{ "hook": "crm", "outcome": "ok", "fields": ["job_title"], "kept": ["company"] }] })
        );
        let bea = stored_user(&app, "bea@example.com").await;
        assert_eq!(bea.user_metadata["company"], "Mine");
        assert_eq!(bea.user_metadata["job_title"], "CTO");
        assert_eq!(
            source_of(&app, "bea@example.com", "company").await.as_deref(),
            Some("account")
        );
        assert_eq!(
            source_of(&app, "bea@example.com", "job_title").await.as_deref(),
            Some("enrichment:crm")
        );
        let missing = api
            .post(&format!("/users/{}/enrich", uuid::Uuid::new_v4()), &json!({}))
            .await;
        assert_eq!(missing.status(), 404);
        let audit: Value = api.get("/audit").await.json().await.unwrap();
        let entry = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "user.enriched")
            .unwrap_or_else(|| panic!("no audit entry: {audit}"));
        assert_eq!(entry["after"]["results"][0]["fields"], json!(["job_title"]));
        assert!(!entry.to_string().contains("CTO"), "no values in the audit log");
    })
    .await;
}

#[tokio::test]
async fn hooks_that_hang_or_fail_never_block_a_sign_in() {
    let hanging = Receiver::start(|_| Reply::Hang).await;
    let failing = Receiver::start(|_| Reply::Json(500, json!({}))).await;
    let hooks = json!([
        hook(
            "slow",
            "enrichment",
            &hanging.url,
            json!({ "timeout_ms": 300 })
        ),
        hook("broken", "post_sign_in", &failing.url, json!({})),
        hook(
            "stuck",
            "post_sign_in",
            &hanging.url,
            json!({ "timeout_ms": 300 })
        ),
    ]);
    each_backend_with(&with_hooks(hooks), |app| async move {
        publish(&app).await;
        register(&app, ClientSpec::web("web")).await;
        let started = Instant::now();
        let (_, target) = sign_up_in_flow(&app, "cy@example.com", "").await;
        let took = started.elapsed();
        // Fail-open: the company is asked as if there were no hook, within the budget.
        assert!(target.starts_with("/prompt?tx="), "{target}");
        assert!(took < Duration::from_secs(3), "the sign-up took {took:?}");
        assert!(
            stored_user(&app, "cy@example.com")
                .await
                .user_metadata
                .get("company")
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn validation_refuses_with_a_message_per_field_in_the_users_language_and_normalises() {
    let receiver = Receiver::start(|request| {
        let company = request["answers"]["company"].as_str().unwrap_or("");
        Reply::Json(
            200,
            match company {
                "Nope" => json!({ "decision": "reject", "errors": { "company": {
                    "en": "We do not know this company.",
                    "fr": "Nous ne connaissons pas cette entreprise."
                } } }),
                "acme" => json!({ "decision": "accept", "values": { "company": "ACME Inc." } }),
                "long" => json!({ "decision": "accept", "values": { "company": "A name far longer than twenty characters" } }),
                _ => json!({ "decision": "accept" }),
            },
        )
    })
    .await;
    let hooks = json!([hook("check", "validation", &receiver.url, json!({}))]);
    each_backend_with(&with_hooks(hooks), |app| {
        let receiver = &receiver;
        async move {
            publish(&app).await;
            register(&app, ClientSpec::web("web")).await;
            user(&app, "dee@example.com").await;
            for (locale, message) in [
                ("en", "We do not know this company."),
                ("fr", "Nous ne connaissons pas cette entreprise."),
            ] {
                let extra = format!("&ui_locales={locale}");
                let (browser, target, _) = sign_in(&app, "dee@example.com", &extra).await;
                assert!(target.starts_with("/prompt?tx="), "{target}");
                let refused = post_prompt(&browser, &target, &[("company", "Nope")]).await;
                assert_eq!(refused.status(), 400);
                let page = refused.text().await.unwrap();
                let error = page
                    .split("id=\"f-company-error\"")
                    .nth(1)
                    .unwrap_or_else(|| panic!("no error beside the field: {page}"));
                assert!(error[..400.min(error.len())].contains(message), "{page}");
                assert!(
                    stored_user(&app, "dee@example.com")
                        .await
                        .user_metadata
                        .get("company")
                        .is_none()
                );
            }
            let (browser, target, _) = sign_in(&app, "dee@example.com", "").await;
            // A normalised value is checked by the field's own rules.
            let long = post_prompt(&browser, &target, &[("company", "long")]).await;
            assert_eq!(long.status(), 400);
            let accepted = post_prompt(&browser, &target, &[("company", "acme")]).await;
            assert_eq!(accepted.status(), 303);
            let done = settle(&browser, location(&accepted)).await;
            assert!(done.contains("code="), "{done}");
            let dee = stored_user(&app, "dee@example.com").await;
            assert_eq!(dee.user_metadata["company"], "ACME Inc.");
            let call = receiver.of_kind("validation").pop().unwrap();
            assert_eq!(call["surface"], "prompt");
            assert_eq!(call["step"], "work");
            // The account page: the same refusal beside the field, nothing changed.
            let csrf = browser.csrf("/account").await;
            let refused = browser
                .post_form("/account", &[("csrf", csrf.as_str()), ("company", "Nope")])
                .await;
            assert_eq!(refused.status(), 400);
            let page = refused.text().await.unwrap();
            assert!(page.contains("We do not know this company."), "{page}");
            let dee = stored_user(&app, "dee@example.com").await;
            assert_eq!(dee.user_metadata["company"], "ACME Inc.");
            assert_eq!(
                receiver.of_kind("validation").pop().unwrap()["surface"],
                "account"
            );
            assert!(receiver.all_signed());
        }
    })
    .await;
}

#[tokio::test]
async fn a_fail_closed_validation_hook_that_fails_stores_nothing_and_says_so() {
    let receiver = Receiver::start(|_| Reply::Json(500, json!({}))).await;
    let hooks = json!([hook(
        "strict",
        "validation",
        &receiver.url,
        json!({ "failure": "closed" })
    )]);
    each_backend_with(&with_hooks(hooks), |app| async move {
        publish(&app).await;
        register(&app, ClientSpec::web("web")).await;
        user(&app, "eve@example.com").await;
        let (browser, target, _) = sign_in(&app, "eve@example.com", "").await;
        let refused = post_prompt(&browser, &target, &[("company", "Acme")]).await;
        assert_eq!(refused.status(), 503);
        let page = refused.text().await.unwrap();
        assert!(
            page.contains("We could not check your answers right now"),
            "{page}"
        );
        assert!(
            stored_user(&app, "eve@example.com")
                .await
                .user_metadata
                .get("company")
                .is_none()
        );
        // The same through the API: nothing stored, 503.
        let (tokens, _) = admin(&app).await;
        let eve = stored_user(&app, "eve@example.com").await;
        let token = tokens.user(&app, &eve, "web").await;
        let patched = app
            .browser
            .client
            .patch(app.url("/api/v1/me"))
            .bearer_auth(token)
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"company": "Acme"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 503);
        assert!(
            stored_user(&app, "eve@example.com")
                .await
                .user_metadata
                .get("company")
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn post_sign_in_adds_a_fact_a_condition_reads_and_a_namespaced_claim_to_the_tokens() {
    let receiver = Receiver::start(|request| {
        let email = request["user"]["email"].as_str().unwrap_or("");
        let segment = if email.starts_with("big") { "enterprise" } else { "smb" };
        Reply::Json(
            200,
            json!({ "facts": { "segment": segment }, "claims": { "segment": segment, "sub": "forged" } }),
        )
    })
    .await;
    let hooks = json!([hook(
        "crm",
        "post_sign_in",
        &receiver.url,
        json!({ "claim_namespace": "https://crm.example/" })
    )]);
    each_backend_with(&with_hooks(hooks), |app| async move {
        publish(&app).await;
        let secret = register(&app, ClientSpec::web("web")).await;
        for email in ["big@example.com", "small@example.com"] {
            user(&app, email).await;
            let user = stored_user(&app, email).await;
            app.store
                .apply_profile_changes(
                    user.id,
                    None,
                    &[accrete_store::ProfileChange {
                        location: accrete_store::Location::UserMetadata,
                        key: "company".into(),
                        value: Some(json!("Known")),
                    }],
                    "account",
                    OffsetDateTime::now_utc(),
                )
                .await
                .unwrap();
        }
        // The enterprise segment is asked its job title; the other is not.
        let (browser, target, _) = sign_in(&app, "big@example.com", "").await;
        assert!(target.starts_with("/prompt?tx="), "{target}");
        let html = browser.get(&target).await.text().await.unwrap();
        assert!(html.contains("name=\"job_title\""), "{html}");
        let answered = post_prompt(&browser, &target, &[("job_title", "CIO")]).await;
        let redirect = settle(&browser, location(&answered)).await;
        let (status, body) = redeem(&app, "web", secret.as_deref(), &code_of(&redirect)).await;
        assert_eq!(status, 200, "{body}");
        let claims = jwt_payload(body["id_token"].as_str().unwrap());
        assert_eq!(
            claims["https://crm.example/segment"], "enterprise",
            "{claims}"
        );
        assert_ne!(claims["sub"], "forged");
        assert!(
            claims.get("https://crm.example/sub").is_some(),
            "a hook's names are namespaced"
        );
        // The access token carries them too, under its own standard claims.
        let access = jwt_payload(body["access_token"].as_str().unwrap());
        assert_eq!(
            access["https://crm.example/segment"], "enterprise",
            "{access}"
        );
        assert_eq!(access["client_id"], "web");
        assert_ne!(access["sub"], "forged");

        let (_, target, _) = sign_in(&app, "small@example.com", "").await;
        assert!(target.contains("code="), "{target}");
    })
    .await;
}

#[tokio::test]
async fn post_sign_in_denies_with_a_page_and_access_denied_at_the_redirect_uri() {
    let receiver = Receiver::start(|request| {
        let email = request["user"]["email"].as_str().unwrap_or("");
        Reply::Json(
            200,
            if email.starts_with("banned") {
                json!({ "deny": { "message": { "en": "Your subscription has ended.", "fr": "Votre abonnement est terminé." } } })
            } else {
                json!({})
            },
        )
    })
    .await;
    let hooks = json!([hook("gate", "post_sign_in", &receiver.url, json!({}))]);
    each_backend_with(&with_hooks(hooks), |app| async move {
        register(&app, ClientSpec::web("web")).await;
        user(&app, "banned@example.com").await;
        user(&app, "fine@example.com").await;
        for (locale, message) in [
            ("en", "Your subscription has ended."),
            ("fr", "Votre abonnement est terminé."),
        ] {
            let extra = format!("&ui_locales={locale}");
            let (browser, _, page) = sign_in(&app, "banned@example.com", &extra).await;
            assert_eq!(page.status(), 403);
            // Without interaction (`prompt=none`, the session is there), no page: straight back.
            let silent = authorize_path("web", "openid email", "&prompt=none");
            let back = settle(&browser, location(&browser.get(&silent).await)).await;
            assert_eq!(
                query_param(&back, "error").as_deref(),
                Some("access_denied"),
                "{back}"
            );
            let html = page.text().await.unwrap();
            assert!(html.contains(message), "{html}");
            let back = html
                .split("class=\"button primary\" href=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("no link back: {html}"))
                .replace("&amp;", "&")
                .replace("&#x2f;", "/");
            assert!(
                back.starts_with("http://localhost:9999/callback?"),
                "{back}"
            );
            assert_eq!(
                query_param(&back, "error").as_deref(),
                Some("access_denied")
            );
            assert_eq!(query_param(&back, "state").as_deref(), Some("st"));
            assert_eq!(query_param(&back, "code"), None);
        }
        let (_, target, _) = sign_in(&app, "fine@example.com", "").await;
        assert!(target.contains("code="), "{target}");
    })
    .await;
}
