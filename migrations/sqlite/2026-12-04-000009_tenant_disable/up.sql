-- An operator may disable a tenant: its SCIM endpoint then answers 403 and its data stays.
ALTER TABLE tenants ADD COLUMN disabled_at BIGINT;
-- The host app's lists (/api/v1/tenants/{slug}/users, /groups) walk a tenant's resources in
-- (updated_at, id) order, resuming after the last pair seen: the index holds the id too, so
-- a page is one range of it. It replaces users_updated (same leading columns), so user
-- writes maintain no more indexes than before.
DROP INDEX users_updated;
CREATE INDEX users_updated ON users (tenant_id, updated_at, id);
CREATE INDEX groups_updated ON groups (tenant_id, updated_at, id);
-- The hand-written planner statistics (see 000003) for the new shapes.
DELETE FROM sqlite_stat1 WHERE idx IN ('users_updated', 'groups_updated');
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('users', 'users_updated', '1000000 100000 1 1'),
    ('groups', 'groups_updated', '100000 10000 1 1');
