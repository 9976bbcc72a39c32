use base64::Engine as _;
use time::Duration;
use time::macros::datetime;

use super::*;
use crate::authorize::AuthorizeParams;
use crate::client::tests::{public_client, web_client};
use crate::params::pairs;

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);
const REDIRECT: &str = "https://app.example.com/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn parse(items: &[(&str, &str)]) -> Result<TokenRequest, OAuthError> {
    parse_token_request(None, &pairs(items))
}

fn authorization(pkce: bool) -> AuthorizationRequest {
    let mut items = vec![
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile"),
    ];
    if pkce {
        items.extend([
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]);
    }
    AuthorizeParams::from_pairs(&pairs(&items))
        .validate(&web_client())
        .unwrap()
}

#[test]
fn authorization_code_request_is_parsed() {
    let request = parse(&[
        ("grant_type", "authorization_code"),
        ("code", "abc"),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", "web"),
        ("client_secret", "s"),
    ])
    .unwrap();
    assert_eq!(request.client.method(), "client_secret_post");
    assert_eq!(
        request.grant,
        GrantRequest::AuthorizationCode {
            code: "abc".into(),
            redirect_uri: Some(REDIRECT.into()),
            code_verifier: Some(VERIFIER.into())
        }
    );
}

#[test]
fn basic_authentication_header_is_used_for_the_client() {
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("web:s")
    );
    let request = parse_token_request(
        Some(&header),
        &pairs(&[("grant_type", "refresh_token"), ("refresh_token", "r")]),
    )
    .unwrap();
    assert_eq!(request.client.method(), "client_secret_basic");
    assert_eq!(request.grant.grant_type(), GrantType::RefreshToken);
}

