-- Search by field value (docs/scaling.md): every scalar value of the users' three bags, by
-- location, key and value, so that the user list's `field`/`value` filter reads the users who
-- have the value through an index, in id order, instead of every user's JSON. Kept by the
-- triggers below, whatever statement writes a user (API, prompts, import, companions,
-- federation), and deleted with the user (foreign keys are on in every connection).
-- `value` is the JSON text that `bag -> key` yields, the very text the filter compares (built
-- here with `->` itself, the key quoted as `Conn::json_key` quotes it: `fullkey` does not escape
-- a `"` in a key). `OR IGNORE`: a value that `->` cannot reach (NULL) is one the filter cannot
-- find either, and must not fail the user's write. Left out, and searched by reading the users as before: objects,
-- arrays, strings longer than 256 bytes and keys longer than 256 bytes (the limits are
-- `INDEXED_MAX_BYTES` in crates/store/src/aggregates/users.rs).
CREATE TABLE user_values (
    location  TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (location, key, value, user_id)
) WITHOUT ROWID;
CREATE INDEX user_values_user ON user_values (user_id, location);

INSERT OR IGNORE INTO user_values (location, key, value, user_id)
SELECT 'profile', j.key, u.profile -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), u.id FROM users u, json_each(u.profile) AS j
WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
  AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256);
INSERT OR IGNORE INTO user_values (location, key, value, user_id)
SELECT 'user_metadata', j.key, u.user_metadata -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), u.id
FROM users u, json_each(u.user_metadata) AS j
WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
  AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256);
INSERT OR IGNORE INTO user_values (location, key, value, user_id)
SELECT 'app_metadata', j.key, u.app_metadata -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), u.id
FROM users u, json_each(u.app_metadata) AS j
WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
  AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256);

CREATE TRIGGER user_values_inserted AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO user_values (location, key, value, user_id)
    SELECT 'profile', j.key, NEW.profile -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), NEW.id FROM json_each(NEW.profile) AS j
    WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
      AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256);
    INSERT OR IGNORE INTO user_values (location, key, value, user_id)
    SELECT 'user_metadata', j.key, NEW.user_metadata -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), NEW.id
    FROM json_each(NEW.user_metadata) AS j
    WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
      AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256);
    INSERT OR IGNORE INTO user_values (location, key, value, user_id)
    SELECT 'app_metadata', j.key, NEW.app_metadata -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), NEW.id
    FROM json_each(NEW.app_metadata) AS j
    WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
      AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256);
END;

-- One trigger per bag, and only when it changed: a sign-in's count (`UPDATE users SET
-- sso_logins = ...`) names none of them and fires none.
CREATE TRIGGER user_values_profile AFTER UPDATE OF profile ON users
WHEN OLD.profile IS NOT NEW.profile BEGIN
    DELETE FROM user_values WHERE user_id = NEW.id AND location = 'profile';
    INSERT OR IGNORE INTO user_values (location, key, value, user_id)
    SELECT 'profile', j.key, NEW.profile -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), NEW.id FROM json_each(NEW.profile) AS j
    WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
      AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256);
END;
CREATE TRIGGER user_values_user_metadata AFTER UPDATE OF user_metadata ON users
WHEN OLD.user_metadata IS NOT NEW.user_metadata BEGIN
    DELETE FROM user_values WHERE user_id = NEW.id AND location = 'user_metadata';
    INSERT OR IGNORE INTO user_values (location, key, value, user_id)
    SELECT 'user_metadata', j.key, NEW.user_metadata -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), NEW.id
    FROM json_each(NEW.user_metadata) AS j
    WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
      AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256);
END;
CREATE TRIGGER user_values_app_metadata AFTER UPDATE OF app_metadata ON users
WHEN OLD.app_metadata IS NOT NEW.app_metadata BEGIN
    DELETE FROM user_values WHERE user_id = NEW.id AND location = 'app_metadata';
    INSERT OR IGNORE INTO user_values (location, key, value, user_id)
    SELECT 'app_metadata', j.key, NEW.app_metadata -> ('$."' || replace(replace(j.key, '\', '\\'), '"', '\u0022') || '"'), NEW.id
    FROM json_each(NEW.app_metadata) AS j
    WHERE typeof(j.key) = 'text' AND length(CAST(j.key AS BLOB)) <= 256
      AND j.type NOT IN ('object', 'array') AND (j.type <> 'text' OR length(CAST(j.atom AS BLOB)) <= 256);
END;
