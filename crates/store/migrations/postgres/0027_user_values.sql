-- Search by field value (docs/scaling.md): every scalar value of the users' three bags, by
-- location, key and value, so that the user list's `field`/`value` filter reads the users who
-- have the value through an index, in id order, instead of every user's JSON. Kept by the
-- triggers below, whatever statement writes a user (API, prompts, import, companions,
-- federation), and deleted with the user.
-- `value` is the `jsonb` that `bag -> key` yields, compared with the same `jsonb` equality as
-- the filter. Left out, and searched by reading the users as before: objects, arrays, strings
-- longer than 256 bytes and keys longer than 256 bytes (the limits are `INDEXED_MAX_BYTES` in
-- crates/store/src/aggregates/users.rs; they also keep every entry within a B-tree page).
CREATE TABLE user_values (
    location  TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     JSONB NOT NULL,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (location, key, value, user_id)
);
CREATE INDEX user_values_user ON user_values (user_id, location);

-- The indexed values of one bag.
CREATE FUNCTION user_values_of(bag JSONB) RETURNS TABLE (key TEXT, value JSONB)
LANGUAGE sql IMMUTABLE AS $$
    SELECT e.key, e.value
    FROM jsonb_each(CASE WHEN jsonb_typeof(bag) = 'object' THEN bag ELSE '{}' END) AS e
    WHERE octet_length(e.key) <= 256
      AND jsonb_typeof(e.value) NOT IN ('object', 'array')
      AND (jsonb_typeof(e.value) <> 'string' OR octet_length(e.value #>> '{}') <= 256)
$$;

INSERT INTO user_values (location, key, value, user_id)
SELECT 'profile', v.key, v.value, u.id FROM users u, user_values_of(u.profile) AS v;
INSERT INTO user_values (location, key, value, user_id)
SELECT 'user_metadata', v.key, v.value, u.id FROM users u, user_values_of(u.user_metadata) AS v;
INSERT INTO user_values (location, key, value, user_id)
SELECT 'app_metadata', v.key, v.value, u.id FROM users u, user_values_of(u.app_metadata) AS v;

CREATE FUNCTION user_values_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_values (location, key, value, user_id)
    SELECT 'profile', v.key, v.value, NEW.id FROM user_values_of(NEW.profile) AS v
    UNION ALL
    SELECT 'user_metadata', v.key, v.value, NEW.id FROM user_values_of(NEW.user_metadata) AS v
    UNION ALL
    SELECT 'app_metadata', v.key, v.value, NEW.id FROM user_values_of(NEW.app_metadata) AS v;
    RETURN NULL;
END
$$;

-- Only the bags that changed are written again.
CREATE FUNCTION user_values_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.profile IS DISTINCT FROM NEW.profile THEN
        DELETE FROM user_values WHERE user_id = NEW.id AND location = 'profile';
        INSERT INTO user_values (location, key, value, user_id)
        SELECT 'profile', v.key, v.value, NEW.id FROM user_values_of(NEW.profile) AS v;
    END IF;
    IF OLD.user_metadata IS DISTINCT FROM NEW.user_metadata THEN
        DELETE FROM user_values WHERE user_id = NEW.id AND location = 'user_metadata';
        INSERT INTO user_values (location, key, value, user_id)
        SELECT 'user_metadata', v.key, v.value, NEW.id FROM user_values_of(NEW.user_metadata) AS v;
    END IF;
    IF OLD.app_metadata IS DISTINCT FROM NEW.app_metadata THEN
        DELETE FROM user_values WHERE user_id = NEW.id AND location = 'app_metadata';
        INSERT INTO user_values (location, key, value, user_id)
        SELECT 'app_metadata', v.key, v.value, NEW.id FROM user_values_of(NEW.app_metadata) AS v;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER user_values_inserted AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION user_values_inserted();
-- A sign-in's count (`UPDATE users SET sso_logins = ...`) names none of the bags and fires
-- nothing.
CREATE TRIGGER user_values_updated AFTER UPDATE OF profile, user_metadata, app_metadata ON users
    FOR EACH ROW EXECUTE FUNCTION user_values_updated();
