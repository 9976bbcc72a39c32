//! GitHub, and plain OAuth 2: a stand-in of GitHub's OAuth endpoints and REST API as documented
//! (token errors answered with `200 OK`, JSON only when asked, `User-Agent` required, the
//! addresses at `/user/emails`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use accrete_federation::spec::{ConnectionSpec, Preset};
use accrete_federation::{Provider, UpstreamError};
use aws_lc_rs::digest::{SHA256, digest};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use url::Url;

use crate::idp::{CLIENT_ID, CLIENT_SECRET};
use crate::support::{provider, sign_in, spec, start, upstream};

#[derive(Default)]
struct GitHub {
    /// `code` → (PKCE challenge, redirect URI).
    codes: HashMap<String, (String, String)>,
    issued: usize,
    emails: Option<Value>,
    user_agents: Vec<String>,
    last_authorize: HashMap<String, String>,
}

type Shared = Arc<Mutex<GitHub>>;

async fn authorize(
    State(github): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (Some(challenge), Some(redirect_uri), Some(state)) = (
        query.get("code_challenge"),
        query.get("redirect_uri"),
        query.get("state"),
    ) else {
        return (StatusCode::BAD_REQUEST, "missing parameters").into_response();
    };
    let mut github = github.lock().unwrap();
    github.last_authorize = query.clone();
    github.issued += 1;
    let code = format!("gh-code-{}", github.issued);
    github
        .codes
        .insert(code.clone(), (challenge.clone(), redirect_uri.clone()));
    let mut location = Url::parse(redirect_uri).unwrap();
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", state);
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

async fn access_token(State(github): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut github = github.lock().unwrap();
    // The secret in the body, as GitHub documents; HTTP Basic for plain OAuth 2 clients.
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .map(|encoded| String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap());
    let authenticated = basic.as_deref() == Some(&format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        || (form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET));
    let verified = form
        .get("code")
        .and_then(|code| github.codes.remove(code))
        .is_some_and(|(challenge, redirect_uri)| {
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes())) == challenge
                && form.get("redirect_uri") == Some(&redirect_uri)
        });
    let answer = if !authenticated {
        json!({"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."})
    } else if !verified {
        json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
    } else {
        github.issued += 1;
        json!({"access_token": format!("gho_{}", github.issued), "scope": "read:user,user:email", "token_type": "bearer"})
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .is_some_and(|accept| accept.to_str().unwrap_or("").contains("application/json"));
    if wants_json {
        // GitHub answers errors with 200 OK too.
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            answer.to_string(),
        )
            .into_response()
    } else {
        let form: Vec<(String, String)> = answer
            .as_object()
            .unwrap()
            .iter()
            .map(|(key, value)| (key.clone(), value.as_str().unwrap().to_owned()))
            .collect();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
            body,
        )
            .into_response()
    }
}

/// The REST API's checks, a `User-Agent` and a token GitHub issued: the refusal, if any.
fn refusal(github: &mut GitHub, headers: &HeaderMap) -> Option<Response> {
    let Some(agent) = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
    else {
        let message = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header";
        return Some((StatusCode::FORBIDDEN, message).into_response());
    };
    github.user_agents.push(agent.to_owned());
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if token.starts_with("Bearer gho_") {
        None
    } else {
        Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"message":"Bad credentials"}"#,
            )
                .into_response(),
        )
    }
}

