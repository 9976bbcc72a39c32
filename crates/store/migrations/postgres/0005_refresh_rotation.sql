-- Refresh-token rotation in one statement: a successor names its parent. PostgreSQL marks the
-- parent used and inserts the successor in one data-modifying `WITH` statement.

ALTER TABLE refresh_tokens ADD COLUMN parent_hash TEXT;
