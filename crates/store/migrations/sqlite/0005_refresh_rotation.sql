-- Refresh-token rotation in one statement: a successor names its parent, and inserting it marks
-- the parent used. The rotation is `INSERT ... SELECT` from the parent row (only while the parent
-- is unused, unrevoked, unexpired and its grant live), so of two concurrent rotations one inserts
-- and the other finds the parent used.

ALTER TABLE refresh_tokens ADD COLUMN parent_hash TEXT;

CREATE TRIGGER refresh_tokens_rotation AFTER INSERT ON refresh_tokens
WHEN NEW.parent_hash IS NOT NULL
BEGIN
    UPDATE refresh_tokens SET used_at = NEW.created_at WHERE hash = NEW.parent_hash;
END;
