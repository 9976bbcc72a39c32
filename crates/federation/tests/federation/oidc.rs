//! Signing in at an OpenID Connect provider: the authorization request, the code exchange, the ID
//! token's checks, RFC 9207, userinfo, and the caches.

use accrete_federation::UpstreamError;
use accrete_federation::spec::Preset;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::idp::{Auth, CLIENT_ID, CLIENT_SECRET, Idp, SUBJECT};
use crate::keys::{RSA_1, RSA_2, RSA_3, RSA_FORGED};
use crate::support::{
    NONCE, REDIRECT_URI, STATE, VERIFIER, browse, provider, sign_in, spec, start, upstream,
};

async fn oidc() -> (Idp, accrete_federation::Provider) {
    let idp = Idp::start("", Auth::Basic).await;
    let provider = provider(&spec(Preset::Oidc, &idp.base));
    (idp, provider)
}

/// Why the ID token was refused.
fn id_token_error(result: Result<accrete_federation::UpstreamIdentity, UpstreamError>) -> String {
    let error = result.unwrap_err();
    assert_eq!(error.kind(), "id_token", "{error:?}");
    error.to_string()
}

#[tokio::test]
async fn a_user_signs_in_with_pkce_state_and_nonce() {
    let (idp, provider) = oidc().await;
    let upstream = upstream();
    let identity = sign_in(&upstream, &provider).await.unwrap();

    assert_eq!(identity.subject, SUBJECT);
    assert_eq!(identity.email.as_deref(), Some("ada@example.com"));
    assert!(identity.email_verified);
    assert_eq!(identity.amr, ["pwd", "mfa"]);
    assert_eq!(identity.acr.as_deref(), Some("urn:example:loa:2"));

    let authorize = idp.last_authorize();
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, VERIFIER.as_bytes()));
    assert_eq!(authorize["code_challenge"], challenge);
    assert_eq!(authorize["code_challenge_method"], "S256");
    assert_eq!(authorize["response_type"], "code");
    assert_eq!(authorize["client_id"], CLIENT_ID);
    assert_eq!(authorize["redirect_uri"], REDIRECT_URI);
    assert_eq!(authorize["state"], STATE);
    assert_eq!(authorize["nonce"], NONCE);
    assert_eq!(authorize["scope"], "openid email profile");
    assert!(!authorize.contains_key("login_hint"));
    assert!(!authorize.contains_key("response_mode"));

    // client_secret_basic by default (the stand-in refuses anything else), the verifier sent.
    let token = idp.last_token_request();
    assert_eq!(token["code_verifier"], VERIFIER);
    assert!(!token.contains_key("client_secret"));
}

#[tokio::test]
async fn claims_are_the_id_tokens_with_what_userinfo_adds() {
    let (_idp, provider) = oidc().await;
    let identity = sign_in(&upstream(), &provider).await.unwrap();
    let claims = &identity.claims;
    // The ID token's own claims win; userinfo adds the others.
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["given_name"], "Ada");
    assert_eq!(claims["family_name"], "Lovelace");
    assert_eq!(claims["groups"], json!(["analysts"]));
    assert_eq!(claims["sub"], SUBJECT);
    assert_eq!(claims["nonce"], NONCE);
    assert_eq!(claims["aud"], json!([CLIENT_ID]));
}

#[tokio::test]
async fn providers_writing_claims_as_strings_are_read() {
    let (idp, provider) = oidc().await;
    // Auth0 writes `updated_at` as a date, Cognito `email_verified` as a string.
    idp.set(|b| {
        b.claims
            .insert("updated_at".to_owned(), json!("2024-05-01T10:00:00.000Z"));
        b.claims.insert("email_verified".to_owned(), json!("true"));
    });
    let identity = sign_in(&upstream(), &provider).await.unwrap();
    assert!(identity.email_verified);
    assert!(identity.claims.contains_key("updated_at"));
}

