ALTER TABLE tenants DROP COLUMN identity_provider;
