-- The source of each stored value moves into the user's own row: `users.sources`, a JSON
-- object by location, then key, of `[source, updated_at]`. A value and its source were
-- written together anyway (the same transaction, the user's row locked); kept in one row they
-- are one write instead of one more row per value, which an import of many users felt most
-- (docs/scaling.md). `profile_provenance` is gone; what it held is copied first.
ALTER TABLE users ADD COLUMN sources JSONB NOT NULL DEFAULT '{}';

UPDATE users u SET sources = s.sources
FROM (
    SELECT user_id, jsonb_object_agg(location, keys) AS sources
    FROM (
        SELECT user_id, location, jsonb_object_agg(key, jsonb_build_array(source, updated_at)) AS keys
        FROM profile_provenance GROUP BY user_id, location
    ) by_location
    GROUP BY user_id
) s
WHERE u.id = s.user_id;

DROP TABLE profile_provenance;
