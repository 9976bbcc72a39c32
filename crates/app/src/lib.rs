//! Accrete's use-cases, between the surfaces (hosted pages, the protocol endpoints, the JSON
//! API, the command line) and the store: sign-up and sign-in, the authorization transaction,
//! progressive profiling (facts, decide, ask, answer, skip, fields as shown), users, clients and
//! the published policy.
//!
//! Nothing here knows HTTP: each use-case takes typed input and returns a typed result or
//! error; the surfaces translate requests into calls and results into responses. Pure rules
//! stay in `accrete-core` and `accrete-oidc`; writes that belong together are one database
//! transaction of the store.

pub mod account;
pub mod account_mail;
pub mod accounts;
pub mod admins;
mod app;
pub mod authorization;
pub mod claim_mapping;
pub mod claims;
pub mod client_admin;
pub mod clients;
pub mod companion;
pub mod connection_admin;
pub mod connections;
pub mod countries;
pub mod email_verification;
pub mod export;
pub mod facts;
pub mod federation;
pub mod fields;
pub mod flow;
pub mod hashing;
pub mod hooks;
pub mod import;
pub mod import_jobs;
pub mod mfa;
pub mod passkeys;
pub mod password_reset;
pub mod phone;
pub mod policy;
pub mod policy_admin;
pub mod policy_edit;
pub mod policy_impact;
pub mod problems;
pub mod prompts;
pub mod settings;
pub mod signup;
pub mod stats;
pub mod sweeper;
pub mod theme;
pub mod transactions;
pub mod users;
pub mod values;
pub mod webhooks;

pub use app::App;
