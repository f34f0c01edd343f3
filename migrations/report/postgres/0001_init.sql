-- Where this service's consumer of LeadService.StreamEvents stands; updated in the same
-- transaction as the effect of each event so a restart resumes exactly where it stopped.
CREATE TABLE stream_cursor (
    stream     TEXT PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
