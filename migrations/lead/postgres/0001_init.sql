-- Leads, their event log, consumed form-token nonces, idempotency records and counters.
-- Instants are BIGINT microseconds (UTC); enums are their proto numbers, so ordering by
-- the number is workflow order (status) or urgency (priority).

CREATE SEQUENCE lead_uid_seq;
-- Round-robin assignment cursor: a sequence, so concurrent submissions never queue on it.
CREATE SEQUENCE assignment_seq;

CREATE TABLE leads (
    id                TEXT PRIMARY KEY,
    lead_uid          TEXT NOT NULL UNIQUE,
    product_code      TEXT NOT NULL,
    status            BIGINT NOT NULL,
    priority          BIGINT NOT NULL,
    score             BIGINT NOT NULL,
    assignee          TEXT NOT NULL DEFAULT '',
    form_data         TEXT NOT NULL,
    config_hash       TEXT NOT NULL,
    scoring_version   BIGINT NOT NULL,
    lead_channel      BIGINT NOT NULL,
    lead_comment      TEXT NOT NULL DEFAULT '',
    document_metadata TEXT,
    score_breakdown   TEXT NOT NULL,
    version           BIGINT NOT NULL,
    create_time       BIGINT NOT NULL,
    update_time       BIGINT NOT NULL,
    -- SHA-256 of the product's duplicate-key fields; NULL when the product has none.
    dup_key           TEXT
);

-- One index per sort field (ties broken by id), plus the common filters.
CREATE INDEX leads_create_time ON leads (create_time, id);
CREATE INDEX leads_update_time ON leads (update_time, id);
CREATE INDEX leads_score ON leads (score, id);
CREATE INDEX leads_priority ON leads (priority, id);
CREATE INDEX leads_status ON leads (status, id);
CREATE INDEX leads_assignee ON leads (assignee, create_time, id);
CREATE INDEX leads_product ON leads (product_code, create_time, id);
CREATE INDEX leads_dup ON leads (product_code, dup_key, create_time) WHERE dup_key IS NOT NULL;

-- The transactional outbox. Writers insert with position NULL; the sequencer gives
-- committed rows their position later, in id order, so a consumer reading
-- `position > cursor` never skips a row that committed late.
CREATE TABLE lead_events (
    id           BIGSERIAL PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    lead_id      TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    -- The lead after the change (JSON).
    payload      TEXT NOT NULL,
    -- The field changes (JSON array).
    changes      TEXT NOT NULL,
    actor        TEXT NOT NULL,
    lead_version BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    position     BIGINT UNIQUE
);
CREATE INDEX lead_events_lead ON lead_events (lead_id, id);
CREATE INDEX lead_events_unsequenced ON lead_events (id) WHERE position IS NULL;

-- The sequencer's counter (one row).
CREATE TABLE event_sequencer (
    id            BIGINT PRIMARY KEY,
    last_position BIGINT NOT NULL
);
INSERT INTO event_sequencer (id, last_position) VALUES (1, 0);

-- Nonces of form tokens that made a lead; kept until the token expires.
CREATE TABLE form_nonces (
    nonce       TEXT PRIMARY KEY,
    expire_time BIGINT NOT NULL
);
CREATE INDEX form_nonces_expire ON form_nonces (expire_time);

-- First answers of submissions with an Idempotency-Key, scoped to the product.
CREATE TABLE idempotency_keys (
    product_code TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    response     TEXT NOT NULL,
    create_time  BIGINT NOT NULL,
    PRIMARY KEY (product_code, idem_key)
);
CREATE INDEX idempotency_keys_create ON idempotency_keys (create_time);
