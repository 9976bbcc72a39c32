//! What every flow test does: an [`Upstream`] allowed to reach loopback over plain http, the
//! caller's [`Start`], a browser that follows the user to the provider and back, and a spec
//! pointing a preset at a stand-in.

use std::time::Duration;

use accrete_federation::spec::{ConnectionSpec, Preset};
use accrete_federation::{
    Callback, HttpOptions, Provider, Start, Upstream, UpstreamError, UpstreamIdentity,
};
use reqwest::header::LOCATION;
use url::Url;

use crate::idp::{CLIENT_ID, CLIENT_SECRET};

pub const REDIRECT_URI: &str = "https://accrete.example/federation/upstream/callback";
pub const STATE: &str = "state-ZmVkZXJhdGlvbg";
pub const NONCE: &str = "nonce-bm9uY2Ugb2YgdGhlIHRlc3Q";
pub const VERIFIER: &str = "verifier-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF";

pub fn options() -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(5),
        allow_loopback_http: true,
        ..HttpOptions::default()
    }
}

pub fn upstream() -> Upstream {
    Upstream::new(options()).unwrap()
}

pub fn start() -> Start {
    Start {
        redirect_uri: Url::parse(REDIRECT_URI).unwrap(),
        state: STATE.to_owned(),
        nonce: NONCE.to_owned(),
        pkce_verifier: VERIFIER.to_owned(),
        login_hint: None,
        prompt_login: false,
        max_age: None,
        ui_locales: Vec::new(),
    }
}

/// A connection of `preset` to a stand-in at `issuer`.
pub fn spec(preset: Preset, issuer: &str) -> ConnectionSpec {
    ConnectionSpec {
        name: "upstream".to_owned(),
        display_name: None,
        preset,
        issuer: Some(issuer.to_owned()),
        tenant: None,
        authorization_endpoint: None,
        token_endpoint: None,
        userinfo_endpoint: None,
        client_id: CLIENT_ID.to_owned(),
        client_secret: Some(CLIENT_SECRET.to_owned()),
        apple: None,
        scopes: None,
        domains: Vec::new(),
        mapping: None,
        enabled: true,
    }
}

pub fn provider(spec: &ConnectionSpec) -> Provider {
    spec.check().unwrap();
    spec.provider().unwrap()
}

/// The user's browser: goes to the authorization URL and comes back with the provider's answer,
/// from the redirect's query or, for `form_post`, the form it would post.
pub async fn browse(url: &Url) -> Callback {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(url.clone()).send().await.unwrap();
    let params: Vec<(String, String)> = if response.status().is_redirection() {
        let location = response.headers()[LOCATION].to_str().unwrap();
        let location = Url::parse(location).unwrap();
        assert!(location.as_str().starts_with(REDIRECT_URI));
        location.query_pairs().into_owned().collect()
    } else {
        let body = response.text().await.unwrap();
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    };
    let get = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    // The caller checks `state` before `finish`.
    assert_eq!(get("state").as_deref(), Some(STATE));
    Callback {
        code: get("code"),
        iss: get("iss"),
        error: get("error"),
        error_description: get("error_description"),
        user: get("user"),
    }
}

/// A whole sign-in: to the provider and back.
pub async fn sign_in(
    upstream: &Upstream,
    provider: &Provider,
) -> Result<UpstreamIdentity, UpstreamError> {
    let start = start();
    let url = upstream.authorization_url(provider, &start).await?;
    let callback = browse(&url).await;
    upstream.finish(provider, &callback, &start).await
}
