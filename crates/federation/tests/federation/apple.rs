//! Sign in with Apple: `form_post`, the ES256 client secret the stand-in verifies with the team's
//! public key, `email_verified` as a string, and the name in the `user` field of the first
//! sign-in only.

use accrete_federation::UpstreamError;
use accrete_federation::spec::{AppleKey, ConnectionSpec, Preset};
use serde_json::json;

use crate::idp::{Auth, Idp};
use crate::keys::{APPLE, APPLE_OTHER, EcKey};
use crate::support::{provider, sign_in, spec, upstream};

pub const TEAM_ID: &str = "TEAM123456";
pub const KEY_ID: &str = "KEY1234567";

/// What Apple's ID tokens say of a user who hides their address.
async fn apple() -> Idp {
    let idp = Idp::start("", Auth::AppleJwt).await;
    idp.set(|b| {
        b.userinfo = None;
        b.claims.remove("name");
        b.claims.remove("amr");
        b.claims.remove("acr");
        b.claims
            .insert("email".to_owned(), json!("x7k2@privaterelay.appleid.com"));
        b.claims.insert("email_verified".to_owned(), json!("true"));
        b.claims
            .insert("is_private_email".to_owned(), json!("true"));
        b.claims
            .insert("auth_time".to_owned(), json!(1_700_000_000));
    });
    idp
}

fn apple_spec(idp: &Idp, key: &EcKey) -> ConnectionSpec {
    let mut spec = spec(Preset::Apple, &idp.base);
    spec.client_secret = None;
    spec.apple = Some(AppleKey {
        team_id: TEAM_ID.to_owned(),
        key_id: KEY_ID.to_owned(),
        private_key: key.pem.clone(),
    });
    spec
}

#[tokio::test]
async fn apple_answers_with_a_form_post_and_takes_a_signed_client_secret() {
    let idp = apple().await;
    let identity = sign_in(&upstream(), &provider(&apple_spec(&idp, &APPLE)))
        .await
        .unwrap();
    let authorize = idp.last_authorize();
    assert_eq!(authorize["response_mode"], "form_post");
    assert_eq!(authorize["scope"], "openid name email");
    // The stand-in accepted the ES256 secret: client_secret_post.
    let token = idp.last_token_request();
    assert_eq!(token["client_secret"].split('.').count(), 3);

    assert_eq!(
        identity.email.as_deref(),
        Some("x7k2@privaterelay.appleid.com")
    );
    assert!(identity.email_verified);
    assert_eq!(identity.claims["is_private_email"], "true");
    assert!(!identity.claims.contains_key("given_name"));
}

#[tokio::test]
async fn the_name_arrives_once_in_the_user_field() {
    let idp = apple().await;
    let provider = provider(&apple_spec(&idp, &APPLE));
    let upstream = upstream();
    idp.set(|b| {
        b.apple_user = Some(
            r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"other@example.com"}"#
                .to_owned(),
        );
    });
    let first = sign_in(&upstream, &provider).await.unwrap();
    assert_eq!(first.claims["given_name"], "Ada");
    assert_eq!(first.claims["family_name"], "Lovelace");
    // The ID token's address, not the unsigned field's.
    assert_eq!(
        first.email.as_deref(),
        Some("x7k2@privaterelay.appleid.com")
    );

    idp.set(|b| b.apple_user = None);
    let again = sign_in(&upstream, &provider).await.unwrap();
    assert!(!again.claims.contains_key("given_name"));
}

#[tokio::test]
async fn a_secret_signed_with_another_key_is_refused_by_apple() {
    let idp = apple().await;
    let error = sign_in(&upstream(), &provider(&apple_spec(&idp, &APPLE_OTHER)))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        UpstreamError::TokenEndpoint {
            error: "invalid_client".to_owned(),
            description: None
        }
    );
}

#[tokio::test]
async fn email_verified_false_as_a_string_is_false() {
    let idp = apple().await;
    idp.set(|b| {
        b.claims.insert("email_verified".to_owned(), json!("false"));
    });
    let identity = sign_in(&upstream(), &provider(&apple_spec(&idp, &APPLE)))
        .await
        .unwrap();
    assert!(!identity.email_verified);
}
