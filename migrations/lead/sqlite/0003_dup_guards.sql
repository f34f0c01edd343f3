-- One row per (product, duplicate key): the newest lead created under a MERGE or SUPPRESS
-- policy. A submission that creates a lead claims the key here in its own transaction,
-- and only when the holder is older than the product's duplicate window, so two
-- submissions with the same key cannot both create a lead.
CREATE TABLE dup_guards (
    product_code TEXT NOT NULL,
    dup_key      TEXT NOT NULL,
    lead_id      TEXT NOT NULL,
    create_time  BIGINT NOT NULL,
    PRIMARY KEY (product_code, dup_key)
);

INSERT INTO dup_guards (product_code, dup_key, lead_id, create_time)
SELECT product_code, dup_key, id, create_time
FROM (SELECT product_code, dup_key, id, create_time,
             ROW_NUMBER() OVER (PARTITION BY product_code, dup_key
                                ORDER BY create_time DESC, id DESC) AS rn
      FROM leads WHERE dup_key IS NOT NULL)
WHERE rn = 1;
