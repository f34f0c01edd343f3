-- Event ids are UUIDv7 made by the lead service itself, never supplied by a client and
-- never looked up by value (consumers follow positions; history reads by lead). The
-- UNIQUE index on them cost every event a random insert into a B-tree of 36-byte text
-- keys for nothing. Their uniqueness rests on UUIDv7 (48-bit time + 74 random bits).
ALTER TABLE lead_events DROP CONSTRAINT IF EXISTS lead_events_event_id_key;
