//! The circuit breaker in front of the PostgreSQL pool: once the database is known to be down,
//! store methods fail at once as [`StoreError::Unavailable`] instead of each waiting the pool's
//! acquire timeout, and one probe at a time (a plain connection attempt, bounded) finds out when
//! it is back.
//!
//! The database is known to be down when a connection it lent failed as unavailable, when
//! acquiring a connection failed as unavailable, or when a probe could not connect. A probe runs
//! when a request has waited [`SUSPECT_AFTER`] for a connection (so a database that refuses
//! connections is noticed within a fraction of a second, not after the acquire timeout), and
//! then every [`PROBE_EVERY`] while the database is down.

/// The backend's name in errors (its store module names itself with this one).
pub(crate) const BACKEND: &str = "PostgreSQL";

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::watch;

use crate::StoreError;

/// How long a request waits for a connection before a probe checks that the database answers.
pub(crate) const SUSPECT_AFTER: Duration = Duration::from_millis(200);
/// How long a probe may take to connect.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Pause between probes while the database is down.
const PROBE_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub(crate) struct Breaker {
    /// `true` while the database is thought to answer.
    up: watch::Sender<bool>,
    /// When the breaker last opened (connections returned before then are checked before use).
    opened_at: std::sync::Mutex<Option<Instant>>,
    probing: AtomicBool,
    options: PgConnectOptions,
}

impl Breaker {
    pub(crate) fn new(options: PgConnectOptions) -> Arc<Breaker> {
        Arc::new(Breaker {
            up: watch::Sender::new(true),
            opened_at: std::sync::Mutex::new(None),
            probing: AtomicBool::new(false),
            options,
        })
    }

    /// Whether the database is known to be down.
    pub(crate) fn is_down(&self) -> bool {
        !*self.up.borrow()
    }

    /// The error of a method refused while the database is down.
    pub(crate) fn refusal() -> StoreError {
        StoreError::Unavailable {
            backend: BACKEND,
            message: "the database did not answer a moment ago; retry in a moment".into(),
        }
    }

    /// Whether a connection idle for `idle_for` was returned to the pool before the breaker
    /// last opened (it may have been cut while the database was away).
    pub(crate) fn predates_outage(&self, idle_for: Duration) -> bool {
        let opened_at = *self
            .opened_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        opened_at.is_some_and(|at| {
            Instant::now()
                .checked_sub(idle_for)
                .is_none_or(|back| back <= at)
        })
    }

    /// Marks the database down and starts probing for its return.
    pub(crate) fn open(self: &Arc<Self>) {
        *self
            .opened_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        self.up.send_replace(false);
        self.probe();
    }

    /// Starts a probe unless one is running: it closes the breaker when the database answers,
    /// and opens it (and keeps probing) when it does not.
    pub(crate) fn probe(self: &Arc<Self>) {
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let breaker = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if breaker.reachable().await {
                    breaker.probing.store(false, Ordering::Release);
                    breaker.up.send_replace(true);
                    return;
                }
                if !breaker.is_down() {
                    *breaker
                        .opened_at
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
                    breaker.up.send_replace(false);
                }
                tokio::time::sleep(PROBE_EVERY).await;
            }
        });
    }

    async fn reachable(&self) -> bool {
        match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(&self.options)).await {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
                true
            }
            _ => false,
        }
    }

    /// Resolves when the breaker opens.
    pub(crate) async fn opened(&self) {
        let mut up = self.up.subscribe();
        let _ = up.wait_for(|up| !*up).await;
    }

    /// Resolves when the breaker is closed (the database answers).
    pub(crate) async fn closed(&self) {
        let mut up = self.up.subscribe();
        let _ = up.wait_for(|up| *up).await;
    }
}