#[test]
fn missing_grant_type_is_invalid_request() {
    assert_eq!(
        parse(&[("client_id", "web")]).unwrap_err().kind,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn unknown_grant_type_is_unsupported() {
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let error = parse(&[("grant_type", grant), ("client_id", "web")]).unwrap_err();
        assert_eq!(error.kind, ErrorCode::UnsupportedGrantType, "{grant}");
    }
}

#[test]
fn missing_code_or_refresh_token_is_invalid_request() {
    let error = parse(&[("grant_type", "authorization_code"), ("client_id", "web")]).unwrap_err();
    assert_eq!(error.kind, ErrorCode::InvalidRequest);
    let error = parse(&[("grant_type", "refresh_token"), ("client_id", "web")]).unwrap_err();
    assert_eq!(error.kind, ErrorCode::InvalidRequest);
}

#[test]
fn repeated_parameters_are_invalid_but_resource_may_repeat() {
    let error = parse(&[
        ("grant_type", "authorization_code"),
        ("code", "a"),
        ("code", "b"),
        ("client_id", "web"),
    ])
    .unwrap_err();
    assert_eq!(error.kind, ErrorCode::InvalidRequest);
    let request = parse(&[
        ("grant_type", "client_credentials"),
        ("client_id", "web"),
        ("client_secret", "s"),
        ("resource", "https://api.one"),
        ("resource", "https://api.two"),
        ("audience", "billing"),
        ("scope", "read write"),
    ])
    .unwrap();
    assert_eq!(
        request.grant,
        GrantRequest::ClientCredentials {
            scope: Some(vec!["read".into(), "write".into()]),
            audience: vec![
                "https://api.one".into(),
                "https://api.two".into(),
                "billing".into()
            ]
        }
    );
}

#[test]
fn code_redemption_with_matching_client_redirect_and_verifier_succeeds() {
    let request = authorization(true);
    let expires = NOW + Duration::minutes(1);
    assert!(
        check_code_redemption(
            &request,
            expires,
            "web",
            Some(REDIRECT),
            Some(VERIFIER),
            NOW
        )
        .is_ok()
    );
}

#[test]
fn pkce_mismatch_fails_the_redemption() {
    let request = authorization(true);
    let wrong = "a".repeat(43);
    let error = check_code_redemption(
        &request,
        NOW + Duration::minutes(1),
        "web",
        Some(REDIRECT),
        Some(&wrong),
        NOW,
    )
    .unwrap_err();
    assert_eq!(error.kind, ErrorCode::InvalidGrant);
}

#[test]
fn missing_verifier_fails_when_a_challenge_was_sent() {
    let request = authorization(true);
    let result = check_code_redemption(
        &request,
        NOW + Duration::minutes(1),
        "web",
        Some(REDIRECT),
        None,
        NOW,
    );
    assert_eq!(result.unwrap_err().kind, ErrorCode::InvalidGrant);
}

#[test]
fn verifier_without_a_challenge_is_a_downgrade_and_fails() {
    let request = authorization(false);
    let result = check_code_redemption(
        &request,
        NOW + Duration::minutes(1),
        "web",
        Some(REDIRECT),
        Some(VERIFIER),
        NOW,
    );
    assert_eq!(result.unwrap_err().kind, ErrorCode::InvalidGrant);
    assert!(
        check_code_redemption(
            &request,
            NOW + Duration::minutes(1),
            "web",
            Some(REDIRECT),
            None,
            NOW
        )
        .is_ok()
    );
}

#[test]
fn code_of_another_client_fails() {
    let request = authorization(false);
    let result = check_code_redemption(
        &request,
        NOW + Duration::minutes(1),
        "other",
        Some(REDIRECT),
        None,
        NOW,
    );
    assert_eq!(result.unwrap_err().kind, ErrorCode::InvalidGrant);
}

#[test]
fn redirect_uri_must_be_identical_at_the_token_endpoint() {
    let request = authorization(false);
    let expires = NOW + Duration::minutes(1);
    for uri in [
        None,
        Some("https://app.example.com/callback/"),
        Some("https://app.example.com/other"),
    ] {
        let result = check_code_redemption(&request, expires, "web", uri, None, NOW);
        assert_eq!(result.unwrap_err().kind, ErrorCode::InvalidGrant, "{uri:?}");
    }
}

#[test]
fn expired_code_fails() {
    let request = authorization(false);
    let result = check_code_redemption(&request, NOW, "web", Some(REDIRECT), None, NOW);
    assert_eq!(result.unwrap_err().kind, ErrorCode::InvalidGrant);
}

fn refresh_grant() -> RefreshGrant {
    RefreshGrant {
        client_id: "web".into(),
        scopes: vec!["openid".into(), "profile".into(), "email".into()],
        expires_at: Some(NOW + Duration::days(30)),
    }
}

#[test]
fn refresh_keeps_the_granted_scopes_when_none_are_asked() {
    assert_eq!(
        check_refresh(&refresh_grant(), "web", None, NOW).unwrap(),
        refresh_grant().scopes
    );
}

#[test]
fn refresh_may_narrow_the_scope_only() {
    let narrower = vec!["openid".to_owned(), "email".to_owned()];
    assert_eq!(
        check_refresh(&refresh_grant(), "web", Some(&narrower), NOW).unwrap(),
        narrower
    );
    let wider = vec!["openid".to_owned(), "phone".to_owned()];
    let error = check_refresh(&refresh_grant(), "web", Some(&wider), NOW).unwrap_err();
    assert_eq!(error.kind, ErrorCode::InvalidScope);
}

#[test]
fn refresh_by_another_client_or_after_expiry_fails() {
    assert_eq!(
        check_refresh(&refresh_grant(), "other", None, NOW)
            .unwrap_err()
            .kind,
        ErrorCode::InvalidGrant
    );
    let later = NOW + Duration::days(30);
    assert_eq!(
        check_refresh(&refresh_grant(), "web", None, later)
            .unwrap_err()
            .kind,
        ErrorCode::InvalidGrant
    );
}

fn service_client() -> ClientView {
    ClientView {
        allowed_scopes: vec!["openid".into(), "read".into(), "write".into()],
        grant_types: vec![GrantType::ClientCredentials],
        ..web_client()
    }
}

#[test]
fn client_credentials_default_to_every_allowed_non_user_scope() {
    assert_eq!(
        check_client_credentials(&service_client(), None).unwrap(),
        ["read", "write"]
    );
}

#[test]
fn client_credentials_refuse_unknown_and_user_scopes() {
    let asked = vec!["read".to_owned(), "admin".to_owned()];
    assert_eq!(
        check_client_credentials(&service_client(), Some(&asked))
            .unwrap_err()
            .kind,
        ErrorCode::InvalidScope
    );
    let asked = vec!["openid".to_owned()];
    assert_eq!(
        check_client_credentials(&service_client(), Some(&asked))
            .unwrap_err()
            .kind,
        ErrorCode::InvalidScope
    );
    let asked = vec!["read".to_owned()];
    assert_eq!(
        check_client_credentials(&service_client(), Some(&asked)).unwrap(),
        ["read"]
    );
}

#[test]
fn public_clients_and_clients_without_the_grant_are_unauthorized() {
    let mut public = public_client();
    public.grant_types.push(GrantType::ClientCredentials);
    assert_eq!(
        check_client_credentials(&public, None).unwrap_err().kind,
        ErrorCode::UnauthorizedClient
    );
    assert_eq!(
        check_client_credentials(&web_client(), None)
            .unwrap_err()
            .kind,
        ErrorCode::UnauthorizedClient
    );
    assert!(ensure_grant_allowed(&web_client(), GrantType::RefreshToken).is_ok());
}

#[test]
fn token_response_serializes_without_absent_members() {
    let mut response = TokenResponse::bearer("at".into(), 300, &["openid".into(), "email".into()]);
    response.id_token = Some("idt".into());
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        serde_json::json!({
            "access_token": "at", "token_type": "Bearer", "expires_in": 300,
            "id_token": "idt", "scope": "openid email"
        })
    );
    assert!(!format!("{response:?}").contains("at\""));
}
