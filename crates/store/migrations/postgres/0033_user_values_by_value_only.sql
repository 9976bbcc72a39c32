-- The index of field values (0027) without its second index, `user_values_user (user_id,
-- location)`. That index served one purpose: finding a user's rows to delete them when the
-- user's bags change or the user is deleted (its foreign key's cascade). A user's rows are a
-- function of the user's own row (`user_values_of`, IMMUTABLE), so they are found by their
-- whole primary key instead: the same function applied to the bag before the change gives
-- exactly the rows to delete, each one index seek. A first import no longer builds that index
-- again at its end (docs/scaling.md). The foreign key goes too (its cascade needs the index);
-- the trigger on deletion does its work.
ALTER TABLE user_values DROP CONSTRAINT user_values_user_id_fkey;
DROP INDEX user_values_user;

-- Only the bags that changed are written again.
CREATE OR REPLACE FUNCTION user_values_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.profile IS DISTINCT FROM NEW.profile THEN
        DELETE FROM user_values v USING user_values_of(OLD.profile) AS o
        WHERE v.location = 'profile' AND v.key = o.key AND v.value = o.value
          AND v.user_id = OLD.id;
        INSERT INTO user_values (location, key, value, user_id)
        SELECT 'profile', v.key, v.value, NEW.id FROM user_values_of(NEW.profile) AS v;
    END IF;
    IF OLD.user_metadata IS DISTINCT FROM NEW.user_metadata THEN
        DELETE FROM user_values v USING user_values_of(OLD.user_metadata) AS o
        WHERE v.location = 'user_metadata' AND v.key = o.key AND v.value = o.value
          AND v.user_id = OLD.id;
        INSERT INTO user_values (location, key, value, user_id)
        SELECT 'user_metadata', v.key, v.value, NEW.id FROM user_values_of(NEW.user_metadata) AS v;
    END IF;
    IF OLD.app_metadata IS DISTINCT FROM NEW.app_metadata THEN
        DELETE FROM user_values v USING user_values_of(OLD.app_metadata) AS o
        WHERE v.location = 'app_metadata' AND v.key = o.key AND v.value = o.value
          AND v.user_id = OLD.id;
        INSERT INTO user_values (location, key, value, user_id)
        SELECT 'app_metadata', v.key, v.value, NEW.id FROM user_values_of(NEW.app_metadata) AS v;
    END IF;
    RETURN NULL;
END
$$;

-- A deleted user's rows, found the same way (a row trigger: its few rows are seeks whatever
-- the number of users).
CREATE FUNCTION user_values_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM user_values v USING (
        SELECT 'profile' AS location, o.key, o.value FROM user_values_of(OLD.profile) AS o
        UNION ALL
        SELECT 'user_metadata', o.key, o.value FROM user_values_of(OLD.user_metadata) AS o
        UNION ALL
        SELECT 'app_metadata', o.key, o.value FROM user_values_of(OLD.app_metadata) AS o
    ) AS o
    WHERE v.location = o.location AND v.key = o.key AND v.value = o.value
      AND v.user_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER user_values_deleted AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION user_values_deleted();
