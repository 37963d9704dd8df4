-- PostgreSQL gathers its own statistics (autovacuum/ANALYZE); the SQLite migration of the
-- same name seeds planner statistics by hand. Kept so both backends share version names.
SELECT 1;
