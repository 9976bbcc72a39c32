-- The console's overview at any number of users (docs/console.md): counters kept in the
-- transaction of every write they count, so that the figures are read, not recounted.

-- Per top-level key of a place values are kept (`profile`, `user_metadata`, `app_metadata`),
-- how many users have a value that is not `null`: changed with each user created, each value
-- set or removed, each user deleted. Backfilled here from the users as they are.
CREATE TABLE value_counts (
    location  TEXT NOT NULL,
    key       TEXT NOT NULL,
    users     BIGINT NOT NULL,
    PRIMARY KEY (location, key)
) WITHOUT ROWID;

INSERT INTO value_counts (location, key, users)
SELECT 'profile', j.key, COUNT(*) FROM users, json_each(users.profile) AS j
WHERE j.type <> 'null' GROUP BY j.key;
INSERT INTO value_counts (location, key, users)
SELECT 'user_metadata', j.key, COUNT(*) FROM users, json_each(users.user_metadata) AS j
WHERE j.type <> 'null' GROUP BY j.key;
INSERT INTO value_counts (location, key, users)
SELECT 'app_metadata', j.key, COUNT(*) FROM users, json_each(users.app_metadata) AS j
WHERE j.type <> 'null' GROUP BY j.key;

-- Per UTC day (`YYYY-MM-DD`), how many sign-ups (`sign_up`) and sign-ins
-- (`sign_in.credentialed`, `sign_in.sso`) there were. Sign-ups are backfilled from the users'
-- creation; sign-ins before this migration were only counted per user, so they start here.
-- Deleting a user does not take back the sign-up of its day.
CREATE TABLE daily_counts (
    day    TEXT NOT NULL,
    what   TEXT NOT NULL,
    count  BIGINT NOT NULL,
    PRIMARY KEY (day, what)
) WITHOUT ROWID;

INSERT INTO daily_counts (day, what, count)
SELECT strftime('%Y-%m-%d', created_at / 1000, 'unixepoch'), 'sign_up', COUNT(*) FROM users
GROUP BY 1;

-- The funnel over a period reads the index alone.
DROP INDEX prompt_events_at;
CREATE INDEX prompt_events_at ON prompt_events (at, step, kind);
