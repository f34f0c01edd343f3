-- One row per (product, duplicate key): the newest lead created under a MERGE or SUPPRESS
-- policy. A submission that creates a lead claims the key here in its own transaction,
-- and only when the holder is older than the product's duplicate window; two concurrent
-- submissions with the same key cannot both claim it (the second waits on the first's
-- row and then finds it fresh), so they cannot both create a lead.
CREATE TABLE dup_guards (
    product_code TEXT NOT NULL,
    dup_key      TEXT NOT NULL,
    lead_id      TEXT NOT NULL,
    create_time  BIGINT NOT NULL,
    PRIMARY KEY (product_code, dup_key)
);

INSERT INTO dup_guards (product_code, dup_key, lead_id, create_time)
SELECT DISTINCT ON (product_code, dup_key) product_code, dup_key, id, create_time
FROM leads
WHERE dup_key IS NOT NULL
ORDER BY product_code, dup_key, create_time DESC, id DESC;
