DROP TABLE setup_sessions;
DROP TABLE setup_links;
