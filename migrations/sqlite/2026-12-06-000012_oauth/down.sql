DROP INDEX tokens_oauth_client;
ALTER TABLE tokens DROP COLUMN oauth_grant;
ALTER TABLE tokens DROP COLUMN oauth_client;
DROP TABLE oauth_assertions;
DROP TABLE oauth_refresh_tokens;
DROP TABLE oauth_codes;
DROP TABLE oauth_grants;
DROP TABLE oauth_client_secrets;
DROP TABLE oauth_clients;
