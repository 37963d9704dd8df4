-- Scope rules (issue 26): which users a tenant's host app should see. `in_scope` is kept per
-- user (by SCIM writes and by the re-evaluation that follows a change of the rules), so the
-- host app's lists page through in-scope users on an index in their own order.
ALTER TABLE users ADD COLUMN in_scope BOOLEAN NOT NULL DEFAULT TRUE;
CREATE INDEX users_scope_updated ON users (tenant_id, in_scope, updated_at, id);

-- One row per tenant that has rules or exclusions: both as JSON text (validated when put).
-- `generation` moves on at every change; the re-evaluation of the tenant's users records the
-- generation it finished in `evaluated_generation` (lower: still evaluating).
CREATE TABLE scope_settings (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    rules TEXT NOT NULL,
    exclusions TEXT NOT NULL,
    generation BIGINT NOT NULL,
    evaluated_generation BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
