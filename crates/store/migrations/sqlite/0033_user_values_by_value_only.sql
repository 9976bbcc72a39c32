-- The index of field values (0027) without its second index, `user_values_user (user_id,
-- location)`. That index served one purpose: finding a user's rows to delete them when the
-- user's bags change or the user is deleted (its foreign key's cascade). A user's rows are a
-- function of the user's own row (the view `user_values_of`, 0030), so they are found by their
-- whole primary key instead: the same rule applied to the row before the change gives exactly
-- the rows to delete, each one seek. Writing a million users' values into one B-tree instead
-- of two is about a third of a first import's last phase (docs/scaling.md).
--
-- The foreign key goes too: its cascade needs the index, and the trigger on deletion does its
-- work. SQLite cannot drop a foreign key in place, so the table is copied (in its primary key's
-- order: appends), dropped and renamed; the triggers that name it are made again.
DROP TRIGGER user_values_inserted;
DROP TRIGGER user_values_updated;
CREATE TABLE user_values_next (
    location  TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (location, key, value, user_id)
) WITHOUT ROWID;
INSERT INTO user_values_next (location, key, value, user_id)
SELECT location, key, value, user_id FROM user_values ORDER BY location, key, value, user_id;
DROP TABLE user_values;
ALTER TABLE user_values_next RENAME TO user_values;

CREATE TRIGGER user_values_inserted AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO user_values (location, key, value, user_id)
    SELECT location, key, value, user_id FROM user_values_of WHERE user_id = NEW.id;
END;

-- Before the change, the bags that change give the rows to delete (the users' row still holds
-- them); after it, the new rows are written. A sign-in's count names no bag and fires neither.
-- The user's id is an equality of its own, not a fourth member of the row value: with the
-- statistics of a real table, SQLite seeks `(location, key, value)` of a row value and reads
-- every user who has that value (a common one: thousands); with `user_id = OLD.id` beside it,
-- all four columns of the key are sought (`EXPLAIN QUERY PLAN`; a store test reads it).
CREATE TRIGGER user_values_replaced BEFORE UPDATE OF profile, user_metadata, app_metadata ON users
WHEN OLD.profile IS NOT NEW.profile OR OLD.user_metadata IS NOT NEW.user_metadata
  OR OLD.app_metadata IS NOT NEW.app_metadata BEGIN
    DELETE FROM user_values WHERE user_id = OLD.id AND (location, key, value) IN (
        SELECT location, key, value FROM user_values_of WHERE user_id = OLD.id
          AND (location = 'profile' AND OLD.profile IS NOT NEW.profile
            OR location = 'user_metadata' AND OLD.user_metadata IS NOT NEW.user_metadata
            OR location = 'app_metadata' AND OLD.app_metadata IS NOT NEW.app_metadata));
END;
CREATE TRIGGER user_values_updated AFTER UPDATE OF profile, user_metadata, app_metadata ON users
WHEN OLD.profile IS NOT NEW.profile OR OLD.user_metadata IS NOT NEW.user_metadata
  OR OLD.app_metadata IS NOT NEW.app_metadata BEGIN
    INSERT OR IGNORE INTO user_values (location, key, value, user_id)
    SELECT location, key, value, user_id FROM user_values_of WHERE user_id = NEW.id
      AND (location = 'profile' AND OLD.profile IS NOT NEW.profile
        OR location = 'user_metadata' AND OLD.user_metadata IS NOT NEW.user_metadata
        OR location = 'app_metadata' AND OLD.app_metadata IS NOT NEW.app_metadata);
END;

-- A deleted user's rows, found the same way.
CREATE TRIGGER user_values_deleted BEFORE DELETE ON users BEGIN
    DELETE FROM user_values WHERE user_id = OLD.id AND (location, key, value) IN (
        SELECT location, key, value FROM user_values_of WHERE user_id = OLD.id);
END;
