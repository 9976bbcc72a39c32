//! Imports run as jobs of the management API (`POST /api/v1/users/imports`): the job, its
//! figures as of its last batch, and the first problems of its report. The import itself is
//! `UserTransfers::import_users`, a batch at a time; a job only says how it is going.
//!
//! A job is run by the node that received its file. While that node is alive the job's
//! `updated_at` moves (with every batch, and at least once a minute); a job left `queued` or
//! `running` with an `updated_at` older than the caller's `stale_before` belongs to a node that
//! stopped, and is marked failed (with [`INTERRUPTED`]) whenever jobs are read.

use async_trait::async_trait;
use serde_json::{Value, json};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::backend::{Backend, Conn, Param, pick, query, query_as};
use crate::model::{from_millis, from_millis_opt, new_id, parse_id, to_millis};

/// The error of a job whose node stopped before it ended.
pub const INTERRUPTED: &str = "interrupted; run the import again: imports are idempotent";

/// Why a job failed when the node running it stopped in order (a restart, an upgrade).
pub const STOPPED: &str =
    "interrupted: the server stopped; run the import again: imports are idempotent";

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportJobStatus {
    /// Waiting for the node's import slot.
    Queued,
    Running,
    Completed,
    /// Stopped by an error (the file is not of the format, the database failed) or interrupted.
    Failed,
}

impl ImportJobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportJobStatus::Queued => "queued",
            ImportJobStatus::Running => "running",
            ImportJobStatus::Completed => "completed",
            ImportJobStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "queued" => Ok(ImportJobStatus::Queued),
            "running" => Ok(ImportJobStatus::Running),
            "completed" => Ok(ImportJobStatus::Completed),
            "failed" => Ok(ImportJobStatus::Failed),
            other => Err(StoreError::unexpected(format!(
                "unknown import job status {other:?}"
            ))),
        }
    }
}

/// The figures of an import (as `accrete_app::import::Summary` counts them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub refused: u64,
    pub values_refused: u64,
}

/// How far a job is: its figures and how many problems it found (kept or not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportProgress {
    pub counts: ImportCounts,
    pub problems: u64,
}

/// A new job, queued.
#[derive(Debug, Clone)]
pub struct NewImportJob {
    /// The format's name (`auth0`, `csv`, `jsonl`).
    pub format: String,
    pub dry_run: bool,
    /// Who asked for it (`client:<id>`).
    pub created_by: String,
    pub now: OffsetDateTime,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    /// Time-ordered.
    pub id: Uuid,
    pub format: String,
    pub dry_run: bool,
    pub status: ImportJobStatus,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    /// The last sign of life of the node running it.
    pub updated_at: OffsetDateTime,
    pub progress: ImportProgress,
    /// How many problems are kept in the report (the first ones).
    pub problems_kept: u64,
    /// Why it failed.
    pub error: Option<String>,
}

impl ImportJob {
    /// Whether it is queued or running with no sign of life since `stale_before`.
    fn is_stale(&self, stale_before: OffsetDateTime) -> bool {
        matches!(
            self.status,
            ImportJobStatus::Queued | ImportJobStatus::Running
        ) && self.updated_at < stale_before
    }
}

/// One problem of a job's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJobProblem {
    /// The line (or position) in the file.
    pub line: u64,
    /// What is wrong, where (`email`, `profile.birthdate`, a column; `""`: the whole line).
    pub path: String,
    pub message: String,
}

/// Import jobs and their reports.
#[async_trait]
pub trait ImportJobs: Send + Sync {
    /// Stores a new job, `queued`.
    async fn create_import_job(&self, job: NewImportJob) -> Result<ImportJob, StoreError>;

    /// The job with this id, if any. A job `queued` or `running` with no sign of life since
    /// `stale_before` is marked failed with [`INTERRUPTED`] first (with every other such job),
    /// and read so.
    async fn get_import_job(
        &self,
        id: Uuid,
        stale_before: OffsetDateTime,
    ) -> Result<Option<ImportJob>, StoreError>;

    /// The newest `limit` jobs, newest first (by id, which is made from the job's creation
    /// time), only those older than the job `before` when given (it need not exist still:
    /// the next page after a purged job); when one of them is stale, the stale jobs are marked
    /// failed first (as [`ImportJobs::get_import_job`]).
    async fn list_import_jobs(
        &self,
        limit: i64,
        before: Option<Uuid>,
        stale_before: OffsetDateTime,
    ) -> Result<Vec<ImportJob>, StoreError>;

