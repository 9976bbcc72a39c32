//! The whole flow driven by an independent relying party, the `openidconnect` crate: discovery,
//! code + PKCE with a real sign-in form post, the ID token verified against the JWKS, userinfo,
//! refresh, client credentials and logout, on both backends.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::reqwest;
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse as _,
};

use crate::rp::{self, ClientSpec, REDIRECT};
use crate::support::{TestApp, each_backend};

fn http() -> reqwest::Client {
    reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn discover(app: &TestApp) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_standard_relying_party_signs_a_user_in_end_to_end() {
    each_backend(|app| async move {
        let secret = rp::register(&app, ClientSpec::web("web")).await.unwrap();
        let browser = rp::sign_up(&app, "ada@example.com").await;
        let user = app
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        app.store
            .apply_profile_changes(
                user.id,
                None,
                &[accrete_store::ProfileChange {
                    location: accrete_store::Location::Profile,
                    key: "given_name".into(),
                    value: Some("Ada".into()),
                }],
                "admin",
                time::OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();

        let provider = discover(&app).await;
        let client = CoreClient::from_provider_metadata(
            provider,
            ClientId::new("web".into()),
            Some(ClientSecret::new(secret)),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let path = &url.as_str()[app.base.len()..];
        let back = rp::authorize(&browser, path, "ada@example.com").await;
        assert_eq!(
            rp::query_param(&back, "state").as_deref(),
            Some(state.secret().as_str())
        );

        let tokens = client
            .exchange_code(AuthorizationCode::new(rp::code_of(&back)))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http())
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e:?}", app.backend));
        let id_token = tokens.id_token().expect("an ID token");
        let verifier = client.id_token_verifier();
        let claims = id_token.claims(&verifier, &nonce).unwrap();
        assert_eq!(claims.subject().as_str(), user.id.to_string());
        assert_eq!(claims.email().map(|e| e.as_str()), Some("ada@example.com"));
        assert!(claims.auth_time().is_some());
        let given = claims
            .given_name()
            .and_then(|names| names.get(None))
            .map(|n| n.as_str().to_owned());
        assert_eq!(given.as_deref(), Some("Ada"));
        let expected_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected_hash));

        let info: CoreUserInfoClaims = client
            .user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            )
            .unwrap()
            .request_async(&http())
            .await
            .unwrap();
        assert_eq!(info.email().map(|e| e.as_str()), Some("ada@example.com"));

        let refresh = tokens.refresh_token().expect("a refresh token");
        let refreshed = client
            .exchange_refresh_token(refresh)
            .unwrap()
            .request_async(&http())
            .await
            .unwrap();
        assert_ne!(
            refreshed.refresh_token().map(|t| t.secret()),
            Some(refresh.secret()),
            "the refresh token rotates"
        );
        let again: CoreUserInfoClaims = client
            .user_info(refreshed.access_token().clone(), None)
            .unwrap()
            .request_async(&http())
            .await
            .unwrap();
        assert_eq!(again.subject(), claims.subject());

        // RP-initiated logout with the ID token as hint: straight back to the client.
        let logout = format!(
            "/logout?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
            id_token,
            rp::escape(rp::AFTER_LOGOUT)
        );
        let response = browser.get(&logout).await;
        assert_eq!(
            rp::location(&response),
            format!("{}?state=bye", rp::AFTER_LOGOUT)
        );
        let after = browser
            .get(&rp::authorize_path("web", "openid", "&prompt=none"))
            .await;
        assert_eq!(
            rp::query_param(&rp::location(&after), "error").as_deref(),
            Some("login_required"),
            "the SSO session has ended"
        );
    })
    .await;
}

#[tokio::test]
async fn client_credentials_through_openidconnect_yield_a_scoped_token() {
    each_backend(|app| async move {
        let secret = rp::register(
            &app,
            ClientSpec {
                grants: &["client_credentials"],
                scopes: &["reports:read", "reports:write"],
                audience: &["https://api.example.com"],
                ..ClientSpec::web("backend")
            },
        )
        .await
        .unwrap();
        let provider = discover(&app).await;
        let client = CoreClient::from_provider_metadata(
            provider,
            ClientId::new("backend".into()),
            Some(ClientSecret::new(secret)),
        );
        let tokens = client
            .exchange_client_credentials()
            .unwrap()
            .add_scope(Scope::new("reports:read".into()))
            .request_async(&http())
            .await
            .unwrap();
        let scopes: Vec<String> = tokens
            .scopes()
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(scopes, ["reports:read"]);
        let payload = rp::jwt_payload(tokens.access_token().secret());
        assert_eq!(payload["sub"], "backend");
        assert_eq!(payload["aud"], "https://api.example.com");
        assert_eq!(
            rp::jwt_header(tokens.access_token().secret())["typ"],
            "at+jwt"
        );
        assert_eq!(
            rp::jwt_header(tokens.access_token().secret())["alg"],
            "ES256"
        );
    })
    .await;
}
