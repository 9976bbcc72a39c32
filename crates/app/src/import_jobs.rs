//! Imports as jobs of the management API (`POST /api/v1/users/imports`, docs/api.md), as
//! Auth0's users-imports jobs: the file is streamed to the data folder ([`Upload`], bounded),
//! a job is stored ([`start`]), and the node that received the file runs it in the background
//! ([`run`], the import use-case of `accrete users import`), writing its figures after each
//! batch and the first [`KEPT_PROBLEMS`] problems of its report to the store; the file is
//! deleted when the job ends. Callers read the job ([`get`], [`list`]) and its report
//! ([`report`]) from any node.
//!
//! Keycloak is left out (its realm export is one large JSON document, imported on the server
//! with the command line), and so is a mapping file.

pub mod running;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use accrete_store::prelude::*;
use accrete_store::{
    ImportCounts, ImportJob, ImportJobProblem, ImportProgress, ImportScope, NewImportJob, Page,
    StoreError,
};
use time::OffsetDateTime;
use tokio::io::AsyncWrite;
use tokio::sync::{Semaphore, mpsc};
use uuid::Uuid;

use crate::admins::Actor;
use crate::app::App;
use crate::import::{self, Format, ImportError, ImportProblem, Observer, Summary};

/// The largest file the API takes.
pub const MAX_UPLOAD_BYTES: u64 = 256 * 1024 * 1024;

/// Problems kept in a job's report (every one is counted).
pub const KEPT_PROBLEMS: u64 = 10_000;

/// A job `queued` or `running` with no sign of life for this long belongs to a node that
/// stopped: it reads as failed.
pub const STALE_AFTER: time::Duration = time::Duration::minutes(5);

/// How often the node running a job shows a sign of life when no batch does.
const HEARTBEAT: Duration = Duration::from_secs(60);

/// Ended jobs (and their reports) are deleted after this long.
const KEEP_ENDED: time::Duration = time::Duration::days(30);

/// Uploaded files left by a node that stopped are deleted after this long.
const LEFTOVER_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The folder of the data folder where uploaded files wait for their job.
const UPLOADS: &str = "imports";

/// Jobs listed at most.
pub const MAX_LISTED: u32 = 100;

/// Problems sent to the store together (a batch of users sends its own at its end).
const PROBLEMS_AT_ONCE: usize = 500;

/// One import at a time on a node: imports write in batches, and a second one would only queue
/// behind the first at the database.
static SLOTS: Semaphore = Semaphore::const_new(1);

/// Why a job cannot be started or read.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The format is unknown, or not taken by the API.
    #[error("{0}")]
    Format(String),
    /// The file is larger than the bound.
    #[error("the file is larger than {limit} bytes, the most an import through the API takes")]
    TooLarge { limit: u64 },
    #[error("no such import job")]
    NotFound,
    /// A list of jobs asked for fewer than one, or more than [`MAX_LISTED`].
    #[error("between 1 and {MAX_LISTED}")]
    Limit,
    /// The uploaded file cannot be written to the data folder.
    #[error("the uploaded file cannot be kept: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The format named `name`, if an import through the API takes it.
pub fn format_of(name: &str) -> Result<Format, JobError> {
    match Format::parse(name) {
        Some(Format::Keycloak) => Err(JobError::Format(
            "a Keycloak realm export is one large JSON document, which the API does not take: \
             import it on the server with `accrete users import FILE --format keycloak`"
                .into(),
        )),
        Some(format) => Ok(format),
        None => Err(JobError::Format(format!(
            "unknown format {name:?}: the API imports auth0, csv or jsonl"
        ))),
    }
}

/// A file being received, in `<data folder>/imports/`: deleted when dropped, unless a job
/// took it ([`start`]), which deletes it when it ends.
#[derive(Debug)]
pub struct Upload {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    written: u64,
    limit: u64,
}

