-- Federation: signing in through upstream identity providers.

-- The connections to upstream providers: each one's definition as JSON (secrets removed) and
-- its secrets sealed by the caller.
CREATE TABLE connections (
    name            TEXT PRIMARY KEY NOT NULL,
    spec            JSONB NOT NULL,
    sealed_secrets  BYTEA,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    version         BIGINT NOT NULL
);

-- An upstream identity (connection, subject at the provider) belongs to one user.
CREATE TABLE user_identities (
    connection    TEXT NOT NULL REFERENCES connections (name) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         TEXT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    PRIMARY KEY (connection, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- The single-use state of one round trip to a provider, keyed by a keyed hash of its `state`.
CREATE TABLE federation_states (
    hash            TEXT PRIMARY KEY NOT NULL,
    connection      TEXT NOT NULL,
    transaction_id  TEXT REFERENCES auth_transactions (id) ON DELETE CASCADE,
    user_id         TEXT REFERENCES users (id) ON DELETE CASCADE,
    browser         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX federation_states_expiry ON federation_states (expires_at);
CREATE INDEX federation_states_transaction ON federation_states (transaction_id);

-- Which connections a client offers (a JSON array of names; NULL: every enabled one), and
-- whether it offers signing in with a password.
ALTER TABLE clients ADD COLUMN connections JSONB;
ALTER TABLE clients ADD COLUMN password_signin BOOLEAN NOT NULL DEFAULT TRUE;

-- How a single sign-on session was authenticated: `amr` (a JSON array) and `acr`.
ALTER TABLE sso_sessions ADD COLUMN amr JSONB NOT NULL DEFAULT '["pwd"]';
ALTER TABLE sso_sessions ADD COLUMN acr TEXT;
