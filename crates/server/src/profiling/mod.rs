//! Progressive profiling in the sign-in flow: the published policy on this node, the hook the
//! authorization flow calls before issuing a code ([`before_code`]), the hosted prompt page,
//! the account page, and the claims released by scope ([`claims_for`]).
//!
//! See `docs/profiling-flow.md`.

mod account;
mod claims;
mod facts;
mod flow;
mod form;
mod policy;
mod prompt;
mod signup;
mod sweeper;

use std::sync::Arc;

use accrete_core::CompiledPolicy;
use accrete_store::{Store, StoreError};
use axum::Router;
use axum::routing::get;

pub(crate) use claims::{claims_for, custom_scopes};
pub(crate) use flow::{Next, ProfilingError, before_code};
pub(crate) use form::{autocomplete, field_choices};
pub(crate) use signup::{signup_step, split_signup_post};
pub use sweeper::sweep_abandoned;

use crate::state::AppState;

/// Profiling's share of the application state.
#[derive(Default)]
pub(crate) struct Profiling {
    policy: policy::PolicyCache,
    last_sweep: sweeper::LastSweep,
}

impl Profiling {
    /// The published policy (`None`: no policy, a plain identity server).
    pub(crate) async fn current(
        &self,
        store: &dyn Store,
    ) -> Result<Option<Arc<CompiledPolicy>>, StoreError> {
        self.policy.current(store).await
    }

    /// Makes the next request re-read the published version (after a publish on this node).
    pub(crate) fn invalidate(&self) {
        self.policy.invalidate();
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/prompt", get(prompt::show).post(prompt::submit))
        .route("/account", get(account::show).post(account::submit))
}
