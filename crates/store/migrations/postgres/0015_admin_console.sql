-- The admin console (docs/console.md): who administers Accrete and with which role, what every
-- change made in the console or the management API was (the audit log), the console's own
-- sessions, and the one-time link that makes the first owner.

-- A user's administrator role: owner (everything), editor (policy, clients, theme), support
-- (users) or viewer (read-only). A user has at most one.
CREATE TABLE admins (
    user_id     TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    granted_at  BIGINT NOT NULL,
    granted_by  TEXT NOT NULL
);

-- One entry per change: who (`user:<id>` of an administrator, `client:<id>` of an API back end,
-- `cli`), what (`action`, on `target`), the values before and after (JSON, secrets left
-- out), when and from which address. Kept when the actor's account goes (the actor is text).
CREATE TABLE audit_log (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       BIGINT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT,
    before   JSONB,
    after    JSONB,
    ip       TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

-- A console session, after the console's own sign-in through /authorize (code + PKCE): looked up
-- by the hash of its cookie; `auth_time` says how recent the sign-in is (the most dangerous
-- actions ask for a fresh one).
CREATE TABLE console_sessions (
    hash        TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    auth_time   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
