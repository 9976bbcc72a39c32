//! Shown prompts left unanswered: when their transaction expires they become
//! `prompt.abandoned`; round trips to an upstream provider that never came back, mailed codes and links a day
//! past their expiry, webhook events delivered a month ago, and the history entries and events
//! older than the configured retention (`[retention]`), are removed. Swept lazily from the sign-in flow, at most once per [`INTERVAL`] per
//! node; the store hands each expired transaction to one sweeper only.

use std::sync::atomic::Ordering;

use accrete_store::{EventKind, Store, StoreError};
use serde_json::json;
use time::OffsetDateTime;

use crate::app::App;
use crate::facts::FlowState;
use crate::prompts::prompt_event;
use crate::settings::Retention;

/// Seconds between two sweeps on one node.
const INTERVAL: i64 = 60;

/// How long webhook events are kept once their deliveries are done.
const WEBHOOK_EVENTS_KEPT: time::Duration = time::Duration::days(30);

/// Deletes the history entries and the events older than the retention allows (none when kept
/// for good); how many of each.
pub async fn purge_retained(
    store: &dyn Store,
    retention: Retention,
    now: OffsetDateTime,
) -> Result<(u64, u64), StoreError> {
    let history = match retention.history {
        Some(kept) => store.purge_history(now - kept).await?,
        None => 0,
    };
    let events = match retention.events {
        Some(kept) => store.purge_events(now - kept).await?,
        None => 0,
    };
    if history + events > 0 {
        tracing::info!(
            history,
            events,
            "purged history entries and events past their retention"
        );
    }
    Ok((history, events))
}

/// Starts a sweep in the background if the last one is older than [`INTERVAL`].
pub(crate) fn sweep_now_and_then(app: &App, now: OffsetDateTime) {
    let at = now.unix_timestamp();
    let last = app.last_sweep.load(Ordering::Relaxed);
    if at - last < INTERVAL
        || app
            .last_sweep
            .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let store = app.store.clone();
    let retention = app.settings().retention;
    tokio::spawn(async move {
        if let Err(error) = sweep_abandoned(store.as_ref(), now).await {
            tracing::warn!(%error, "could not sweep expired sign-ins");
        }
        // Round trips to a provider that never came back.
        if let Err(error) = store.delete_expired_federation_states(now).await {
            tracing::warn!(%error, "could not sweep expired federation states");
        }
        // Passkey ceremonies started and never finished.
        if let Err(error) = store.delete_expired_passkey_ceremonies(now).await {
            tracing::warn!(%error, "could not sweep expired passkey ceremonies");
        }
        // Console sessions past their end.
        if let Err(error) = store.delete_expired_console_sessions(now).await {
            tracing::warn!(%error, "could not sweep expired console sessions");
        }
        // Mailed codes and links a day past their expiry (kept that long for the resend limits).
        if let Err(error) = store.purge_account_tokens(now).await {
            tracing::warn!(%error, "could not sweep expired mailed proofs");
        }
        // The past beyond the configured retention (docs/data-rights.md).
        if let Err(error) = purge_retained(store.as_ref(), retention, now).await {
            tracing::warn!(%error, "could not purge history and events past their retention");
        }
        // Webhook events whose deliveries are all done, once a month old.
        if let Err(error) = store.purge_webhook_events(now - WEBHOOK_EVENTS_KEPT).await {
            tracing::warn!(%error, "could not sweep delivered webhook events");
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
        let event = prompt_event(
            EventKind::PromptAbandoned,
            user_id,
            &shown.step,
            Some(&expired.client_id),
            now,
            json!({ "tx": expired.id }),
        );
        match store.record_prompt_event(event).await {
            Ok(_) => abandoned += 1,
            // The user was deleted meanwhile: nothing to record.
            Err(StoreError::NotFound) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(abandoned)
}