#[tokio::test]
async fn a_userinfo_answer_about_someone_else_is_refused() {
    let (idp, provider) = oidc().await;
    idp.set(|b| b.userinfo = Some(json!({"sub": "someone-else", "name": "Mallory"})));
    let message = id_token_error(sign_in(&upstream(), &provider).await);
    assert!(message.contains("another subject"), "{message}");
}

#[tokio::test]
async fn a_login_hint_is_passed_on() {
    let (idp, provider) = oidc().await;
    let mut start = start();
    start.login_hint = Some("ada@example.com".to_owned());
    let url = upstream()
        .authorization_url(&provider, &start)
        .await
        .unwrap();
    browse(&url).await;
    assert_eq!(idp.last_authorize()["login_hint"], "ada@example.com");
}

#[tokio::test]
async fn a_fresh_sign_in_an_age_and_locales_asked_by_the_application_are_passed_on() {
    let (idp, provider) = oidc().await;
    let mut start = start();
    start.prompt_login = true;
    start.max_age = Some(300);
    start.ui_locales = vec!["fr-FR".to_owned(), "en".to_owned()];
    let url = upstream()
        .authorization_url(&provider, &start)
        .await
        .unwrap();
    browse(&url).await;
    let asked = idp.last_authorize();
    assert_eq!(asked["prompt"], "login");
    assert_eq!(asked["max_age"], "300");
    assert_eq!(asked["ui_locales"], "fr-FR en");
    // Not asked, not sent.
    let url = upstream()
        .authorization_url(&provider, &super::support::start())
        .await
        .unwrap();
    browse(&url).await;
    assert!(!idp.last_authorize().contains_key("prompt"));
}

#[tokio::test]
async fn client_secret_post_when_the_provider_lists_only_that() {
    let idp = Idp::start("", Auth::Post).await;
    let provider = provider(&spec(Preset::Oidc, &idp.base));
    sign_in(&upstream(), &provider).await.unwrap();
    assert_eq!(idp.last_token_request()["client_secret"], CLIENT_SECRET);
}

#[tokio::test]
async fn a_pkce_verifier_of_the_wrong_shape_is_refused_before_any_request() {
    let (idp, provider) = oidc().await;
    let mut start = start();
    start.pkce_verifier = "short".to_owned();
    let error = upstream()
        .authorization_url(&provider, &start)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "config");
    assert_eq!(idp.hits("/.well-known/openid-configuration"), 0);
}

#[tokio::test]
async fn discovery_and_keys_are_fetched_once_for_many_sign_ins() {
    let (idp, provider) = oidc().await;
    let upstream = upstream();
    for _ in 0..3 {
        sign_in(&upstream, &provider).await.unwrap();
    }
    // A clone shares the caches.
    sign_in(&upstream.clone(), &provider).await.unwrap();
    assert_eq!(idp.hits("/.well-known/openid-configuration"), 1);
    assert_eq!(idp.hits("/jwks"), 1);
    assert_eq!(idp.hits("/token"), 4);
}

#[tokio::test]
async fn an_id_token_with_a_bad_signature_is_refused() {
    let (idp, provider) = oidc().await;
    // Same kid as the published key, another key.
    idp.set(|b| b.signing = &RSA_FORGED);
    let message = id_token_error(sign_in(&upstream(), &provider).await);
    assert!(message.contains("signature"), "{message}");
}

#[tokio::test]
async fn an_id_token_for_another_audience_is_refused() {
    let (idp, provider) = oidc().await;
    idp.set(|b| {
        b.token_overrides
            .insert("aud".to_owned(), json!("another-client"));
    });
    let message = id_token_error(sign_in(&upstream(), &provider).await);
    assert!(message.contains("audience"), "{message}");
}

