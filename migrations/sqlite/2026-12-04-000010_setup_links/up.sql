-- Setup links: an operator (or the host app's API) sends a tenant's Entra admin a link that
-- opens that tenant's token page without a password until it expires or is revoked. The
-- link's secret is shown once; only its SHA-256 is kept.
CREATE TABLE setup_links (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX setup_links_secret_hash ON setup_links (secret_hash);
CREATE INDEX setup_links_tenant ON setup_links (tenant_id, created_at);

-- Page sessions a setup link started: bound to the link's one tenant, and checked against
-- the link on every request, so revoking the link (or its expiry) ends them too. As for
-- admin sessions, the cookie holds a random secret and only its SHA-256 is stored.
CREATE TABLE setup_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    link_id TEXT NOT NULL REFERENCES setup_links(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX setup_sessions_link ON setup_sessions (link_id);
CREATE INDEX setup_sessions_expiry ON setup_sessions (expires_at);
