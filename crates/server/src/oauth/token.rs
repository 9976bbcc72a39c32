//! The token endpoint (`POST /token`): authorization code (PKCE, exact redirect URI, single use),
//! refresh token (rotation with reuse detection), client credentials (RFC 9068 access tokens).

use accrete_app::settings::Lifetimes;
use accrete_oidc::OAuthError;
use accrete_oidc::authorize::AuthorizationRequest;
use accrete_oidc::claims::filter_claims;
use accrete_oidc::client::{ClientView, GrantType};
use accrete_oidc::jwt::{self, AccessTokenClaims, Audience, IdTokenClaims};
use accrete_oidc::pkce::CodeChallenge;
use accrete_oidc::secrets::random_opaque;
use accrete_oidc::token::{
    GrantRequest, RefreshGrant, TokenResponse, check_client_credentials, check_code_redemption,
    check_refresh, ensure_grant_allowed, parse_token_request,
};
use accrete_store::{
    AuthorizationCode, Client, CodeConsumption, NewRefreshToken, RefreshSuccessor, RefreshToken,
    Rotation, StoreError, User,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::{grant_jti, sign_access_token, sign_access_token_with, signing_key};
use super::client_auth::{authenticate, authorization_header, form_pairs};
use super::error::{EndpointError, json_no_store};
use crate::state::AppState;

pub(super) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match issue(&state, &headers, &body).await {
        Ok(response) => json_no_store(&response),
        Err(error) => error.into_response(),
    }
}

async fn issue(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, EndpointError> {
    let now = OffsetDateTime::now_utc();
    let pairs = form_pairs(headers, body)?;
    let request = parse_token_request(authorization_header(headers)?, &pairs)?;
    let (client, view) = authenticate(state, &request.client).await?;
    ensure_grant_allowed(&view, request.grant.grant_type())?;
    match request.grant {
        GrantRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            redeem_code(
                state,
                &view,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
                now,
            )
            .await
        }
        GrantRequest::RefreshToken {
            refresh_token,
            scope,
        } => refresh(state, &view, &refresh_token, scope.as_deref(), now).await,
        GrantRequest::ClientCredentials { scope, audience } => {
            client_credentials(state, &client, &view, scope.as_deref(), audience, now).await
        }
    }
}

/// The authorization request a code was issued for, as far as redemption needs it.
/// The authorization request a stored code was issued for (the console redeems its own codes
/// in process, with the same checks).
pub(crate) fn authorization_request_of(code: &AuthorizationCode) -> Option<AuthorizationRequest> {
    request_of(code).ok()
}

fn request_of(code: &AuthorizationCode) -> Result<AuthorizationRequest, EndpointError> {
    let code_challenge = code
        .code_challenge
        .as_deref()
        .map(|challenge| CodeChallenge::parse(challenge, Some("S256")))
        .transpose()
        .map_err(|_| OAuthError::server_error("stored code challenge is invalid"))?;
    Ok(AuthorizationRequest {
        client_id: code.client_id.clone(),
        redirect_uri: code.redirect_uri.clone(),
        scopes: code.scopes.clone(),
        state: None,
        nonce: code.nonce.clone(),
        code_challenge,
        prompt: Vec::new(),
        max_age: None,
        login_hint: None,
        ui_locales: Vec::new(),
        id_token_hint: None,
        acr_values: Vec::new(),
        connection: None,
    })
}

