-- An operator may disable a tenant: its SCIM endpoint then answers 403 and its data stays.
ALTER TABLE tenants ADD COLUMN disabled_at BIGINT;
-- The host app's lists (/api/v1/tenants/{slug}/users, /groups) walk a tenant's resources in
-- (updated_at, id) order, resuming after the last pair seen: the index holds the id too, so
-- a page is one range of it. It replaces users_updated (same leading columns), so user
-- writes maintain no more indexes than before.
DROP INDEX users_updated;
CREATE INDEX users_updated ON users (tenant_id, updated_at, id);
CREATE INDEX groups_updated ON groups (tenant_id, updated_at, id);
