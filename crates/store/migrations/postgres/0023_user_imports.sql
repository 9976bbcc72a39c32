-- Users brought in by `accrete users import` (docs/import-export.md): the id each had in the
-- system it came from, so that importing the same file again finds the same user.
CREATE TABLE user_imports (
    format       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    imported_at  BIGINT NOT NULL,
    PRIMARY KEY (format, external_id)
);
CREATE INDEX user_imports_user ON user_imports (user_id);

-- Erasure (docs/data-rights.md): the user an outbox event is about, so that deleting the user
-- takes their address and values out of the events still kept.
ALTER TABLE webhook_events ADD COLUMN user_id TEXT;
CREATE INDEX webhook_events_user ON webhook_events (user_id);

-- Data rights: the audit log's entries about one user (who looked, who changed what), read for
-- that user's export and cleared of values by their erasure.
CREATE INDEX audit_log_target ON audit_log (target, seq);
