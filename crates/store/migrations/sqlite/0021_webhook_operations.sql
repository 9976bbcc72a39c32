-- Webhooks, operations (docs/webhooks.md): replaying an endpoint's deliveries of a time range
-- finds the events of that range by when they occurred.
CREATE INDEX webhook_events_occurred ON webhook_events (occurred_at);
