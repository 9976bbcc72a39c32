-- The device of a single sign-on session, shown to its user on the account center's sessions
-- page: the browser's User-Agent (at most 512 bytes) and the address it signed in from.
-- `id` names a session in pages and forms: an opaque random UUID, so that the hash of the
-- cookie (the key of the row) never leaves the server.
ALTER TABLE sso_sessions ADD COLUMN id TEXT;
ALTER TABLE sso_sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sso_sessions ADD COLUMN ip TEXT;

UPDATE sso_sessions SET id = gen_random_uuid()::text WHERE id IS NULL;
ALTER TABLE sso_sessions ALTER COLUMN id SET NOT NULL;

CREATE UNIQUE INDEX sso_sessions_id ON sso_sessions (id);
