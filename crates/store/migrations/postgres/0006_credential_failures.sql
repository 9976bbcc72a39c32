-- Failed sign-in attempts, counted in the database so that every node sees the same counters:
-- one row per (account, source address) and one per account as a whole (source '*').
-- `account` is the normalised email (also for emails no user has); timestamps are unix millis.

CREATE TABLE credential_failures (
    account          TEXT NOT NULL,
    source           TEXT NOT NULL,
    failures         BIGINT NOT NULL,
    last_failure_at  BIGINT NOT NULL,
    PRIMARY KEY (account, source)
);

CREATE INDEX credential_failures_last_failure_at ON credential_failures (last_failure_at);
