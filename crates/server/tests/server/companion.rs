//! Companion mode end to end on both backends (docs/companion.md): the provider's check call,
//! a browser arriving with a start token (signed here with the `hmac` crate, independently of
//! the server's JOSE library), the prompt page, and the answers token posted back; refused
//! tokens (tampered, expired, replayed, another tenant) store nothing. ES256 companions verify
//! with the keys a provider publishes (`jwks_uri`, served here by a real HTTP server): kept,
//! fetched again for a rotated key at most once per interval, a provider that cannot be
//! reached refused clearly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use accrete_server::Layer;
use accrete_server::config::WebhooksLayer;
use axum::response::IntoResponse as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::api_client::{Api, Tokens, admin, ensure_client, problem};
use crate::rp::location;
use crate::support::{Browser, TestApp, each_backend_with, hidden_input};

pub(crate) const SECRET: &str = "a shared secret of at least thirty-two characters";
pub(crate) const TENANT: &str = "tenant.example.auth0.com";
const CONTINUE: &str = "https://tenant.example.auth0.com/continue";

pub(crate) fn with_companion() -> Layer {
    Layer {
        companions: Some(
            serde_json::from_value(json!([{
                "name": "auth0",
                "issuer": TENANT,
                "secret": SECRET,
                "client": "auth0-companion",
            }]))
            .unwrap(),
        ),
        ..Layer::default()
    }
}

/// A company (in `user_metadata`) asked at sign-in, skippable and asked again two sign-ins
/// after a skip; a required agreement for the `shop` application only.
pub(crate) async fn publish(api: &Api<'_>) {
    let policy = r#"
version = 1
[[fields]]
key = "company"
kind = "text"
labels = { en = "Company", fr = "Entreprise" }
[[fields]]
key = "shop_terms"
kind = "text"
storage = "app_metadata"
labels = { en = "Shop nickname", fr = "Pseudo de la boutique" }
[[steps]]
id = "work"
title = { en = "Your work", fr = "Votre travail" }
fields = ["company"]
mode = { optional = { reask_after_logins = 2 } }
trigger = { moments = ["login"] }
[[steps]]
id = "shop"
title = { en = "For the shop", fr = "Pour la boutique" }
fields = ["shop_terms"]
priority = 10
mode = "required"
trigger = { moments = ["login"], condition = { client = { ids = ["shop"] } } }
"#;
    let document =
        serde_json::to_value(accrete_core::Policy::from_toml_str(policy).unwrap()).unwrap();
    api.publish(&document).await;
}

