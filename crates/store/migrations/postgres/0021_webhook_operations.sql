-- Webhooks, operations (docs/webhooks.md).

-- Replaying an endpoint's deliveries of a time range finds the events of that range by when
-- they occurred.
CREATE INDEX webhook_events_occurred ON webhook_events (occurred_at);

-- A worker reads back the deliveries it has just leased by the name of its lease: without this
-- index, every look for work read every delivery.
CREATE INDEX webhook_deliveries_lease ON webhook_deliveries (lease_owner);

-- Every transaction that writes events to the outbox notifies the delivery workers of every
-- node (they LISTEN on this channel), when it commits: NOTIFY is transactional, and repeated
-- notifications of one transaction (one per row) are folded into one. Polling stays as the fallback.
CREATE FUNCTION webhook_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('accrete_webhook_events', '');
    RETURN NULL;
END
$$;

-- Per row, not per statement: an INSERT that writes no row (no endpoint enabled) notifies
-- nobody.
CREATE TRIGGER webhook_events_inserted AFTER INSERT ON webhook_events
    FOR EACH ROW EXECUTE FUNCTION webhook_events_notify();
