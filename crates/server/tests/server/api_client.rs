//! Calling the API in tests: tokens minted with a signing key the test stores (as the token
//! endpoint would issue them), and small request helpers.

use accrete_oidc::jwt::{AccessTokenClaims, Audience, sign_access_token};
use accrete_oidc::keys::{Alg, KeyEncryptionKey, KeySchedule, SigningKey};
use accrete_server::secrets::ServerSecrets;
use accrete_store::{Client, NewUser, StoredSigningKey, User};
use base64::Engine as _;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{TEST_MASTER_KEY, TestApp};

/// Every management scope.
pub const ALL_SCOPES: &[&str] = &[
    "users:read",
    "users:write",
    "policy:read",
    "policy:write",
    "clients:read",
    "clients:write",
    "stats:read",
    "connections:read",
    "connections:write",
    "audit:read",
    "admins:write",
    "theme:read",
    "theme:write",
    "webhooks:read",
    "webhooks:write",
];

/// A policy with a select field asked at the `cta:pricing` event (optional), a text field in
/// user metadata, a profile claim and an app-only field.
pub fn pricing_policy() -> Value {
    json!({
        "version": 1,
        "fields": [
            {"key": "company_size", "kind": "select",
             "labels": {"en": "Company size", "fr": "Taille de l'entreprise"},
             "help": {"en": "How many people work there?"},
             "options": [{"value": "1-10"}, {"value": "11-50"}, {"value": "51+", "labels": {"en": "More than 50"}}]},
            {"key": "job_title", "kind": "text", "required": false, "labels": {"en": "Job title"},
             "validation": {"max_length": 20}},
            {"key": "given_name", "kind": "text", "required": false, "labels": {"en": "First name"},
             "storage": {"profile": {"claim": "given_name"}}},
            {"key": "plan", "kind": "select", "required": false, "storage": "app_metadata",
             "user_access": "none", "labels": {"en": "Plan"}, "options": [{"value": "free"}, {"value": "pro"}]}
        ],
        "steps": [
            {"id": "company", "fields": ["company_size"], "title": {"en": "About your company"},
             "mode": {"optional": {"max_skips": 2}},
             "trigger": {"moments": ["event"], "events": ["cta:pricing"]}}
        ]
    })
}

/// The start of the `kid` of the key [`Tokens::install`] stores.
const TEST_KID_PREFIX: &str = "test-";

/// Mints tokens the server accepts.
pub struct Tokens {
    key: SigningKey,
    issuer: String,
}

impl Tokens {
    /// Stores an ES256 key (sealed with the test master key) and returns a minter; a later
    /// call for the same server takes the key stored by the first (a server reads keys it does
    /// not know at most once a minute, so a second key would not be known in time).
    pub async fn install(app: &TestApp) -> Tokens {
        let master = base64::engine::general_purpose::STANDARD
            .decode(TEST_MASTER_KEY)
            .unwrap();
        let secrets = ServerSecrets::derive(&master).unwrap();
        let kek = KeyEncryptionKey::from_bytes(&secrets.key_encryption_key).unwrap();
        let stored = app.store.list_signing_keys().await.unwrap();
        if let Some(row) = stored
            .iter()
            .find(|row| row.kid.starts_with(TEST_KID_PREFIX))
        {
            let der = kek.open(&row.kid, &row.private_key).unwrap();
            let key = SigningKey::from_pkcs8(
                row.kid.clone(),
                Alg::ES256,
                &der,
                KeySchedule::immediately(row.active_from),
            )
            .unwrap();
            return Tokens {
                key,
                issuer: app.base.clone(),
            };
        }
        let now = OffsetDateTime::now_utc() - time::Duration::minutes(1);
        let generated = SigningKey::generate(Alg::ES256, KeySchedule::immediately(now)).unwrap();
        let kid = format!("{TEST_KID_PREFIX}{}", generated.kid());
        let key = SigningKey::from_pkcs8(
            kid,
            Alg::ES256,
            generated.private_pkcs8(),
            KeySchedule::immediately(now),
        )
        .unwrap();
        let sealed = kek.seal(key.kid(), key.private_pkcs8()).unwrap();
        app.store
            .insert_signing_key(StoredSigningKey {
                kid: key.kid().to_owned(),
                alg: "ES256".to_owned(),
                private_key: sealed,
                public_jwk: serde_json::to_value(key.public_jwk()).unwrap(),
                created_at: now,
                active_from: now,
                retired_at: None,
            })
            .await
            .unwrap();
        Tokens {
            key,
            issuer: app.base.clone(),
        }
    }

