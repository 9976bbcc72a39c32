//! The bounded password-hashing pool.
//!
//! Argon2id costs ~19 MiB and tens of milliseconds per verification, so unbounded concurrency
//! would exhaust memory. At most `concurrency` hashes run at once on blocking threads; at most
//! `queue` further requests wait for a slot; anything beyond is refused at once with
//! [`PoolBusy`], which the HTTP layer answers with 503 and `Retry-After`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

/// The pool is full: the request should be retried later.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the server is busy hashing passwords; retry in a moment")]
pub struct PoolBusy;

/// A bounded pool running CPU-heavy password work on blocking threads.
#[derive(Clone)]
pub struct HashingPool {
    slots: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

impl HashingPool {
    /// A pool of `concurrency` workers with room for `queue` waiting requests.
    pub fn new(concurrency: usize, queue: usize) -> HashingPool {
        HashingPool {
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: concurrency.max(1) + queue,
        }
    }

    /// Runs `work` on a blocking thread once a slot is free, or refuses when the queue is full.
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolBusy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = self.admitted.fetch_add(1, Ordering::AcqRel);
        let _ticket = Ticket(&self.admitted);
        if admitted >= self.capacity {
            return Err(PoolBusy);
        }
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PoolBusy)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|_| PoolBusy)
    }
}

/// Gives the admission back when the request finishes or is dropped.
struct Ticket<'a>(&'a AtomicUsize);

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::sync::mpsc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_beyond_workers_plus_queue_are_refused_and_the_rest_complete() {
        let pool = HashingPool::new(1, 1);
        let (release, gate) = mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let busy = pool.clone();
        let first = tokio::spawn(async move {
            busy.run(move || {
                let _ = started_tx.send(());
                gate.recv().unwrap();
                1
            })
            .await
        });
        started_rx.await.unwrap();
        let queued_pool = pool.clone();
        let queued = tokio::spawn(async move { queued_pool.run(|| 2).await });
        // Wait until the queued request is admitted (the counter reflects it).
        while pool.admitted.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        assert!(
            matches!(pool.run(|| 3).await, Err(PoolBusy)),
            "third request exceeds 1 worker + 1 queued"
        );
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(queued.await.unwrap().unwrap(), 2);
        assert_eq!(pool.run(|| 4).await.unwrap(), 4, "capacity is given back");
    }
}
