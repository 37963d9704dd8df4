-- Times are Unix epoch milliseconds (BIGINT) so both backends compare and sort them alike.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX tokens_tenant ON tokens (tenant_id, created_at);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    user_name_lower TEXT NOT NULL,
    external_id TEXT,
    identity_mail TEXT NOT NULL,
    display_name_lower TEXT,
    active BOOLEAN NOT NULL,
    resource TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deactivated_at BIGINT,
    deleted_at BIGINT
);
CREATE UNIQUE INDEX users_live_user_name ON users (tenant_id, user_name_lower) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_live_identity_mail ON users (tenant_id, identity_mail) WHERE deleted_at IS NULL;
CREATE INDEX users_external_id ON users (tenant_id, external_id);
CREATE INDEX users_display_name ON users (tenant_id, display_name_lower);
CREATE INDEX users_created ON users (tenant_id, created_at, id);
CREATE INDEX users_updated ON users (tenant_id, updated_at);
CREATE INDEX users_deleted ON users (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE user_emails (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    value_lower TEXT NOT NULL,
    email_type TEXT,
    is_primary BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, position)
);
CREATE INDEX user_emails_value ON user_emails (tenant_id, value_lower);

CREATE TABLE groups (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    display_name_lower TEXT NOT NULL,
    external_id TEXT,
    resource TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX groups_display_name ON groups (tenant_id, display_name_lower);
CREATE INDEX groups_created ON groups (tenant_id, created_at, id);
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    display TEXT,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

CREATE TABLE custom_fields (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    field_type TEXT NOT NULL,
    multi_valued BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name_lower)
);

CREATE TABLE admins (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_operator BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    token_jti TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, id);
