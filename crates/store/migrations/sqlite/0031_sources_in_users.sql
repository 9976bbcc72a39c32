-- The source of each stored value moves into the user's own row: `users.sources`, a JSON
-- object by location, then key, of `[source, updated_at]`. A value and its source were
-- written together anyway (the same transaction, the user's row locked); kept in one row they
-- are one write instead of one more row per value, which an import of many users felt most
-- (docs/scaling.md). `profile_provenance` is gone; what it held is copied first.
ALTER TABLE users ADD COLUMN sources TEXT NOT NULL DEFAULT '{}';

UPDATE users SET sources = (
    SELECT json_group_object(location, json(keys)) FROM (
        SELECT location, json_group_object(key, json_array(source, updated_at)) AS keys
        FROM profile_provenance p WHERE p.user_id = users.id GROUP BY location
    )
)
WHERE id IN (SELECT user_id FROM profile_provenance);

DROP TABLE profile_provenance;
