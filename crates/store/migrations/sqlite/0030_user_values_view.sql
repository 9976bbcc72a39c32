-- Which of a user's values `user_values` holds, and as what text, in one place: the view
-- below. Migration 0027 wrote this rule five times (its backfill and four triggers); the
-- triggers now read it from the view, and so does a whole-file import, which indexes the
-- users it created with one statement at its end instead of one trigger run per user
-- (`UserTransfers::import_stream`, docs/scaling.md: a million users' values in about 24 s
-- instead of about 60). The rule itself is 0027's, unchanged: the scalar values of the three
-- bags, `value` being the JSON text that `bag -> key` yields (the key quoted as
-- `Conn::json_key` quotes it), keys and strings of at most 256 bytes. `user_row` is the
-- user's rowid, which grows with each user inserted: the import's "users created since".
-- A filter on `user_id` or `location` reaches each branch (the users' id index; the other
-- bags' branches are skipped).
CREATE VIEW user_values_of (location, key, value, user_id, user_row) AS
SELECT 'profile', j.key, u.profile -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), u.id, u.rowid
FROM users u, json_each(u.profile) AS j
WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
  AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256)
UNION ALL
SELECT 'user_metadata', j.key, u.user_metadata -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), u.id, u.rowid
FROM users u, json_each(u.user_metadata) AS j
WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
  AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256)
UNION ALL
SELECT 'app_metadata', j.key, u.app_metadata -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), u.id, u.rowid
FROM users u, json_each(u.app_metadata) AS j
WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
  AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256);

DROP TRIGGER user_values_inserted;
CREATE TRIGGER user_values_inserted AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO user_values (location, key, value, user_id)
    SELECT location, key, value, user_id FROM user_values_of WHERE user_id = NEW.id;
END;

-- The three update triggers become one: a bag's rows are written again when that bag changed
-- (a sign-in's count names no bag and fires none).
DROP TRIGGER user_values_profile;
DROP TRIGGER user_values_user_metadata;
DROP TRIGGER user_values_app_metadata;
CREATE TRIGGER user_values_updated AFTER UPDATE OF profile, user_metadata, app_metadata ON users
WHEN OLD.profile IS NOT NEW.profile OR OLD.user_metadata IS NOT NEW.user_metadata
  OR OLD.app_metadata IS NOT NEW.app_metadata BEGIN
    DELETE FROM user_values WHERE user_id = NEW.id
      AND (location = 'profile' AND OLD.profile IS NOT NEW.profile
        OR location = 'user_metadata' AND OLD.user_metadata IS NOT NEW.user_metadata
        OR location = 'app_metadata' AND OLD.app_metadata IS NOT NEW.app_metadata);
    INSERT OR IGNORE INTO user_values (location, key, value, user_id)
    SELECT location, key, value, user_id FROM user_values_of WHERE user_id = NEW.id
      AND (location = 'profile' AND OLD.profile IS NOT NEW.profile
        OR location = 'user_metadata' AND OLD.user_metadata IS NOT NEW.user_metadata
        OR location = 'app_metadata' AND OLD.app_metadata IS NOT NEW.app_metadata);
END;
