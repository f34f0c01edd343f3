-- The sequencer ignores events at or below `floor_id` (lead_events.id). Set only by
-- `lms admin repair-event-positions` after a logical copy to another server: events
-- copied from the old server carry that server's transaction ids, which are not
-- comparable with the new one's; the repair numbers them all and raises the floor above
-- them instead of rewriting every event row.
ALTER TABLE event_sequencer ADD COLUMN floor_id BIGINT NOT NULL DEFAULT 0;