async fn user(State(github): State<Shared>, headers: HeaderMap) -> Response {
    let mut github = github.lock().unwrap();
    if let Some(refused) = refusal(&mut github, &headers) {
        return refused;
    }
    let user = json!({
        "login": "octocat",
        "id": 583231,
        "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
        "name": "The Octocat",
        "company": "@github",
        "email": "public@octocat.example",
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        user.to_string(),
    )
        .into_response()
}

async fn emails(State(github): State<Shared>, headers: HeaderMap) -> Response {
    let mut github = github.lock().unwrap();
    if let Some(refused) = refusal(&mut github, &headers) {
        return refused;
    }
    match &github.emails {
        Some(emails) => (
            [(header::CONTENT_TYPE, "application/json")],
            emails.to_string(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#).into_response(),
    }
}

struct Stand {
    base: String,
    github: Shared,
}

impl Stand {
    async fn start() -> Stand {
        let github: Shared = Arc::default();
        github.lock().unwrap().emails = Some(json!([
            {"email": "octocat@users.noreply.github.com", "primary": false, "verified": true, "visibility": null},
            {"email": "octo@example.com", "primary": true, "verified": true, "visibility": "public"},
        ]));
        let router = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/user", get(user))
            .route("/user/emails", get(emails))
            .with_state(github.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Stand { base, github }
    }

    fn spec(&self, preset: Preset) -> ConnectionSpec {
        let mut spec = spec(preset, "");
        spec.issuer = None;
        spec.authorization_endpoint = Some(format!("{}/login/oauth/authorize", self.base));
        spec.token_endpoint = Some(format!("{}/login/oauth/access_token", self.base));
        spec.userinfo_endpoint = Some(format!("{}/user", self.base));
        spec
    }

    fn provider(&self) -> Provider {
        provider(&self.spec(Preset::GitHub))
    }

    fn set_emails(&self, emails: Option<Value>) {
        self.github.lock().unwrap().emails = emails;
    }
}

#[tokio::test]
async fn a_github_user_signs_in_with_the_verified_primary_address() {
    let github = Stand::start().await;
    let identity = sign_in(&upstream(), &github.provider()).await.unwrap();
    assert_eq!(identity.subject, "583231");
    assert_eq!(identity.email.as_deref(), Some("octo@example.com"));
    assert!(identity.email_verified);
    let claims = &identity.claims;
    assert_eq!(claims["sub"], "583231");
    assert_eq!(claims["preferred_username"], "octocat");
    assert_eq!(
        claims["picture"],
        "https://avatars.githubusercontent.com/u/583231?v=4"
    );
    assert_eq!(claims["name"], "The Octocat");
    assert_eq!(claims["company"], "@github");
    assert!(identity.amr.is_empty());

    let state = github.github.lock().unwrap();
    assert_eq!(state.last_authorize["scope"], "read:user user:email");
    assert_eq!(state.last_authorize["code_challenge_method"], "S256");
    assert!(!state.last_authorize.contains_key("nonce"));
    assert_eq!(state.user_agents.len(), 2);
    assert!(
        state
            .user_agents
            .iter()
            .all(|agent| agent.starts_with("Accrete/"))
    );
}

#[tokio::test]
async fn an_unverified_primary_address_is_not_vouched_for() {
    let github = Stand::start().await;
    github.set_emails(Some(json!([
        {"email": "octo@example.com", "primary": true, "verified": false, "visibility": "public"},
        {"email": "other@example.com", "primary": false, "verified": true, "visibility": null},
    ])));
    let identity = sign_in(&upstream(), &github.provider()).await.unwrap();
    assert_eq!(identity.email.as_deref(), Some("octo@example.com"));
    assert!(!identity.email_verified);
    assert_eq!(identity.claims["email_verified"], false);
}

#[tokio::test]
async fn without_access_to_the_addresses_the_public_one_is_unverified() {
    let github = Stand::start().await;
    github.set_emails(None);
    let identity = sign_in(&upstream(), &github.provider()).await.unwrap();
    assert_eq!(identity.email.as_deref(), Some("public@octocat.example"));
    assert!(!identity.email_verified);
}

#[tokio::test]
async fn a_bad_code_answered_with_200_is_a_token_endpoint_error() {
    let github = Stand::start().await;
    let upstream = upstream();
    let provider = github.provider();
    let callback = accrete_federation::Callback {
        code: Some("not-a-code".to_owned()),
        ..accrete_federation::Callback::default()
    };
    let error = upstream
        .finish(&provider, &callback, &start())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        UpstreamError::TokenEndpoint {
            error: "bad_verification_code".to_owned(),
            description: Some("The code passed is incorrect or expired.".to_owned()),
        }
    );
}

#[tokio::test]
async fn a_user_who_declines_on_github_comes_back_denied() {
    let github = Stand::start().await;
    let callback = accrete_federation::Callback {
        error: Some("access_denied".to_owned()),
        error_description: Some("The user has denied your application access.".to_owned()),
        ..accrete_federation::Callback::default()
    };
    let error = upstream()
        .finish(&github.provider(), &callback, &start())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "denied");
}

#[tokio::test]
async fn a_plain_oauth2_provider_is_read_as_openid_connect_names() {
    let github = Stand::start().await;
    let mut spec = github.spec(Preset::OAuth2);
    spec.scopes = Some(vec!["profile".to_owned()]);
    let identity = sign_in(&upstream(), &provider(&spec)).await.unwrap();
    assert_eq!(identity.subject, "583231");
    // No GitHub email list: the profile's address, not vouched for.
    assert_eq!(identity.email.as_deref(), Some("public@octocat.example"));
    assert!(!identity.email_verified);
    assert_eq!(identity.claims["preferred_username"], "octocat");
    assert_eq!(
        github.github.lock().unwrap().last_authorize["scope"],
        "profile"
    );
}

#[tokio::test]
async fn the_connection_test_reaches_each_host() {
    let github = Stand::start().await;
    let summary = upstream().check(&github.provider()).await.unwrap();
    assert_eq!(
        summary,
        format!(
            "endpoints reachable: {}",
            github.base.trim_start_matches("http://")
        )
    );
}
