-- A tenant's role mapping (docs/api.md, "Roles"): rules as JSON text, an array of
-- {"group": ID, "role": R} and {"idpRole": V, "role": R}, and the role of a user no rule
-- matches (NULL: none). No row: the tenant maps no roles (every effectiveRoles is []).
CREATE TABLE role_mappings (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    rules TEXT NOT NULL,
    default_role TEXT,
    updated_at BIGINT NOT NULL
);

-- The effectiveRoles each user was last reported to the host app with (JSON array text),
-- so that a re-evaluation tells the host app only what moved. No row: [].
CREATE TABLE user_effective_roles (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    roles TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
