//! `GET`/`POST /userinfo`: the claims the access token's scopes release, for the token's user.
//! The token comes in the `Authorization: Bearer` header or, on POST, in a form body.

use accrete_oidc::OAuthError;
use accrete_oidc::userinfo::{bearer_token, check_userinfo_access, userinfo_response};
use accrete_store::StoreError;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::access::verify_access_token;
use super::client_auth::{authorization_header, form_pairs};
use super::error::{EndpointError, json_no_store, store_oauth_error};
use super::token::released_claims;
use crate::state::AppState;

pub(super) async fn userinfo(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match claims(&state, &method, &headers, &body).await {
        Ok(claims) => json_no_store(&claims),
        Err(error) => EndpointError::from(error).into_response(),
    }
}

async fn claims(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, OAuthError> {
    let form = if method == Method::POST && !body.is_empty() {
        Some(form_pairs(headers, body)?)
    } else {
        None
    };
    let token = bearer_token(authorization_header(headers)?, form.as_deref())?;
    let access = verify_access_token(state, &token).await?;
    check_userinfo_access(&access.claims)?;
    let Some(user_id) = access.user_id() else {
        return Err(OAuthError::invalid_token(
            "the token was not issued for a user",
        ));
    };
    let user = match state.store.get_user(user_id).await {
        Ok(user) if !accrete_app::users::may_sign_in(&user) => {
            return Err(OAuthError::invalid_token("the account is disabled"));
        }
        Ok(user) => user,
        Err(StoreError::NotFound) => {
            return Err(OAuthError::invalid_token("the user no longer exists"));
        }
        Err(error) => return Err(store_oauth_error(error)),
    };
    let scopes: Vec<String> = access.claims.scopes().map(str::to_owned).collect();
    // The same decision as the grant's ID token.
    let released = released_claims(state, &user, &scopes).await;
    Ok(userinfo_response(&access.claims, &released))
}
