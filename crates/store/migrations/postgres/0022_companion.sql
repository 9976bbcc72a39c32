-- Companion mode (docs/companion.md): the user Accrete keeps for a user of an identity provider
-- it is the companion of, found by the provider's subject; and the ids of the start tokens
-- already used (single use, kept until the token expires).
CREATE TABLE companion_subjects (
    companion   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (companion, subject)
);
CREATE INDEX companion_subjects_user ON companion_subjects (user_id);

CREATE TABLE companion_tokens (
    companion   TEXT NOT NULL,
    jti         TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (companion, jti)
);
CREATE INDEX companion_tokens_expiry ON companion_tokens (expires_at);
