//! The server over real HTTP, on both storage backends: one integration-test binary.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

mod account;
mod account_center;
mod api;
mod api_audit;
mod api_client;
mod api_connections;
mod api_imports;
mod api_me;
mod api_measure;
mod api_policy;
mod api_theme;
mod api_truth;
mod api_users;
mod authorize;
mod basic_op;
mod claims;
mod client_delete;
mod companion;
mod companion_management;
mod consents;
mod console;
mod console_clients;
mod console_keys;
mod console_policy;
mod console_theme;
mod console_users;
mod console_webhooks;
mod discovery;
mod erasure;
mod federation;
mod hooks;
mod hosted_pages;
mod logout;
mod mfa;
mod nodes;
mod oidc_flow;
mod ops;
mod passkeys;
mod phone;
mod profiling;
mod recovery;
mod rp;
mod settings;
mod support;
mod theme;
mod token;
mod webhooks;
