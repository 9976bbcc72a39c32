-- Passkeys (WebAuthn credentials) a user signs in with, and the single-use state of a passkey
-- ceremony between its two requests (any node may serve either).
--
-- `passkey` is webauthn-rs's `Passkey` as JSON: the credential id, the public key, the
-- signature counter and flags; never a secret. `counter` and `backup_eligible` repeat what the
-- JSON says so that SQL can compare and show them (`counter` only grows: an assertion is
-- stored only over the counter it was checked against).
CREATE TABLE passkeys (
    id               TEXT PRIMARY KEY NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id    TEXT NOT NULL UNIQUE,
    passkey          TEXT NOT NULL,
    name             TEXT NOT NULL,
    counter          BIGINT NOT NULL DEFAULT 0,
    backup_eligible  BOOLEAN NOT NULL,
    created_at       BIGINT NOT NULL,
    last_used_at     BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- A ceremony started (registration, sign-in, second factor) and not yet finished: looked up by
-- the hash of its random id, bound to the browser that started it (hash of its CSRF cookie),
-- taken once (deleted when finished), a few minutes long.
CREATE TABLE passkey_ceremonies (
    hash        TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    browser     TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
