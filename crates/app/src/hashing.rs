//! The bounded password-hashing pool.
//!
//! Argon2id costs ~19 MiB and tens of milliseconds per verification, so unbounded concurrency
//! would exhaust memory. The pool owns `concurrency` long-lived worker threads that take jobs from
//! one queue; at most `queue` further requests wait, and anything beyond is refused at once with
//! [`PoolBusy`], which the HTTP layer answers with 503 and `Retry-After`.
//!
//! Dedicated threads (rather than tokio's blocking pool, which grows to hundreds of threads under
//! load) keep the memory bound real: each worker verifies in its own Argon2 memory, kept for the
//! life of the thread (see `accrete_oidc::password`), so hashing memory stays at `concurrency` ×
//! 19 MiB however many sign-ins arrive at once, and no sign-in pays for allocating it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak, mpsc};

use tokio::sync::oneshot;

/// The pool is full: the request should be retried later.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the server is busy hashing passwords; retry in a moment")]
pub struct PoolBusy;

type Job = Box<dyn FnOnce() + Send>;

/// A bounded pool running CPU-heavy password work on its own worker threads.
///
/// Work goes to the worker that became idle last (a stack, not a queue): under light load one
/// worker does everything and its Argon2 memory stays warm in the caches, instead of the
/// workers taking turns with memory the others have just evicted.
#[derive(Clone)]
pub struct HashingPool {
    shared: Arc<Shared>,
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

/// What the pool and its workers share.
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Idle workers, the most recently idle last.
    idle: Vec<mpsc::Sender<Job>>,
    /// Jobs waiting for a worker, oldest first.
    waiting: VecDeque<Job>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl HashingPool {
    /// A pool of `concurrency` worker threads with room for `queue` waiting requests.
    pub fn new(concurrency: usize, queue: usize) -> HashingPool {
        let workers = concurrency.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
        });
        for index in 0..workers {
            let weak = Arc::downgrade(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("accrete-hash-{index}"))
                .spawn(move || work(&weak));
            if let Err(error) = spawned {
                tracing::error!(%error, "could not start a password-hashing thread");
            }
        }
        HashingPool {
            shared,
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: workers + queue,
        }
    }

    /// Runs `work` on a pool thread once one is free, or refuses when the queue is full.
    ///
    /// A request that goes away while queued (the client disconnected) gives its place back
    /// and its work is skipped.
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolBusy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let ticket = Ticket(Arc::clone(&self.admitted));
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            return Err(PoolBusy);
        }
        let (reply, answer) = oneshot::channel();
        // The ticket moves into the job: queued and running work both count against capacity.
        let job: Job = Box::new(move || {
            if reply.is_closed() {
                drop(ticket);
            } else {
                let value = work();
                drop(ticket);
                let _ = reply.send(value);
            }
        });
        self.submit(job);
        answer.await.map_err(|_| PoolBusy)
    }

    /// Hands `job` to the most recently idle worker, or queues it when every worker is busy.
    fn submit(&self, job: Job) {
        let mut state = self.shared.state();
        let mut job = job;
        while let Some(worker) = state.idle.pop() {
            match worker.send(job) {
                Ok(()) => return,
                // That worker is gone (it panicked): try the next one.
                Err(mpsc::SendError(returned)) => job = returned,
            }
        }
        state.waiting.push_back(job);
    }
}

/// A worker: runs the jobs handed to it and the queued ones, until the pool is dropped.
fn work(shared: &Weak<Shared>) {
    loop {
        let Some(pool) = shared.upgrade() else {
            return;
        };
        let next = {
            let mut state = pool.state();
            state.waiting.pop_front().ok_or_else(|| {
                // Idle: a fresh channel whose only sender sits on the idle stack, so that
                // dropping the pool ends the wait below.
                let (sender, inbox) = mpsc::channel::<Job>();
                state.idle.push(sender);
                inbox
            })
        };
        drop(pool);
        let job = match next {
            Ok(job) => job,
            Err(inbox) => match inbox.recv() {
                Ok(job) => job,
                Err(mpsc::RecvError) => return,
            },
        };
        job();
    }
}

/// One admission; given back when the job finishes or is dropped unrun.
struct Ticket(Arc<AtomicUsize>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
#[cfg(test)]
mod tests {
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_goes_to_the_worker_idle_last() {
        let pool = HashingPool::new(3, 8);
        let idle = |pool: &HashingPool| pool.shared.state().idle.len();
        let mut names = std::collections::BTreeSet::new();
        for _ in 0..12 {
            // Every worker back on the idle stack, as between the sign-ins of a quiet server.
            while idle(&pool) < 3 {
                tokio::task::yield_now().await;
            }
            let name = pool
                .run(|| std::thread::current().name().map(str::to_owned))
                .await
                .unwrap();
            names.insert(name);
        }
        assert_eq!(
            names.len(),
            1,
            "one after another, one worker did all: {names:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_pool_ends_its_workers() {
        let pool = HashingPool::new(2, 1);
        assert_eq!(pool.run(|| 1).await.unwrap(), 1);
        // Idle and no longer holding the pool: a worker joins the idle stack while it still
        // holds a strong reference, and lets go of it just after.
        while pool.shared.state().idle.len() < 2 || Arc::strong_count(&pool.shared) > 1 {
            tokio::task::yield_now().await;
        }
        let shared = Arc::downgrade(&pool.shared);
        drop(pool);
        assert!(
            shared.upgrade().is_none(),
            "workers hold no strong reference while idle"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn all_work_runs_on_the_fixed_worker_threads() {
        let pool = HashingPool::new(2, 64);
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                pool.run(|| std::thread::current().name().map(str::to_owned))
                    .await
            }));
        }
        let mut names = std::collections::BTreeSet::new();
        for task in tasks {
            names.insert(task.await.unwrap().unwrap());
        }
        assert!(!names.is_empty());
        for name in &names {
            assert!(
                matches!(name.as_deref(), Some("accrete-hash-0" | "accrete-hash-1")),
                "ran on {name:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_dropped_while_queued_gives_its_place_back() {
        let pool = HashingPool::new(1, 1);
        let (release, gate) = mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let busy = pool.clone();
        let first = tokio::spawn(async move {
            busy.run(move || {
                let _ = started_tx.send(());
                gate.recv().unwrap();
            })
            .await
        });
        started_rx.await.unwrap();
        let (ran_tx, ran_rx) = mpsc::channel::<()>();
        let queued_pool = pool.clone();
        let queued = tokio::spawn(async move {
            queued_pool
                .run(move || {
                    let _ = ran_tx.send(());
                })
                .await
        });
        while pool.admitted.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        queued.abort();
        let _ = queued.await;
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        assert_eq!(pool.run(|| 5).await.unwrap(), 5);
        assert!(ran_rx.try_recv().is_err(), "the abandoned job was skipped");
        assert_eq!(
            pool.admitted.load(Ordering::Acquire),
            0,
            "every place was given back"
        );
    }
}
