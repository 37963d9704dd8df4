DROP INDEX groups_updated;
DROP INDEX users_updated;
CREATE INDEX users_updated ON users (tenant_id, updated_at);
ALTER TABLE tenants DROP COLUMN disabled_at;
