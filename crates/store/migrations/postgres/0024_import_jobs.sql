-- Imports run as jobs of the management API (`POST /api/v1/users/imports`, docs/api.md): one
-- row per job, its figures as of its last batch, and the problems of its report.

-- A job: `queued` (waiting for this node's import slot), `running`, `completed` or `failed`
-- (with `error`). `updated_at` moves with every batch and at least once a minute while the
-- node that runs it is alive: a job left `queued` or `running` for five minutes without it is
-- marked `failed` when read. `problems` counts every problem; the first ones are kept in
-- `import_job_problems` (`problems_kept` of them).
CREATE TABLE import_jobs (
    id                    TEXT PRIMARY KEY NOT NULL,
    format                TEXT NOT NULL,
    dry_run               BOOLEAN NOT NULL,
    status                TEXT NOT NULL,
    created_by            TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    started_at            BIGINT,
    finished_at           BIGINT,
    updated_at            BIGINT NOT NULL,
    users_read            BIGINT NOT NULL DEFAULT 0,
    users_created         BIGINT NOT NULL DEFAULT 0,
    users_updated         BIGINT NOT NULL DEFAULT 0,
    users_unchanged       BIGINT NOT NULL DEFAULT 0,
    users_refused         BIGINT NOT NULL DEFAULT 0,
    values_refused        BIGINT NOT NULL DEFAULT 0,
    problems              BIGINT NOT NULL DEFAULT 0,
    problems_kept         BIGINT NOT NULL DEFAULT 0,
    error                 TEXT
);
CREATE INDEX import_jobs_created ON import_jobs (created_at);
CREATE INDEX import_jobs_unfinished ON import_jobs (status, updated_at);

-- The report of a job: the problems kept, numbered from 0 in the order they were found.
CREATE TABLE import_job_problems (
    job_id   TEXT NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    seq      BIGINT NOT NULL,
    line     BIGINT NOT NULL,
    path     TEXT NOT NULL,
    message  TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
