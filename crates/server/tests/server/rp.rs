//! A relying party's side of the tests: clients with known secrets, the browser's walk through
//! `/authorize` and the sign-in page, and raw token-endpoint calls.

use std::path::Path;

use accrete_oidc::pkce::s256;
use accrete_server::secrets::ServerSecrets;
use accrete_store::Client;
use serde_json::Value;
use time::OffsetDateTime;

use crate::support::{Browser, TEST_MASTER_KEY, TestApp};

pub const REDIRECT: &str = "http://localhost:9999/callback";
pub const AFTER_LOGOUT: &str = "http://localhost:9999/bye";
pub const PASSWORD: &str = "correct horse battery";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ0sDHfUTg4hbVuvR5RnZcPuLfHbi8XVnQ";

/// What a test client may do.
pub struct ClientSpec {
    pub id: &'static str,
    pub public: bool,
    pub grants: &'static [&'static str],
    pub scopes: &'static [&'static str],
    pub audience: &'static [&'static str],
    pub id_token_alg: &'static str,
}

impl ClientSpec {
    /// A confidential web client with the code and refresh grants and the standard scopes.
    pub fn web(id: &'static str) -> ClientSpec {
        ClientSpec {
            id,
            public: false,
            grants: &["authorization_code", "refresh_token"],
            scopes: &[
                "openid",
                "profile",
                "email",
                "phone",
                "address",
                "offline_access",
            ],
            audience: &[],
            id_token_alg: "RS256",
        }
    }
}

/// The keyed hash the server uses for secrets, derived from the tests' master key.
pub fn hash_secret(secret: &str) -> String {
    ServerSecrets::load(Some(TEST_MASTER_KEY), Path::new("/nonexistent"))
        .unwrap()
        .token_hasher
        .hash(secret)
}

/// Registers a client; returns its secret (`None` for public clients).
pub async fn register(app: &TestApp, spec: ClientSpec) -> Option<String> {
    let now = OffsetDateTime::now_utc();
    let secret = (!spec.public).then(|| format!("{}-secret-of-enough-entropy", spec.id));
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    app.store
        .create_client(Client {
            id: spec.id.to_owned(),
            secret_hash: secret.as_deref().map(hash_secret),
            name: format!("The {} app", spec.id),
            redirect_uris: vec![REDIRECT.to_owned()],
            post_logout_redirect_uris: vec![AFTER_LOGOUT.to_owned()],
            grant_types: strings(spec.grants),
            scopes: strings(spec.scopes),
            audience: strings(spec.audience),
            public: spec.public,
            id_token_alg: spec.id_token_alg.to_owned(),
            allowed_origins: vec![],
            theme: serde_json::json!({}),
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
    secret
}

pub fn escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `/authorize?...` for `client` with PKCE (the [`VERIFIER`]), `state=st`, `nonce=n-1` and the
/// given scope; `extra` is appended as is.
pub fn authorize_path(client: &str, scope: &str, extra: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={client}&redirect_uri={}&scope={}&state=st&nonce=n-1&code_challenge={}&code_challenge_method=S256{extra}",
        escape(REDIRECT),
        escape(scope),
        s256(VERIFIER)
    )
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no location header on a {} answer", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).unwrap();
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Follows an authorization request in `browser`, signing in as `email` when the sign-in page
/// shows up; returns the URL the browser is finally sent to (the client's redirect URI).
pub async fn authorize(browser: &Browser, path: &str, email: &str) -> String {
    let mut target = location(&browser.get(path).await);
    for _ in 0..5 {
        if target.starts_with("/login?tx=") {
            let tx = target.trim_start_matches("/login?tx=").to_owned();
            let csrf = browser.csrf(&target).await;
            let response = browser
                .post_form(
                    "/login",
                    &[
                        ("csrf", &csrf),
                        ("tx", &tx),
                        ("email", email),
                        ("password", PASSWORD),
                        ("action", "submit"),
                    ],
                )
                .await;
            target = location(&response);
        } else if target.starts_with('/') {
            target = location(&browser.get(&target).await);
        } else {
            return target;
        }
    }
    panic!("the authorization did not come back to the client: {target}")
}

/// Signs up `email` in a browser of its own (the SSO session stays in that browser).
pub async fn sign_up(app: &TestApp, email: &str) -> Browser {
    let browser = app.new_browser();
    let response = browser.sign_up(email, PASSWORD).await;
    assert!(
        response.status().is_redirection(),
        "sign-up failed: {}",
        response.status()
    );
    browser
}

/// The code in a redirect back to the client.
pub fn code_of(redirect: &str) -> String {
    query_param(redirect, "code").unwrap_or_else(|| panic!("no code in {redirect}"))
}

/// Posts a form to the token endpoint with `client_secret_post` credentials (or only `client_id`).
pub async fn token_request(
    app: &TestApp,
    client: &str,
    secret: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut all: Vec<(&str, &str)> = form.to_vec();
    all.push(("client_id", client));
    if let Some(secret) = secret {
        all.push(("client_secret", secret));
    }
    app.browser
        .client
        .post(app.url("/token"))
        .form(&all)
        .send()
        .await
        .unwrap()
}

/// Redeems `code` with the test verifier; returns the status and the JSON body.
pub async fn redeem(app: &TestApp, client: &str, secret: Option<&str>, code: &str) -> (u16, Value) {
    let response = token_request(
        app,
        client,
        secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Signs up `email` and runs an authorization for `client` with `scope`: the token response.
pub async fn tokens_for(
    app: &TestApp,
    client: &str,
    secret: Option<&str>,
    email: &str,
    scope: &str,
) -> Value {
    let browser = sign_up(app, email).await;
    let back = authorize(&browser, &authorize_path(client, scope, ""), email).await;
    let (status, body) = redeem(app, client, secret, &code_of(&back)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Calls userinfo with a bearer header.
pub async fn userinfo(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.browser
        .client
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

fn jwt_part(token: &str, index: usize) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The (unverified) JOSE header of a JWT.
pub fn jwt_header(token: &str) -> Value {
    jwt_part(token, 0)
}

/// The (unverified) claims of a JWT.
pub fn jwt_payload(token: &str) -> Value {
    jwt_part(token, 1)
}