#[tokio::test]
async fn several_audiences_need_an_authorized_party_that_is_this_client() {
    let (idp, provider) = oidc().await;
    let upstream = upstream();
    idp.set(|b| {
        b.token_overrides
            .insert("aud".to_owned(), json!([CLIENT_ID, "another-client"]));
    });
    let message = id_token_error(sign_in(&upstream, &provider).await);
    assert!(message.contains("azp"), "{message}");

    idp.set(|b| {
        b.token_overrides
            .insert("azp".to_owned(), json!("another-client"));
    });
    let message = id_token_error(sign_in(&upstream, &provider).await);
    assert!(message.contains("another party"), "{message}");

    idp.set(|b| {
        b.token_overrides.insert("azp".to_owned(), json!(CLIENT_ID));
    });
    sign_in(&upstream, &provider).await.unwrap();
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let (idp, provider) = oidc().await;
    idp.set(|b| {
        b.token_overrides
            .insert("nonce".to_owned(), json!("replayed"));
    });
    let message = id_token_error(sign_in(&upstream(), &provider).await);
    assert!(message.contains("nonce"), "{message}");

    idp.set(|b| {
        b.token_overrides.insert("nonce".to_owned(), Value::Null);
    });
    let message = id_token_error(sign_in(&upstream(), &provider).await);
    assert!(message.contains("nonce"), "{message}");
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    let (idp, provider) = oidc().await;
    idp.set(|b| {
        b.token_overrides
            .insert("exp".to_owned(), json!(1_000_000_000));
    });
    let message = id_token_error(sign_in(&upstream(), &provider).await);
    assert!(message.to_lowercase().contains("expired"), "{message}");
}

#[tokio::test]
async fn an_id_token_issued_in_the_future_is_refused() {
    let (idp, provider) = oidc().await;
    idp.set(|b| {
        b.token_overrides
            .insert("iat".to_owned(), json!(4_000_000_000_u64));
        b.token_overrides
            .insert("exp".to_owned(), json!(4_000_000_600_u64));
    });
    let message = id_token_error(sign_in(&upstream(), &provider).await);
    assert!(message.contains("future"), "{message}");
}

#[tokio::test]
async fn an_id_token_of_another_issuer_is_refused() {
    let (idp, provider) = oidc().await;
    idp.set(|b| b.token_issuer = "https://evil.example".to_owned());
    let error = sign_in(&upstream(), &provider).await.unwrap_err();
    assert_eq!(
        error,
        UpstreamError::IssuerMismatch {
            expected: idp.base.clone(),
            got: "https://evil.example".to_owned()
        }
    );
}

#[tokio::test]
async fn a_discovery_document_of_another_issuer_is_refused() {
    let (idp, provider) = oidc().await;
    idp.set(|b| b.issuer = "https://evil.example".to_owned());
    let error = sign_in(&upstream(), &provider).await.unwrap_err();
    assert_eq!(error.kind(), "issuer_mismatch");
    assert!(
        error.to_string().contains("https://evil.example"),
        "{error}"
    );
}

#[tokio::test]
async fn a_response_iss_must_be_the_issuer() {
    let (idp, provider) = oidc().await;
    let upstream = upstream();
    idp.set(|b| b.response_iss = Some("https://mix-up.example".to_owned()));
    let error = sign_in(&upstream, &provider).await.unwrap_err();
    assert_eq!(
        error,
        UpstreamError::IssuerMismatch {
            expected: idp.base.clone(),
            got: "https://mix-up.example".to_owned()
        }
    );
    // Refused before the code is spent.
    assert_eq!(idp.hits("/token"), 0);

    idp.set(|b| b.response_iss = Some(idp.base.clone()));
    sign_in(&upstream, &provider).await.unwrap();
}

#[tokio::test]
async fn a_missing_response_iss_is_refused_when_the_provider_advertises_it() {
    let (idp, provider) = oidc().await;
    idp.set(|b| {
        b.discovery_overrides.insert(
            "authorization_response_iss_parameter_supported".to_owned(),
            json!(true),
        );
    });
    let upstream = upstream();
    let error = sign_in(&upstream, &provider).await.unwrap_err();
    assert_eq!(error, UpstreamError::MissingIssuer);

    idp.set(|b| b.response_iss = Some(idp.base.clone()));
    sign_in(&upstream, &provider).await.unwrap();
}

