//! Accrete as a relying party of upstream identity providers: a user signs in at an upstream
//! provider (any OpenID Connect provider, any OAuth 2 provider with a profile endpoint, and the
//! presets Google, Microsoft Entra ID, GitHub, Apple and GitLab), and what comes back is handed to
//! the caller to map into the profile.
//!
//! [`spec`] is what an administrator writes, checked and resolved into a [`Provider`] without
//! I/O. This crate knows nothing of Accrete's store, users, HTTP server or pages.

mod apple;
mod provider;
pub mod spec;

pub use provider::{ClientAuth, Protocol, Provider, Quirks};
pub use spec::{ConnectionSpec, Preset, SpecProblem};
