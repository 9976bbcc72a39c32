-- Progressive profiling: published policy versions, the draft, per-user prompt state, events.

CREATE TABLE policy_versions (
    version       BIGINT PRIMARY KEY NOT NULL,
    document      JSONB NOT NULL,
    created_at    BIGINT NOT NULL,
    published_at  BIGINT NOT NULL,
    note          TEXT
);

-- At most one draft (id is always 1).
CREATE TABLE policy_draft (
    id          BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    document    JSONB NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE prompt_state (
    user_id              TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    step                 TEXT NOT NULL,
    shown                BIGINT NOT NULL DEFAULT 0,
    skipped              BIGINT NOT NULL DEFAULT 0,
    answered             BIGINT NOT NULL DEFAULT 0,
    last_shown_at        BIGINT,
    last_skipped_at      BIGINT,
    last_answered_at     BIGINT,
    logins_at_last_skip  BIGINT,
    PRIMARY KEY (user_id, step)
);

-- Events outlive their user for the completion figures; the link to the user is cut.
CREATE TABLE prompt_events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT REFERENCES users (id) ON DELETE SET NULL,
    step       TEXT,
    client_id  TEXT,
    at         BIGINT NOT NULL,
    data       JSONB NOT NULL
);
CREATE INDEX prompt_events_at ON prompt_events (at);
CREATE INDEX prompt_events_user ON prompt_events (user_id);
