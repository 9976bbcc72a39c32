//! Users brought in from another system (`accrete users import`, docs/import-export.md), a
//! batch at a time: each user of a batch is found (by the id it had in the system it came
//! from, then by email) or created, in one database transaction per batch (an import stopped at
//! any moment has stored whole batches and nothing half-written) or, with
//! [`ImportScope::Whole`], in one for every batch (all or nothing). Importing the same file
//! again changes nothing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use time::{Date, OffsetDateTime};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::aggregates::counters::{self, Daily, ValueDeltas};
use crate::aggregates::users::{self, UserRow};
use crate::backend::{Backend, Conn, Param, on_postgres, pick, query, query_as};
use crate::profile::{Bags, Sources};
use crate::{
    EmailChange, HistoryEntry, Location, ProfileChange, PromptState, Provenance, StoreError, User,
    UserUpdate,
};

/// One user to import, its values already checked by the policy's rules.
#[derive(Debug, Clone, Default)]
pub struct ImportUser {
    /// The id the source system gave it.
    pub external_id: Option<String>,
    /// The id to give it when it is created (kept only if no other user has it); without it, a
    /// new id made at the import.
    pub id: Option<Uuid>,
    pub email: String,
    pub email_verified: bool,
    /// A hash `accrete_oidc::password::verify_password` verifies; stored only for a user who
    /// has no password yet.
    pub password_hash: Option<String>,
    /// When the source system created it (`now` when absent); used only when it is created.
    pub created_at: Option<OffsetDateTime>,
    /// Created disabled (an existing user is left as it is).
    pub disabled: bool,
    /// When it was disabled, with `disabled` (`now` when absent).
    pub disabled_at: Option<OffsetDateTime>,
    /// When its values last changed in the source (`now` when absent); used only when it is
    /// created.
    pub updated_at: Option<OffsetDateTime>,
    /// Its sign-ins in the source (Accrete's own export); used only when it is created.
    pub sign_ins: SignIns,
    /// How each step of the policy went with it (Accrete's own export): a user who skipped a
    /// step is not asked again sooner than the policy says; used only when it is created.
    pub prompts: Vec<PromptState>,
    /// The values: keys to set (profile claims, and metadata keys of a new user).
    pub changes: Vec<ProfileChange>,
    /// RFC 7396 merge patches of the metadata bags (applied after `changes`).
    pub patches: Vec<(Location, Value)>,
    /// The source of a value, by `(location, key)`, when it is not the import's.
    pub sources: BTreeMap<(Location, String), ImportedSource>,
    /// The history to keep for a created user instead of one entry per value (`seq` and
    /// `user_id` are ignored); ignored for an existing user.
    pub history: Vec<HistoryEntry>,
}

/// The source of an imported value, and when it wrote the value (the import's time when
/// absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedSource {
    pub source: String,
    pub at: Option<OffsetDateTime>,
}

/// A user's sign-ins, as the store counts them (`users.credentialed_logins`, `sso_logins`,
/// `last_login_at`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignIns {
    /// Interactive sign-ins with credentials.
    pub credentialed: i64,
    /// Sign-ins that reused a single sign-on session.
    pub sso: i64,
    /// The last sign-in of either kind.
    pub last_at: Option<OffsetDateTime>,
}

/// What importing one user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A new user.
    Created(Uuid),
    /// An existing user (found by external id or email) whose values, email or password hash
    /// changed.
    Updated {
        id: Uuid,
        /// The import's password hash was stored (the user had no password); an existing
        /// password is never replaced.
        password_hash_stored: bool,
    },
    /// An existing user with nothing to change.
    Unchanged(Uuid),
    /// Not imported, for this reason (for the report); nothing of it was written.
    Refused(String),
}

/// What an import sends the store ([`UserTransfers::import_stream`]).
#[derive(Debug)]
pub enum ImportStep {
    /// The next batch of users.
    Batch(ImportBatch),
    /// The file has been read to its end: commit (the last step). An import whose steps end
    /// without it stops where it is: with [`ImportScope::Whole`], nothing of it is kept.
    Commit,
}

impl ImportStep {
    /// The next batch: `users`, stored at `now` ([`ImportBatch::new`]).
    pub fn batch(users: Vec<ImportUser>, now: OffsetDateTime) -> Self {
        ImportStep::Batch(ImportBatch::new(users, now))
    }
}

/// A batch of users to import, stored at one time, with the work that needs no database done
/// as it is made: each user's values applied to empty bags (what it gets if it is created),
/// and serialised. The importer makes the next batch on its own
/// thread while the store writes the one before (`crates/app/src/import.rs`): that work and
/// the database's take turns no more.
#[derive(Debug)]
pub struct ImportBatch {
    users: Vec<Prepared>,
    now: OffsetDateTime,
    /// Where the batch's users go once written, to be freed ([`ImportBatch::freed_by`]).
    spent: Option<std::sync::mpsc::Sender<Spent>>,
}

impl ImportBatch {
    pub fn new(users: Vec<ImportUser>, now: OffsetDateTime) -> Self {
        let users = users
            .into_iter()
            .map(|user| Prepared {
                normalized: users::normalized_email(&user.email).ok(),
                created: Created::of(&user),
                user,
            })
            .collect();
        ImportBatch {
            users,
            now,
            spent: None,
        }
    }

    /// Sends the batch's users, once written, to `spent`, for the thread that made them to
    /// free: glibc's `free` of memory another thread allocated takes that thread's arena
    /// lock, and the two threads then wait on each other (docs/scaling.md). Without it, or once
    /// `spent`'s receiver is gone, they are freed on a blocking thread of their own.
    pub fn freed_by(mut self, spent: std::sync::mpsc::Sender<Spent>) -> Self {
        self.spent = Some(spent);
        self
    }
}

/// What is left of a written [`ImportBatch`]: dropping it frees its users' memory.
pub struct Spent {
    _memory: Box<dyn std::any::Any + Send>,
}

impl std::fmt::Debug for Spent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spent")
    }
}

impl Spent {
    /// Sends `what` to `to` to be freed there, else frees it on a blocking thread of its own.
    fn dispose(what: impl Send + 'static, to: Option<&std::sync::mpsc::Sender<Spent>>) {
        let what = Spent {
            _memory: Box::new(what),
        };
        let unsent = match to {
            Some(to) => to.send(what).err().map(|unsent| unsent.0),
            None => Some(what),
        };
        if let Some(what) = unsent {
            drop(tokio::task::spawn_blocking(move || drop(what)));
        }
    }
}

/// One user of an [`ImportBatch`].
#[derive(Debug)]
struct Prepared {
    /// Its email address as users are found by (`None`: not a valid address).
    normalized: Option<String>,
    /// What it gets if it is created, or why it cannot be.
    created: Result<Created, StoreError>,
    user: ImportUser,
}

/// A new user's values, as [`sql::create_all`] writes them.
#[derive(Debug)]
struct Created {
    /// Each value set, in order (its history and its counters).
    applied: Vec<crate::profile::AppliedChange>,
    /// `profile`, `user_metadata` and `app_metadata`, serialised.
    bags: [Box<serde_json::value::RawValue>; 3],
    /// Each value set once, from nothing: its one history entry is what the row's bags and
    /// sources say, and stays there until the user's values are next written
    /// (`Sources::history`); otherwise a row per entry.
    in_row: bool,
}

impl Created {
    fn of(user: &ImportUser) -> Result<Self, StoreError> {
        let mut bags = Bags::default();
        let mut applied = bags.apply(&user.changes)?;
        for (location, patch) in &user.patches {
            let changes = bags.merge_patch_changes(*location, patch)?;
            applied.extend(bags.apply(&changes)?);
        }
        let in_row = user.history.is_empty()
            && !applied.is_empty()
            && applied
                .iter()
                .all(|c| c.old_value.is_none() && c.new_value.is_some());
        let (profile, user_metadata, app_metadata) = bags.into_values();
        let raw =
            |value: &Value| serde_json::value::to_raw_value(value).map_err(StoreError::unexpected);
        Ok(Created {
            bags: [raw(&profile)?, raw(&user_metadata)?, raw(&app_metadata)?],
            applied,
            in_row,
        })
    }
}

/// How much of an import one database transaction holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportScope {
    /// One transaction per batch: other writers (a running server's sign-ins) take their turn
    /// between batches, and an import stopped halfway keeps its whole batches.
    #[default]
    Batches,
    /// One transaction for the whole file (`--single-transaction`): all or nothing, and much
    /// faster, but every other writer waits until it ends (a server's writes time out; on
    /// PostgreSQL a first import holds the users' tables for reading too), so it is for a
    /// first import or a maintenance window.
    Whole,
}

