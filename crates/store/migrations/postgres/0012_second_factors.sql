-- Second factors (see docs/mfa.md).
--
-- mfa_factors: a user's authenticator apps (kind 'totp'; the secret sealed with the server's
-- key-encryption key, bound to the factor's id) and phones that receive sign-in codes (kind
-- 'sms'; the number). A factor counts once `confirmed_at` is set (its first code was right); an
-- unconfirmed one is an enrolment in progress, replaced by the next. `last_step` is the last
-- TOTP time step accepted: a code works once.
CREATE TABLE mfa_factors (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    label         TEXT NOT NULL,
    sealed_secret BYTEA,
    phone         TEXT,
    created_at    BIGINT NOT NULL,
    confirmed_at  BIGINT,
    last_used_at  BIGINT,
    last_step     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mfa_factors_user ON mfa_factors (user_id);

-- Recovery codes: keyed hashes only, each used once.
CREATE TABLE recovery_codes (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- How many confirmed second factors the user has (kept by the store in the transaction that
-- adds or removes one), so that a sign-in knows whether to ask for one without another query.
ALTER TABLE users ADD COLUMN mfa_factors BIGINT NOT NULL DEFAULT 0;

-- When the session last passed a second factor (NULL: never).
ALTER TABLE sso_sessions ADD COLUMN mfa_at BIGINT;

-- A client's second-factor rule: 'off', 'if_enrolled' or 'required'; NULL: the server's.
ALTER TABLE clients ADD COLUMN mfa TEXT;
