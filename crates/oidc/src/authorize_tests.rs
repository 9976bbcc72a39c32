use super::*;
use crate::client::tests::{public_client, web_client};
use crate::params::pairs;

const REDIRECT: &str = "https://app.example.com/callback";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ISSUER: &str = "https://id.example.com";

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "xyz"),
    ]
}

fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut items: Vec<(&'a str, &'a str)> = base();
    for (name, value) in extra {
        items.retain(|(n, _)| n != name);
        items.push((*name, *value));
    }
    items
}

fn without(name: &str) -> Vec<(&'static str, &'static str)> {
    base().into_iter().filter(|(n, _)| *n != name).collect()
}

fn validate(items: &[(&str, &str)]) -> Result<AuthorizationRequest, AuthorizeError> {
    validate_for(items, &web_client())
}

fn validate_for(
    items: &[(&str, &str)],
    client: &ClientView,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let params = AuthorizeParams::from_pairs(&pairs(items));
    params.validate(client)
}

fn redirected(result: Result<AuthorizationRequest, AuthorizeError>) -> ErrorRedirect {
    match result {
        Err(AuthorizeError::Redirect(redirect)) => redirect,
        other => panic!("expected a redirected error, got {other:?}"),
    }
}

fn shown(result: Result<AuthorizationRequest, AuthorizeError>) -> OAuthError {
    match result {
        Err(AuthorizeError::Show(error)) => error,
        other => panic!("expected a shown error, got {other:?}"),
    }
}

#[test]
fn minimal_code_request_is_accepted() {
    let request = validate(&base()).unwrap();
    assert_eq!(request.client_id, "web");
    assert_eq!(request.redirect_uri, REDIRECT);
    assert_eq!(request.scopes, ["openid", "profile"]);
    assert_eq!(request.state.as_deref(), Some("xyz"));
    assert!(
        request.nonce.is_none() && request.code_challenge.is_none() && request.prompt.is_empty()
    );
}

#[test]
fn nonce_is_optional_in_the_code_flow_and_kept_when_sent() {
    assert!(validate(&base()).unwrap().nonce.is_none());
    let request = validate(&with(&[("nonce", "n-0S6")])).unwrap();
    assert_eq!(request.nonce.as_deref(), Some("n-0S6"));
}

#[test]
fn missing_client_id_is_shown() {
    let params = AuthorizeParams::from_pairs(&pairs(&without("client_id")));
    assert!(matches!(params.client_id(), Err(AuthorizeError::Show(_))));
}

#[test]
fn repeated_client_id_is_shown() {
    let mut items = base();
    items.push(("client_id", "other"));
    let params = AuthorizeParams::from_pairs(&pairs(&items));
    assert!(matches!(params.client_id(), Err(AuthorizeError::Show(_))));
}

#[test]
fn unknown_client_error_is_shown_not_redirected() {
    assert!(matches!(
        AuthorizeError::unknown_client(),
        AuthorizeError::Show(_)
    ));
}

