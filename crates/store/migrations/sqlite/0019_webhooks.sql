-- Durable webhooks (docs/webhooks.md): where events go, the outbox of events written in the
-- transaction of the change each reports, and their delivery to each endpoint, attempt by attempt.

-- An endpoint: its URL, the event types it receives (a JSON array; empty: every type), its
-- signing secrets sealed with the master key (the newest first; two during a rotation), and
-- whether it is enabled (with why not, when Accrete disabled it after three days of failures).
CREATE TABLE webhook_endpoints (
    id               TEXT PRIMARY KEY NOT NULL,
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,
    description      TEXT,
    sealed_secrets   BLOB NOT NULL,
    enabled          BOOLEAN NOT NULL,
    disabled_reason  TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- The outbox: one row per change, written in the change's own transaction. `id` is the
-- Standard Webhooks message id (`msg_...`); `fanned_out` once a delivery row exists for every
-- endpoint that wanted it.
CREATE TABLE webhook_events (
    id           TEXT PRIMARY KEY NOT NULL,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    fanned_out   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX webhook_events_pending ON webhook_events (fanned_out, occurred_at);

-- One event to one endpoint: `pending` (due at `next_attempt_at`, leased by one worker until
-- `lease_expires_at`), `delivered` or `failed` (given up after three days).
CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY NOT NULL,
    event_id          TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status            TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    last_status       BIGINT,
    last_error        TEXT,
    delivered_at      BIGINT,
    created_at        BIGINT NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

-- The log of every attempt: the answer's status (none: no answer), the error, how long it took.
CREATE TABLE webhook_attempts (
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    status_code  BIGINT,
    error        TEXT,
    duration_ms  BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
