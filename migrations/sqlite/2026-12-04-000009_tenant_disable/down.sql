DROP INDEX groups_updated;
DROP INDEX users_updated;
CREATE INDEX users_updated ON users (tenant_id, updated_at);
DELETE FROM sqlite_stat1 WHERE idx IN ('users_updated', 'groups_updated');
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('users', 'users_updated', '1000000 100000 1');
ALTER TABLE tenants DROP COLUMN disabled_at;
