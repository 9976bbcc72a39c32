//! Helpers shared by the suite's modules.

use std::sync::Arc;

use accrete_store::{ImportOutcome, ImportScope, ImportStep, Store, StoreError};
use time::OffsetDateTime;
use time::macros::datetime;

/// A fixed instant: tests pass time in rather than reading a clock.
pub fn t0() -> OffsetDateTime {
    datetime!(2026-01-01 00:00:00 UTC)
}

/// Runs `import_stream` with one transaction over `steps`; the outcomes of each batch.
pub async fn stream(store: &Arc<dyn Store>, steps: Vec<ImportStep>) -> Vec<Vec<ImportOutcome>> {
    stream_result(store, steps).await.unwrap()
}

/// [`stream`], its error returned.
pub async fn stream_result(
    store: &Arc<dyn Store>,
    steps: Vec<ImportStep>,
) -> Result<Vec<Vec<ImportOutcome>>, StoreError> {
    let (send, steps_in) = tokio::sync::mpsc::channel(steps.len().max(1));
    for step in steps {
        send.send(step).await.unwrap();
    }
    drop(send);
    let (outcomes, mut answered) = tokio::sync::mpsc::unbounded_channel();
    store
        .import_stream("jsonl", ImportScope::Whole, false, steps_in, outcomes)
        .await?;
    let mut batches = Vec::new();
    while let Some(batch) = answered.recv().await {
        batches.push(batch);
    }
    Ok(batches)
}
