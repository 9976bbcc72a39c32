-- The device of a single sign-on session, shown to its user on the account center's sessions
-- page: the browser's User-Agent (at most 512 bytes) and the address it signed in from.
-- `id` names a session in pages and forms: an opaque random UUID, so that the hash of the
-- cookie (the key of the row) never leaves the server.
ALTER TABLE sso_sessions ADD COLUMN id TEXT;
ALTER TABLE sso_sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sso_sessions ADD COLUMN ip TEXT;

-- Sessions of before: a random version 4 UUID each.
UPDATE sso_sessions SET id =
    lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
    || substr(lower(hex(randomblob(2))), 2) || '-'
    || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-'
    || lower(hex(randomblob(6)))
WHERE id IS NULL;

CREATE UNIQUE INDEX sso_sessions_id ON sso_sessions (id);
