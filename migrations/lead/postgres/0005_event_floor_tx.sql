-- The highest transaction id among the events at or below `floor_id`, set by the repair
-- with the floor. The sequencer checks on every pass that no event above the floor carries
-- a transaction id this server has not handed out yet; with this bound that check is one
-- probe of the (tx_id, id) index instead of a walk over every copied event whose old-server
-- transaction id is still ahead of this server's.
ALTER TABLE event_sequencer ADD COLUMN floor_tx BIGINT NOT NULL DEFAULT 0;
