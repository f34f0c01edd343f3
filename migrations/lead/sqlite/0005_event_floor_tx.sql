-- Nothing to do on SQLite (see 0004): PostgreSQL's 0005 adds the floor's transaction id.
-- Kept so both backends share the migration numbers.
SELECT 1;
