-- Webhooks, operations (docs/webhooks.md): replaying an endpoint's deliveries of a time range
-- finds the events of that range by when they occurred.
CREATE INDEX webhook_events_occurred ON webhook_events (occurred_at);

-- A worker reads back the deliveries it has just leased by the name of its lease: without this
-- index, every look for work read every delivery.
CREATE INDEX webhook_deliveries_lease ON webhook_deliveries (lease_owner);
