-- The provenance of each value as one B-tree instead of two (docs/scaling.md, Import). As a
-- rowid table, every provenance row was written twice: once in the table by its hidden rowid
-- and once in the primary key's index `(user_id, location, key)`, which holds the same columns
-- again: 1.08 GB of a million-user database, and two B-tree insertions per imported value.
-- WITHOUT ROWID keeps the rows in the primary key's own B-tree. Nothing reads a provenance
-- row by rowid. PostgreSQL stores tables as heaps; its schema does not change.
CREATE TABLE profile_provenance_keyed (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    location    TEXT NOT NULL,
    key         TEXT NOT NULL,
    source      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, location, key)
) WITHOUT ROWID;
INSERT INTO profile_provenance_keyed (user_id, location, key, source, updated_at)
SELECT user_id, location, key, source, updated_at FROM profile_provenance;
DROP TABLE profile_provenance;
ALTER TABLE profile_provenance_keyed RENAME TO profile_provenance;
