//! `GET /.well-known/openid-configuration` and `GET /jwks.json`.

use accrete_oidc::OAuthError;
use accrete_oidc::discovery::{DiscoveryDocument, DiscoveryOptions, Issuer};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use super::error::EndpointError;
use crate::state::AppState;

/// Relying parties may cache these documents briefly; a rotated key is published well before it
/// signs (see `accrete keys rotate --activate-after`).
const CACHE: &str = "public, max-age=300";

pub(super) async fn configuration(State(state): State<AppState>) -> Response {
    let now = OffsetDateTime::now_utc();
    let issuer = match Issuer::parse(&state.config.issuer()) {
        Ok(issuer) => issuer,
        Err(error) => {
            return EndpointError::from(OAuthError::server_error(format!(
                "the issuer is misconfigured: {error}"
            )))
            .into_response();
        }
    };
    let keys = match state.keys.current(state.store.as_ref()).await {
        Ok(keys) => keys,
        Err(error) => return EndpointError::from(error).into_response(),
    };
    // The policy in force now (it can be published at run time): its custom scopes and the
    // claims they release, as the ID token and userinfo release them.
    let policy = match state.app.policy().await {
        Ok(policy) => policy,
        Err(error) => return EndpointError::from(error).into_response(),
    };
    let custom = policy
        .as_deref()
        .map(accrete_app::claims::custom_scopes)
        .unwrap_or_default();
    let options = DiscoveryOptions {
        id_token_algs: keys.signing_algorithms(now),
        extra_claims: custom
            .iter()
            .flat_map(|(_, claims)| claims.iter().cloned())
            .collect(),
        extra_scopes: custom.into_iter().map(|(scope, _)| scope).collect(),
        ui_locales: vec!["en".to_owned(), "fr".to_owned()],
    };
    cached(axum::Json(DiscoveryDocument::new(&issuer, &options)).into_response())
}

pub(super) async fn jwks(State(state): State<AppState>) -> Response {
    let now = OffsetDateTime::now_utc();
    match state.keys.current(state.store.as_ref()).await {
        Ok(keys) => {
            let mut response = cached(axum::Json(keys.jwks(now)).into_response());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            );
            response
        }
        Err(error) => EndpointError::from(error).into_response(),
    }
}

fn cached(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE));
    response
}
