-- OpenID Connect state. Secrets, cookies, codes and refresh tokens are stored as hashes only.

CREATE TABLE clients (
    id                         TEXT PRIMARY KEY NOT NULL,
    secret_hash                TEXT,
    name                       TEXT NOT NULL,
    redirect_uris              JSONB NOT NULL,
    post_logout_redirect_uris  JSONB NOT NULL,
    grant_types                JSONB NOT NULL,
    scopes                     JSONB NOT NULL,
    audience                   JSONB NOT NULL,
    public                     BOOLEAN NOT NULL,
    id_token_alg               TEXT NOT NULL,
    allowed_origins            JSONB NOT NULL,
    theme                      JSONB NOT NULL,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    alg          TEXT NOT NULL,
    private_key  BYTEA NOT NULL,
    public_jwk   JSONB NOT NULL,
    created_at   BIGINT NOT NULL,
    active_from  BIGINT NOT NULL,
    retired_at   BIGINT
);

CREATE TABLE sso_sessions (
    hash          TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    auth_time     BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    credentialed  BOOLEAN NOT NULL
);
CREATE INDEX sso_sessions_user ON sso_sessions (user_id);
CREATE INDEX sso_sessions_expiry ON sso_sessions (expires_at);

CREATE TABLE auth_transactions (
    id            TEXT PRIMARY KEY NOT NULL,
    client_id     TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    request       JSONB NOT NULL,
    user_id       TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_hash  TEXT,
    state         JSONB NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    completed_at  BIGINT,
    version       BIGINT NOT NULL
);
CREATE INDEX auth_transactions_expiry ON auth_transactions (expires_at);

CREATE TABLE grants (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes      JSONB NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX grants_user ON grants (user_id);

CREATE TABLE authorization_codes (
    hash            TEXT PRIMARY KEY NOT NULL,
    grant_id        TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    scopes          JSONB NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    auth_time       BIGINT NOT NULL,
    context         JSONB NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    consumed_at     BIGINT
);
CREATE INDEX authorization_codes_grant ON authorization_codes (grant_id);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    hash        TEXT PRIMARY KEY NOT NULL,
    grant_id    TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    scopes      JSONB NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
