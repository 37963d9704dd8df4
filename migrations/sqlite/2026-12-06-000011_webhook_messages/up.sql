-- A change's message is stored once, however many endpoints receive it (a delivery names
-- its message); a replay is one more delivery of the same message. Deliveries behind an
-- older one of their endpoint and resource wait as 'queued', so that only sendable ones
-- are 'pending'. An endpoint may reach a private address only if an operator made it so.
CREATE TABLE webhook_messages (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    resource_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_messages_created ON webhook_messages (created_at);
INSERT OR IGNORE INTO webhook_messages (id, tenant_id, event_type, resource_key, payload, created_at)
    SELECT message_id, tenant_id, event_type, resource_key, payload, created_at
    FROM webhook_deliveries ORDER BY id;
ALTER TABLE webhook_deliveries DROP COLUMN payload;

DROP INDEX webhook_deliveries_due;
DROP INDEX webhook_deliveries_pending;
-- What is due, per endpoint (the sender serves endpoints one by one).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at, id) WHERE state = 'pending';
-- Per endpoint and resource, the unfinished deliveries in order (order per resource).
CREATE INDEX webhook_deliveries_stream ON webhook_deliveries (endpoint_id, resource_key, id) WHERE state IN ('pending', 'queued');
CREATE INDEX webhook_deliveries_message ON webhook_deliveries (message_id);
DROP INDEX webhook_deliveries_finished;
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (created_at) WHERE state IN ('delivered', 'failed');

ALTER TABLE webhook_endpoints ADD COLUMN private_ok BOOLEAN NOT NULL DEFAULT FALSE;
