//! The OpenID Connect endpoints, split by flow. Protocol rules live in `accrete-oidc`; these
//! handlers parse HTTP, call it and the store, and map the outcome to a response.

mod access;
mod authorize;
mod client_auth;
mod discovery;
mod error;
mod logout;
mod revoke;
mod token;
mod userinfo;

pub use access::{AccessClaims, verify_access_token};
pub(crate) use authorize::{deny, load_open};

use accrete_oidc::client::{ClientView, GrantType};
use accrete_oidc::keys::Alg;
use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/authorize/resume", get(authorize::resume))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/jwks.json", get(discovery::jwks))
        .route("/token", post(token::token))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/revoke", post(revoke::revoke))
        .route("/introspect", post(revoke::introspect))
        .route("/logout", get(logout::get).post(logout::post))
}

/// The protocol's view of a stored client.
pub(crate) fn client_view(client: &accrete_store::Client) -> ClientView {
    ClientView {
        id: client.id.clone(),
        redirect_uris: client.redirect_uris.clone(),
        post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
        public: client.public,
        allowed_scopes: client.scopes.clone(),
        grant_types: client
            .grant_types
            .iter()
            .filter_map(|g| GrantType::parse(g))
            .collect(),
        id_token_alg: Alg::parse(&client.id_token_alg).unwrap_or(Alg::RS256),
    }
}