/// A user as `accrete users export` writes it.
#[derive(Debug, Clone)]
pub struct ExportedUser {
    pub user: User,
    /// The source of each stored value.
    pub provenance: Vec<Provenance>,
    /// Every change of its values, oldest first (only when asked for).
    pub history: Vec<HistoryEntry>,
    /// How each step of the policy went with it, by step.
    pub prompts: Vec<PromptState>,
}

/// Users in (an import, a batch at a time) and out (an export, a page at a time).
#[async_trait]
pub trait UserTransfers: Send + Sync {
    /// Imports `users` in one database transaction with provenance `import:<format>` (or each
    /// value's own source): an outcome per user, in order. With `dry_run`, everything is done
    /// and then rolled back (the outcomes say what an import would do). A user of the batch
    /// found by external id whose email another user has is refused; so is one whose email
    /// changes to one that is taken.
    async fn import_users(
        &self,
        format: &str,
        users: Vec<ImportUser>,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> Result<Vec<ImportOutcome>, StoreError>;

    /// Imports the batches of `steps` in order, sending each batch's outcomes (as
    /// [`UserTransfers::import_users`]) to `outcomes`, within the transactions of `scope`.
    /// Ends when `steps` ends; with [`ImportScope::Whole`], commits only on
    /// [`ImportStep::Commit`] (and never with `dry_run`).
    ///
    /// The users of `steps` must be distinct: no two with the same address (compared as
    /// [`crate::normalize_email`] does) or the same id in the source (the importer refuses the
    /// later line). A first whole-file import (no user before it, no other writer until its
    /// commit) relies on it and looks nobody up; a repeated address fails it at its end,
    /// nothing kept.
    async fn import_stream(
        &self,
        format: &str,
        scope: ImportScope,
        dry_run: bool,
        steps: mpsc::Receiver<ImportStep>,
        outcomes: mpsc::UnboundedSender<Vec<ImportOutcome>>,
    ) -> Result<(), StoreError>;

    /// Brings the database's statistics of the users' tables up to date after an import
    /// stored many users (`ANALYZE` on PostgreSQL, whose planner otherwise has none for a table
    /// filled at once until autovacuum's next analysis; `PRAGMA optimize` on SQLite).
    async fn analyze_users(&self) -> Result<(), StoreError>;

    /// Up to `limit` users in id order after `after`, with their values' sources (and their
    /// history when `with_history`): two statements per page, whatever its size.
    async fn export_users(
        &self,
        after: Option<Uuid>,
        limit: u32,
        with_history: bool,
    ) -> Result<Vec<ExportedUser>, StoreError>;
}

#[async_trait]
impl<B: Backend> UserTransfers for B {
    async fn import_users(
        &self,
        format: &str,
        users: Vec<ImportUser>,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let batch = ImportBatch::new(users, now);
        let mut c = self.write().await?;
        let result = sql::import_users(&mut *c, format, batch, dry_run).await;
        self.settle(&mut c, result)
    }

    async fn import_stream(
        &self,
        format: &str,
        scope: ImportScope,
        dry_run: bool,
        mut steps: mpsc::Receiver<ImportStep>,
        outcomes: mpsc::UnboundedSender<Vec<ImportOutcome>>,
    ) -> Result<(), StoreError> {
        if scope == ImportScope::Batches {
            while let Some(ImportStep::Batch(batch)) = steps.recv().await {
                let mut c = self.write().await?;
                let result = sql::import_users(&mut *c, format, batch, dry_run).await;
                let batch = self.settle(&mut c, result)?;
                if outcomes.send(batch).is_err() {
                    break;
                }
            }
            return Ok(());
        }
        let mut c = self.write().await?;
        let result = sql::import_whole(&mut *c, format, dry_run, &mut steps, &outcomes).await;
        self.settle(&mut c, result)
    }

    async fn analyze_users(&self) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = query(pick::<B::Conn>(
            "PRAGMA optimize",
            "ANALYZE users, profile_history, user_values, user_imports",
        ))
        .execute(&mut *c)
        .await
        .map(drop);
        self.settle(&mut c, result)
    }

    async fn export_users(
        &self,
        after: Option<Uuid>,
        limit: u32,
        with_history: bool,
    ) -> Result<Vec<ExportedUser>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::export_users(&mut *c, after, limit, with_history).await;
        self.settle(&mut c, result)
    }
}

