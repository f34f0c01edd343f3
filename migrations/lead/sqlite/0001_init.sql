-- Leads, their event log, consumed form-token nonces, idempotency records and counters.
-- Instants are BIGINT microseconds (UTC); enums are their proto numbers, so ordering by
-- the number is workflow order (status) or urgency (priority).

-- Counters (SQLite serializes writers, so a row is as good as a sequence).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('lead_uid', 0), ('assignment', 0), ('event_position', 0);

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
    dup_key           TEXT
);

CREATE INDEX leads_create_time ON leads (create_time, id);
CREATE INDEX leads_update_time ON leads (update_time, id);
CREATE INDEX leads_score ON leads (score, id);
CREATE INDEX leads_priority ON leads (priority, id);
CREATE INDEX leads_status ON leads (status, id);
CREATE INDEX leads_assignee ON leads (assignee, create_time, id);
CREATE INDEX leads_product ON leads (product_code, create_time, id);
CREATE INDEX leads_dup ON leads (product_code, dup_key, create_time) WHERE dup_key IS NOT NULL;

-- The transactional outbox; see the PostgreSQL migration for the position design.
CREATE TABLE lead_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    lead_id      TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    changes      TEXT NOT NULL,
    actor        TEXT NOT NULL,
    lead_version BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    position     BIGINT UNIQUE
);
CREATE INDEX lead_events_lead ON lead_events (lead_id, id);
CREATE INDEX lead_events_unsequenced ON lead_events (id) WHERE position IS NULL;

CREATE TABLE form_nonces (
    nonce       TEXT PRIMARY KEY,
    expire_time BIGINT NOT NULL
);
CREATE INDEX form_nonces_expire ON form_nonces (expire_time);

CREATE TABLE idempotency_keys (
    product_code TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    response     TEXT NOT NULL,
    create_time  BIGINT NOT NULL,
    PRIMARY KEY (product_code, idem_key)
);
CREATE INDEX idempotency_keys_create ON idempotency_keys (create_time);