    /// Marks a queued job `running` from `now`; whether it was queued.
    async fn start_import_job(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError>;

    /// A sign of life of the node running a queued or running job; whether it is still either.
    async fn touch_import_job(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError>;

    /// Marks a queued or running job failed with [`STOPPED`] from `now`, its figures kept: the
    /// node running it stops (an orderly stop; a crashed node's job reads so after a while).
    /// Whether it was queued or running.
    async fn interrupt_import_job(&self, id: Uuid, now: OffsetDateTime)
    -> Result<bool, StoreError>;

    /// The figures of a running job after a batch; whether it is still running (a job marked
    /// failed as interrupted stays so).
    async fn record_import_job_progress(
        &self,
        id: Uuid,
        progress: ImportProgress,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Adds problems to a job's report, numbered after those already kept, keeping none past
    /// the first `keep_at_most` of the job; how many of these were kept. (The count of every
    /// problem is [`ImportProgress::problems`].)
    async fn add_import_job_problems(
        &self,
        id: Uuid,
        problems: Vec<ImportJobProblem>,
        keep_at_most: u64,
    ) -> Result<u64, StoreError>;

    /// Ends a queued or running job with its last figures: `completed`, or `failed` with
    /// `error`; whether it was still queued or running.
    async fn finish_import_job(
        &self,
        id: Uuid,
        progress: ImportProgress,
        error: Option<String>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// The problems kept in a job's report, in the order they were found, at most `limit`.
    async fn import_job_problems(
        &self,
        id: Uuid,
        limit: i64,
    ) -> Result<Vec<ImportJobProblem>, StoreError>;

    /// Deletes the jobs (and their reports) that ended before `before`; how many.
    async fn purge_import_jobs(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

#[async_trait]
impl<B: Backend> ImportJobs for B {
    async fn create_import_job(&self, job: NewImportJob) -> Result<ImportJob, StoreError> {
        let mut c = self.write().await?;
        let result = sql::create(&mut *c, job).await;
        self.settle(&mut c, result)
    }

    async fn get_import_job(
        &self,
        id: Uuid,
        stale_before: OffsetDateTime,
    ) -> Result<Option<ImportJob>, StoreError> {
        // Read on a reader (polled while the import holds SQLite's writer); written only when
        // the job is stale.
        let job = {
            let mut c = self.read().await?;
            let result = sql::get(&mut *c, id).await;
            self.settle(&mut c, result)?
        };
        if !job.as_ref().is_some_and(|job| job.is_stale(stale_before)) {
            return Ok(job);
        }
        let mut c = self.write().await?;
        let result = match sql::sweep(&mut *c, stale_before).await {
            Ok(_) => sql::get(&mut *c, id).await,
            Err(error) => Err(error),
        };
        self.settle(&mut c, result)
    }

    async fn list_import_jobs(
        &self,
        limit: i64,
        before: Option<Uuid>,
        stale_before: OffsetDateTime,
    ) -> Result<Vec<ImportJob>, StoreError> {
        let jobs = {
            let mut c = self.read().await?;
            let result = sql::list(&mut *c, limit, before).await;
            self.settle(&mut c, result)?
        };
        if !jobs.iter().any(|job| job.is_stale(stale_before)) {
            return Ok(jobs);
        }
        let mut c = self.write().await?;
        let result = match sql::sweep(&mut *c, stale_before).await {
            Ok(_) => sql::list(&mut *c, limit, before).await,
            Err(error) => Err(error),
        };
        self.settle(&mut c, result)
    }

    async fn start_import_job(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::start(&mut *c, id, now).await;
        self.settle(&mut c, result)
    }

    async fn touch_import_job(&self, id: Uuid, now: OffsetDateTime) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::touch(&mut *c, id, now).await;
        self.settle(&mut c, result)
    }

    async fn interrupt_import_job(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::interrupt(&mut *c, id, now).await;
        self.settle(&mut c, result)
    }

    async fn record_import_job_progress(
        &self,
        id: Uuid,
        progress: ImportProgress,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::record_progress(&mut *c, id, progress, now).await;
        self.settle(&mut c, result)
    }

    async fn add_import_job_problems(
        &self,
        id: Uuid,
        problems: Vec<ImportJobProblem>,
        keep_at_most: u64,
    ) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::add_problems(&mut *c, id, problems, keep_at_most).await;
        self.settle(&mut c, result)
    }

    async fn finish_import_job(
        &self,
        id: Uuid,
        progress: ImportProgress,
        error: Option<String>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut c = self.write().await?;
        let result = sql::finish(&mut *c, id, progress, error, now).await;
        self.settle(&mut c, result)
    }

    async fn import_job_problems(
        &self,
        id: Uuid,
        limit: i64,
    ) -> Result<Vec<ImportJobProblem>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::problems(&mut *c, id, limit).await;
        self.settle(&mut c, result)
    }

    async fn purge_import_jobs(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::purge(&mut *c, before).await;
        self.settle(&mut c, result)
    }
}

/// A count as stored (BIGINT).
fn stored(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count back.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    /// Problems given as a JSON array of `{i, line, path, message}`, kept as number `$2 + i`.
    const ADD_PROBLEMS_PG: &str =
        "INSERT INTO import_job_problems (job_id, seq, line, path, message)
         SELECT $1, $2 + r.i, r.line, r.path, r.message
         FROM jsonb_to_recordset($3) AS r(i BIGINT, line BIGINT, path TEXT, message TEXT)";
    const ADD_PROBLEMS_SQLITE: &str =
        "INSERT INTO import_job_problems (job_id, seq, line, path, message)
         SELECT $1, $2 + json_extract(value, '$.i'), json_extract(value, '$.line'),
                json_extract(value, '$.path'), json_extract(value, '$.message')
         FROM json_each($3)";

    pub(crate) async fn create<C: Conn>(
        c: &mut C,
        job: NewImportJob,
    ) -> Result<ImportJob, StoreError> {
        let now = to_millis(job.now);
        query_as::<JobRow>(
            "INSERT INTO import_jobs (id, format, dry_run, status, created_by, created_at,
                                      updated_at)
             VALUES ($1, $2, $3, 'queued', $4, $5, $5)
             RETURNING *",
        )
        .bind(new_id(job.now).to_string())
        .bind(job.format)
        .bind(job.dry_run)
        .bind(job.created_by)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
        .try_into()
    }

    pub(crate) async fn sweep<C: Conn>(
        c: &mut C,
        stale_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        query(
            "UPDATE import_jobs
             SET status = 'failed', error = $1, finished_at = updated_at
             WHERE status IN ('queued', 'running') AND updated_at < $2",
        )
        .bind(INTERRUPTED)
        .bind(to_millis(stale_before))
        .execute(&mut *c)
        .await
    }

    pub(crate) async fn get<C: Conn>(c: &mut C, id: Uuid) -> Result<Option<ImportJob>, StoreError> {
        query_as::<JobRow>("SELECT * FROM import_jobs WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *c)
            .await?
            .map(ImportJob::try_from)
            .transpose()
    }

    pub(crate) async fn list<C: Conn>(
        c: &mut C,
        limit: i64,
        before: Option<Uuid>,
    ) -> Result<Vec<ImportJob>, StoreError> {
        query_as::<JobRow>(
            "SELECT * FROM import_jobs WHERE $1 IS NULL OR id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before.map(|id| id.to_string()))
        .bind(limit)
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(ImportJob::try_from)
        .collect()
    }

    /// Runs `sql`, a change of the job whose `$1` is the job's id and `$2` the time, with
    /// `more` for the placeholders after; whether it changed the job (its `WHERE` says from
    /// which states).
    async fn change<C: Conn>(
        c: &mut C,
        sql: &'static str,
        id: Uuid,
        now: OffsetDateTime,
        more: Vec<Param>,
    ) -> Result<bool, StoreError> {
        let done = query(sql)
            .bind(id.to_string())
            .bind(to_millis(now))
            .bind_all(more)
            .execute(&mut *c)
            .await?;
        Ok(done > 0)
    }

    pub(crate) async fn start<C: Conn>(
        c: &mut C,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE import_jobs SET status = 'running', started_at = $2, updated_at = $2
                   WHERE id = $1 AND status = 'queued'";
        change(c, sql, id, now, Vec::new()).await
    }

    pub(crate) async fn interrupt<C: Conn>(
        c: &mut C,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE import_jobs SET status = 'failed', error = $3, finished_at = $2,
                                          updated_at = $2
                   WHERE id = $1 AND status IN ('queued', 'running')";
        change(c, sql, id, now, vec![STOPPED.into()]).await
    }

    pub(crate) async fn touch<C: Conn>(
        c: &mut C,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE import_jobs SET updated_at = $2
                   WHERE id = $1 AND status IN ('queued', 'running')";
        change(c, sql, id, now, Vec::new()).await
    }

    pub(crate) async fn record_progress<C: Conn>(
        c: &mut C,
        id: Uuid,
        progress: ImportProgress,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let counts = progress.counts;
        let done = query(
            "UPDATE import_jobs
             SET users_read = $2, users_created = $3, users_updated = $4, users_unchanged = $5,
                 users_refused = $6, values_refused = $7, problems = $8, updated_at = $9
             WHERE id = $1 AND status = 'running'",
        )
        .bind(id.to_string())
        .bind(stored(counts.read))
        .bind(stored(counts.created))
        .bind(stored(counts.updated))
        .bind(stored(counts.unchanged))
        .bind(stored(counts.refused))
        .bind(stored(counts.values_refused))
        .bind(stored(progress.problems))
        .bind(to_millis(now))
        .execute(&mut *c)
        .await?;
        Ok(done > 0)
    }

    pub(crate) async fn add_problems<C: Conn>(
        c: &mut C,
        id: Uuid,
        problems: Vec<ImportJobProblem>,
        keep_at_most: u64,
    ) -> Result<u64, StoreError> {
        if problems.is_empty() {
            return Ok(0);
        }
        let mut tx = c.begin_write().await?;
        let Some((kept,)) =
            query_as::<(i64,)>("SELECT problems_kept FROM import_jobs WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Err(StoreError::NotFound);
        };
        let room = usize::try_from(keep_at_most.saturating_sub(count(kept))).unwrap_or(usize::MAX);
        let rows: Vec<Value> = problems
            .into_iter()
            .take(room)
            .enumerate()
            .map(|(i, problem)| {
                json!({
                    "i": i,
                    "line": stored(problem.line),
                    "path": problem.path,
                    "message": problem.message,
                })
            })
            .collect();
        if rows.is_empty() {
            C::commit(tx).await?;
            return Ok(0);
        }
        let added = rows.len() as u64;
        let insert = pick::<C>(ADD_PROBLEMS_SQLITE, ADD_PROBLEMS_PG);
        query(insert)
            .bind(id.to_string())
            .bind(kept)
            .bind(Json(Value::Array(rows)))
            .execute(&mut *tx)
            .await?;
        query("UPDATE import_jobs SET problems_kept = problems_kept + $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(stored(added))
            .execute(&mut *tx)
            .await?;
        C::commit(tx).await?;
        Ok(added)
    }

    pub(crate) async fn finish<C: Conn>(
        c: &mut C,
        id: Uuid,
        progress: ImportProgress,
        error: Option<String>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let counts = progress.counts;
        let status = match error {
            Some(_) => ImportJobStatus::Failed,
            None => ImportJobStatus::Completed,
        };
        let done = query(
            "UPDATE import_jobs
             SET users_read = $2, users_created = $3, users_updated = $4, users_unchanged = $5,
                 users_refused = $6, values_refused = $7, problems = $8, updated_at = $9,
                 finished_at = $9, status = $10, error = $11
             WHERE id = $1 AND status IN ('queued', 'running')",
        )
        .bind(id.to_string())
        .bind(stored(counts.read))
        .bind(stored(counts.created))
        .bind(stored(counts.updated))
        .bind(stored(counts.unchanged))
        .bind(stored(counts.refused))
        .bind(stored(counts.values_refused))
        .bind(stored(progress.problems))
        .bind(to_millis(now))
        .bind(status.as_str())
        .bind(error)
        .execute(&mut *c)
        .await?;
        Ok(done > 0)
    }

    pub(crate) async fn problems<C: Conn>(
        c: &mut C,
        id: Uuid,
        limit: i64,
    ) -> Result<Vec<ImportJobProblem>, StoreError> {
        let rows = query_as::<(i64, String, String)>(
            "SELECT line, path, message FROM import_job_problems
             WHERE job_id = $1 ORDER BY seq LIMIT $2",
        )
        .bind(id.to_string())
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(line, path, message)| ImportJobProblem {
                line: count(line),
                path,
                message,
            })
            .collect())
    }

    pub(crate) async fn purge<C: Conn>(
        c: &mut C,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        // The reports go with their jobs (ON DELETE CASCADE).
        query(
            "DELETE FROM import_jobs
             WHERE status IN ('completed', 'failed') AND finished_at < $1",
        )
        .bind(to_millis(before))
        .execute(&mut *c)
        .await
    }
}

/// An `import_jobs` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct JobRow {
    pub id: String,
    pub format: String,
    pub dry_run: bool,
    pub status: String,
    pub created_by: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub updated_at: i64,
    pub users_read: i64,
    pub users_created: i64,
    pub users_updated: i64,
    pub users_unchanged: i64,
    pub users_refused: i64,
    pub values_refused: i64,
    pub problems: i64,
    pub problems_kept: i64,
    pub error: Option<String>,
}

impl TryFrom<JobRow> for ImportJob {
    type Error = StoreError;

    fn try_from(row: JobRow) -> Result<Self, StoreError> {
        Ok(ImportJob {
            id: parse_id(&row.id)?,
            format: row.format,
            dry_run: row.dry_run,
            status: ImportJobStatus::parse(&row.status)?,
            created_by: row.created_by,
            created_at: from_millis(row.created_at)?,
            started_at: from_millis_opt(row.started_at)?,
            finished_at: from_millis_opt(row.finished_at)?,
            updated_at: from_millis(row.updated_at)?,
            progress: ImportProgress {
                counts: ImportCounts {
                    read: count(row.users_read),
                    created: count(row.users_created),
                    updated: count(row.users_updated),
                    unchanged: count(row.users_unchanged),
                    refused: count(row.users_refused),
                    values_refused: count(row.values_refused),
                },
                problems: count(row.problems),
            },
            problems_kept: count(row.problems_kept),
            error: row.error,
        })
    }
}
