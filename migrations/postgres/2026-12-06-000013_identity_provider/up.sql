-- The identity provider a tenant's admin chose on the token page (entra, okta, onelogin,
-- jumpcloud, pingone, other): the page shows that product's setup guide. NULL: not chosen yet.
ALTER TABLE tenants ADD COLUMN identity_provider TEXT;
