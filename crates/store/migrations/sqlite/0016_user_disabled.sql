-- A disabled account (the admin console, `PATCH /api/v1/users/{id}` with `disabled`): when it was
-- disabled, NULL while it may sign in. Disabling ends the user's sessions and revokes their
-- grants in the same transaction; the account and its values are kept.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
