-- OAuth 2.0 clients of a tenant (RFC 6749): the identity provider authenticates with a client
-- id and a secret (or a signed assertion, RFC 7523, with a key registered here) at the token
-- endpoint, and gets short-lived access tokens. Secrets are high-entropy: only their SHA-256
-- is kept. A client has up to two live secrets, so that one can replace the other.
CREATE TABLE oauth_clients (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    label TEXT NOT NULL,
    -- JSON array of the redirect URIs the authorization-code grant may send the code to.
    redirect_uris TEXT NOT NULL,
    -- JSON Web Key Set (RFC 7517) of the keys that sign its client assertions, if any.
    jwks TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX oauth_clients_client_id ON oauth_clients (client_id);
CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id, created_at);

CREATE TABLE oauth_client_secrets (
    id TEXT PRIMARY KEY NOT NULL,
    client_ref TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX oauth_client_secrets_client ON oauth_client_secrets (client_ref);

-- An authorization-code grant: a tenant admin approved the client's access on the authorize
-- page. Revoking it ends its access and refresh tokens.
CREATE TABLE oauth_grants (
    id TEXT PRIMARY KEY NOT NULL,
    client_ref TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    approved_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX oauth_grants_client ON oauth_grants (client_ref);

-- Authorization codes (one use, minutes long) and refresh tokens (rotating: each is used
-- once); only hashes are kept.
CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    redirect_uri_sent BOOLEAN NOT NULL,
    code_challenge TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oauth_codes_grant ON oauth_codes (grant_id);

CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id);

-- The `jti`s of client assertions already accepted, until they expire: an assertion is good once.
CREATE TABLE oauth_assertions (
    client_ref TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_ref, jti)
);

-- An access token is a bearer token like a Secret Token (the same check on every request),
-- tied to the client (and grant) that obtained it: revoking either revokes it.
ALTER TABLE tokens ADD COLUMN oauth_client TEXT;
ALTER TABLE tokens ADD COLUMN oauth_grant TEXT;
CREATE INDEX tokens_oauth_client ON tokens (oauth_client, expires_at);