impl Upload {
    /// A new empty file in `data_dir` for at most `limit` bytes; refused at once when the
    /// size the sender `declared` is larger.
    pub async fn create(
        data_dir: &Path,
        limit: u64,
        declared: Option<u64>,
    ) -> Result<Upload, JobError> {
        if declared.is_some_and(|size| size > limit) {
            return Err(JobError::TooLarge { limit });
        }
        let folder = data_dir.join(UPLOADS);
        tokio::fs::create_dir_all(&folder).await?;
        remove_leftovers(&folder).await;
        let path = folder.join(format!("{}.upload", Uuid::new_v4().simple()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Upload {
            path,
            file: Some(file),
            written: 0,
            limit,
        })
    }

    /// Appends `bytes`; [`JobError::TooLarge`] past the limit (drop the upload then).
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), JobError> {
        self.written = self.written.saturating_add(bytes.len() as u64);
        if self.written > self.limit {
            return Err(JobError::TooLarge { limit: self.limit });
        }
        let file = self.file.as_mut().ok_or_else(closed)?;
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = std::future::poll_fn(|cx| Pin::new(&mut *file).poll_write(cx, rest)).await?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            rest = rest.get(n..).unwrap_or_default();
        }
        Ok(())
    }

    /// How many bytes were received.
    pub fn size(&self) -> u64 {
        self.written
    }

    /// Writes what is buffered and closes the file.
    async fn close(&mut self) -> Result<(), JobError> {
        if let Some(mut file) = self.file.take() {
            std::future::poll_fn(|cx| Pin::new(&mut file).poll_flush(cx)).await?;
        }
        Ok(())
    }
}

