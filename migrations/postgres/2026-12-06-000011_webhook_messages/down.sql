ALTER TABLE webhook_endpoints DROP COLUMN private_ok;
DROP INDEX webhook_deliveries_message;
DROP INDEX webhook_deliveries_finished;
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (created_at) WHERE state <> 'pending';
DROP INDEX webhook_deliveries_stream;
DROP INDEX webhook_deliveries_due;
UPDATE webhook_deliveries SET state = 'pending' WHERE state = 'queued';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, resource_key, id) WHERE state = 'pending';
ALTER TABLE webhook_deliveries ADD COLUMN payload TEXT NOT NULL DEFAULT '';
UPDATE webhook_deliveries SET payload = COALESCE(
    (SELECT m.payload FROM webhook_messages m WHERE m.id = webhook_deliveries.message_id), '');
DROP TABLE webhook_messages;
