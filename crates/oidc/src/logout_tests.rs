use time::Duration;
use time::macros::datetime;

use super::*;
use crate::client::tests::web_client;
use crate::error::ErrorCode;
use crate::jwt::sign_id_token;
use crate::keys::{Alg, KeySchedule, SigningKey};
use crate::params::pairs;

const ISSUER: &str = "https://id.example.com";
const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);
const BYE: &str = "https://app.example.com/bye";

fn keys() -> KeySet {
    KeySet::new(vec![
        SigningKey::generate(Alg::ES256, KeySchedule::immediately(NOW)).unwrap(),
    ])
}

fn hint_claims() -> IdTokenClaims {
    let mut claims = IdTokenClaims::new(ISSUER, "user-1", "web", NOW, Duration::minutes(5));
    claims.sid = Some("session-9".into());
    claims
}

#[test]
fn expired_but_genuine_hint_is_accepted() {
    let keys = keys();
    let token = sign_id_token(keys.signing_key(Alg::ES256, NOW).unwrap(), &hint_claims()).unwrap();
    let claims = verify_id_token_hint(&keys, ISSUER, &token, NOW + Duration::days(3)).unwrap();
    assert_eq!(claims.sub, "user-1");
}

#[test]
fn bad_id_token_hint_is_invalid_request() {
    let keys = keys();
    let stranger = SigningKey::generate(Alg::ES256, KeySchedule::immediately(NOW)).unwrap();
    let forged = sign_id_token(&stranger, &hint_claims()).unwrap();
    for hint in [forged.as_str(), "garbage", "a.b.c"] {
        let error = verify_id_token_hint(&keys, ISSUER, hint, NOW).unwrap_err();
        assert_eq!(error.kind, ErrorCode::InvalidRequest);
    }
}

#[test]
fn registered_post_logout_redirect_gets_the_state() {
    let params = parse_logout_request(&pairs(&[
        ("post_logout_redirect_uri", BYE),
        ("state", "s 1"),
    ]))
    .unwrap();
    let hint = hint_claims();
    let outcome = resolve_logout(&params, Some(&hint), Some(&web_client())).unwrap();
    assert_eq!(
        outcome.redirect.as_deref(),
        Some("https://app.example.com/bye?state=s+1")
    );
    assert_eq!(outcome.subject.as_deref(), Some("user-1"));
    assert_eq!(outcome.session_id.as_deref(), Some("session-9"));
    assert_eq!(outcome.client_id.as_deref(), Some("web"));
}

#[test]
fn unregistered_post_logout_redirect_is_refused() {
    for uri in [
        "https://evil.example.com/",
        "https://app.example.com/bye/",
        "https://app.example.com/bye?x=1",
    ] {
        let params = parse_logout_request(&pairs(&[("post_logout_redirect_uri", uri)])).unwrap();
        let hint = hint_claims();
        let error = resolve_logout(&params, Some(&hint), Some(&web_client())).unwrap_err();
        assert_eq!(error.kind, ErrorCode::InvalidRequest, "{uri}");
    }
}

#[test]
fn redirect_without_a_known_client_is_refused() {
    let params = parse_logout_request(&pairs(&[("post_logout_redirect_uri", BYE)])).unwrap();
    assert!(resolve_logout(&params, None, None).is_err());
}

#[test]
fn client_id_alone_identifies_the_client() {
    let params = parse_logout_request(&pairs(&[
        ("post_logout_redirect_uri", BYE),
        ("client_id", "web"),
    ]))
    .unwrap();
    assert_eq!(params.client_to_look_up(None).unwrap(), Some("web"));
    let outcome = resolve_logout(&params, None, Some(&web_client())).unwrap();
    assert_eq!(outcome.redirect.as_deref(), Some(BYE));
    assert_eq!(outcome.subject, None);
}

#[test]
fn client_id_contradicting_the_hint_is_refused() {
    let params = parse_logout_request(&pairs(&[("client_id", "other")])).unwrap();
    let hint = hint_claims();
    assert!(params.client_to_look_up(Some(&hint)).is_err());
    assert!(resolve_logout(&params, Some(&hint), Some(&web_client())).is_err());
}

#[test]
fn logout_without_parameters_just_signs_out() {
    let params = parse_logout_request(&[]).unwrap();
    let outcome = resolve_logout(&params, None, None).unwrap();
    assert_eq!(outcome.redirect, None);
}

#[test]
fn repeated_parameters_are_invalid() {
    assert!(parse_logout_request(&pairs(&[("state", "a"), ("state", "b")])).is_err());
}
