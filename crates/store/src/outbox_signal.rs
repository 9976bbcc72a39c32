//! The signal that events were committed to the webhook outbox, so that a delivery worker
//! wakes at once instead of at its next poll (docs/webhooks.md, "Delivery latency").
//!
//! - SQLite: every write goes through one connection of this process (`crate::sqlite`); its
//!   update hook notes an insert into `webhook_events` and its commit hook rings a
//!   [`tokio::sync::Notify`] when such a transaction commits (a rollback forgets the note). One
//!   place, below every aggregate, so that no writer of events has to remember to ring it.
//! - PostgreSQL: a trigger of migration 0021 runs `pg_notify('accrete_webhook_events', '')` in
//!   the transaction that inserts events, delivered when it commits to every node that
//!   `LISTEN`s, this one included.
//!
//! A wake-up is only a hint: the worker still polls, so a signal lost (a PostgreSQL listener
//! reconnecting) costs at most one poll interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::postgres::PgListener;
use tokio::sync::Notify;

use crate::StoreError;

/// The PostgreSQL channel of migration 0021.
pub(crate) const CHANNEL: &str = "accrete_webhook_events";

/// Resolves when events may have been committed to the outbox.
pub struct OutboxSignal {
    source: Source,
}

enum Source {
    /// Rung by this process's writing connection (SQLite).
    Local(Arc<Notify>),
    /// `LISTEN accrete_webhook_events` on a connection of its own (PostgreSQL), and the
    /// backend's name for its errors.
    Listen(Box<PgListener>, &'static str),
}

impl std::fmt::Debug for OutboxSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.source {
            Source::Local(_) => "local",
            Source::Listen(..) => "listen",
        };
        f.debug_struct("OutboxSignal")
            .field("source", &kind)
            .finish()
    }
}

impl OutboxSignal {
    pub(crate) fn local(bell: Arc<Notify>) -> OutboxSignal {
        OutboxSignal {
            source: Source::Local(bell),
        }
    }

    pub(crate) fn listen(listener: PgListener, backend: &'static str) -> OutboxSignal {
        OutboxSignal {
            source: Source::Listen(Box::new(listener), backend),
        }
    }

    /// Waits for the next commit of events (one that came while nobody waited counts).
    /// Cancel-safe. An error (the listener's connection lost; it reconnects at the next call)
    /// means notifications may have been missed: poll.
    pub async fn committed(&mut self) -> Result<(), StoreError> {
        match &mut self.source {
            Source::Local(bell) => {
                bell.notified().await;
                Ok(())
            }
            Source::Listen(listener, backend) => {
                let backend: &'static str = backend;
                listener
                    .recv()
                    .await
                    .map_err(|error| crate::error::from_sqlx(backend, error))?;
                // Several commits since the last wake-up are one wake-up.
                while listener.next_buffered().is_some() {}
                Ok(())
            }
        }
    }
}

/// The hooks of SQLite's writing connection: an insert into `webhook_events` is noted, and rung
/// when its transaction commits.
#[derive(Debug, Default)]
pub(crate) struct OutboxHooks {
    bell: Arc<Notify>,
}

impl OutboxHooks {
    /// The bell the hooks ring.
    pub(crate) fn bell(&self) -> Arc<Notify> {
        Arc::clone(&self.bell)
    }

    /// Installs the hooks on a newly opened connection.
    pub(crate) async fn install(
        &self,
        connection: &mut sqlx::SqliteConnection,
    ) -> Result<(), sqlx::Error> {
        let noted = Arc::new(AtomicBool::new(false));
        let mut handle = connection.lock_handle().await?;
        let on_write = Arc::clone(&noted);
        handle.set_update_hook(move |change| {
            if change.table == "webhook_events"
                && matches!(change.operation, sqlx::sqlite::SqliteOperation::Insert)
            {
                on_write.store(true, Ordering::Relaxed);
            }
        });
        let on_commit = Arc::clone(&noted);
        let bell = Arc::clone(&self.bell);
        handle.set_commit_hook(move || {
            // Rung as the commit is being made: the worker reads through this same connection,
            // so it sees the events once this transaction has ended.
            if on_commit.swap(false, Ordering::Relaxed) {
                bell.notify_one();
            }
            true
        });
        handle.set_rollback_hook(move || noted.store(false, Ordering::Relaxed));
        Ok(())
    }
}
