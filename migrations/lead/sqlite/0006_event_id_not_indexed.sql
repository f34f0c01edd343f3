-- Nothing to do on SQLite: dropping a column's UNIQUE needs a rebuild of the event table,
-- and SQLite's single writer, not index work, bounds its rate (PostgreSQL's 0006 drops the
-- index). Kept so both backends share the migration numbers.
SELECT 1;