fn closed() -> JobError {
    JobError::Io(std::io::Error::other("the upload is closed"))
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Nothing to do if it is already gone.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Deletes the files of jobs that a stopped node left behind (none of this node's own is
/// that old: a job ends within minutes).
async fn remove_leftovers(folder: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(folder).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let old = entry
            .metadata()
            .await
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > LEFTOVER_AFTER);
        if old && entry.file_name().to_string_lossy().ends_with(".upload") {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

/// A stored job and its file, to [`run`] in the background.
#[derive(Debug)]
pub struct Queued {
    id: Uuid,
    upload: Upload,
    format: Format,
    dry_run: bool,
}

/// Stores a job for the file of `upload`, queued: the job, and what [`run`] runs. Jobs that
/// ended more than 30 days ago are deleted with their reports.
pub async fn start(
    app: &App,
    mut upload: Upload,
    format: Format,
    dry_run: bool,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<(ImportJob, Queued), JobError> {
    upload.close().await?;
    if let Err(error) = app.store().purge_import_jobs(now - KEEP_ENDED).await {
        tracing::warn!(%error, "old import jobs could not be deleted");
    }
    let job = app
        .store()
        .create_import_job(NewImportJob {
            format: format.as_str().to_owned(),
            dry_run,
            created_by: actor.name.clone(),
            now,
        })
        .await?;
    let queued = Queued {
        id: job.id,
        upload,
        format,
        dry_run,
    };
    Ok((job, queued))
}

/// How long a stopping node waits for its jobs to give up (each rolls back the batch it was
/// writing).
const STOP_WAIT: Duration = Duration::from_secs(10);

/// Keeps the task that [`run`]s a job, for [`stop`].
pub fn track(app: &App, task: tokio::task::JoinHandle<()>) {
    let mut tasks = app
        .jobs
        .tasks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    tasks.retain(|task| !task.is_finished());
    tasks.push(task);
}

/// The node stops in order: each job it runs gives up (the batch it was writing rolls back,
/// the batches stored stay) and reads as failed with [`accrete_store::IMPORT_JOB_STOPPED`] at
/// once, not as interrupted only after [`STALE_AFTER`] as a crashed node's. Waits for them, at
/// most [`STOP_WAIT`].
pub async fn stop(app: &App) {
    app.jobs.stopping.send_replace(true);
    let tasks = std::mem::take(
        &mut *app
            .jobs
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for task in tasks {
        if tokio::time::timeout(STOP_WAIT, task).await.is_err() {
            tracing::warn!("an import job did not give up in time as the server stopped");
        }
    }
}

/// The node's job `id` gives up as the node stops: marked so, the upload deleted (by `upload`'s
/// drop, after the mark: a job that reads as ended has left nothing behind).
async fn interrupted(app: &App, id: Uuid, upload: Upload) {
    if let Err(error) = app
        .store()
        .interrupt_import_job(id, OffsetDateTime::now_utc())
        .await
    {
        tracing::error!(%error, %id, "an import job interrupted by the server's stop could not be marked");
    }
    tracing::warn!(%id, "an import job was interrupted by the server's stop; run it again");
    drop(upload);
}

/// Runs a queued job to its end (on a task of its own: it takes as long as the import),
/// deleting its file before the end is written. Problems of the store along the way are logged: the job then reads
/// as interrupted after [`STALE_AFTER`].
pub async fn run(app: &App, queued: Queued) {
    let Queued {
        id,
        upload,
        format,
        dry_run,
    } = queued;
    let store = app.store();
    let mut stopping = app.jobs.stopping.subscribe();
    let stopped = async move {
        // The sender lives as long as the app, which this task holds.
        let _ = stopping.wait_for(|stopping| *stopping).await;
    };
    tokio::pin!(stopped);
    // Waiting for the slot (in turn) is a sign of life too.
    let acquire = SLOTS.acquire();
    tokio::pin!(acquire);
    let _slot = loop {
        tokio::select! {
            slot = &mut acquire => break slot,
            () = &mut stopped => return interrupted(app, id, upload).await,
            () = tokio::time::sleep(HEARTBEAT) => {
                if let Err(error) = store.touch_import_job(id, OffsetDateTime::now_utc()).await {
                    tracing::warn!(%error, %id, "an import job's sign of life could not be written");
                }
            }
        }
    };
    match store.start_import_job(id, OffsetDateTime::now_utc()).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(error) => {
            tracing::error!(%error, %id, "an import job could not start");
            return;
        }
    }
    let (progress, error) = match tokio::fs::File::open(&upload.path).await {
        Ok(file) => {
            let import = import_file(app, id, file.into_std().await, format, dry_run);
            tokio::select! {
                ended = import => ended,
                // The import is dropped: its transaction in progress rolls back.
                () = &mut stopped => return interrupted(app, id, upload).await,
            }
        }
        Err(error) => (
            ImportProgress::default(),
            Some(format!("the uploaded file cannot be read: {error}")),
        ),
    };
    // The file goes first: a job that reads as ended has left nothing behind.
    drop(upload);
    let now = OffsetDateTime::now_utc();
    if let Err(error) = store.finish_import_job(id, progress, error, now).await {
        tracing::error!(%error, %id, "the end of an import job could not be written");
    }
}

/// The import of the job's file, its figures written as it goes: the last figures, and the
/// error that stopped it.
async fn import_file(
    app: &App,
    id: Uuid,
    file: std::fs::File,
    format: Format,
    dry_run: bool,
) -> (ImportProgress, Option<String>) {
    let (updates, received) = mpsc::unbounded_channel();
    let import = async move {
        let mut observer = JobObserver {
            updates,
            unsent: Vec::new(),
            kept: 0,
            problems: 0,
            last: Summary::default(),
        };
        let result = import::run(
            app,
            file,
            format,
            None,
            (ImportScope::Batches, dry_run),
            &mut observer,
        )
        .await;
        observer.send_problems();
        // The observer's end closes the channel, which ends the writer.
        match result {
            Ok(summary) => (progress_of(&summary, observer.problems), None),
            Err(error) => (
                progress_of(&observer.last, observer.problems),
                Some(why_it_failed(id, error)),
            ),
        }
    };
    let (ended, ()) = tokio::join!(import, write_updates(app.store(), id, received));
    ended
}

/// The job's `error`: what is wrong with the file, or that the database failed (its detail is
/// logged, not shown).
fn why_it_failed(id: Uuid, error: ImportError) -> String {
    match error {
        ImportError::Read(error) => error.to_string(),
        ImportError::Store(error) => {
            tracing::error!(%error, %id, "an import job stopped on a database error");
            "the database failed during the import (the error is logged); run the import again: \
             imports are idempotent"
                .to_owned()
        }
    }
}

fn progress_of(summary: &Summary, problems: u64) -> ImportProgress {
    ImportProgress {
        counts: ImportCounts {
            read: summary.read,
            created: summary.created,
            updated: summary.updated,
            unchanged: summary.unchanged,
            refused: summary.refused,
            values_refused: summary.values_refused,
        },
        problems,
    }
}

/// What the import tells the job's writer.
enum Update {
    Problems(Vec<ImportJobProblem>),
    Progress(ImportProgress),
}

/// The import's observer: keeps the first problems and counts them all, and hands them and
/// the figures of each batch to the writer (the observer cannot wait for the store).
struct JobObserver {
    updates: mpsc::UnboundedSender<Update>,
    unsent: Vec<ImportJobProblem>,
    /// Problems handed to the writer or about to be (at most [`KEPT_PROBLEMS`]).
    kept: u64,
    /// Every problem.
    problems: u64,
    last: Summary,
}

impl JobObserver {
    fn send_problems(&mut self) {
        if !self.unsent.is_empty() {
            let problems = std::mem::take(&mut self.unsent);
            // The writer only stops when this observer is gone.
            let _ = self.updates.send(Update::Problems(problems));
        }
    }
}

impl Observer for JobObserver {
    fn problem(&mut self, problem: &ImportProblem) {
        self.problems += 1;
        if self.kept < KEPT_PROBLEMS {
            self.kept += 1;
            self.unsent.push(ImportJobProblem {
                line: problem.line,
                path: problem.path.clone(),
                message: problem.message.clone(),
            });
            if self.unsent.len() >= PROBLEMS_AT_ONCE {
                self.send_problems();
            }
        }
    }

    fn progress(&mut self, summary: &Summary) {
        self.send_problems();
        self.last = summary.clone();
        let _ = self
            .updates
            .send(Update::Progress(progress_of(summary, self.problems)));
    }
}

/// Writes what the import reports, in order, and a sign of life every [`HEARTBEAT`], until the
/// import ends.
async fn write_updates(store: &dyn Store, id: Uuid, mut updates: mpsc::UnboundedReceiver<Update>) {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            update = updates.recv() => {
                let written = match update {
                    None => return,
                    Some(Update::Problems(problems)) => store
                        .add_import_job_problems(id, problems, KEPT_PROBLEMS)
                        .await
                        .map(|_| ()),
                    Some(Update::Progress(progress)) => store
                        .record_import_job_progress(id, progress, OffsetDateTime::now_utc())
                        .await
                        .map(|_| ()),
                };
                if let Err(error) = written {
                    tracing::warn!(%error, %id, "an import job's progress could not be written");
                }
            }
            _ = heartbeat.tick() => {
                if let Err(error) = store.touch_import_job(id, OffsetDateTime::now_utc()).await {
                    tracing::warn!(%error, %id, "an import job's sign of life could not be written");
                }
            }
        }
    }
}

/// The job with this id, as of its last batch (a job whose node stopped reads as failed).
pub async fn get(app: &App, id: Uuid, now: OffsetDateTime) -> Result<ImportJob, JobError> {
    app.store()
        .get_import_job(id, now - STALE_AFTER)
        .await?
        .ok_or(JobError::NotFound)
}

/// A page of the jobs, newest first (at most [`MAX_LISTED`]), older than the job `cursor`
/// (the page before's `next_cursor`) when given.
pub async fn list(
    app: &App,
    limit: u32,
    cursor: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<Page<ImportJob>, JobError> {
    if !(1..=MAX_LISTED).contains(&limit) {
        return Err(JobError::Limit);
    }
    // One more than asked: whether there is a next page.
    let items = app
        .store()
        .list_import_jobs(i64::from(limit) + 1, cursor, now - STALE_AFTER)
        .await?;
    Ok(Page::of(items, limit, |job| job.id))
}

/// A job's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The first problems, in the order they were found.
    pub problems: Vec<ImportJobProblem>,
    /// Whether there were more than the report keeps ([`KEPT_PROBLEMS`]).
    pub truncated: bool,
}

/// The problems of a job (so far, while it runs).
pub async fn report(app: &App, id: Uuid, now: OffsetDateTime) -> Result<Report, JobError> {
    let job = get(app, id, now).await?;
    let limit = i64::try_from(KEPT_PROBLEMS).unwrap_or(i64::MAX);
    let problems = app.store().import_job_problems(id, limit).await?;
    Ok(Report {
        problems,
        truncated: job.progress.problems > KEPT_PROBLEMS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_takes_auth0_csv_and_jsonl_and_says_why_not_keycloak() {
        assert_eq!(format_of("auth0").unwrap(), Format::Auth0);
        assert_eq!(format_of("csv").unwrap(), Format::Csv);
        assert_eq!(format_of("jsonl").unwrap(), Format::Jsonl);
        let keycloak = format_of("keycloak").unwrap_err().to_string();
        assert!(keycloak.contains("accrete users import"), "{keycloak}");
        let unknown = format_of("xml").unwrap_err().to_string();
        assert!(unknown.contains("auth0, csv or jsonl"), "{unknown}");
    }

    #[tokio::test]
    async fn a_job_of_a_stopping_node_reads_as_interrupted_at_once_and_leaves_no_file() {
        let (store, dir) = accrete_store::testing::sqlite_store().await;
        let app = std::sync::Arc::new(App::for_tests(store, "http://issuer"));
        // Another job holds the node's import slot: this one waits in turn.
        let held = SLOTS.acquire().await.unwrap();
        let mut upload = Upload::create(dir.path(), 1 << 20, None).await.unwrap();
        upload
            .write(b"{\"email\":\"ada@example.com\"}\n")
            .await
            .unwrap();
        let path = upload.path.clone();
        let actor = Actor {
            name: "cli".into(),
            ip: None,
        };
        let now = OffsetDateTime::now_utc();
        let (job, queued) = start(&app, upload, Format::Jsonl, false, &actor, now)
            .await
            .unwrap();
        let runner = std::sync::Arc::clone(&app);
        track(
            &app,
            tokio::spawn(async move { run(&runner, queued).await }),
        );
        stop(&app).await;
        drop(held);
        // Read as of now, not after STALE_AFTER.
        let read = get(&app, job.id, OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(
            read.status,
            accrete_store::ImportJobStatus::Failed,
            "{read:?}"
        );
        assert_eq!(
            read.error.as_deref(),
            Some(accrete_store::IMPORT_JOB_STOPPED)
        );
        assert!(read.finished_at.is_some());
        assert!(!path.exists(), "the uploaded file is deleted");
        assert_eq!(app.store().count_users().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn an_upload_past_its_limit_is_refused_and_its_file_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let refused = Upload::create(dir.path(), 10, Some(11)).await.unwrap_err();
        assert!(matches!(refused, JobError::TooLarge { limit: 10 }));

        let mut upload = Upload::create(dir.path(), 10, None).await.unwrap();
        let path = upload.path.clone();
        upload.write(b"12345").await.unwrap();
        upload.write(b"67890").await.unwrap();
        assert_eq!(upload.size(), 10);
        let error = upload.write(b"!").await.unwrap_err();
        assert!(matches!(error, JobError::TooLarge { limit: 10 }));
        assert!(path.exists());
        drop(upload);
        assert!(!path.exists(), "the file goes with the upload");
    }

    #[tokio::test]
    async fn a_closed_upload_holds_every_byte_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut upload = Upload::create(dir.path(), 1 << 20, Some(70_000))
            .await
            .unwrap();
        let chunk = vec![b'x'; 7_000];
        for _ in 0..10 {
            upload.write(&chunk).await.unwrap();
        }
        upload.close().await.unwrap();
        assert_eq!(std::fs::metadata(&upload.path).unwrap().len(), 70_000);
    }
}
