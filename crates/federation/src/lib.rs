//! Accrete as a relying party of upstream identity providers: a user signs in at an upstream
//! provider (any OpenID Connect provider, any OAuth 2 provider with a profile endpoint, and the
//! presets Google, Microsoft Entra ID, GitHub, Apple and GitLab), and what comes back is handed to
//! the caller to map into the profile.
//!
//! [`spec`] is what an administrator writes, checked and resolved into a [`Provider`] without
//! I/O. [`Upstream`] talks to the providers: [`Upstream::authorization_url`] where to send the
//! user, [`Upstream::finish`] who came back, [`Upstream::check`] whether a connection works.
//! Every request goes through one guarded HTTP client ([`HttpOptions`]: allowed hosts only,
//! `https`, no redirects, time and size limits), and discovery documents and keys are cached.
//!
//! This crate knows nothing of Accrete's store, users, HTTP server or pages.

mod apple;
mod cache;
mod claims;
mod discovery;
mod error;
mod flow;
mod hosts;
mod http;
mod oauth;
mod oidc;
pub mod presets;
mod provider;
pub mod spec;
mod upstream;

pub use cache::{KEYS_REFETCH_INTERVAL, METADATA_TTL};
pub use error::UpstreamError;
pub use flow::{Callback, Start, UpstreamIdentity};
pub use hosts::{is_restricted_address, is_restricted_host};
pub use http::{HttpOptions, USER_AGENT};
pub use provider::{ClientAuth, Protocol, Provider, Quirks};
pub use spec::{ConnectionSpec, Preset, SpecProblem};
pub use upstream::Upstream;
