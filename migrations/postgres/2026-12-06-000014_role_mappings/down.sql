DROP TABLE user_effective_roles;
DROP TABLE role_mappings;
