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
mod verified;

pub(crate) use token::authorization_request_of;

pub use access::{AccessClaims, verify_access_token};
pub use verified::VerifiedTokens;

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
