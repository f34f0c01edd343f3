-- Nothing to do on SQLite: the event's row id is its position, so there is no sequencer
-- state (PostgreSQL's 0004 adds the sequencer's floor). Kept so both backends share the
-- migration numbers.
SELECT 1;
