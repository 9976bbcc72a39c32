//! Revocation (`POST /revoke`, RFC 7009) and introspection (`POST /introspect`, RFC 7662).
//!
//! Revoking a refresh token or a user's access token revokes its grant, and with it every token
//! issued under it. A client revokes only its own tokens; the answer is 200 in every case.
//! Introspection answers for access tokens issued to the caller or naming it in `aud`, and for the
//! caller's own refresh tokens; anything else is `{"active": false}`.

use accrete_oidc::OAuthError;
use accrete_oidc::client::ClientView;
use accrete_oidc::introspect::{IntrospectionResponse, TokenTypeHint, parse_token_lookup};
use accrete_oidc::revoke::{Revocation, decide_revocation, parse_revocation_request};
use accrete_store::RefreshToken;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use super::access::{AccessClaims, verify_access_token};
use super::client_auth::{authenticate, authorization_header, form_pairs};
use super::error::{EndpointError, json_no_store, no_store};
use crate::state::AppState;

pub(super) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match revoke_token(&state, &headers, &body).await {
        Ok(()) => no_store(axum::http::StatusCode::OK.into_response()),
        Err(error) => error.into_response(),
    }
}

async fn revoke_token(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), EndpointError> {
    let now = OffsetDateTime::now_utc();
    let pairs = form_pairs(headers, body)?;
    let request = parse_revocation_request(authorization_header(headers)?, &pairs)?;
    let (_, client) = authenticate(state, &request.client).await?;
    let grant = match request.token_type_hint {
        Some(TokenTypeHint::AccessToken) => match access_token(state, &request.token).await {
            Some(access) => owned_access_grant(&client, &access),
            None => owned_refresh_grant(&client, refresh_token(state, &request.token).await?),
        },
        _ => match refresh_token(state, &request.token).await? {
            Some(refresh) => owned_refresh_grant(&client, Some(refresh)),
            None => access_token(state, &request.token)
                .await
                .and_then(|access| owned_access_grant(&client, &access)),
        },
    };
    if let Some(grant_id) = grant {
        state.store.revoke_grant(grant_id, now).await?;
    }
    Ok(())
}

fn owned_refresh_grant(client: &ClientView, token: Option<RefreshToken>) -> Option<uuid::Uuid> {
    let token = token?;
    (decide_revocation(&client.id, Some(&token.client_id)) == Revocation::Revoke)
        .then_some(token.grant_id)
}

fn owned_access_grant(client: &ClientView, access: &AccessClaims) -> Option<uuid::Uuid> {
    (decide_revocation(&client.id, Some(access.client_id())) == Revocation::Revoke)
        .then_some(access.grant_id)
        .flatten()
}

async fn refresh_token(
    state: &AppState,
    token: &str,
) -> Result<Option<RefreshToken>, EndpointError> {
    let hash = state.secrets.token_hasher.hash(token);
    Ok(state.store.get_refresh_token(&hash).await?)
}

async fn access_token(state: &AppState, token: &str) -> Option<AccessClaims> {
    // Refresh tokens and other opaque strings are not JWTs: skip the verification attempt.
    if token.matches('.').count() != 2 {
        return None;
    }
    verify_access_token(state, token).await.ok()
}

pub(super) async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match describe(&state, &headers, &body).await {
        Ok(response) => json_no_store(&response),
        Err(error) => error.into_response(),
    }
}

async fn describe(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<IntrospectionResponse, EndpointError> {
    let now = OffsetDateTime::now_utc();
    let pairs = form_pairs(headers, body)?;
    let request = parse_token_lookup(authorization_header(headers)?, &pairs)?;
    let (_, client) = authenticate(state, &request.client).await?;
    if client.public {
        return Err(OAuthError::invalid_client("public clients cannot introspect tokens").into());
    }
    if let Some(access) = access_token(state, &request.token).await {
        let concerned = access.client_id() == client.id || access.claims.aud.contains(&client.id);
        return Ok(if concerned {
            IntrospectionResponse::for_access_token(&access.claims, now)
        } else {
            IntrospectionResponse::inactive()
        });
    }
    let Some(refresh) = refresh_token(state, &request.token).await? else {
        return Ok(IntrospectionResponse::inactive());
    };
    let live = refresh.client_id == client.id
        && refresh.used_at.is_none()
        && refresh.revoked_at.is_none()
        && refresh.expires_at > now
        && !state.store.is_grant_revoked(refresh.grant_id).await?;
    Ok(if live {
        IntrospectionResponse::for_refresh_token(
            &refresh.client_id,
            &refresh.user_id.to_string(),
            &refresh.scopes,
            Some(refresh.expires_at),
            &state.config.issuer(),
        )
    } else {
        IntrospectionResponse::inactive()
    })
}
