-- Proofs sent by mail: an email address's verification code and link, the confirmation of a
-- new address, a password reset link. Codes and links are stored as keyed hashes only; a row
-- is used once (`consumed_at`), also when a newer one of the same purpose replaces it. Rows
-- are kept a day after they expire so that the resend limits can count them.
CREATE TABLE account_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL,
    email        TEXT NOT NULL,
    code_hash    TEXT,
    link_hash    TEXT NOT NULL UNIQUE,
    attempts     BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    consumed_at  BIGINT
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose, created_at);
CREATE INDEX account_tokens_expiry ON account_tokens (expires_at);
