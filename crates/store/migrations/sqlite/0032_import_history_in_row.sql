-- An imported user's values keep their history in the user's own row until they are next
-- written: each value's one entry (set from nothing, by its source, at its time) is what the
-- bags and `users.sources` already say, so an import writes no `profile_history` row for it
-- (docs/import-export.md). `import_history_at` is that import's time while it is so, else NULL;
-- the first write of the user's values turns those entries into rows and sets it to NULL, and
-- so does the retention's purge once they are older than what is kept (its index finds them).
ALTER TABLE users ADD COLUMN import_history_at BIGINT;
CREATE INDEX users_import_history_at ON users (import_history_at)
    WHERE import_history_at IS NOT NULL;
