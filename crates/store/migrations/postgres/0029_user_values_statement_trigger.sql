-- The index of field values (0027) is filled once per statement instead of once per row: the
-- trigger reads the statement's new users from a transition table. A row trigger ran its
-- PL/pgSQL function and three queries for each user; an import's batch of 500 users now runs
-- them once (docs/scaling.md, Import). The same rows as before, for any statement that inserts
-- users. (SQLite has no transition tables and keeps its row trigger: there a trigger is a
-- compiled sub-program of the insert, not a separate query.)
DROP TRIGGER user_values_inserted ON users;

CREATE OR REPLACE FUNCTION user_values_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_values (location, key, value, user_id)
    SELECT 'profile', v.key, v.value, n.id FROM new_users n, user_values_of(n.profile) AS v
    UNION ALL
    SELECT 'user_metadata', v.key, v.value, n.id
    FROM new_users n, user_values_of(n.user_metadata) AS v
    UNION ALL
    SELECT 'app_metadata', v.key, v.value, n.id
    FROM new_users n, user_values_of(n.app_metadata) AS v;
    RETURN NULL;
END
$$;

CREATE TRIGGER user_values_inserted AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_users
    FOR EACH STATEMENT EXECUTE FUNCTION user_values_inserted();
