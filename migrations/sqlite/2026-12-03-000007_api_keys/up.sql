-- Keys of the host app's management API (/api/v1): operator-wide (no tenant) or one tenant's.
-- Only a key's SHA-256 is kept; the key itself is shown once, when it is made.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);