/// The provenance of imported values.
pub fn import_source(format: &str) -> String {
    format!("import:{format}")
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    /// What the new users add to the counters, written once before the commit: at the end of
    /// each batch, or of the whole file in one transaction. On PostgreSQL each write of a
    /// counter adds a version of its row that the rest of the transaction walks past: written
    /// at every batch of a whole-file import, the sign-up days took longer at each batch (14 ms
    /// a batch after 50,000 users, and growing).
    #[derive(Default)]
    struct Counts {
        values: ValueDeltas,
        signups: BTreeMap<Date, i64>,
    }

    impl Counts {
        async fn write<C: Conn>(self, tx: &mut C) -> Result<(), StoreError> {
            counters::sql::count_values(&mut *tx, self.values).await?;
            counters::sql::count_many_days(&mut *tx, Daily::SignUp, self.signups).await
        }
    }

    pub(crate) async fn import_users<C: Conn>(
        c: &mut C,
        format: &str,
        batch: ImportBatch,
        dry_run: bool,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let mut tx = c.begin_write().await?;
        let mut counts = Counts::default();
        let outcomes = import_batch(&mut *tx, (format, false), batch, &mut counts).await?;
        counts.write(&mut *tx).await?;
        if !dry_run {
            C::commit(tx).await?;
        }
        Ok(outcomes)
    }

    /// Every batch of `steps` in one transaction, committed on [`ImportStep::Commit`].
    pub(crate) async fn import_whole<C: Conn>(
        c: &mut C,
        format: &str,
        dry_run: bool,
        steps: &mut mpsc::Receiver<ImportStep>,
        outcomes: &mpsc::UnboundedSender<Vec<ImportOutcome>>,
    ) -> Result<(), StoreError> {
        // SQLite: a larger page cache for the writing connection while the import holds it
        // (the B-trees' pages that a batch touches again stay in memory instead of going to
        // the log and being read back), and the default again after it.
        if !on_postgres::<C>() {
            query("PRAGMA cache_size = -32768").execute(&mut *c).await?;
        }
        let result = import_whole_in(c, format, dry_run, steps, outcomes).await;
        if !on_postgres::<C>() {
            let reset = query("PRAGMA cache_size = -2000").execute(&mut *c).await;
            // The log held the whole import (as large as the users' tables) and was copied
            // into the database at the commit: give its space back to the disk (a reader still
            // on it makes this a no-op, left to the next checkpoints).
            let truncate = query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *c)
                .await;
            return result.and(reset.map(drop)).and(truncate.map(drop));
        }
        result
    }

    async fn import_whole_in<C: Conn>(
        c: &mut C,
        format: &str,
        dry_run: bool,
        steps: &mut mpsc::Receiver<ImportStep>,
        outcomes: &mpsc::UnboundedSender<Vec<ImportOutcome>>,
    ) -> Result<(), StoreError> {
        let mut tx = c.begin_write().await?;
        let mut counts = Counts::default();
        let deferred = if dry_run {
            None
        } else {
            Deferred::start(&mut *tx).await?
        };
        let first = deferred.as_ref().is_some_and(Deferred::first);
        // A first import on PostgreSQL looks nobody up: each batch is planned on a blocking
        // thread while the one before is written, one batch ahead (the database's backend
        // waited for the importer's statements about a quarter of the batches' time,
        // docs/scaling.md). Not on SQLite, whose writing runs on this machine's cores too:
        // three busy threads instead of two, and a peak RSS past the bound.
        let ahead = first && on_postgres::<C>();
        // Otherwise the writer takes the steps as they come (no batch more in memory).
        let (mut direct, ahead) = if ahead {
            (None, Some(steps))
        } else {
            (Some(steps), None)
        };
        let (planned_out, mut planned) = mpsc::channel::<Result<Next, StoreError>>(1);
        let planning = async move {
            let Some(steps) = ahead else { return };
            while let Some(step) = steps.recv().await {
                let next = match step {
                    ImportStep::Batch(batch) => {
                        let format = format.to_owned();
                        tokio::task::spawn_blocking(move || {
                            plan((&format, true), batch, Known::default(), Default::default())
                        })
                        .await
                        .map_err(|e| StoreError::unexpected(format!("an import batch: {e}")))
                        .and_then(|planned| planned.map(|p| Next::Planned(Box::new(p))))
                    }
                    step => Ok(Next::Step(step)),
                };
                let stop = next.is_err();
                // The writer stopped (a store error, told by it).
                if planned_out.send(next).await.is_err() || stop {
                    return;
                }
            }
        };
        let writing = async move {
            loop {
                let next = match direct.as_mut() {
                    Some(steps) => steps.recv().await.map(|step| Ok(Next::Step(step))),
                    None => planned.recv().await,
                };
                let Some(next) = next else { break };
                let batch = match next? {
                    Next::Planned(mut batch) => {
                        retake(&mut *tx, format, &mut batch).await?;
                        finish(&mut *tx, (format, first), *batch, &mut counts).await?
                    }
                    Next::Step(ImportStep::Batch(batch)) => {
                        import_batch(&mut *tx, (format, first), batch, &mut counts).await?
                    }
                    Next::Step(ImportStep::Commit) => {
                        if !dry_run {
                            if let Some(deferred) = deferred {
                                deferred.finish(&mut *tx).await?;
                            }
                            counts.write(&mut *tx).await?;
                            C::commit(tx).await?;
                        }
                        return Ok(());
                    }
                };
                if outcomes.send(batch).is_err() {
                    // The importer stopped: nothing is kept.
                    return Ok(());
                }
            }
            // The steps ended without `Commit`: the transaction rolls back as it is dropped.
            Ok(())
        };
        let ((), written) = tokio::join!(planning, writing);
        written
    }

    /// What the writer of a whole-file import takes next ([`import_whole_in`]).
    enum Next {
        /// A batch of a first import, planned.
        Planned(Box<Planned>),
        Step(ImportStep),
    }

    /// A whole-file import: work that the database does much faster once, at the end of the
    /// import, than row by row among the import's other writes (docs/scaling.md: a million
    /// users in about 90 s instead of 136 on SQLite, 126 s instead of 251 on PostgreSQL). What
    /// is set aside is dropped (or disabled) within the import's transaction and put back, from
    /// its own definition in the database's catalog, before the commit; a failed or
    /// interrupted import rolls both back with the rest.
    ///
    /// SQLite, every whole-file import:
    /// - the insert trigger of `user_values`: the users the import created are indexed for
    ///   search with one statement from the view `user_values_of` (migration 0030), the rule's
    ///   one home, which the triggers read too. Users it changes go through the update trigger;
    /// - in a first import only (no users before it), two secondary indexes, built again from
    ///   every row: what that costs grows with the table, not with the import.
    ///
    /// PostgreSQL, a first import only (no users before it, and the tables owned by the
    /// importer's role, the one whose connection applied the migrations): the insert and update
    /// triggers of `user_values`, whose rows each batch's statement writes with its new users
    /// (`create_all`; a first import creates every user it writes), and its primary key; the
    /// foreign keys to `users`
    /// of the history and of the ids in the source (each row's check is a query: a third of
    /// the import's time); the two secondary indexes; and the uniqueness of `users`' addresses,
    /// whose index took each new address at a random place (a million users: 7 s of the
    /// batches; built at the end in under 2 s). A first import looks nobody up by address
    /// ([`Deferred::first`]): its users are distinct, and the constraint put back checks it.
    /// Dropping a constraint locks `users` until the commit: a running server's reads of users
    /// wait for the import (docs/import-export.md).
    struct Deferred {
        /// SQLite: the largest rowid of `users` before the import (the users it creates come
        /// after).
        since: i64,
        /// The statements that put back what was set aside, in order.
        restore: Vec<String>,
    }

    /// What [`Deferred`] sets aside on SQLite in every whole-file import, and in a first one:
    /// each object's name and the statement that drops it.
    const DEFERRED: [(&str, &str); 1] =
        [("user_values_inserted", "DROP TRIGGER user_values_inserted")];
    const DEFERRED_FIRST: [(&str, &str); 2] = [
        ("users_created_at", "DROP INDEX users_created_at"),
        ("profile_history_user", "DROP INDEX profile_history_user"),
    ];

    /// What [`Deferred`] sets aside on PostgreSQL in a first whole-file import, put back in this
    /// order (the primary key of `user_values` before the rest reads it).
    const DEFERRED_POSTGRES: [SetAside; 8] = [
        SetAside::Constraint("user_values", "user_values_pkey"),
        SetAside::Constraint("users", "users_email_normalized_key"),
        SetAside::Constraint("profile_history", "profile_history_user_id_fkey"),
        SetAside::Constraint("user_imports", "user_imports_user_id_fkey"),
        SetAside::Index("users_created_at"),
        SetAside::Index("profile_history_user"),
        SetAside::Trigger("users", "user_values_inserted"),
        SetAside::Trigger("users", "user_values_updated"),
    ];

    /// The tables whose objects [`DEFERRED_POSTGRES`] names (the importer's role must own them).
    const DEFERRED_POSTGRES_TABLES: &str = "{users,user_values,profile_history,user_imports}";

    /// One object of the schema set aside on PostgreSQL (names are constants of this file).
    #[derive(Clone, Copy)]
    enum SetAside {
        /// A constraint of a table, dropped and added again from `pg_get_constraintdef`.
        Constraint(&'static str, &'static str),
        /// An index, dropped and created again from `pg_get_indexdef`.
        Index(&'static str),
        /// A trigger of a table, disabled and enabled again.
        Trigger(&'static str, &'static str),
    }

    impl SetAside {
        /// The statements that set it aside and that put it back.
        async fn statements<C: Conn>(self, tx: &mut C) -> Result<(String, String), StoreError> {
            Ok(match self {
                SetAside::Constraint(table, name) => {
                    let (definition,) = query_as::<(String,)>(
                        "SELECT pg_get_constraintdef(oid) FROM pg_constraint
                         WHERE conrelid = $1::regclass AND conname = $2",
                    )
                    .bind(table)
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
                    (
                        format!("ALTER TABLE {table} DROP CONSTRAINT {name}"),
                        format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"),
                    )
                }
                SetAside::Index(name) => {
                    let (definition,) =
                        query_as::<(String,)>("SELECT pg_get_indexdef($1::regclass)")
                            .bind(name)
                            .fetch_one(&mut *tx)
                            .await?;
                    (format!("DROP INDEX {name}"), definition)
                }
                SetAside::Trigger(table, name) => (
                    format!("ALTER TABLE {table} DISABLE TRIGGER {name}"),
                    format!("ALTER TABLE {table} ENABLE TRIGGER {name}"),
                ),
            })
        }
    }

    /// Runs a statement built from the catalog's own definitions and this file's names.
    async fn run<C: Conn>(tx: &mut C, sql: String) -> Result<(), StoreError> {
        tx.execute_script(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(sql)))
            .await
            .map_err(StoreError::unexpected)
    }

    impl Deferred {
        /// Sets aside what this import can do without; `None` when nothing is.
        async fn start<C: Conn>(tx: &mut C) -> Result<Option<Self>, StoreError> {
            if on_postgres::<C>() {
                return Self::start_postgres(tx).await;
            }
            let (since,) = query_as::<(i64,)>("SELECT coalesce(max(rowid), 0) FROM users")
                .fetch_one(&mut *tx)
                .await?;
            let first = if since == 0 { &DEFERRED_FIRST[..] } else { &[] };
            let mut restore = Vec::new();
            for (name, drop) in DEFERRED.iter().chain(first) {
                let (sql,) = query_as::<(String,)>("SELECT sql FROM sqlite_master WHERE name = $1")
                    .bind(*name)
                    .fetch_one(&mut *tx)
                    .await?;
                query(drop).execute(&mut *tx).await?;
                restore.push(sql);
            }
            Ok(Some(Self { since, restore }))
        }

        async fn start_postgres<C: Conn>(tx: &mut C) -> Result<Option<Self>, StoreError> {
            if !Self::first_import(&mut *tx).await? {
                return Ok(None);
            }
            // No other transaction adds a user from here to the commit (the first constraint
            // dropped below would take this lock anyway); then the same question again.
            query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            if !Self::first_import(&mut *tx).await? {
                return Ok(None);
            }
            let mut restore = Vec::new();
            for object in DEFERRED_POSTGRES {
                let (set_aside, put_back) = object.statements(&mut *tx).await?;
                run(&mut *tx, set_aside).await?;
                restore.push(put_back);
            }
            Ok(Some(Self { since: 0, restore }))
        }

        /// Whether no user existed before the import, and no other writer can add one until
        /// its commit (PostgreSQL: `users` is locked; SQLite: the import is the one writer).
        /// Its users being distinct ([`UserTransfers::import_stream`]), none of them is anyone
        /// already: the batches look nobody up.
        fn first(&self) -> bool {
            self.since == 0
        }

        /// PostgreSQL: whether `users` is empty and the importer's role owns the tables whose
        /// objects are set aside.
        async fn first_import<C: Conn>(tx: &mut C) -> Result<bool, StoreError> {
            let (first,) = query_as::<(Option<bool>,)>(
                "SELECT NOT EXISTS (SELECT 1 FROM users)
                   AND bool_and(pg_has_role(relowner, 'USAGE'))
                 FROM pg_class WHERE oid = ANY($1::regclass[])",
            )
            .bind(DEFERRED_POSTGRES_TABLES)
            .fetch_one(&mut *tx)
            .await?;
            Ok(first == Some(true))
        }

        async fn finish<C: Conn>(self, tx: &mut C) -> Result<(), StoreError> {
            // PostgreSQL: each batch wrote its users' values (`create_all`), a first import
            // creating every user it writes.
            if !on_postgres::<C>() {
                query(
                    "INSERT OR IGNORE INTO user_values (location, key, value, user_id)
                     SELECT location, key, value, user_id FROM user_values_of WHERE user_row > $1",
                )
                .bind(self.since)
                .execute(&mut *tx)
                .await?;
            }
            for sql in self.restore {
                run(&mut *tx, sql).await?;
            }
            Ok(())
        }
    }

    /// How many times a batch looks up again the lines whose address another writer took while
    /// the batch was written (each time, only those lines).
    const LOOKUPS: usize = 3;

    /// Why a line is not imported when other writers took its address every time.
    const RACED: &str = "other writers kept creating a user with this address while the \
                         import ran; run the import again";

    /// One batch of users, in the caller's transaction; what its new users add to the counters
    /// goes to `counts`, for the caller to write. `nobody_before`: a first import
    /// ([`Deferred::first`]), whose users are nobody yet.
    async fn import_batch<C: Conn>(
        tx: &mut C,
        (format, nobody_before): (&str, bool),
        batch: ImportBatch,
        counts: &mut Counts,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        // Who exists already: three statements for the whole batch, none in a first import.
        let all: Vec<&Prepared> = batch.users.iter().collect();
        let known = if nobody_before {
            Known::default()
        } else {
            existing(&mut *tx, format, &all).await?
        };
        drop(all);
        let given = batch.users.iter().filter_map(|p| p.user.id);
        let taken_ids = taken_ids(&mut *tx, given).await?;
        let planned = plan((format, on_postgres::<C>()), batch, known, taken_ids)?;
        finish(tx, (format, nobody_before), planned, counts).await
    }

    /// A batch's lines sorted out without the database ([`plan`]): the new users it creates
    /// at once, staged, and the lines to find (or found) one at a time, in order.
    struct Planned {
        outcomes: Vec<Option<ImportOutcome>>,
        create: Staged,
        later: Vec<Later>,
        /// The ids the batch's users have or are given, and those other users have.
        ids: std::collections::HashSet<Uuid>,
        now: OffsetDateTime,
        spent: Option<std::sync::mpsc::Sender<Spent>>,
    }

    /// Sorts a batch's lines out with what the database said of them (`known`, the users
    /// found; `taken_ids`, the ids given with them that other users have) and stages its new
    /// users ([`stage`], for PostgreSQL's statements when `postgres`): work that needs no
    /// database, which a first import on PostgreSQL does on a thread of its own while the batch
    /// before is written ([`import_whole_in`]).
    fn plan(
        (format, postgres): (&str, bool),
        ImportBatch { users, now, spent }: ImportBatch,
        known: Known,
        taken_ids: std::collections::HashSet<Uuid>,
    ) -> Result<Planned, StoreError> {
        let source = import_source(format);
        let mut outcomes: Vec<Option<ImportOutcome>> = vec![None; users.len()];
        let mut fresh = Vec::new();
        let mut later = Vec::new();
        let mut emails = std::collections::HashSet::new();
        let mut external_ids = std::collections::HashSet::new();
        // The users found so far: a second line of the batch that finds one of them again is
        // looked up at its turn, after the first one's update (which may have moved the user
        // to another address), not with what the batch read before any of them.
        let mut matched = std::collections::HashSet::new();
        for (i, prepared) in users.into_iter().enumerate() {
            let user = &prepared.user;
            let Some(email) = prepared.normalized.clone() else {
                outcomes[i] = Some(ImportOutcome::Refused(
                    "the email address is not valid".into(),
                ));
                continue;
            };
            let found = user
                .external_id
                .as_ref()
                .and_then(|x| known.by_external_id.get(x))
                .map(|user| (user.clone(), true))
                .or_else(|| known.by_email.get(&email).map(|user| (user.clone(), false)));
            let again = found
                .as_ref()
                .is_some_and(|(user, _)| !matched.insert(user.id));
            let found = found.filter(|_| !again);
            let first = emails.insert(email)
                && user
                    .external_id
                    .as_ref()
                    .is_none_or(|x| external_ids.insert(x.clone()));
            match found {
                None if first && !again => fresh.push((i, prepared)),
                // Found, or a user an earlier line of the batch found or is: one at a time, in
                // order, once the new users of the batch exist (looked up then when `None`).
                found => later.push((i, prepared, found)),
            }
        }
        let mut ids = taken_ids;
        let create = stage((&source, now, postgres), fresh, &mut ids)?;
        Ok(Planned {
            outcomes,
            create,
            later,
            ids,
            now,
            spent,
        })
    }

    /// A batch planned before the database said which of the ids given with it other users
    /// have (in a first import, only a user of an earlier batch can): those users get new ids.
    async fn retake<C: Conn>(
        tx: &mut C,
        format: &str,
        planned: &mut Planned,
    ) -> Result<(), StoreError> {
        let users = &planned.create.users;
        let given = users
            .iter()
            .filter(|new| new.user.id == Some(new.id))
            .map(|new| new.id);
        let taken = taken_ids(&mut *tx, given).await?;
        if taken.is_empty() {
            return Ok(());
        }
        let mut users = std::mem::take(&mut planned.create.users);
        for new in &mut users {
            if taken.contains(&new.id) {
                new.id = crate::model::new_id(planned.now);
                planned.ids.insert(new.id);
            }
        }
        planned.ids.extend(taken);
        let postgres = on_postgres::<C>();
        planned.create = Staged::of((&import_source(format), planned.now, postgres), users)?;
        Ok(())
    }

    /// A line of a batch written one at a time: its place, and the user found (by external id:
    /// `true`), if any yet.
    type Later = (usize, Prepared, Option<(User, bool)>);

    /// Writes a [`Planned`] batch: its new users, then the lines to look up in order.
    async fn finish<C: Conn>(
        tx: &mut C,
        (format, nobody_before): (&str, bool),
        Planned {
            mut outcomes,
            create,
            later,
            mut ids,
            now,
            spent,
        }: Planned,
        counts: &mut Counts,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let source = import_source(format);
        // A first import on PostgreSQL, whose triggers are disabled: the statement that creates
        // the users writes their values into `user_values` too.
        let with_values = nobody_before && on_postgres::<C>();
        let batch = (format, source.as_str(), now, spent.as_ref(), with_values);
        // New users first, then the lines to look up in order; a line whose address another
        // writer took between the batch's look-ups and its insert (PostgreSQL: a sign-up, or a
        // second import, that committed meanwhile) comes back from `create_all` and is looked
        // up again, which finds that writer's user (read committed) and updates it.
        let (mut staged, mut pending) = (create, later);
        for round in 0.. {
            let (created, lost) = create_all(&mut *tx, batch, staged, counts).await?;
            for (i, outcome) in created {
                outcomes[i] = Some(outcome);
            }
            if round == LOOKUPS {
                for (i, _) in lost {
                    outcomes[i] = Some(ImportOutcome::Refused(RACED.into()));
                }
                break;
            }
            if !lost.is_empty() {
                pending.extend(lost.into_iter().map(|(i, prepared)| (i, prepared, None)));
                pending.sort_by_key(|(i, ..)| *i);
            }
            if pending.is_empty() {
                break;
            }
            let mut create = Vec::new();
            for (i, prepared, found) in std::mem::take(&mut pending) {
                let found = match found {
                    Some(found) => Some(found),
                    None => find(&mut *tx, format, &prepared.user).await?,
                };
                match found {
                    Some(existing) => {
                        let user = prepared.user;
                        outcomes[i] =
                            Some(update(&mut *tx, format, &source, existing, user, now).await?);
                    }
                    None => create.push((i, prepared)),
                }
            }
            staged = stage((&source, now, on_postgres::<C>()), create, &mut ids)?;
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| ImportOutcome::Refused("not imported".into())))
            .collect())
    }

    /// The user an imported one is: the one imported before with the same external id, else
    /// the one with the same email.
    async fn find<C: Conn>(
        tx: &mut C,
        format: &str,
        user: &ImportUser,
    ) -> Result<Option<(User, bool)>, StoreError> {
        if let Some(external_id) = &user.external_id {
            let known = query_as::<UserRow>(
                "SELECT u.* FROM user_imports i JOIN users u ON u.id = i.user_id
                 WHERE i.format = $1 AND i.external_id = $2",
            )
            .bind(format.to_owned())
            .bind(external_id.clone())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = known {
                return Ok(Some((row.try_into()?, true)));
            }
        }
        let Ok(normalized) = users::normalized_email(&user.email) else {
            return Ok(None);
        };
        let row = query_as::<UserRow>("SELECT * FROM users WHERE email_normalized = $1")
            .bind(normalized)
            .fetch_optional(&mut *tx)
            .await?;
        row.map(|row| Ok((row.try_into()?, false))).transpose()
    }

    /// The users of a batch found by the id they had in the source system, and by email.
    #[derive(Default)]
    struct Known {
        by_external_id: std::collections::HashMap<String, User>,
        by_email: std::collections::HashMap<String, User>,
    }

    /// A JSON array as a statement's parameter (expanded by `json_each` on SQLite,
    /// `jsonb_array_elements` on PostgreSQL): one statement for a whole batch.
    fn array(items: Vec<Value>) -> Json<Value> {
        Json(Value::Array(items))
    }

    async fn existing<C: Conn>(
        tx: &mut C,
        format: &str,
        users: &[&Prepared],
    ) -> Result<Known, StoreError> {
        let emails: Vec<Value> = users
            .iter()
            .filter_map(|u| u.normalized.clone())
            .map(Value::String)
            .collect();
        let external: Vec<Value> = users
            .iter()
            .filter_map(|u| u.user.external_id.clone())
            .map(Value::String)
            .collect();
        let mut known = Known {
            by_external_id: Default::default(),
            by_email: Default::default(),
        };
        // PostgreSQL: one index seek per element (`LATERAL`, `OFFSET 0` as in
        // `users::sql::states_of`). With `IN (SELECT ...)` the plan of the import's prepared
        // statement, made while `users` was small, read every user for each batch: the import
        // slowed down as it grew (a million users took 12 minutes).
        let rows = query_as::<UserRow>(pick::<C>(
            "SELECT * FROM users WHERE email_normalized IN (SELECT value FROM json_each($1))",
            "SELECT u.* FROM jsonb_array_elements_text($1::jsonb) AS e(v)
             CROSS JOIN LATERAL (SELECT * FROM users WHERE email_normalized = e.v OFFSET 0) u",
        ))
        .bind(array(emails))
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            let user: User = row.try_into()?;
            known
                .by_email
                .insert(crate::model::normalize_email(&user.email), user);
        }
        if external.is_empty() {
            return Ok(known);
        }
        let rows = query_as::<(String, String)>(pick::<C>(
            "SELECT external_id, user_id FROM user_imports
             WHERE format = $1 AND external_id IN (SELECT value FROM json_each($2))",
            "SELECT i.external_id, i.user_id FROM jsonb_array_elements_text($2::jsonb) AS e(v)
             CROSS JOIN LATERAL (SELECT external_id, user_id FROM user_imports
                                 WHERE format = $1 AND external_id = e.v OFFSET 0) i",
        ))
        .bind(format.to_owned())
        .bind(array(external))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(known);
        }
        let ids: Vec<Value> = rows
            .iter()
            .map(|(_, id)| Value::String(id.clone()))
            .collect();
        let found = query_as::<UserRow>(pick::<C>(
            "SELECT * FROM users WHERE id IN (SELECT value FROM json_each($1))",
            "SELECT u.* FROM jsonb_array_elements_text($1::jsonb) AS e(v)
             CROSS JOIN LATERAL (SELECT * FROM users WHERE id = e.v OFFSET 0) u",
        ))
        .bind(array(ids))
        .fetch_all(&mut *tx)
        .await?;
        let mut by_id = std::collections::HashMap::new();
        for row in found {
            let user: User = row.try_into()?;
            by_id.insert(user.id.to_string(), user);
        }
        for (external_id, user_id) in rows {
            if let Some(user) = by_id.get(&user_id) {
                known.by_external_id.insert(external_id, user.clone());
            }
        }
        Ok(known)
    }

    /// The ids given with the users (an export read back) that other users have.
    async fn taken_ids<C: Conn>(
        tx: &mut C,
        given: impl Iterator<Item = Uuid>,
    ) -> Result<std::collections::HashSet<Uuid>, StoreError> {
        let given: Vec<Value> = given.map(|id| Value::String(id.to_string())).collect();
        if given.is_empty() {
            return Ok(Default::default());
        }
        let rows = query_as::<(String,)>(pick::<C>(
            "SELECT id FROM users WHERE id IN (SELECT value FROM json_each($1))",
            "SELECT u.id FROM jsonb_array_elements_text($1::jsonb) AS e(v)
             CROSS JOIN LATERAL (SELECT id FROM users WHERE id = e.v OFFSET 0) u",
        ))
        .bind(array(given))
        .fetch_all(&mut *tx)
        .await?;
        rows.into_iter()
            .map(|(id,)| crate::model::parse_id(&id))
            .collect()
    }

    /// Each line's outcome, by its place in the batch.
    type Outcomes = Vec<(usize, ImportOutcome)>;

    /// A user of a batch to create, with its id and its values' sources.
    struct NewUser {
        /// Its place in the batch.
        i: usize,
        id: Uuid,
        normalized: String,
        created_at: OffsetDateTime,
        created: Created,
        sources: Sources,
        /// When its newest value was written (the row's history, `import_history_at`).
        newest: Option<i64>,
        user: ImportUser,
    }

    /// The users of a batch that no user is, with the text of every statement that creates
    /// them ([`create_all`]), made without the database.
    struct Staged {
        users: Vec<NewUser>,
        /// `users`' rows, as [`create_all`]'s first statement reads them.
        rows: UserRows,
        followers: Followers,
    }

    /// A batch's rows of `users`, as each backend's statement reads them.
    enum UserRows {
        /// SQLite: one JSON array (`json_each`).
        Json(String),
        /// PostgreSQL: a column each, in the order of the statement's `unnest`; read from one
        /// JSON text, the batches' statement took a third longer (docs/scaling.md).
        Columns(Vec<Param>),
    }

    /// What the other tables get of a batch's new users: the texts of their statements
    /// (`None`: no row).
    struct Followers {
        imported: Option<String>,
        history: Option<String>,
        prompts: Option<String>,
        events: String,
    }

    /// Stages the users of a batch that no user is (their emails distinct and free): their
    /// ids (each given one kept unless `ids` has it; `ids` gets each), their values' sources,
    /// and the statements' rows.
    fn stage(
        (source, now, postgres): (&str, OffsetDateTime, bool),
        users: Vec<(usize, Prepared)>,
        ids: &mut std::collections::HashSet<Uuid>,
    ) -> Result<Staged, StoreError> {
        let at = crate::model::to_millis(now);
        let mut staged = Vec::with_capacity(users.len());
        for (
            i,
            Prepared {
                normalized,
                created,
                user,
            },
        ) in users
        {
            let normalized = normalized.ok_or_else(|| StoreError::Invalid {
                message: "the email address is not valid".into(),
            })?;
            let created = created?;
            let created_at = user.created_at.unwrap_or(now);
            // A new id is made at the import, not at `created_at`: ids sort in the order users
            // came to this server (signed up or imported), so a client that lists users after
            // the last id it saw finds every imported one (docs/import-export.md).
            let id = match user.id {
                Some(id) if ids.insert(id) => id,
                _ => {
                    let id = crate::model::new_id(now);
                    ids.insert(id);
                    id
                }
            };
            let mut sources = Sources::default();
            // The row's history (`import_history_at`) is as old as its newest value.
            let mut newest = None;
            for change in &created.applied {
                let (from, written) = match user.sources.get(&(change.location, change.key.clone()))
                {
                    Some(given) => (
                        given.source.as_str(),
                        given.at.map_or(at, crate::model::to_millis),
                    ),
                    None => (source, at),
                };
                newest = newest.max(Some(written));
                sources.record(change, from, written);
            }
            staged.push(NewUser {
                i,
                id,
                normalized,
                created_at,
                created,
                sources,
                newest,
                user,
            });
        }
        Staged::of((source, now, postgres), staged)
    }

    impl Staged {
        /// The statements' rows of `users`.
        fn of(
            (source, now, postgres): (&str, OffsetDateTime, bool),
            users: Vec<NewUser>,
        ) -> Result<Self, StoreError> {
            let at = crate::model::to_millis(now);
            let rows = users
                .iter()
                .map(|new| rows::User {
                    i: new.id,
                    e: new.user.email.trim(),
                    n: &new.normalized,
                    v: new.user.email_verified,
                    h: new.user.password_hash.as_deref(),
                    c: crate::model::to_millis(new.created_at),
                    u: new.user.updated_at.map_or(at, crate::model::to_millis),
                    p: &new.created.bags[0],
                    m: &new.created.bags[1],
                    a: &new.created.bags[2],
                    d: new
                        .user
                        .disabled
                        .then(|| new.user.disabled_at.map_or(at, crate::model::to_millis)),
                    s: &new.sources,
                    y: new.created.in_row.then(|| new.newest.unwrap_or(at)),
                    l: new.user.sign_ins.credentialed,
                    o: new.user.sign_ins.sso,
                    t: new.user.sign_ins.last_at.map(crate::model::to_millis),
                })
                .collect::<Vec<_>>();
            let rows = if postgres {
                UserRows::Columns(rows::columns(&rows)?)
            } else {
                UserRows::Json(rows::text(&rows)?)
            };
            let followers = followers_of((source, now), &users)?;
            Ok(Staged {
                users,
                rows,
                followers,
            })
        }
    }

    /// The rows of `users` in the tables other than `users`: their ids in the source, their
    /// history (unless in their row), their prompts' state and the outbox's `user.created`.
    fn followers_of(
        (source, now): (&str, OffsetDateTime),
        users: &[NewUser],
    ) -> Result<Followers, StoreError> {
        let at = crate::model::to_millis(now);
        let (mut imported, mut history, mut events, mut prompts) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for new in users {
            let (id, user) = (new.id, &new.user);
            let (applied, in_row) = (&new.created.applied, new.created.in_row);
            for state in &user.prompts {
                prompts.push(rows::Prompt::of(id, state)?);
            }
            if let Some(external_id) = &user.external_id {
                imported.push(rows::Imported {
                    x: external_id,
                    u: id,
                });
            }
            for change in applied {
                let source = user
                    .sources
                    .get(&(change.location, change.key.clone()))
                    .map_or(source, |given| given.source.as_str());
                if user.history.is_empty() && !in_row {
                    history.push(rows::History {
                        u: id,
                        l: change.location.as_str(),
                        k: &change.key,
                        o: change.old_value.as_ref(),
                        n: change.new_value.as_ref(),
                        s: source,
                        t: at,
                    });
                }
            }
            for entry in &user.history {
                history.push(rows::History {
                    u: id,
                    l: entry.location.as_str(),
                    k: &entry.key,
                    o: entry.old_value.as_ref(),
                    n: entry.new_value.as_ref(),
                    s: &entry.source,
                    t: crate::model::to_millis(entry.changed_at),
                });
            }
            events.push(rows::Event {
                i: format!("msg_{}", crate::model::new_id(now).simple()),
                u: id,
                p: rows::Created {
                    user: rows::CreatedUser {
                        id,
                        email: user.email.trim(),
                        email_verified: user.email_verified,
                    },
                    source,
                },
            });
        }
        fn some<T: serde::Serialize>(rows: &[T]) -> Result<Option<String>, StoreError> {
            (!rows.is_empty()).then(|| rows::text(rows)).transpose()
        }
        Ok(Followers {
            imported: some(&imported)?,
            history: some(&history)?,
            prompts: some(&prompts)?,
            events: rows::text(&events)?,
        })
    }

    /// Creates the [`Staged`] users of a batch: a statement per table for all of them (users
    /// with their values' sources, their ids in the source, the history, the outbox's
    /// `user.created`), whatever their number. The lines whose address or id another writer
    /// took meanwhile come back, not created.
    async fn create_all<C: Conn>(
        tx: &mut C,
        (format, source, now, spent, with_values): (
            &str,
            &str,
            OffsetDateTime,
            Option<&std::sync::mpsc::Sender<Spent>>,
            bool,
        ),
        Staged {
            users: mut prepared,
            rows,
            mut followers,
        }: Staged,
        counts: &mut Counts,
    ) -> Result<(Outcomes, Vec<(usize, Prepared)>), StoreError> {
        if prepared.is_empty() {
            return Ok(Default::default());
        }
        let at = crate::model::to_millis(now);
        let mut outcomes = Vec::with_capacity(prepared.len());
        // PostgreSQL, `DO NOTHING`: a user another writer created since the batch looked its
        // address (or its given id) up is not an error but a line to look up again
        // (`import_batch`). SQLite has one writer, which holds the database from the batch's
        // look-ups to here: nothing can take an address meanwhile, and the plain statement
        // spares a million-user import the returned ids (14 % of its time, measured).
        let inserted: Option<Vec<(String,)>> = if on_postgres::<C>() {
            macro_rules! insert_users {
                ($returning:literal) => {
                    concat!(
                        "INSERT INTO users (id, email, email_normalized, email_verified,
                                            password_hash, created_at, updated_at, profile,
                                            user_metadata, app_metadata, disabled_at, sources,
                                            import_history_at, credentialed_logins, sso_logins,
                                            last_login_at)
                         SELECT i, e, n, v, h, c, u, p::jsonb, m::jsonb, a::jsonb, d, s::jsonb,
                                y, l, o, t
                         FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[],
                                     $5::text[], $6::bigint[], $7::bigint[], $8::text[],
                                     $9::text[], $10::text[], $11::bigint[], $12::text[],
                                     $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[])
                              WITH ORDINALITY
                              AS r(i, e, n, v, h, c, u, p, m, a, d, s, y, l, o, t, k)
                         ORDER BY k
                         ON CONFLICT DO NOTHING RETURNING ",
                        $returning
                    )
                };
            }
            // With the values: the rule of which values is `user_values_of` (migration 0027),
            // which the disabled triggers apply too.
            let sql = if with_values {
                concat!(
                    "WITH ins AS (",
                    insert_users!("id, profile, user_metadata, app_metadata"),
                    "), vals AS (
                         INSERT INTO user_values (location, key, value, user_id)
                         SELECT 'profile', v.key, v.value, ins.id
                         FROM ins, user_values_of(ins.profile) AS v
                         UNION ALL
                         SELECT 'user_metadata', v.key, v.value, ins.id
                         FROM ins, user_values_of(ins.user_metadata) AS v
                         UNION ALL
                         SELECT 'app_metadata', v.key, v.value, ins.id
                         FROM ins, user_values_of(ins.app_metadata) AS v)
                     SELECT id FROM ins"
                )
            } else {
                insert_users!("id")
            };
            let UserRows::Columns(rows) = rows else {
                return Err(StoreError::unexpected("a batch staged for SQLite"));
            };
            let inserted = query_as(sql).bind_all(rows).fetch_all(&mut *tx).await?;
            Some(inserted)
        } else {
            query(
                "WITH r AS MATERIALIZED (SELECT j.key AS n, j.value AS v FROM json_each($1) j)
                 INSERT INTO users (id, email, email_normalized, email_verified, password_hash,
                                    created_at, updated_at, profile, user_metadata, app_metadata,
                                    disabled_at, sources, import_history_at, credentialed_logins,
                                    sso_logins, last_login_at)
                 SELECT v ->> 'i', v ->> 'e', v ->> 'n', v ->> 'v', v ->> 'h', v ->> 'c',
                        v ->> 'u', v -> 'p', v -> 'm', v -> 'a', v ->> 'd', v -> 's', v ->> 'y',
                        coalesce(v ->> 'l', 0), coalesce(v ->> 'o', 0), v ->> 't'
                 FROM r ORDER BY n",
            )
            .bind(match rows {
                UserRows::Json(rows) => rows,
                UserRows::Columns(_) => {
                    return Err(StoreError::unexpected("a batch staged for PostgreSQL"));
                }
            })
            .execute(&mut *tx)
            .await?;
            None
        };
        let mut lost = Vec::new();
        if let Some(inserted) = inserted.filter(|inserted| inserted.len() < prepared.len()) {
            let inserted = inserted
                .iter()
                .map(|(id,)| crate::model::parse_id(id))
                .collect::<Result<std::collections::HashSet<Uuid>, _>>()?;
            let (kept, taken): (Vec<_>, Vec<_>) = prepared
                .into_iter()
                .partition(|new| inserted.contains(&new.id));
            prepared = kept;
            for new in taken {
                lost.push((
                    new.i,
                    Prepared {
                        normalized: Some(new.normalized),
                        created: Ok(new.created),
                        user: new.user,
                    },
                ));
            }
            followers = followers_of((source, now), &prepared)?;
        }
        for new in &prepared {
            outcomes.push((new.i, ImportOutcome::Created(new.id)));
            *counts
                .signups
                .entry(new.created_at.to_offset(time::UtcOffset::UTC).date())
                .or_default() += 1;
            for change in &new.created.applied {
                counts.values.change(change);
            }
        }
        let Followers {
            imported,
            history,
            prompts,
            events,
        } = followers;
        if let Some(imported) = imported {
            query(pick::<C>(
                "INSERT INTO user_imports (format, external_id, user_id, imported_at)
                 SELECT $1, j.value ->> 'x', j.value ->> 'u', $3 FROM json_each($2) j
                 WHERE true ON CONFLICT (format, external_id) DO NOTHING",
                "INSERT INTO user_imports (format, external_id, user_id, imported_at)
                 SELECT $1, j ->> 'x', j ->> 'u', $3 FROM jsonb_array_elements($2::jsonb) j
                 ON CONFLICT (format, external_id) DO NOTHING",
            ))
            .bind(format.to_owned())
            .bind(imported)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(history) = history {
            query(pick::<C>(
                "WITH r AS MATERIALIZED (SELECT j.key AS n, j.value AS v FROM json_each($1) j)
                 INSERT INTO profile_history
                     (user_id, location, key, old_value, new_value, source, changed_at)
                 SELECT v ->> 'u', v ->> 'l', v ->> 'k',
                        CASE WHEN json_type(v, '$.o') IN ('null') THEN NULL ELSE v -> 'o' END,
                        CASE WHEN json_type(v, '$.n') IN ('null') THEN NULL ELSE v -> 'n' END,
                        v ->> 's', v ->> 't'
                 FROM r ORDER BY n",
                "INSERT INTO profile_history
                     (user_id, location, key, old_value, new_value, source, changed_at)
                 SELECT j ->> 'u', j ->> 'l', j ->> 'k', NULLIF(j -> 'o', 'null'::jsonb),
                        NULLIF(j -> 'n', 'null'::jsonb), j ->> 's', (j ->> 't')::bigint
                 FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(j, n) ORDER BY n",
            ))
            .bind(history)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(prompts) = prompts {
            query(pick::<C>(
                "INSERT INTO prompt_state (user_id, step, shown, skipped, answered, last_shown_at,
                                           last_skipped_at, last_answered_at,
                                           logins_at_last_skip, declined)
                 SELECT j.value ->> 'u', j.value ->> 's', j.value ->> 'h', j.value ->> 'k',
                        j.value ->> 'a', j.value ->> 'hs', j.value ->> 'ks', j.value ->> 'as',
                        j.value ->> 'l', j.value ->> 'd'
                 FROM json_each($1) j ORDER BY j.key",
                "INSERT INTO prompt_state (user_id, step, shown, skipped, answered, last_shown_at,
                                           last_skipped_at, last_answered_at,
                                           logins_at_last_skip, declined)
                 SELECT j ->> 'u', j ->> 's', (j ->> 'h')::bigint, (j ->> 'k')::bigint,
                        (j ->> 'a')::bigint, (j ->> 'hs')::bigint, (j ->> 'ks')::bigint,
                        (j ->> 'as')::bigint, (j ->> 'l')::bigint, j ->> 'd'
                 FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(j, n) ORDER BY n",
            ))
            .bind(prompts)
            .execute(&mut *tx)
            .await?;
        }
        // As `webhooks::sql::insert_event`, only while an endpoint is enabled.
        query(pick::<C>(
            "INSERT INTO webhook_events (id, type, payload, occurred_at, fanned_out, user_id)
             SELECT j.value ->> 'i', 'user.created', j.value -> 'p', $2, FALSE, j.value ->> 'u'
             FROM json_each($1) j
             WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) ORDER BY j.key",
            "INSERT INTO webhook_events (id, type, payload, occurred_at, fanned_out, user_id)
             SELECT j ->> 'i', 'user.created', j -> 'p', $2, FALSE, j ->> 'u'
             FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(j, n)
             WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) ORDER BY n",
        ))
        .bind(events)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        // The users' values were allocated on the importer's reader thread (`ImportBatch::new`):
        // freed there, or on a thread of their own, not here between the database's work.
        Spent::dispose(prepared, spent);
        Ok((outcomes, lost))
    }

    /// The rows of a batch's new users as the statements of [`create_all`] read them: one
    /// JSON array per table, serialised straight from the batch (no `Value` built per row).
    /// On SQLite the statements take each element once into a `MATERIALIZED` table: read
    /// straight from `json_each`, each column's `->>` turned the whole element back into text.
    mod rows {
        use serde::Serialize;
        use serde_json::Value;
        use serde_json::value::RawValue;
        use uuid::Uuid;

        use crate::StoreError;
        use crate::backend::{Column, Param};
        use crate::profile::Sources;

        #[derive(Serialize)]
        pub(super) struct User<'a> {
            pub i: Uuid,
            pub e: &'a str,
            pub n: &'a str,
            pub v: bool,
            pub h: Option<&'a str>,
            pub c: i64,
            pub u: i64,
            pub p: &'a RawValue,
            pub m: &'a RawValue,
            pub a: &'a RawValue,
            pub d: Option<i64>,
            pub s: &'a Sources,
            pub y: Option<i64>,
            /// Sign-ins: left out when none (most imports), read as 0.
            #[serde(skip_serializing_if = "is_zero")]
            pub l: i64,
            #[serde(skip_serializing_if = "is_zero")]
            pub o: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub t: Option<i64>,
        }

        fn is_zero(n: &i64) -> bool {
            *n == 0
        }

        /// A `prompt_state` row of a new user.
        #[derive(Serialize)]
        pub(super) struct Prompt<'a> {
            pub u: Uuid,
            pub s: &'a str,
            pub h: i64,
            pub k: i64,
            pub a: i64,
            pub hs: Option<i64>,
            pub ks: Option<i64>,
            #[serde(rename = "as")]
            pub as_: Option<i64>,
            pub l: Option<i64>,
            pub d: String,
        }

        impl<'a> Prompt<'a> {
            pub fn of(user: Uuid, state: &'a crate::PromptState) -> Result<Self, StoreError> {
                Ok(Prompt {
                    u: user,
                    s: &state.step,
                    h: state.shown,
                    k: state.skipped,
                    a: state.answered,
                    hs: state.last_shown_at.map(crate::model::to_millis),
                    ks: state.last_skipped_at.map(crate::model::to_millis),
                    as_: state.last_answered_at.map(crate::model::to_millis),
                    l: state.logins_at_last_skip,
                    d: serde_json::to_string(&state.declined).map_err(StoreError::unexpected)?,
                })
            }
        }

        #[derive(Serialize)]
        pub(super) struct Imported<'a> {
            pub x: &'a str,
            pub u: Uuid,
        }

        #[derive(Serialize)]
        pub(super) struct History<'a> {
            pub u: Uuid,
            pub l: &'a str,
            pub k: &'a str,
            pub o: Option<&'a Value>,
            pub n: Option<&'a Value>,
            pub s: &'a str,
            pub t: i64,
        }

        #[derive(Serialize)]
        pub(super) struct Event<'a> {
            pub i: String,
            pub u: Uuid,
            pub p: Created<'a>,
        }

        /// The payload of `user.created`.
        #[derive(Serialize)]
        pub(super) struct Created<'a> {
            pub user: CreatedUser<'a>,
            pub source: &'a str,
        }

        #[derive(Serialize)]
        pub(super) struct CreatedUser<'a> {
            pub id: Uuid,
            pub email: &'a str,
            pub email_verified: bool,
        }

        /// The users' rows as PostgreSQL's statement reads them: a column each, in the order of
        /// its `unnest` (the JSON columns as their text, cast there).
        pub(super) fn columns(rows: &[User<'_>]) -> Result<Vec<Param>, StoreError> {
            let texts = |value: &dyn Fn(&User<'_>) -> Option<String>| {
                Param::Column(Column::Texts(rows.iter().map(value).collect()))
            };
            let ints = |value: &dyn Fn(&User<'_>) -> Option<i64>| {
                Param::Column(Column::Ints(rows.iter().map(value).collect()))
            };
            let sources = rows
                .iter()
                .map(|row| serde_json::to_string(row.s).map(Some))
                .collect::<Result<_, _>>()
                .map_err(StoreError::unexpected)?;
            Ok(vec![
                texts(&|row| Some(row.i.to_string())),
                texts(&|row| Some(row.e.to_owned())),
                texts(&|row| Some(row.n.to_owned())),
                Param::Column(Column::Bools(rows.iter().map(|row| row.v).collect())),
                texts(&|row| row.h.map(str::to_owned)),
                ints(&|row| Some(row.c)),
                ints(&|row| Some(row.u)),
                texts(&|row| Some(row.p.get().to_owned())),
                texts(&|row| Some(row.m.get().to_owned())),
                texts(&|row| Some(row.a.get().to_owned())),
                ints(&|row| row.d),
                Param::Column(Column::Texts(sources)),
                ints(&|row| row.y),
                ints(&|row| Some(row.l)),
                ints(&|row| Some(row.o)),
                ints(&|row| row.t),
            ])
        }

        /// The rows as one JSON array, bound as text (`json_each` reads it on SQLite; the
        /// statements cast it with `::jsonb` on PostgreSQL).
        pub(super) fn text<T: Serialize>(rows: &[T]) -> Result<String, StoreError> {
            serde_json::to_string(rows)
                .map_err(|e| StoreError::unexpected(format!("an import batch as JSON: {e}")))
        }
    }

    /// Why an imported user is not merged into an account found by an unconfirmed address.
    const UNPROVEN: &str = "an account with this email address \
        exists on this server, its address is not confirmed and no import made it, so it may \
        be anyone's who typed the address; the imported user is not merged into it. Once its \
        owner confirms the address (or after that account is deleted), run the import again";

    /// Whether an import made the user, or wrote values it still has: its history still the
    /// import's (`import_history_at`), a value whose source is an import, or its id in a
    /// source system remembered.
    async fn imported_before<C: Conn>(tx: &mut C, id: Uuid) -> Result<bool, StoreError> {
        let found = query_as::<(bool,)>(pick::<C>(
            "SELECT import_history_at IS NOT NULL OR instr(sources, '\"import:') > 0
                    OR EXISTS (SELECT 1 FROM user_imports WHERE user_id = $1)
             FROM users WHERE id = $1",
            "SELECT import_history_at IS NOT NULL OR strpos(sources::text, '\"import:') > 0
                    OR EXISTS (SELECT 1 FROM user_imports WHERE user_id = $1)
             FROM users WHERE id = $1",
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        Ok(found.is_some_and(|(imported,)| imported))
    }

    async fn update<C: Conn>(
        tx: &mut C,
        format: &str,
        source: &str,
        (existing, by_external_id): (User, bool),
        user: ImportUser,
        now: OffsetDateTime,
    ) -> Result<ImportOutcome, StoreError> {
        // Found by its address alone, an account whose owner never confirmed that address may
        // be anyone's who typed it (self sign-up): merged into it, the imported person's values,
        // roles and id in the source would be theirs. Unless an import made that account.
        if !by_external_id
            && !existing.email_verified
            && user
                .password_hash
                .as_ref()
                .is_none_or(|hash| existing.password_hash.as_ref() != Some(hash))
            && !imported_before(&mut *tx, existing.id).await?
        {
            return Ok(ImportOutcome::Refused(UNPROVEN.into()));
        }
        // The batch is dated when it was read; a write that reached the user since (an API
        // call while the batch waited for its turn) must not read as later than the values of
        // the import that replace it: the import's changes are dated no earlier than it.
        let now = now.max(existing.updated_at);
        let at = crate::model::to_millis(now);
        // An address that differs only in case is the same address: the user's own spelling
        // and verification stay.
        let email_changes = by_external_id
            && crate::model::normalize_email(&user.email)
                != crate::model::normalize_email(&existing.email);
        if email_changes {
            let Ok(normalized) = users::normalized_email(&user.email) else {
                return Ok(ImportOutcome::Refused(format!(
                    "the user imported before with this id ({}) has a new email address in \
                     the source that is not valid; nothing of the line is changed",
                    existing.id
                )));
            };
            let taken = query_as::<(String,)>(
                "SELECT id FROM users WHERE email_normalized = $1 AND id <> $2",
            )
            .bind(normalized)
            .bind(existing.id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((other,)) = taken {
                return Ok(ImportOutcome::Refused(format!(
                    "the user imported before with this id ({}) has a new email address in \
                     the source, which another user of this server ({other}) has; nothing of \
                     the line is changed: give one of the two another address (two users who \
                     swapped addresses need a third one for a run)",
                    existing.id
                )));
            }
        }
        if !by_external_id {
            remember(
                &mut *tx,
                format,
                user.external_id.as_deref(),
                existing.id,
                at,
            )
            .await?;
        }
        let password_stored = existing.password_hash.is_none() && user.password_hash.is_some();
        if password_stored {
            query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(existing.id.to_string())
                .bind(user.password_hash.clone())
                .execute(&mut *tx)
                .await?;
        }
        let update = UserUpdate {
            email: email_changes.then(|| EmailChange {
                email: user.email.clone(),
                verified: user.email_verified,
            }),
            changes: user.changes,
            patches: user.patches,
        };
        let after =
            users::sql::update_user_in(&mut *tx, existing.id, None, &update, source, now).await?;
        Ok(if password_stored || after.version != existing.version {
            ImportOutcome::Updated {
                id: existing.id,
                password_hash_stored: password_stored,
            }
        } else {
            ImportOutcome::Unchanged(existing.id)
        })
    }

    /// Remembers which user an external id is (once).
    async fn remember<C: Conn>(
        tx: &mut C,
        format: &str,
        external_id: Option<&str>,
        user_id: Uuid,
        at: i64,
    ) -> Result<(), StoreError> {
        let Some(external_id) = external_id else {
            return Ok(());
        };
        query(
            "INSERT INTO user_imports (format, external_id, user_id, imported_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (format, external_id) DO NOTHING",
        )
        .bind(format.to_owned())
        .bind(external_id.to_owned())
        .bind(user_id.to_string())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    pub(crate) async fn export_users<C: Conn>(
        c: &mut C,
        after: Option<Uuid>,
        limit: u32,
        with_history: bool,
    ) -> Result<Vec<ExportedUser>, StoreError> {
        let rows = query_as::<UserRow>(
            "SELECT * FROM users WHERE id > $1 AND email_normalized NOT LIKE 'companion:%'
             ORDER BY id LIMIT $2",
        )
        .bind(after.map(|id| id.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await?;
        let mut users: Vec<ExportedUser> = Vec::with_capacity(rows.len());
        // The entries of the history that users' rows hold, until their own rows are read.
        let mut in_rows = Vec::with_capacity(rows.len());
        for row in rows {
            let provenance = row.sources.0.provenance()?;
            let (user, in_row) = users::sql::with_history_in_row(row)?;
            in_rows.push(in_row);
            users.push(ExportedUser {
                provenance,
                user,
                history: Vec::new(),
                prompts: Vec::new(),
            });
        }
        let (Some(first), Some(last)) = (users.first(), users.last()) else {
            return Ok(users);
        };
        let (first, last) = (first.user.id.to_string(), last.user.id.to_string());
        let index: BTreeMap<Uuid, usize> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.user.id, i))
            .collect();
        let prompts = query_as::<users::UserPromptStateRow>(
            "SELECT * FROM prompt_state WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, step",
        )
        .bind(first.clone())
        .bind(last.clone())
        .fetch_all(&mut *c)
        .await?;
        for row in prompts {
            if let Some(&i) = crate::model::parse_id(&row.user_id)
                .ok()
                .and_then(|id| index.get(&id))
            {
                users[i].prompts.push(row.state.try_into()?);
            }
        }
        if with_history {
            let history = query_as::<users::HistoryRow>(
                "SELECT * FROM profile_history WHERE user_id BETWEEN $1 AND $2
                 ORDER BY user_id, seq",
            )
            .bind(first)
            .bind(last)
            .fetch_all(&mut *c)
            .await?;
            for row in history {
                let entry: HistoryEntry = row.try_into()?;
                if let Some(&i) = index.get(&entry.user_id) {
                    users[i].history.push(entry);
                }
            }
            for (user, in_row) in users.iter_mut().zip(in_rows) {
                user.history = users::sql::history(in_row, std::mem::take(&mut user.history));
            }
        }
        Ok(users)
    }

    #[cfg(test)]
    mod tests {
        use sqlx::Connection as _;

        use super::*;

        /// PostgreSQL keeps the plan of a prepared statement that it made while `users` was small
        /// for as long as the import runs (until an `ANALYZE`). Forced here: a batch's lookups of
        /// who exists must seek the users by index even with that plan, not read every user.
        #[tokio::test]
        async fn a_batch_finds_existing_users_by_index_whatever_plan_postgres_keeps() {
            let Some((_store, mut conn, _guard)) =
                crate::testing::postgres_store_and_connection().await
            else {
                return;
            };
            let mut tx = conn.begin().await.expect("begin");
            query("SET LOCAL plan_cache_mode = force_generic_plan")
                .execute(&mut *tx)
                .await
                .expect("set");
            let users: Vec<ImportUser> = (0..3)
                .map(|i| ImportUser {
                    external_id: Some(format!("auth0|{i}")),
                    id: Some(Uuid::now_v7()),
                    email: format!("user{i}@example.com"),
                    ..ImportUser::default()
                })
                .collect();
            let batch = ImportBatch::new(users, OffsetDateTime::now_utc());
            let users: Vec<&Prepared> = batch.users.iter().collect();
            existing(&mut *tx, "auth0", &users).await.expect("existing");
            taken_ids(&mut *tx, users.iter().filter_map(|p| p.user.id))
                .await
                .expect("taken ids");
            assert_eq!(
                crate::testing::read_in_full(&mut tx, &["users", "user_imports"]).await,
                Vec::new(),
                "tables read in full by a batch's lookups"
            );
            // Ended here: a transaction left open holds up the schema's drop.
            tx.rollback().await.expect("rollback");
            conn.close().await.expect("close");
        }
    }
}
