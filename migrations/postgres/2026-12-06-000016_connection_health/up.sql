-- Each tenant's connection health (see src/service/connection.rs): what its SCIM client last
-- did, as every instance adds it up from its counters in memory every few seconds, and the
-- state last told to the host app (so that each change is told once, by one instance).
CREATE TABLE connection_health (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    last_request_at BIGINT,
    last_test_connection_at BIGINT,
    last_refusal_at BIGINT,
    last_refusal_reason TEXT,
    refusals_since_request BIGINT NOT NULL DEFAULT 0,
    announced_state TEXT,
    announced_at BIGINT
);
-- Refusals of a tenant's requests (bad, expired, revoked tokens) by hour and reason: the
-- last 24 hours' count and most common reason; older hours are removed.
CREATE TABLE connection_refusals (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hour BIGINT NOT NULL,
    reason TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hour, reason)
);
-- The expiry warnings told (a credential, the threshold in days): each once.
CREATE TABLE connection_notices (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    credential TEXT NOT NULL,
    days INTEGER NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, credential, days)
);
