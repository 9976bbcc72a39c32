-- Companion mode's write-back (docs/companion.md): the answers of a visit still to be written to
-- the provider through its management API (Auth0's `PATCH /api/v2/users/{id}`). A row names the
-- companion, the user, the provider's subject and the keys of the attributes (`fields`, a JSON
-- array), never their values, which are read from the user when it is sent. Recorded in the
-- transaction that completes the visit; due at `next_attempt_at`, leased by one worker until
-- `lease_expires_at`; deleted once written or given up, and with the user.
CREATE TABLE companion_writes (
    id                TEXT PRIMARY KEY NOT NULL,
    companion         TEXT NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subject           TEXT NOT NULL,
    fields            TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    last_error        TEXT,
    lease_owner       TEXT,
    lease_expires_at  BIGINT
);
CREATE INDEX companion_writes_due ON companion_writes (next_attempt_at);
CREATE INDEX companion_writes_user ON companion_writes (user_id);
