//! A stand-in OpenID Connect provider on 127.0.0.1:0, as providers document their endpoints:
//! discovery, an authorization endpoint that answers at once (the user "signs in"), a token
//! endpoint that checks the client's authentication, the code and its PKCE verifier, a JWKS, and
//! userinfo. Tests change what it says (claims, keys, discovery, errors) through [`Idp::set`].
//! With a `{tenantid}` issuer it is Entra ID; with Apple's client authentication, Apple.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde_json::{Map, Value, json};
use url::Url;

use crate::keys::{APPLE, RSA_1, RsaKey};

pub const CLIENT_ID: &str = "accrete-client";
pub const CLIENT_SECRET: &str = "stand-in-secret";
pub const SUBJECT: &str = "user-248289761001";

/// How the stand-in expects the client to authenticate at its token endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Auth {
    /// `client_secret_basic`.
    Basic,
    /// `client_secret_post`.
    Post,
    /// Apple: `client_secret_post` where the secret is an ES256 JWT of the team.
    AppleJwt,
}

/// The stand-in's behaviour, changed by tests.
pub struct Behaviour {
    /// The `issuer` of the discovery document (`{base}` unless changed).
    pub issuer: String,
    /// The `iss` of its ID tokens (the issuer unless changed: Entra's carry their tenant).
    pub token_issuer: String,
    pub auth: Auth,
    /// Keys in the JWKS.
    pub published: Vec<&'static RsaKey>,
    /// The key ID tokens are signed with.
    pub signing: &'static RsaKey,
    /// The user's claims in the ID token (`sub`, `email`...).
    pub claims: Map<String, Value>,
    /// Claims set last in the ID token (`null` removes one): `aud`, `exp`, `nonce`, `iss`...
    pub token_overrides: Map<String, Value>,
    /// The userinfo answer; `None`: no userinfo endpoint.
    pub userinfo: Option<Value>,
    /// Keys set last in the discovery document (`null` removes one).
    pub discovery_overrides: Map<String, Value>,
    /// An error the token endpoint answers with (`400`).
    pub token_error: Option<Value>,
    /// The `iss` the authorization answer carries (RFC 9207).
    pub response_iss: Option<String>,
    /// An error the authorization endpoint sends the user back with.
    pub authorize_error: Option<(String, String)>,
    /// Apple's `user` form field, on a `form_post` answer.
    pub apple_user: Option<String>,
}

#[derive(Default)]
struct Grant {
    challenge: String,
    redirect_uri: String,
    nonce: Option<String>,
}

struct Inner {
    base: String,
    behaviour: Behaviour,
    grants: HashMap<String, Grant>,
    access_tokens: Vec<String>,
    issued: usize,
    hits: HashMap<String, usize>,
    last_authorize: HashMap<String, String>,
    last_token_request: HashMap<String, String>,
}

/// A running stand-in provider.
#[derive(Clone)]
pub struct Idp {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Idp {
    /// Starts a provider whose issuer is `{base}{issuer_path}` (`""` for the base itself).
    pub async fn start(issuer_path: &str, auth: Auth) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{base}{issuer_path}");
        let mut claims = Map::new();
        claims.insert("sub".to_owned(), json!(SUBJECT));
        claims.insert("email".to_owned(), json!("ada@example.com"));
        claims.insert("email_verified".to_owned(), json!(true));
        claims.insert("name".to_owned(), json!("Ada Lovelace"));
        claims.insert("amr".to_owned(), json!(["pwd", "mfa"]));
        claims.insert("acr".to_owned(), json!("urn:example:loa:2"));
        let behaviour = Behaviour {
            issuer: issuer.clone(),
            token_issuer: issuer,
            auth,
            published: vec![&*RSA_1],
            signing: &RSA_1,
            claims,
            token_overrides: Map::new(),
            userinfo: Some(json!({
                "sub": SUBJECT,
                "given_name": "Ada",
                "family_name": "Lovelace",
                "name": "From userinfo",
                "groups": ["analysts"]
            })),
            discovery_overrides: Map::new(),
            token_error: None,
            response_iss: None,
            authorize_error: None,
            apple_user: None,
        };
        let inner = Arc::new(Mutex::new(Inner {
            base: base.clone(),
            behaviour,
            grants: HashMap::new(),
            access_tokens: Vec::new(),
            issued: 0,
            hits: HashMap::new(),
            last_authorize: HashMap::new(),
            last_token_request: HashMap::new(),
        }));
        let router = Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Idp { base, inner }
    }

