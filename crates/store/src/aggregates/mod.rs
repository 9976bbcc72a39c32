//! The port split by aggregate: one module per kind of thing Accrete keeps, each holding its
//! trait (the methods and their contracts), its SQL (written once, generic over
//! [`crate::backend::Conn`]) and its row types.
//!
//! Every trait is implemented once, for every [`crate::backend::Backend`]: each method borrows a
//! connection (`read()` or `write()`), runs the module's SQL function of the same name on it, and
//! gives the result to `settle`, which discards a connection that failed as unavailable.

pub(crate) mod account_tokens;
pub(crate) mod accounts;
pub(crate) mod admins;
pub(crate) mod clients;
pub(crate) mod companion_writes;
pub(crate) mod companions;
pub(crate) mod connections;
pub(crate) mod counters;
pub(crate) mod factors;
pub(crate) mod federation_states;
pub(crate) mod grants;
pub(crate) mod health;
pub(crate) mod identities;
pub(crate) mod import_jobs;
pub(crate) mod passkeys;
#[cfg(test)]
mod plans;
pub(crate) mod policies;
pub(crate) mod prompt_state_row;
pub(crate) mod prompts;
pub(crate) mod signing_keys;
pub(crate) mod sso_sessions;
pub(crate) mod themes;
pub(crate) mod throttle;
pub(crate) mod transactions;
pub(crate) mod user_transfers;
pub(crate) mod users;
pub(crate) mod webhooks;
