-- Event positions without rewriting events. Until now the sequencer gave each committed
-- event its position with an UPDATE of the event row: a second copy of a wide row and
-- new entries in all of its indexes, as much work again as the insert. From here on:
--
-- * every event records the id of the transaction that wrote it (`tx_id`, the xid8 of
--   `pg_current_xact_id()` as a number);
-- * the sequencer numbers events in (tx_id, id) order, and only those whose transaction
--   is older than the oldest transaction still running (`pg_snapshot_xmin`). Such a
--   transaction can no longer add rows, so nothing can later appear before a numbered
--   event: a consumer reading `position > cursor` never skips one;
-- * positions live in a narrow table of their own, written in batches.
--
-- The price: while a transaction that began writing earlier is still open (anywhere on
-- the server), later events wait for it. Read-only transactions do not hold it back.

-- No writer may slip in between numbering the remaining events and the new scheme.
LOCK TABLE lead_events IN EXCLUSIVE MODE;

-- Finish what the old sequencer had not reached, in its order (id).
UPDATE lead_events SET position = s.last_position + p.rn
FROM event_sequencer s,
     (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn
      FROM lead_events WHERE position IS NULL) AS p
WHERE lead_events.id = p.id AND s.id = 1;

CREATE TABLE event_positions (
    position  BIGINT PRIMARY KEY,
    -- lead_events.id
    event_row BIGINT NOT NULL
);
INSERT INTO event_positions (position, event_row)
SELECT position, id FROM lead_events WHERE position IS NOT NULL;

-- Existing events get tx_id 0, below the sequencer's watermark set next; new ones get
-- their writer's transaction id.
ALTER TABLE lead_events ADD COLUMN tx_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE lead_events
    ALTER COLUMN tx_id SET DEFAULT (pg_current_xact_id()::text::bigint);
DROP INDEX lead_events_unsequenced;
ALTER TABLE lead_events DROP COLUMN position;
CREATE INDEX lead_events_tx ON lead_events (tx_id, id);

-- The sequencer's watermark: the (tx_id, id) of the last event it numbered.
ALTER TABLE event_sequencer
    ADD COLUMN last_tx BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN last_id BIGINT NOT NULL DEFAULT 0;
UPDATE event_sequencer
SET last_position = (SELECT COALESCE(MAX(position), 0) FROM event_positions),
    last_tx = 0,
    last_id = (SELECT COALESCE(MAX(id), 0) FROM lead_events)
WHERE id = 1;