    fn sign(&self, subject: &str, client: &str, scopes: &[&str], jti: Option<String>) -> String {
        self.sign_at(subject, client, scopes, jti, OffsetDateTime::now_utc())
    }

    fn sign_at(
        &self,
        subject: &str,
        client: &str,
        scopes: &[&str],
        jti: Option<String>,
        issued_at: OffsetDateTime,
    ) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let mut claims = AccessTokenClaims::new(
            &self.issuer,
            subject,
            client,
            Audience::from_list(vec![self.issuer.clone()]),
            &scopes,
            issued_at,
            time::Duration::minutes(15),
        );
        if let Some(jti) = jti {
            claims.jti = jti;
        }
        sign_access_token(&self.key, &claims).unwrap()
    }

    /// A client-credentials token of `client` with `scopes` (register the client first: a token
    /// of a client that does not exist is refused, see [`ensure_client`]).
    pub fn backend(&self, client: &str, scopes: &[&str]) -> String {
        self.sign(client, client, scopes, None)
    }

    /// A client-credentials token of `client` issued at `issued_at` (still unexpired if that
    /// was less than 15 minutes ago).
    pub fn backend_issued_at(
        &self,
        client: &str,
        scopes: &[&str],
        issued_at: OffsetDateTime,
    ) -> String {
        self.sign_at(client, client, scopes, None, issued_at)
    }

    /// A user's access token for `client` (under a real grant, as the token endpoint issues).
    pub async fn user(&self, app: &TestApp, user: &User, client: &str) -> String {
        ensure_client(app, client, &[]).await;
        let grant = app
            .store
            .create_grant(
                user.id,
                client,
                &["openid".to_owned()],
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        let jti = format!("{}.{}", grant.id, uuid::Uuid::new_v4().simple());
        self.sign(&user.id.to_string(), client, &["openid"], Some(jti))
    }
}

/// Registers a client directly in the store (if absent).
pub async fn ensure_client(app: &TestApp, id: &str, origins: &[&str]) {
    if app.store.get_client(id).await.unwrap().is_some() {
        return;
    }
    let now = OffsetDateTime::now_utc();
    app.store
        .create_client(Client {
            id: id.to_owned(),
            secret_hash: None,
            name: id.to_owned(),
            redirect_uris: vec!["https://app.example/cb".to_owned()],
            post_logout_redirect_uris: vec![],
            grant_types: vec!["authorization_code".to_owned()],
            scopes: vec!["openid".to_owned()],
            audience: vec![],
            public: true,
            id_token_alg: "RS256".to_owned(),
            allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            theme: json!({}),
            connections: None,
            password_signin: true,
            self_signup: None,
            email_verification: None,
            mfa: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
}

/// A user created directly in the store.
pub async fn stored_user(app: &TestApp, email: &str) -> User {
    app.store
        .create_user(NewUser::with_email(email, OffsetDateTime::now_utc()))
        .await
        .unwrap()
}

/// A request to the API with a bearer token.
pub struct Api<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl Api<'_> {
    pub fn url(&self, path: &str) -> String {
        self.app.url(&format!("/api/v1{path}"))
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::DELETE, path)
            .send()
            .await
            .unwrap()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.request(method, path).json(body).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path, body).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> reqwest::Response {
        self.request(reqwest::Method::PATCH, path)
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Saves `document` as the draft and publishes it.
    pub async fn publish(&self, document: &Value) {
        let saved = self.put("/policy/draft", document).await;
        assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
        let published = self.post("/policy/publish", &json!({"note": "test"})).await;
        assert_eq!(published.status(), 201);
    }
}

/// Reads a problem document, checking its media type and status.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}

/// An API client (`backend`) with every scope.
pub async fn admin(app: &TestApp) -> (Tokens, Api<'_>) {
    let tokens = Tokens::install(app).await;
    ensure_client(app, "backend", &[]).await;
    let token = tokens.backend("backend", ALL_SCOPES);
    (tokens, Api { app, token })
}
