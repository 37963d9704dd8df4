-- SQLite plans without statistics until ANALYZE runs, and on an empty database it would
-- pick the (tenant_id, …) indexes for `id IN (…)` lookups, scanning a whole tenant per
-- match query. These hand-written statistics (allowed by SQLite, see "The sqlite_stat1
-- table") describe the shape scimd is built for: large tenants, unique ids and mails.
ANALYZE sqlite_schema;
DELETE FROM sqlite_stat1;
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('users', 'sqlite_autoindex_users_1', '1000000 1'),
    ('users', 'users_live_user_name', '1000000 100000 1'),
    ('users', 'users_live_identity_mail', '1000000 100000 1'),
    ('users', 'users_external_id', '1000000 100000 1'),
    ('users', 'users_display_name', '1000000 100000 2'),
    ('users', 'users_created', '1000000 100000 1 1'),
    ('users', 'users_updated', '1000000 100000 1'),
    ('users', 'users_deleted', '1000 1'),
    ('user_emails', 'sqlite_autoindex_user_emails_1', '1200000 2 1'),
    ('user_emails', 'user_emails_value', '1200000 120000 1'),
    ('groups', 'sqlite_autoindex_groups_1', '100000 1'),
    ('groups', 'groups_display_name', '100000 10000 1'),
    ('groups', 'groups_external_id', '100000 10000 1'),
    ('group_members', 'sqlite_autoindex_group_members_1', '1000000 100 1'),
    ('group_members', 'group_members_member', '1000000 5'),
    ('tokens', 'sqlite_autoindex_tokens_1', '10000 1'),
    ('tokens', 'tokens_tenant', '10000 10 1'),
    ('events', 'events_tenant', '10000000 1000000 1');