/// An HS256 JWT of `claims` under `secret`, built from the RFCs (not the server's library).
pub(crate) fn hs256(claims: &Value, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// The claims of a verified HS256 token (panics on a bad signature).
fn verified(token: &str, secret: &str) -> Value {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap())
        .expect("the answers token is signed with the shared secret");
    let payload = input.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Start-token claims for `sub` (what Auth0's `encodeToken` puts, plus the Action's payload).
pub(crate) fn start_claims(app: &TestApp, sub: &str, jti: &str, facts: Value) -> Value {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut claims = json!({
        "iss": TENANT, "sub": sub, "aud": format!("{}/companion/auth0", app.base),
        "iat": now, "exp": now + 600, "jti": jti, "ip": "192.0.2.7",
    });
    claims
        .as_object_mut()
        .unwrap()
        .extend(facts.as_object().unwrap().clone());
    claims
}

pub(crate) fn start_path(token: &str, state: &str) -> String {
    format!("/companion/auth0/start?session_token={token}&state={state}")
}

/// The check call's answer, asked by the companion's client.
async fn check(app: &TestApp, tokens: &Tokens, body: Value) -> reqwest::Response {
    let token = tokens.backend("auth0-companion", &["companion:check"]);
    check_as(app, &token, "auth0", body).await
}

/// The check call of companion `name` with the bearer `token`.
async fn check_as(app: &TestApp, token: &str, name: &str, body: Value) -> reqwest::Response {
    app.browser
        .client
        .post(app.url(&format!("/api/v1/companion/{name}/check")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Follows the browser from `path` up to a page that is not a redirect; its path and HTML.
pub(crate) async fn visit(browser: &Browser, path: &str) -> (String, u16, String) {
    let mut target = path.to_owned();
    loop {
        let response = browser.get(&target).await;
        if response.status().is_redirection() {
            target = location(&response);
            continue;
        }
        let status = response.status().as_u16();
        return (target, status, response.text().await.unwrap());
    }
}

/// Posts the prompt page at `page` (its HTML) with `action` and `answers`; follows to the
/// return page and gives its form: (action URL, state, verified answers claims).
pub(crate) async fn post_prompt(
    browser: &Browser,
    html: &str,
    action: &str,
    answers: &[(&str, &str)],
) -> (String, u16, String) {
    let mut form = vec![
        ("csrf".to_owned(), hidden_input(html, "csrf").unwrap()),
        ("tx".to_owned(), hidden_input(html, "tx").unwrap()),
        ("step".to_owned(), hidden_input(html, "step").unwrap()),
        ("action".to_owned(), action.to_owned()),
    ];
    form.extend(
        answers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let response = browser.post_form("/prompt", &pairs).await;
    if !response.status().is_redirection() {
        let status = response.status();
        panic!("{status}: {}", response.text().await.unwrap());
    }
    visit(browser, &location(&response)).await
}

/// The return page's form: its action and the verified claims of its token.
pub(crate) fn returned(html: &str) -> (String, Value) {
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    let token = hidden_input(html, "session_token").unwrap();
    assert_eq!(
        hidden_input(html, "state").as_deref(),
        Some("auth0-state-1")
    );
    (action, verified(&token, SECRET))
}

#[tokio::test]
async fn an_auth0_user_is_asked_only_what_is_due_and_the_answers_go_back_signed() {
    each_backend_with(&with_companion(), |app| async move {
        let (tokens, api) = admin(&app).await;
        publish(&api).await;
        ensure_client(&app, "auth0-companion", &[]).await;
        ensure_client(&app, "shop", &[]).await;

        // The check: the company is due while the provider has none; not once it has one.
        let due = check(
            &app,
            &tokens,
            json!({ "user_id": "auth0|1", "logins_count": 3 }),
        )
        .await;
        assert_eq!(due.status(), 200);
        assert_eq!(
            due.json::<Value>().await.unwrap(),
            json!({ "due": true, "required": false, "step": "work", "reads": {
                "user_metadata": ["company"], "app_metadata": ["shop_terms"], "profile": [],
            } })
        );
        let known = json!({ "user_id": "auth0|1", "logins_count": 3,
            "user_metadata": { "company": "Acme" } });
        let known = check(&app, &tokens, known)
            .await
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(known, json!({ "due": false, "required": false }));
        // In the shop (an Accrete client of the same id), its required step comes first.
        let shop = json!({ "user_id": "auth0|1", "client_id": "shop",
            "user_metadata": { "company": "Acme" } });
        let shop = check(&app, &tokens, shop)
            .await
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(
            (&shop["step"], &shop["required"]),
            (&json!("shop"), &json!(true))
        );
        // Nothing was written by the checks.
        assert!(
            app.store
                .companion_user("auth0", "auth0|1")
                .await
                .unwrap()
                .is_none()
        );

        // The browser arrives with a start token; the prompt page asks the company.
        let browser = app.new_browser();
        let facts = json!({ "email": "ada@example.com", "email_verified": true,
            "logins_count": 3, "locale": "fr" });
        let token = hs256(&start_claims(&app, "auth0|1", "jti-1", facts), SECRET);
        let (page, status, html) = visit(&browser, &start_path(&token, "auth0-state-1")).await;
        assert!(page.starts_with("/prompt?tx="), "{page}");
        assert_eq!(status, 200);
        assert!(html.contains("Entreprise"), "the token's locale: {html}");
        assert!(
            !html.contains("switch_account"),
            "no 'not you?' in companion mode"
        );
        assert!(
            !html.contains("href=\"/account\""),
            "no account center link"
        );

        // "Not you?" is not offered, and a crafted one changes nothing.
        let crafted = [
            ("csrf", hidden_input(&html, "csrf").unwrap()),
            ("tx", hidden_input(&html, "tx").unwrap()),
            ("action", "switch_account".to_owned()),
        ];
        let pairs: Vec<(&str, &str)> = crafted.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = browser.post_form("/prompt", &pairs).await;
        assert_eq!(location(&response), page, "back to the same step");

        // Another browser cannot continue this visit.
        let (_, status, _) = visit(&app.new_browser(), &page).await;
        assert_eq!(status, 400);

        // Answering ends the visit with a form to the tenant's continue URL.
        let (_, status, html) =
            post_prompt(&browser, &html, "submit", &[("company", "Acme")]).await;
        assert_eq!(status, 200);
        let (action, claims) = returned(&html);
        assert_eq!(action, format!("{CONTINUE}?state=auth0-state-1"));
        assert_eq!(claims["iss"], app.base);
        assert_eq!(claims["sub"], "auth0|1");
        assert_eq!(claims["aud"], TENANT);
        assert_eq!(claims["state"], "auth0-state-1");
        assert_eq!(claims["outcome"], "completed");
        assert_eq!(claims["user_metadata"], json!({ "company": "Acme" }));
        assert_eq!(claims["skipped"], json!([]));
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert!((60..=300).contains(&lifetime), "{lifetime}");

        // Stored against the provider's subject, with the companion's provenance.
        let user = app
            .store
            .companion_user("auth0", "auth0|1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.email, "ada@example.com");
        assert_eq!(user.user_metadata["company"], "Acme");
        assert_eq!(user.credentialed_logins, 3);
        let provenance = app.store.value_provenance(user.id).await.unwrap();
        let company = provenance.iter().find(|p| p.key == "company").unwrap();
        assert_eq!(company.source, "companion:auth0");

        // The same token again: refused, nothing more.
        let (_, status, html) =
            visit(&app.new_browser(), &start_path(&token, "auth0-state-1")).await;
        assert_eq!(status, 400);
        assert!(html.contains("token_replayed"), "{html}");
    })
    .await;
}

#[tokio::test]
async fn a_skip_is_remembered_and_a_required_step_left_is_a_denial() {
    each_backend_with(&with_companion(), |app| async move {
        let (tokens, api) = admin(&app).await;
        publish(&api).await;
        ensure_client(&app, "auth0-companion", &[]).await;
        ensure_client(&app, "shop", &[]).await;

        let browser = app.new_browser();
        let claims = start_claims(&app, "auth0|2", "jti-2", json!({ "logins_count": 4 }));
        let (_, _, html) = visit(
            &browser,
            &start_path(&hs256(&claims, SECRET), "auth0-state-1"),
        )
        .await;
        let (_, _, html) = post_prompt(&browser, &html, "skip", &[]).await;
        let (_, claims) = returned(&html);
        assert_eq!(claims["outcome"], "completed");
        assert_eq!(claims["skipped"], json!(["work"]));
        assert_eq!(claims["user_metadata"], json!({}));

        // Held back at the next sign-in, asked again two sign-ins after the skip.
        let at = |logins: u32| json!({ "user_id": "auth0|2", "logins_count": logins });
        let next = check(&app, &tokens, at(5))
            .await
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(next["due"], false, "{next}");
        let later = check(&app, &tokens, at(6))
            .await
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(later["due"], true, "{later}");

        // The shop's required step, left with "cancel": the visit ends declined.
        let browser = app.new_browser();
        let facts = json!({ "logins_count": 6, "client_id": "shop",
            "user_metadata": { "company": "Initech" } });
        let claims = start_claims(&app, "auth0|2", "jti-3", facts);
        let (_, _, html) = visit(
            &browser,
            &start_path(&hs256(&claims, SECRET), "auth0-state-1"),
        )
        .await;
        assert!(html.contains("Shop nickname"), "{html}");
        let (_, status, html) = post_prompt(&browser, &html, "cancel", &[]).await;
        assert_eq!(status, 200);
        let (_, claims) = returned(&html);
        assert_eq!(claims["outcome"], "declined");
        assert!(claims["message"].as_str().unwrap().contains("required"));
        // The provider's company was taken over.
        let user = app
            .store
            .companion_user("auth0", "auth0|2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.user_metadata["company"], "Initech");
    })
    .await;
}

/// A P-256 key as PKCS#8 PEM, with its public JWKS (and `kid`).
pub(crate) fn ec_key() -> (String, Value, String) {
    use accrete_oidc::keys::{Alg, KeySchedule, SigningKey};
    let key = SigningKey::generate(
        Alg::ES256,
        KeySchedule::immediately(OffsetDateTime::now_utc()),
    )
    .unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(key.private_pkcs8());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    (
        pem,
        json!({ "keys": [key.public_jwk()] }),
        key.kid().to_owned(),
    )
}

#[tokio::test]
async fn a_generic_es256_companion_verifies_with_the_providers_keys_and_signs_with_its_own() {
    let (provider_pem, provider_jwks, provider_kid) = ec_key();
    let (accrete_pem, _, _) = ec_key();
    let layer = Layer {
        companions: Some(
            serde_json::from_value(json!([{
                "name": "keycloak",
                "kind": "generic",
                "issuer": "https://sso.example.com/realms/main",
                "algorithm": "ES256",
                "jwks": provider_jwks.to_string(),
                "signing_key": accrete_pem,
                "continue_url": "https://sso.example.com/realms/main/accrete/continue",
                "client": "keycloak-companion",
            }]))
            .unwrap(),
        ),
        ..Layer::default()
    };
    each_backend_with(&layer, |app| {
        let (provider_pem, provider_kid) = (provider_pem.clone(), provider_kid.clone());
        async move {
            let (_, api) = admin(&app).await;
            publish(&api).await;
            ensure_client(&app, "keycloak-companion", &[]).await;
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let claims = json!({
                "iss": "https://sso.example.com/realms/main", "sub": "kc-7",
                "aud": format!("{}/companion/keycloak", app.base),
                "iat": now, "exp": now + 300, "jti": "kc-jti-1", "logins_count": 2,
            });
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            header.kid = Some(provider_kid);
            let key = jsonwebtoken::EncodingKey::from_ec_pem(provider_pem.as_bytes()).unwrap();
            let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
            // An HS256 token is not accepted by an ES256 companion.
            let (_, status, _) = visit(
                &app.new_browser(),
                &format!(
                    "/companion/keycloak/start?session_token={}&state=k",
                    hs256(&claims, SECRET)
                ),
            )
            .await;
            assert_eq!(status, 400);

            let browser = app.new_browser();
            let path =
                format!("/companion/keycloak/start?session_token={token}&state=auth0-state-1");
            let (page, _, html) = visit(&browser, &path).await;
            assert!(page.starts_with("/prompt?tx="), "{page}");
            let (_, _, html) =
                post_prompt(&browser, &html, "submit", &[("company", "Globex")]).await;
            let answers = hidden_input(&html, "session_token").unwrap();

            // The answers verify with the key Accrete publishes for this companion.
            let jwks: jsonwebtoken::jwk::JwkSet = app
                .browser
                .get("/companion/keycloak/jwks")
                .await
                .json()
                .await
                .unwrap();
            let kid = jsonwebtoken::decode_header(&answers).unwrap().kid.unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
            validation.set_audience(&["https://sso.example.com/realms/main"]);
            let claims = jsonwebtoken::decode::<Value>(&answers, &decoding, &validation)
                .unwrap()
                .claims;
            assert_eq!(claims["sub"], "kc-7");
            assert_eq!(claims["user_metadata"]["company"], "Globex");
            // An HS256 companion publishes no keys.
            let none = app.browser.get("/companion/nobody/jwks").await;
            assert_eq!(none.status(), 404);
        }
    })
    .await;
}

#[tokio::test]
async fn refused_start_tokens_and_checks_store_nothing() {
    each_backend_with(&with_companion(), |app| async move {
        let (tokens, api) = admin(&app).await;
        publish(&api).await;
        ensure_client(&app, "auth0-companion", &[]).await;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let good = start_claims(&app, "auth0|3", "jti-4", json!({}));
        let mut expired = good.clone();
        expired["exp"] = json!(now - 120);
        let mut foreign = good.clone();
        foreign["iss"] = json!("other-tenant.auth0.com");
        let mut elsewhere = good.clone();
        elsewhere["aud"] = json!("https://another.example/companion/auth0");
        let mut tampered = hs256(&good, SECRET);
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        let cases = [
            (tampered, "invalid_token"),
            (
                hs256(&good, "another secret of at least thirty-two chars"),
                "invalid_token",
            ),
            (hs256(&expired, SECRET), "token_expired"),
            (hs256(&foreign, SECRET), "wrong_issuer"),
            (hs256(&elsewhere, SECRET), "wrong_audience"),
            ("not-a-token".to_owned(), "invalid_token"),
        ];
        for (token, code) in cases {
            let (_, status, html) = visit(&app.new_browser(), &start_path(&token, "s")).await;
            assert_eq!(status, 400, "{code}");
            assert!(html.contains(code), "{code}: {html}");
            assert!(html.contains("not valid"), "a sentence for people: {html}");
        }
        let (_, status, html) =
            visit(&app.new_browser(), &start_path(&hs256(&good, SECRET), "")).await;
        assert_eq!(status, 400);
        assert!(html.contains("missing_state"));
        let (_, status, _) = visit(
            &app.new_browser(),
            "/companion/nobody/start?session_token=x&state=s",
        )
        .await;
        assert_eq!(status, 404);
        assert!(
            app.store
                .companion_user("auth0", "auth0|3")
                .await
                .unwrap()
                .is_none()
        );

        // Checks: another client's token, an unknown companion, refused facts.
        let other = tokens.backend("backend", &["companion:check"]);
        let response = check_as(&app, &other, "auth0", json!({ "user_id": "auth0|3" })).await;
        problem(response, 403).await;
        let long = "x".repeat(600);
        let refused = check(&app, &tokens, json!({ "user_id": "", "email": long })).await;
        let body = problem(refused, 400).await;
        assert!(body["fields"]["user_id"].is_array(), "{body}");
        assert!(body["fields"]["email"].is_array(), "{body}");
        let token = tokens.backend("auth0-companion", &["companion:check"]);
        let unknown = check_as(&app, &token, "nobody", json!({ "user_id": "auth0|3" })).await;
        problem(unknown, 404).await;
        assert!(
            app.store
                .companion_user("auth0", "auth0|3")
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn a_companion_whose_client_is_not_registered_says_so_and_stores_nothing() {
    each_backend_with(&with_companion(), |app| async move {
        let claims = start_claims(&app, "auth0|4", "jti-5", json!({}));
        let path = start_path(&hs256(&claims, SECRET), "s");
        let (_, status, html) = visit(&app.new_browser(), &path).await;
        assert_eq!(status, 503, "the operator's mistake, not a busy server");
        assert!(html.contains("companion_client_missing"), "{html}");
        assert!(html.contains("not fully set up"), "{html}");
        assert!(
            app.store
                .companion_user("auth0", "auth0|4")
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

/// A provider publishing its keys on 127.0.0.1: `GET /<path>` answers the JWKS set for that
/// path, and each request is counted.
struct KeysPublisher {
    base: String,
    published: Arc<Mutex<HashMap<String, Value>>>,
    requests: Arc<Mutex<HashMap<String, usize>>>,
}

impl KeysPublisher {
    async fn start() -> KeysPublisher {
        let published: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
        let requests: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (keys, counts) = (published.clone(), requests.clone());
        let route = axum::routing::get(
            move |axum::extract::Path(path): axum::extract::Path<String>| {
                let (keys, counts) = (keys.clone(), counts.clone());
                async move {
                    *counts.lock().unwrap().entry(path.clone()).or_default() += 1;
                    match keys.lock().unwrap().get(&path) {
                        Some(jwks) => (
                            axum::http::StatusCode::OK,
                            [("cache-control", "public, max-age=600")],
                            axum::Json(jwks.clone()),
                        )
                            .into_response(),
                        None => axum::http::StatusCode::NOT_FOUND.into_response(),
                    }
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, axum::Router::new().route("/{path}", route))
                .await
                .unwrap();
        });
        KeysPublisher {
            base: format!("http://{addr}"),
            published,
            requests,
        }
    }

    /// Publishes `jwks` at `/<path>` (replacing what was there: a rotation).
    fn publish(&self, path: &str, jwks: &Value) {
        self.published
            .lock()
            .unwrap()
            .insert(path.to_owned(), jwks.clone());
    }

    /// How many times `/<path>` was fetched since the last reset.
    fn requests(&self, path: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn reset(&self) {
        self.requests.lock().unwrap().clear();
        self.published.lock().unwrap().clear();
    }
}

const KC_ISSUER: &str = "https://sso.example.com/realms/main";

/// Generic ES256 companions whose keys are at `keys_url/<name>`; loopback over plain http
/// allowed; no background workers.
fn with_published_keys(keys_url: &str, names: &[&str]) -> Layer {
    let (accrete_pem, _, _) = ec_key();
    let companions: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({
                "name": name,
                "kind": "generic",
                "issuer": KC_ISSUER,
                "algorithm": "ES256",
                "jwks_uri": format!("{keys_url}/{name}"),
                "signing_key": accrete_pem,
                "continue_url": "https://sso.example.com/realms/main/accrete/continue",
                "client": "keycloak-companion",
            })
        })
        .collect();
    Layer {
        webhooks: Some(WebhooksLayer {
            allow_private: Some(true),
            allow_http: Some(true),
            deliver: Some(false),
            ..WebhooksLayer::default()
        }),
        companions: Some(serde_json::from_value(Value::Array(companions)).unwrap()),
        ..Layer::default()
    }
}

/// A start token of companion `name` for `sub`, signed with `pem` under `kid`.
fn es256_start(app: &TestApp, name: &str, sub: &str, jti: &str, pem: &str, kid: &str) -> String {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": KC_ISSUER, "sub": sub, "aud": format!("{}/companion/{name}", app.base),
        "iat": now, "exp": now + 300, "jti": jti, "logins_count": 2,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let key = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    format!("/companion/{name}/start?session_token={token}&state=s-1")
}

#[tokio::test]
async fn an_es256_companion_verifies_with_the_published_keys_and_follows_a_rotation() {
    let publisher = KeysPublisher::start().await;
    let layer = with_published_keys(&publisher.base, &["keycloak"]);
    each_backend_with(&layer, |app| {
        let publisher = &publisher;
        async move {
            publisher.reset();
            let (_, api) = admin(&app).await;
            publish(&api).await;
            ensure_client(&app, "keycloak-companion", &[]).await;
            let (first_pem, first_jwks, first_kid) = ec_key();
            publisher.publish("keycloak", &first_jwks);

            // A token of the published key is accepted; the keys are fetched once, then kept.
            for (sub, jti) in [("kc-1", "r-1"), ("kc-2", "r-2")] {
                let path = es256_start(&app, "keycloak", sub, jti, &first_pem, &first_kid);
                let (page, status, html) = visit(&app.new_browser(), &path).await;
                assert!(page.starts_with("/prompt?tx="), "{status} {html}");
            }
            assert_eq!(publisher.requests("keycloak"), 1, "kept, not fetched again");

            // The provider rotates: only the new key is published, and its tokens are accepted.
            let (second_pem, second_jwks, second_kid) = ec_key();
            publisher.publish("keycloak", &second_jwks);
            let path = es256_start(&app, "keycloak", "kc-3", "r-3", &second_pem, &second_kid);
            let (page, status, html) = visit(&app.new_browser(), &path).await;
            assert!(page.starts_with("/prompt?tx="), "{status} {html}");
            assert_eq!(
                publisher.requests("keycloak"),
                2,
                "fetched again for the new kid"
            );
            assert!(
                app.store
                    .companion_user("keycloak", "kc-3")
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    })
    .await;
}

#[tokio::test]
async fn made_up_kids_fetch_the_keys_at_most_once_and_an_unreachable_provider_stores_nothing() {
    let publisher = KeysPublisher::start().await;
    // A provider that is not there: a port bound, then let go.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut layer = with_published_keys(&publisher.base, &["keycloak"]);
    let unreachable = with_published_keys(&down, &["offline"]);
    layer
        .companions
        .as_mut()
        .unwrap()
        .extend(unreachable.companions.unwrap());
    each_backend_with(&layer, |app| {
        let publisher = &publisher;
        async move {
            publisher.reset();
            let (_, api) = admin(&app).await;
            publish(&api).await;
            ensure_client(&app, "keycloak-companion", &[]).await;
            let (pem, jwks, kid) = ec_key();
            publisher.publish("keycloak", &jwks);
            let path = es256_start(&app, "keycloak", "kc-1", "m-1", &pem, &kid);
            let (page, _, _) = visit(&app.new_browser(), &path).await;
            assert!(page.starts_with("/prompt?tx="), "{page}");
            assert_eq!(publisher.requests("keycloak"), 1);

            // Tokens naming keys the provider never published: refused; the first fetches the
            // keys again, the second (within the interval) does not.
            let (forged_pem, _, _) = ec_key();
            for (n, made_up) in ["made-up-1", "made-up-2"].into_iter().enumerate() {
                let sub = format!("forger-{n}");
                let path = es256_start(&app, "keycloak", &sub, made_up, &forged_pem, made_up);
                let (_, status, html) = visit(&app.new_browser(), &path).await;
                assert_eq!(status, 400, "{html}");
                assert!(html.contains("invalid_token"), "{html}");
                assert!(
                    app.store
                        .companion_user("keycloak", &sub)
                        .await
                        .unwrap()
                        .is_none()
                );
            }
            assert_eq!(
                publisher.requests("keycloak"),
                2,
                "one fetch for two unknown kids"
            );

            // The provider cannot be reached: a clear refusal, nothing stored, not a 500.
            for jti in ["o-1", "o-2"] {
                let path = es256_start(&app, "offline", "kc-9", jti, &pem, &kid);
                let response = app.new_browser().get(&path).await;
                assert_eq!(response.status(), 503);
                assert_eq!(
                    response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()),
                    Some("30")
                );
                let html = response.text().await.unwrap();
                assert!(html.contains("jwks_unavailable"), "{html}");
            }
            assert!(
                app.store
                    .companion_user("offline", "kc-9")
                    .await
                    .unwrap()
                    .is_none()
            );
        }
    })
    .await;
}
