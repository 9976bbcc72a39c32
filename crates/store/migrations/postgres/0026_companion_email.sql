-- Companion mode: the address a provider gave for its user, normalised (trimmed, lower case), so
-- that the user list's `email` filter finds the users of a companion too (their own
-- `users.email_normalized` is the key `companion:<name>:<subject>`, since several users of a
-- provider may share an address). Kept by each visit's start; filled here from the users' rows
-- (SQL's lower() folds ASCII letters only; a visit writes the full Unicode folding).
ALTER TABLE companion_subjects ADD COLUMN email_normalized TEXT;
UPDATE companion_subjects SET email_normalized = (
    SELECT lower(trim(u.email)) FROM users u WHERE u.id = companion_subjects.user_id
);
CREATE INDEX companion_subjects_email ON companion_subjects (email_normalized);
