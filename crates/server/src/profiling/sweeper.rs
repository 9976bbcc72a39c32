//! Shown prompts left unanswered: when their transaction expires they become
//! `prompt.abandoned`. Swept lazily from the sign-in flow, at most once per [`INTERVAL`] per
//! node; the store hands each expired transaction to one sweeper only.

use std::sync::atomic::{AtomicI64, Ordering};

use accrete_store::{EventKind, NewEvent, Store, StoreError};
use serde_json::json;
use time::OffsetDateTime;

use super::facts::FlowState;
use crate::state::AppState;

/// Seconds between two sweeps on one node.
const INTERVAL: i64 = 60;

/// When this node last swept (unix seconds).
#[derive(Default)]
pub(crate) struct LastSweep(AtomicI64);

/// Starts a sweep in the background if the last one is older than [`INTERVAL`].
pub(crate) fn sweep_now_and_then(state: &AppState, now: OffsetDateTime) {
    let at = now.unix_timestamp();
    let last = state.profiling.last_sweep.0.load(Ordering::Relaxed);
    if at - last < INTERVAL
        || state
            .profiling
            .last_sweep
            .0
            .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(error) = sweep_abandoned(store.as_ref(), now).await {
            tracing::warn!(%error, "could not sweep expired sign-ins");
        }
    });
}

/// Removes the transactions expired at `now` and records `prompt.abandoned` for each that had
/// a step on screen; returns how many were abandoned.
pub async fn sweep_abandoned(store: &dyn Store, now: OffsetDateTime) -> Result<u64, StoreError> {
    let mut abandoned = 0;
    for expired in store.expire_transactions(now).await? {
        let (Some(user_id), Some(shown)) = (expired.user_id, FlowState::of(&expired.state).current)
        else {
            continue;
        };
        let event = NewEvent {
            kind: EventKind::PromptAbandoned,
            user_id,
            step: Some(shown.step),
            client_id: Some(expired.client_id),
            at: now,
            logins: None,
            data: json!({ "tx": expired.id }),
        };
        match store.record_prompt_event(event).await {
            Ok(_) => abandoned += 1,
            // The user was deleted meanwhile: nothing to record.
            Err(StoreError::NotFound) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(abandoned)
}
