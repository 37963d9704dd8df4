DROP TABLE scope_settings;
DROP INDEX users_scope_updated;
ALTER TABLE users DROP COLUMN in_scope;