    /// Changes what the provider does.
    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.inner.lock().unwrap().behaviour);
    }

    /// How many requests a path (`/jwks`, `/token`...) received.
    pub fn hits(&self, path: &str) -> usize {
        let inner = self.inner.lock().unwrap();
        inner.hits.get(path).copied().unwrap_or(0)
    }

    /// The parameters of the last authorization request.
    pub fn last_authorize(&self) -> HashMap<String, String> {
        self.inner.lock().unwrap().last_authorize.clone()
    }

    /// The form of the last token request.
    pub fn last_token_request(&self) -> HashMap<String, String> {
        self.inner.lock().unwrap().last_token_request.clone()
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    json_response(status, json!({"error": error}))
}

fn apply(target: &mut Map<String, Value>, overrides: &Map<String, Value>) {
    for (key, value) in overrides {
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.clone(), value.clone());
        }
    }
}

fn form(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let path = uri.path().to_owned();
    let suffix = path
        .rsplit_once('/')
        .map_or("", |(_, last)| last)
        .to_owned();
    let key = if path.ends_with("/.well-known/openid-configuration") {
        "/.well-known/openid-configuration".to_owned()
    } else {
        format!("/{suffix}")
    };
    *inner.hits.entry(key.clone()).or_default() += 1;
    match key.as_str() {
        "/.well-known/openid-configuration" => discovery(&inner),
        "/authorize" => authorize(&mut inner, uri.query().unwrap_or("")),
        "/token" => token(&mut inner, &headers, &body),
        "/userinfo" => userinfo(&inner, &headers),
        "/jwks" => {
            let keys: Vec<Value> = inner
                .behaviour
                .published
                .iter()
                .map(|key| key.jwk.clone())
                .collect();
            json_response(StatusCode::OK, json!({ "keys": keys }))
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn discovery(inner: &Inner) -> Response {
    let base = &inner.base;
    let behaviour = &inner.behaviour;
    let auth_methods = match behaviour.auth {
        Auth::Basic => json!(["client_secret_basic", "client_secret_post"]),
        Auth::Post | Auth::AppleJwt => json!(["client_secret_post"]),
    };
    let mut document = json!({
        "issuer": behaviour.issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
    });
    let map = document.as_object_mut().unwrap();
    if behaviour.userinfo.is_some() {
        map.insert(
            "userinfo_endpoint".to_owned(),
            json!(format!("{base}/userinfo")),
        );
    }
    apply(map, &behaviour.discovery_overrides);
    json_response(StatusCode::OK, document)
}

fn authorize(inner: &mut Inner, query: &str) -> Response {
    let params = form(query);
    inner.last_authorize = params.clone();
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    let redirect_uri = param("redirect_uri");
    let mut answer: Vec<(String, String)> = vec![("state".to_owned(), param("state"))];
    if let Some((error, description)) = &inner.behaviour.authorize_error {
        answer.push(("error".to_owned(), error.clone()));
        answer.push(("error_description".to_owned(), description.clone()));
    } else if param("client_id") != CLIENT_ID
        || param("response_type") != "code"
        || param("code_challenge_method") != "S256"
    {
        answer.push(("error".to_owned(), "invalid_request".to_owned()));
    } else {
        inner.issued += 1;
        let code = format!("code-{}", inner.issued);
        inner.grants.insert(
            code.clone(),
            Grant {
                challenge: param("code_challenge"),
                redirect_uri: redirect_uri.clone(),
                nonce: params.get("nonce").cloned(),
            },
        );
        answer.push(("code".to_owned(), code));
    }
    if let Some(iss) = &inner.behaviour.response_iss {
        answer.push(("iss".to_owned(), iss.clone()));
    }
    if param("response_mode") == "form_post" {
        // What the browser posts to the redirect URI.
        if let Some(user) = &inner.behaviour.apple_user {
            answer.push(("user".to_owned(), user.clone()));
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(answer)
            .finish();
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
            body,
        )
            .into_response();
    }
    let mut location = Url::parse(&redirect_uri).unwrap();
    location.query_pairs_mut().extend_pairs(answer);
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

/// Whether the client authenticated as the stand-in expects.
fn client_authenticated(
    behaviour: &Behaviour,
    headers: &HeaderMap,
    request: &HashMap<String, String>,
) -> bool {
    match behaviour.auth {
        Auth::Basic => {
            let Some(value) = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
            else {
                return false;
            };
            let Some(encoded) = value.strip_prefix("Basic ") else {
                return false;
            };
            let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
            let (id, secret) = decoded.split_once(':').unwrap();
            // RFC 6749 §2.3.1: both form-encoded.
            let unescape = |text: &str| form(&format!("v={text}")).remove("v").unwrap_or_default();
            unescape(id) == CLIENT_ID && unescape(secret) == CLIENT_SECRET
        }
        Auth::Post => {
            request.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && request.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        }
        Auth::AppleJwt => {
            let (Some(id), Some(secret)) = (request.get("client_id"), request.get("client_secret"))
            else {
                return false;
            };
            let mut validation = Validation::new(Algorithm::ES256);
            validation.set_audience(&[behaviour.issuer.as_str()]);
            validation.set_issuer(&[crate::apple::TEAM_ID]);
            validation.sub = Some(CLIENT_ID.to_owned());
            validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
            let Ok(decoded) = jsonwebtoken::decode::<Value>(secret, &APPLE.decoding, &validation)
            else {
                return false;
            };
            let lifetime =
                decoded.claims["exp"].as_u64().unwrap() - decoded.claims["iat"].as_u64().unwrap();
            id == CLIENT_ID
                && decoded.header.kid.as_deref() == Some(crate::apple::KEY_ID)
                && lifetime <= 15_777_000
        }
    }
}

fn token(inner: &mut Inner, headers: &HeaderMap, body: &[u8]) -> Response {
    let request = form(std::str::from_utf8(body).unwrap());
    inner.last_token_request = request.clone();
    if !client_authenticated(&inner.behaviour, headers, &request) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if let Some(error) = &inner.behaviour.token_error {
        return json_response(StatusCode::BAD_REQUEST, error.clone());
    }
    let param = |name: &str| request.get(name).cloned().unwrap_or_default();
    if param("grant_type") != "authorization_code" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let Some(grant) = inner.grants.remove(&param("code")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, param("code_verifier").as_bytes()));
    if challenge != grant.challenge || param("redirect_uri") != grant.redirect_uri {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }

    let behaviour = &inner.behaviour;
    let now = now();
    let mut claims = Map::new();
    claims.insert("iss".to_owned(), json!(behaviour.token_issuer));
    claims.insert("aud".to_owned(), json!(CLIENT_ID));
    claims.insert("iat".to_owned(), json!(now));
    claims.insert("exp".to_owned(), json!(now + 600));
    if let Some(nonce) = &grant.nonce {
        claims.insert("nonce".to_owned(), json!(nonce));
    }
    apply(&mut claims, &behaviour.claims);
    apply(&mut claims, &behaviour.token_overrides);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(behaviour.signing.kid.clone());
    let id_token = jsonwebtoken::encode(&header, &claims, &behaviour.signing.encoding).unwrap();
    inner.issued += 1;
    let access_token = format!("access-{}", inner.issued);
    inner.access_tokens.push(access_token.clone());
    json_response(
        StatusCode::OK,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 600,
            "id_token": id_token,
        }),
    )
}

fn userinfo(inner: &Inner, headers: &HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    match &inner.behaviour.userinfo {
        Some(userinfo) if inner.access_tokens.iter().any(|issued| issued == token) => {
            json_response(StatusCode::OK, userinfo.clone())
        }
        Some(_) => oauth_error(StatusCode::UNAUTHORIZED, "invalid_token"),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
