//! The federation crate's one integration-test binary: connection specs, and every flow against
//! local stand-ins of the providers (small axum servers on 127.0.0.1) over real HTTP.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

#[path = "federation/apple.rs"]
mod apple;
#[path = "federation/entra.rs"]
mod entra;
#[path = "federation/github.rs"]
mod github;
#[path = "federation/idp.rs"]
mod idp;
#[path = "federation/keys.rs"]
mod keys;
#[path = "federation/oidc.rs"]
mod oidc;
#[path = "federation/presets.rs"]
mod presets;
#[path = "federation/safety.rs"]
mod safety;
#[path = "federation/spec.rs"]
mod spec;
#[path = "federation/support.rs"]
mod support;
