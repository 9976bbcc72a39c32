-- The user record. Timestamps are unix milliseconds (BIGINT) in both backends.
CREATE TABLE users (
    id                   TEXT PRIMARY KEY NOT NULL,
    email                TEXT NOT NULL,
    email_normalized     TEXT NOT NULL UNIQUE,
    email_verified       BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash        TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    credentialed_logins  BIGINT NOT NULL DEFAULT 0,
    sso_logins           BIGINT NOT NULL DEFAULT 0,
    last_login_at        BIGINT,
    profile              JSONB NOT NULL DEFAULT '{}',
    user_metadata        JSONB NOT NULL DEFAULT '{}',
    app_metadata         JSONB NOT NULL DEFAULT '{}',
    version              BIGINT NOT NULL DEFAULT 1
);

CREATE INDEX users_created_at ON users (created_at);
