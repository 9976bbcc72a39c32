-- The index of field values (0027, 0033) keyed by text compared byte by byte. Its primary key
-- `(location, key, value, user_id)` compared a JSONB `value` (walking both containers) and
-- text columns in the database's collation (`strcoll` unless it is "C"); building it at the end
-- of a first import of a million users took 17 s of the import's 57. The same rows keyed by
-- text in the "C" collation build in 8 s (docs/scaling.md, The index of field values as text).
--
-- A value is kept as its JSON text (`user_value_text`): a string, `true`, `false` and `null`
-- as JSONB writes them (one text per value), a number without trailing zeros after its point,
-- so that two numbers are the same text exactly when JSONB finds them equal (`42` and `42.0`).
-- Only equality is asked of the index (a search by value, the triggers' deletions); no reader
-- relies on its order of values. `user_id` keeps the collation of `users.id`: a search joins
-- the users by it, and a join across two collations cannot use `users`' primary key (in "C" it
-- read every user for each search; keyed the same, the build costs the same).
-- (Not STRICT: PostgreSQL inlines a SQL function's CASE only when it is not; called as a
-- function, it made a first import's fill of the table twice as long.)
CREATE FUNCTION user_value_text(value JSONB) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'number' THEN trim_scale(value::numeric)::text
                ELSE value::text END
$$;

-- The triggers (0029, 0033) call it by name and compare its values with the table's: both text.
DROP FUNCTION user_values_of(JSONB);
CREATE FUNCTION user_values_of(bag JSONB) RETURNS TABLE (key TEXT, value TEXT)
LANGUAGE sql IMMUTABLE AS $$
    SELECT e.key, user_value_text(e.value)
    FROM jsonb_each(CASE WHEN jsonb_typeof(bag) = 'object' THEN bag ELSE '{}' END) AS e
    WHERE octet_length(e.key) <= 256
      AND jsonb_typeof(e.value) NOT IN ('object', 'array')
      AND (jsonb_typeof(e.value) <> 'string' OR octet_length(e.value #>> '{}') <= 256)
$$;

ALTER TABLE user_values
    ALTER COLUMN location TYPE TEXT COLLATE "C",
    ALTER COLUMN key TYPE TEXT COLLATE "C",
    ALTER COLUMN value TYPE TEXT COLLATE "C" USING user_value_text(value);
