-- Whether an endpoint receives the values of `user.updated` changes (docs/webhooks.md); without
-- it, a change says which field changed and from what source, not to what.
ALTER TABLE webhook_endpoints ADD COLUMN include_values BOOLEAN NOT NULL DEFAULT FALSE;
