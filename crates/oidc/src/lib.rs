//! The OpenID Connect provider's protocol logic: plain functions over plain data, no I/O, no async,
//! no clock (time is an argument). The server parses HTTP requests, calls these functions, talks to
//! the store, and maps [`error::OAuthError`] to responses in one place.
//!
//! Split by flow: [`authorize`], [`token`], [`userinfo`], [`introspect`], [`revoke`], [`logout`];
//! with the building blocks [`keys`], [`jwt`], [`secrets`], [`password`], [`pkce`], [`claims`],
//! [`discovery`], [`client`], [`client_auth`] and [`error`]; the rules of what a client's
//! registration and a user's credentials may be are in [`registration`] and [`credentials`].

pub mod authorize;
pub mod claims;
pub mod client;
pub mod client_auth;
pub mod companion;
pub mod credentials;
pub mod discovery;
pub mod error;
pub mod introspect;
pub mod jwt;
mod kek;
pub mod keys;
pub mod logout;
pub mod mfa;
mod params;
pub mod password;
pub mod pkce;
mod provider;
pub mod registration;
pub mod revoke;
pub mod secrets;
pub mod throttle;
pub mod token;
pub mod userinfo;

pub use error::{ErrorCode, OAuthError};
pub use params::MAX_PARAM_LEN;