#[test]
fn missing_redirect_uri_is_shown() {
    assert_eq!(
        shown(validate(&without("redirect_uri"))).kind,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn unregistered_redirect_uri_is_shown_never_redirected() {
    for uri in [
        "https://evil.example.com/callback",
        "https://app.example.com/callback/",
        "https://APP.EXAMPLE.COM/callback",
        "https://app.example.com/callback?extra=1",
        "https://app.example.com/Callback",
        "http://app.example.com/callback",
    ] {
        let error = shown(validate(&with(&[("redirect_uri", uri)])));
        assert_eq!(error.kind, ErrorCode::InvalidRequest, "{uri}");
    }
}

#[test]
fn errors_before_the_redirect_uri_is_established_are_shown_even_with_other_faults() {
    // response_type is missing too, but the redirect URI is unregistered: nothing is redirected.
    let items = [
        ("client_id", "web"),
        ("redirect_uri", "https://evil.example.com/"),
    ];
    assert!(matches!(validate(&items), Err(AuthorizeError::Show(_))));
}

#[test]
fn missing_response_type_is_redirected_as_invalid_request() {
    let error = redirected(validate(&without("response_type")));
    assert_eq!(error.error.kind, ErrorCode::InvalidRequest);
    assert_eq!(error.state.as_deref(), Some("xyz"));
    assert_eq!(error.redirect_uri, REDIRECT);
}

#[test]
fn other_response_types_are_unsupported() {
    for response_type in ["token", "id_token", "code id_token", "code token"] {
        let error = redirected(validate(&with(&[("response_type", response_type)])));
        assert_eq!(
            error.error.kind,
            ErrorCode::UnsupportedResponseType,
            "{response_type}"
        );
    }
}

#[test]
fn scope_without_openid_is_invalid_scope() {
    assert_eq!(
        redirected(validate(&with(&[("scope", "profile")])))
            .error
            .kind,
        ErrorCode::InvalidScope
    );
    assert_eq!(
        redirected(validate(&without("scope"))).error.kind,
        ErrorCode::InvalidScope
    );
}

#[test]
fn scopes_the_client_may_not_have_are_dropped() {
    let request = validate(&with(&[("scope", "profile admin openid email email")])).unwrap();
    assert_eq!(request.scopes, ["openid", "profile", "email"]);
}

#[test]
fn request_parameter_is_answered_with_request_not_supported() {
    let error = redirected(validate(&with(&[("request", "eyJhbGciOiJub25lIn0.e30.")])));
    assert_eq!(error.error.kind, ErrorCode::RequestNotSupported);
    assert_eq!(error.state.as_deref(), Some("xyz"));
}

#[test]
fn request_uri_parameter_is_answered_with_request_uri_not_supported() {
    let error = redirected(validate(&with(&[(
        "request_uri",
        "https://rp.example.com/r/1",
    )])));
    assert_eq!(error.error.kind, ErrorCode::RequestUriNotSupported);
}

#[test]
fn public_client_must_send_pkce() {
    let items = [
        ("client_id", "spa"),
        ("redirect_uri", "http://localhost:5173/cb"),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    let error = redirected(validate_for(&items, &public_client()));
    assert_eq!(error.error.kind, ErrorCode::InvalidRequest);
    assert!(error.error.description.contains("PKCE"));

    let mut with_pkce = items.to_vec();
    with_pkce.extend([
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let request = validate_for(&with_pkce, &public_client()).unwrap();
    assert_eq!(request.code_challenge.unwrap().as_str(), CHALLENGE);
}

#[test]
fn confidential_client_may_use_pkce() {
    let request = validate(&with(&[
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]))
    .unwrap();
    assert!(request.code_challenge.is_some());
}

#[test]
fn pkce_plain_is_refused() {
    let error = redirected(validate(&with(&[
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "plain"),
    ])));
    assert_eq!(error.error.kind, ErrorCode::InvalidRequest);
    let error = redirected(validate(&with(&[("code_challenge", CHALLENGE)])));
    assert_eq!(error.error.kind, ErrorCode::InvalidRequest);
}

#[test]
fn prompt_values_are_parsed() {
    let request = validate(&with(&[("prompt", "login consent")])).unwrap();
    assert!(request.has_prompt(Prompt::Login) && request.has_prompt(Prompt::Consent));
    assert!(
        validate(&with(&[("prompt", "none")]))
            .unwrap()
            .has_prompt(Prompt::None)
    );
    assert!(validate(&with(&[("prompt", "select_account")])).is_ok());
    assert!(
        validate(&with(&[("prompt", "create")]))
            .unwrap()
            .has_prompt(Prompt::Create)
    );
}

#[test]
fn prompt_none_combined_with_login_is_invalid() {
    let error = redirected(validate(&with(&[("prompt", "none login")])));
    assert_eq!(error.error.kind, ErrorCode::InvalidRequest);
}

#[test]
fn unknown_prompt_value_is_invalid() {
    assert_eq!(
        redirected(validate(&with(&[("prompt", "sometimes")])))
            .error
            .kind,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn max_age_is_a_non_negative_integer() {
    assert_eq!(
        validate(&with(&[("max_age", "1")])).unwrap().max_age,
        Some(1)
    );
    assert_eq!(
        validate(&with(&[("max_age", "10000")])).unwrap().max_age,
        Some(10000)
    );
    assert_eq!(
        validate(&with(&[("max_age", "0")])).unwrap().max_age,
        Some(0)
    );
    for bad in ["-1", "1.5", "abc", " 1", "+1", "99999999999999999999999"] {
        let error = redirected(validate(&with(&[("max_age", bad)])));
        assert_eq!(error.error.kind, ErrorCode::InvalidRequest, "{bad}");
    }
}

#[test]
fn session_freshness_honours_max_age_and_prompt_login() {
    let request = validate(&with(&[("max_age", "1")])).unwrap();
    assert!(request.session_is_fresh_enough(100, 101));
    assert!(!request.session_is_fresh_enough(100, 102));
    let request = validate(&with(&[("max_age", "10000")])).unwrap();
    assert!(request.session_is_fresh_enough(100, 5000));
    let request = validate(&with(&[("prompt", "login")])).unwrap();
    assert!(!request.session_is_fresh_enough(100, 100));
    assert!(
        validate(&base())
            .unwrap()
            .session_is_fresh_enough(0, 1_000_000)
    );
}

#[test]
fn login_hint_ui_locales_and_id_token_hint_are_kept() {
    let request = validate(&with(&[
        ("login_hint", "ada@example.com"),
        ("ui_locales", "fr-CA fr en"),
        ("id_token_hint", "eyJ.x.y"),
        ("acr_values", "urn:mace:incommon:iap:silver"),
    ]))
    .unwrap();
    assert_eq!(request.login_hint.as_deref(), Some("ada@example.com"));
    assert_eq!(request.ui_locales, ["fr-CA", "fr", "en"]);
    assert_eq!(request.id_token_hint.as_deref(), Some("eyJ.x.y"));
    assert_eq!(request.acr_values, ["urn:mace:incommon:iap:silver"]);
}

#[test]
fn unknown_parameters_are_ignored() {
    assert!(
        validate(&with(&[
            ("display", "popup"),
            ("foo", "bar"),
            ("claims_locales", "de")
        ]))
        .is_ok()
    );
}

#[test]
fn duplicate_parameters_are_invalid() {
    let mut items = base();
    items.push(("scope", "openid email"));
    let error = redirected(validate(&items));
    assert_eq!(error.error.kind, ErrorCode::InvalidRequest);
    assert!(error.error.description.contains("scope"));
}

#[test]
fn duplicated_state_is_not_echoed() {
    let mut items = base();
    items.push(("state", "other"));
    let error = redirected(validate(&items));
    assert_eq!(error.state, None);
}

#[test]
fn response_mode_other_than_query_is_refused() {
    assert!(validate(&with(&[("response_mode", "query")])).is_ok());
    for mode in ["fragment", "form_post", "jwt"] {
        assert_eq!(
            redirected(validate(&with(&[("response_mode", mode)])))
                .error
                .kind,
            ErrorCode::InvalidRequest
        );
    }
}

#[test]
fn client_without_the_code_grant_is_unauthorized() {
    let mut client = web_client();
    client.grant_types = vec![GrantType::ClientCredentials];
    assert_eq!(
        redirected(validate_for(&base(), &client)).error.kind,
        ErrorCode::UnauthorizedClient
    );
}

#[test]
fn overlong_parameter_is_refused() {
    let long = "x".repeat(crate::params::MAX_PARAM_LEN + 1);
    let mut items = pairs(&base());
    items.push(("nonce".into(), long));
    let result = AuthorizeParams::from_pairs(&items).validate(&web_client());
    assert_eq!(redirected(result).error.kind, ErrorCode::InvalidRequest);
}

#[test]
fn success_redirect_carries_code_state_and_iss() {
    let request = validate(&base()).unwrap();
    let url = Url::parse(&request.success_redirect("the-code", ISSUER)).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        query,
        pairs(&[("code", "the-code"), ("state", "xyz"), ("iss", ISSUER)])
    );
    assert_eq!(url.path(), "/callback");
}

#[test]
fn success_redirect_keeps_the_registered_query_and_omits_absent_state() {
    let mut client = web_client();
    client.redirect_uris = vec!["https://app.example.com/cb?tenant=a b".into()];
    let items = [
        ("client_id", "web"),
        ("redirect_uri", "https://app.example.com/cb?tenant=a b"),
        ("response_type", "code"),
        ("scope", "openid"),
    ];
    let request = validate_for(&items, &client).unwrap();
    let url = Url::parse(&request.success_redirect("c", ISSUER)).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        query,
        pairs(&[("tenant", "a b"), ("code", "c"), ("iss", ISSUER)])
    );
}

#[test]
fn error_redirect_carries_error_description_state_and_iss() {
    let request = validate(&base()).unwrap();
    let redirect =
        request.error_redirect(OAuthError::new(ErrorCode::LoginRequired, "sign in needed"));
    let url = Url::parse(&redirect.to_url(ISSUER)).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        query,
        pairs(&[
            ("error", "login_required"),
            ("error_description", "sign in needed"),
            ("state", "xyz"),
            ("iss", ISSUER)
        ])
    );
}

#[test]
fn state_is_url_encoded_in_redirects() {
    let request = validate(&with(&[("state", "a&b=c d")])).unwrap();
    let url = request.success_redirect("c", ISSUER);
    assert!(url.contains("state=a%26b%3Dc+d"), "{url}");
}

#[test]
fn authorization_request_round_trips_through_json_for_storage() {
    let request = validate(&with(&[
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("prompt", "login"),
        ("max_age", "60"),
    ]))
    .unwrap();
    let json = serde_json::to_string(&request).unwrap();
    assert_eq!(
        serde_json::from_str::<AuthorizationRequest>(&json).unwrap(),
        request
    );
}

proptest::proptest! {
    #[test]
    fn no_redirect_uri_other_than_the_registered_one_is_ever_redirected_to(uri in "\\PC{0,60}") {
        let result = validate(&with(&[("redirect_uri", &uri), ("response_type", "token")]));
        if uri != REDIRECT {
            proptest::prop_assert!(matches!(result, Err(AuthorizeError::Show(_))));
        }
    }

    #[test]
    fn arbitrary_parameters_never_panic(
        items in proptest::collection::vec(("[a-z_]{1,14}", "\\PC{0,20}"), 0..12)
    ) {
        let params = AuthorizeParams::from_pairs(&items);
        let _ = params.client_id();
        let _ = params.validate(&web_client());
    }
}

fn session(auth_time: i64) -> SessionFacts {
    SessionFacts {
        subject: "user-1".into(),
        auth_time,
    }
}

#[test]
fn signed_in_user_proceeds_without_a_page() {
    let request = validate(&base()).unwrap();
    assert_eq!(
        request.next_step(Some(&session(100)), None, 200),
        NextStep::Proceed
    );
}

#[test]
fn prompt_none_with_a_session_proceeds_and_without_one_fails_with_login_required() {
    let request = validate(&with(&[("prompt", "none")])).unwrap();
    assert_eq!(
        request.next_step(Some(&session(100)), None, 200),
        NextStep::Proceed
    );
    match request.next_step(None, None, 200) {
        NextStep::Fail(redirect) => {
            assert_eq!(redirect.error.kind, ErrorCode::LoginRequired);
            assert_eq!(redirect.state.as_deref(), Some("xyz"));
        }
        other => panic!("expected login_required, got {other:?}"),
    }
}

#[test]
fn prompt_login_forces_the_sign_in_page_despite_a_session() {
    let request = validate(&with(&[("prompt", "login")])).unwrap();
    assert_eq!(
        request.next_step(Some(&session(100)), None, 100),
        NextStep::SignIn
    );
}

#[test]
fn max_age_1_forces_sign_in_after_a_second_and_10000_does_not() {
    let request = validate(&with(&[("max_age", "1")])).unwrap();
    assert_eq!(
        request.next_step(Some(&session(100)), None, 105),
        NextStep::SignIn
    );
    let request = validate(&with(&[("max_age", "10000")])).unwrap();
    assert_eq!(
        request.next_step(Some(&session(100)), None, 105),
        NextStep::Proceed
    );
}

#[test]
fn session_of_another_user_than_the_hint_is_not_used() {
    let request = validate(&base()).unwrap();
    assert_eq!(
        request.next_step(Some(&session(100)), Some("user-2"), 100),
        NextStep::SignIn
    );
    assert_eq!(
        request.next_step(Some(&session(100)), Some("user-1"), 100),
        NextStep::Proceed
    );
}

#[test]
fn prompt_create_shows_the_sign_up_page() {
    let request = validate(&with(&[("prompt", "create")])).unwrap();
    assert_eq!(request.next_step(None, None, 100), NextStep::SignUp);
}

#[test]
fn interaction_required_goes_back_to_the_client() {
    let request = validate(&with(&[("prompt", "none")])).unwrap();
    let redirect = request.interaction_required();
    assert_eq!(redirect.error.kind, ErrorCode::InteractionRequired);
    assert_eq!(redirect.redirect_uri, REDIRECT);
}