async fn redeem_code(
    state: &AppState,
    client: &ClientView,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: OffsetDateTime,
) -> Result<TokenResponse, EndpointError> {
    let hash = state.secrets.token_hasher.hash(code);
    let code = match state.store.consume_code(&hash, now).await? {
        CodeConsumption::Fresh(code) => code,
        CodeConsumption::AlreadyUsed { grant_id } => {
            tracing::warn!(%grant_id, client = %client.id, "authorization code reused; grant revoked");
            return Err(OAuthError::invalid_grant(
                "the code was already used; the tokens issued with it are revoked",
            )
            .into());
        }
        CodeConsumption::Unknown => {
            return Err(OAuthError::invalid_grant("the code is invalid or expired").into());
        }
    };
    let request = request_of(&code)?;
    check_code_redemption(
        &request,
        code.expires_at,
        &client.id,
        redirect_uri,
        code_verifier,
        now,
    )?;
    let user = user_of_grant(state, code.user_id).await?;
    let keys = state.keys.current(state.store.as_ref()).await?;
    let issuer = state.config.issuer();
    let sid = code
        .context
        .get("sid")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let auth_time = code.auth_time.unix_timestamp();
    let lifetimes = state.app.settings().lifetimes;
    let mut access = user_access_claims(
        &lifetimes,
        &issuer,
        user.id,
        &client.id,
        code.grant_id,
        &code.scopes,
        now,
    );
    access.auth_time = Some(auth_time);
    access.sid.clone_from(&sid);
    // The claims post-sign-in hooks added go in the access token as in the ID token.
    let hook_claims = code.context.get("claims").and_then(Value::as_object);
    let access_token = sign_access_token_with(&keys, &access, hook_claims, now)?;
    let mut response = TokenResponse::bearer(
        access_token.clone(),
        lifetime_seconds(lifetimes.access_token),
        &code.scopes,
    );
    if code.scopes.iter().any(|s| s == "openid") {
        let key = signing_key(&keys, client.id_token_alg, now)?;
        let mut claims = IdTokenClaims::for_authorization(
            &issuer,
            &user.id.to_string(),
            &request,
            auth_time,
            Some(&access_token),
            client.id_token_alg,
            now,
            lifetimes.id_token,
        )
        .with_profile(with_hook_claims(
            released_claims(state, &user, &code.scopes).await,
            &code.context,
        ));
        claims.sid = sid;
        claims.amr = code.context.get("amr").and_then(|amr| {
            serde_json::from_value::<Vec<String>>(amr.clone())
                .ok()
                .filter(|amr| !amr.is_empty())
        });
        // The upstream provider's `acr`, for a sign-in through one that gave it.
        claims.acr = code
            .context
            .get("acr")
            .and_then(|acr| acr.as_str())
            .map(str::to_owned);
        response.id_token = Some(jwt::sign_id_token(key, &claims).map_err(OAuthError::from)?);
    }
    if client.allows_grant(GrantType::RefreshToken) {
        let refresh_token = random_opaque();
        let new = NewRefreshToken {
            hash: state.secrets.token_hasher.hash(&refresh_token),
            grant_id: code.grant_id,
            scopes: code.scopes.clone(),
            expires_at: now + first_refresh_lifetime(&lifetimes),
        };
        match state.store.insert_refresh_token(new, now).await {
            Ok(()) => response.refresh_token = Some(refresh_token),
            Err(StoreError::NotFound) => {
                return Err(OAuthError::invalid_grant("the grant has been revoked").into());
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(response)
}

async fn refresh(
    state: &AppState,
    client: &ClientView,
    refresh_token: &str,
    requested: Option<&[String]>,
    now: OffsetDateTime,
) -> Result<TokenResponse, EndpointError> {
    let hasher = &state.secrets.token_hasher;
    let old_hash = hasher.hash(refresh_token);
    if requested.is_some() {
        // A narrower scope is checked before the token is used up, so that a refused request
        // leaves the client its token.
        let Some(existing) = state.store.get_refresh_token(&old_hash).await? else {
            return Err(OAuthError::invalid_grant("the refresh token is invalid").into());
        };
        check_refresh(&refresh_grant(&existing), &client.id, requested, now)?;
    }
    let next = random_opaque();
    let lifetimes = state.app.settings().lifetimes;
    // Idle from this use; absolute from the grant's first token (the store caps it).
    let successor = RefreshSuccessor {
        hash: hasher.hash(&next),
        client_id: client.id.clone(),
        expires_at: now + first_refresh_lifetime(&lifetimes),
        grant_lifetime: lifetimes.refresh_token,
    };
    // The client, expiry and grant are checked by the rotation itself (one statement), so the
    // usual refresh costs one database round trip.
    let rotated = match state
        .store
        .rotate_refresh_token(&old_hash, successor, now)
        .await?
    {
        Rotation::Rotated(rotated) => rotated,
        Rotation::Reused { grant_id } => {
            tracing::warn!(%grant_id, client = %client.id, "refresh token reused; grant revoked");
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; its grant is revoked",
            )
            .into());
        }
        Rotation::OtherClient => {
            return Err(
                OAuthError::invalid_grant("refresh token was issued to another client").into(),
            );
        }
        Rotation::Expired => {
            return Err(OAuthError::invalid_grant("refresh token has expired").into());
        }
        Rotation::Unknown | Rotation::Revoked => {
            return Err(OAuthError::invalid_grant("the refresh token is invalid").into());
        }
    };
    // The family keeps its full scope; a narrower request narrows this access token only.
    let scopes = check_refresh(&refresh_grant(&rotated), &client.id, requested, now)?;
    // No user lookup: deleting a user deletes their grants and refresh tokens with them, so a
    // rotated token always names an existing user.
    let keys = state.keys.current(state.store.as_ref()).await?;
    let claims = user_access_claims(
        &lifetimes,
        &state.config.issuer(),
        rotated.user_id,
        &client.id,
        rotated.grant_id,
        &scopes,
        now,
    );
    let mut response = TokenResponse::bearer(
        sign_access_token(&keys, &claims, now)?,
        lifetime_seconds(lifetimes.access_token),
        &scopes,
    );
    response.refresh_token = Some(next);
    Ok(response)
}

/// How long a refresh token lasts from its issue if unused: its idle limit, within the grant's
/// absolute lifetime.
fn first_refresh_lifetime(lifetimes: &Lifetimes) -> time::Duration {
    lifetimes
        .refresh_token_idle
        .map_or(lifetimes.refresh_token, |idle| {
            idle.min(lifetimes.refresh_token)
        })
}

/// What a stored refresh token grants, for the protocol checks.
fn refresh_grant(token: &RefreshToken) -> RefreshGrant {
    RefreshGrant {
        client_id: token.client_id.clone(),
        scopes: token.scopes.clone(),
        expires_at: Some(token.expires_at),
    }
}

async fn client_credentials(
    state: &AppState,
    client: &Client,
    view: &ClientView,
    requested: Option<&[String]>,
    audience: Vec<String>,
    now: OffsetDateTime,
) -> Result<TokenResponse, EndpointError> {
    let scopes = check_client_credentials(view, requested)?;
    let issuer = state.config.issuer();
    let audience = if audience.is_empty() {
        if client.audience.is_empty() {
            vec![issuer.clone()]
        } else {
            client.audience.clone()
        }
    } else {
        // The issuer itself (its userinfo and management API) is always a valid audience.
        if let Some(unknown) = audience
            .iter()
            .find(|a| !client.audience.contains(a) && **a != issuer)
        {
            return Err(OAuthError::invalid_request(format!(
                "audience {unknown} is not registered for this client"
            ))
            .into());
        }
        audience
    };
    let keys = state.keys.current(state.store.as_ref()).await?;
    let lifetime = state.app.settings().lifetimes.access_token;
    let claims = AccessTokenClaims::new(
        &issuer,
        &view.id,
        &view.id,
        Audience::from_list(audience),
        &scopes,
        now,
        lifetime,
    );
    Ok(TokenResponse::bearer(
        sign_access_token(&keys, &claims, now)?,
        lifetime_seconds(lifetime),
        &scopes,
    ))
}

/// The access-token claims of a user's grant: `aud` is the issuer (userinfo and the management
/// API), and the `jti` names the grant.
fn user_access_claims(
    lifetimes: &Lifetimes,
    issuer: &str,
    user_id: Uuid,
    client_id: &str,
    grant_id: Uuid,
    scopes: &[String],
    now: OffsetDateTime,
) -> AccessTokenClaims {
    let mut claims = AccessTokenClaims::new(
        issuer,
        &user_id.to_string(),
        client_id,
        Audience::One(issuer.to_owned()),
        scopes,
        now,
        lifetimes.access_token,
    );
    claims.jti = grant_jti(grant_id, &claims.jti);
    claims
}

async fn user_of_grant(state: &AppState, user_id: Uuid) -> Result<User, EndpointError> {
    match state.store.get_user(user_id).await {
        Ok(user) if !accrete_app::users::may_sign_in(&user) => {
            Err(OAuthError::invalid_grant("the account is disabled").into())
        }
        Ok(user) => Ok(user),
        Err(StoreError::NotFound) => {
            Err(OAuthError::invalid_grant("the user no longer exists").into())
        }
        Err(error) => Err(error.into()),
    }
}

/// Every claim the user record holds: the standard claims of `profile`, plus `email` and
/// `email_verified` from the account.
pub(crate) fn user_claims(user: &User) -> Map<String, Value> {
    let mut claims = user.profile.as_object().cloned().unwrap_or_default();
    claims.insert("email".to_owned(), Value::String(user.email.clone()));
    claims.insert(
        "email_verified".to_owned(),
        Value::Bool(user.email_verified),
    );
    claims
}

/// The user's claims that `scopes` release: standard claims by their standard scope, and the
/// policy's fields by the custom scope they name (types preserved). The one decision of what a
/// grant releases: the ID token and userinfo both take it as it is.
/// The claims post-sign-in hooks added at this code's sign-in (kept in its context), beside the
/// released ones (see `accrete_app::claims::with_hook_claims`).
fn with_hook_claims(released: Map<String, Value>, context: &Value) -> Map<String, Value> {
    match context.get("claims").and_then(Value::as_object) {
        Some(added) => accrete_app::claims::with_hook_claims(released, added),
        None => released,
    }
}

pub(crate) async fn released_claims(
    state: &AppState,
    user: &User,
    scopes: &[String],
) -> Map<String, Value> {
    let mut claims = filter_claims(&user_claims(user), scopes, &[]);
    let policy = match state.app.policy().await {
        Ok(policy) => policy,
        Err(error) => {
            // Without the policy only the standard claims are released; the sign-in goes on.
            tracing::warn!(%error, "policy unavailable: custom claims left out");
            None
        }
    };
    claims.extend(accrete_app::claims::claims_for(
        policy.as_deref(),
        user,
        scopes,
    ));
    claims
}

fn lifetime_seconds(lifetime: time::Duration) -> u64 {
    u64::try_from(lifetime.whole_seconds()).unwrap_or(0)
}
