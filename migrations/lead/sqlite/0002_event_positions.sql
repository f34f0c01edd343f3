-- Event positions are the events' own ids from here on. SQLite runs one write
-- transaction at a time and `lead_events.id` is AUTOINCREMENT (never reused), so ids are
-- assigned in commit order and a reader that sees id N sees every committed id below it:
-- the id is already a gapless, skip-free position. The old sequencer numbered events in
-- id order from 1, so the positions consumers hold as cursors are these same ids.
-- The table is rebuilt without its `position` column (SQLite cannot drop a UNIQUE one).

CREATE TABLE lead_events_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    lead_id      TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    changes      TEXT NOT NULL,
    actor        TEXT NOT NULL,
    lead_version BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
INSERT INTO lead_events_new
    (id, event_id, lead_id, event_type, payload, changes, actor, lead_version, created_at)
SELECT id, event_id, lead_id, event_type, payload, changes, actor, lead_version, created_at
FROM lead_events ORDER BY id;
DROP TABLE lead_events;
ALTER TABLE lead_events_new RENAME TO lead_events;
CREATE INDEX lead_events_lead ON lead_events (lead_id, id);

DELETE FROM counters WHERE name = 'event_position';