#[tokio::test]
async fn a_token_endpoint_error_is_reported_without_the_code() {
    let (idp, provider) = oidc().await;
    idp.set(|b| {
        b.token_error = Some(json!({
            "error": "invalid_grant",
            "error_description": "The code has expired"
        }));
    });
    let error = sign_in(&upstream(), &provider).await.unwrap_err();
    assert_eq!(
        error,
        UpstreamError::TokenEndpoint {
            error: "invalid_grant".to_owned(),
            description: Some("The code has expired".to_owned()),
        }
    );
    let shown = error.to_string();
    assert!(
        !shown.contains("code-") && !shown.contains(CLIENT_SECRET),
        "{shown}"
    );
}

#[tokio::test]
async fn a_code_spent_twice_is_refused_by_the_provider() {
    let (_idp, provider) = oidc().await;
    let upstream = upstream();
    let start = start();
    let url = upstream.authorization_url(&provider, &start).await.unwrap();
    let callback = browse(&url).await;
    upstream.finish(&provider, &callback, &start).await.unwrap();
    let error = upstream
        .finish(&provider, &callback, &start)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "token_endpoint");
}

#[tokio::test]
async fn a_user_who_declines_comes_back_denied() {
    let (idp, provider) = oidc().await;
    idp.set(|b| {
        b.authorize_error = Some(("access_denied".to_owned(), "The user declined".to_owned()));
    });
    let error = sign_in(&upstream(), &provider).await.unwrap_err();
    assert_eq!(
        error,
        UpstreamError::Denied {
            error: "access_denied".to_owned(),
            description: Some("The user declined".to_owned()),
        }
    );
    assert_eq!(error.kind(), "denied");
    assert_eq!(idp.hits("/token"), 0);
}

#[tokio::test]
async fn an_answer_without_code_is_refused() {
    let (_idp, provider) = oidc().await;
    let callback = accrete_federation::Callback::default();
    let error = upstream()
        .finish(&provider, &callback, &start())
        .await
        .unwrap_err();
    assert_eq!(error, UpstreamError::MissingCode);
}

#[tokio::test]
async fn a_new_signing_key_is_fetched_once() {
    let (idp, provider) = oidc().await;
    let upstream = upstream();
    sign_in(&upstream, &provider).await.unwrap();
    assert_eq!(idp.hits("/jwks"), 1);

    // The provider rotates: tokens signed with a key the cached JWKS lacks.
    idp.set(|b| {
        b.published = vec![&*RSA_1, &*RSA_2];
        b.signing = &RSA_2;
    });
    sign_in(&upstream, &provider).await.unwrap();
    sign_in(&upstream, &provider).await.unwrap();
    assert_eq!(idp.hits("/jwks"), 2);

    // Another unknown key within the minute: no new fetch, refused.
    idp.set(|b| {
        b.published = vec![&*RSA_2, &*RSA_3];
        b.signing = &RSA_3;
    });
    let message = id_token_error(sign_in(&upstream, &provider).await);
    assert!(message.contains("does not publish"), "{message}");
    assert_eq!(idp.hits("/jwks"), 2);
}

#[tokio::test]
async fn the_connection_test_reads_discovery_and_keys() {
    let (idp, provider) = oidc().await;
    idp.set(|b| b.published = vec![&*RSA_1, &*RSA_2]);
    let upstream = upstream();
    let summary = upstream.check(&provider).await.unwrap();
    assert_eq!(
        summary,
        format!("discovery ok, 2 keys, issuer {}", idp.base)
    );
    // Always fetched again.
    upstream.check(&provider).await.unwrap();
    assert_eq!(idp.hits("/.well-known/openid-configuration"), 2);
}

#[test]
fn the_flows_can_run_on_any_thread() {
    fn send<T: Send>(_: &T) {}
    let upstream = upstream();
    let provider = crate::support::provider(&spec(Preset::Oidc, "https://id.example"));
    let start = start();
    let callback = accrete_federation::Callback::default();
    send(&upstream.authorization_url(&provider, &start));
    send(&upstream.finish(&provider, &callback, &start));
    send(&upstream.check(&provider));
}
