//! Reading form bodies and authenticating clients at the token, revocation and introspection
//! endpoints.

use accrete_oidc::OAuthError;
use accrete_oidc::client::ClientView;
use accrete_oidc::client_auth::ClientAuthentication;
use accrete_store::Client;
use axum::http::{HeaderMap, header};

use super::error::EndpointError;
use crate::ratelimit::RetryAfter;
use crate::state::AppState;

/// The `Authorization` header, if any (refused when not visible ASCII).
pub(crate) fn authorization_header(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    headers
        .get(header::AUTHORIZATION)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| OAuthError::invalid_request("the Authorization header is malformed"))
        })
        .transpose()
}

/// The pairs of an `application/x-www-form-urlencoded` body (RFC 6749 §3.2).
pub(crate) fn form_pairs(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Ok(url::form_urlencoded::parse(body).into_owned().collect())
}

/// Checks the client's credentials. Failed attempts count against the per-account rate limit of
/// the client id; beyond it the answer is 429.
pub(crate) async fn authenticate(
    state: &AppState,
    presented: &ClientAuthentication,
) -> Result<(Client, ClientView), EndpointError> {
    let hasher = &state.secrets.token_hasher;
    let client = state
        .app
        .clients
        .get(state.store.as_ref(), presented.client_id())
        .await?;
    let outcome = match &client {
        Some(client) => {
            let view = accrete_app::clients::client_view(client);
            presented
                .authenticate(&view, client.secret_hash.as_deref(), hasher)
                .map(|()| view)
        }
        None => {
            // Same work as a wrong secret, so unknown ids cannot be told apart by timing.
            let _ = hasher.verify(presented.client_id(), "");
            Err(OAuthError::invalid_client("client authentication failed")
                .with_challenge(presented.challenge()))
        }
    };
    match (outcome, client) {
        (Ok(view), Some(client)) => Ok((client, view)),
        (Ok(_), None) => Err(OAuthError::invalid_client("client authentication failed").into()),
        (Err(error), _) => {
            let key = format!("client:{}", presented.client_id());
            if let Err(RetryAfter(wait)) = state.limits.check_account(&key) {
                return Err(EndpointError::TooMany(wait));
            }
            Err(error.into())
        }
    }
}
