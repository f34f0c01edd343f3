-- Products and their immutable configuration versions.
-- Instants are microseconds since the epoch (UTC); ids and JSON are TEXT.

CREATE TABLE products (
    id              TEXT PRIMARY KEY,
    -- Byte order ("C"), as on SQLite, so lists sort the same on both backends.
    product_code    TEXT COLLATE "C" NOT NULL UNIQUE,
    -- The latest version; bumped in the same transaction that inserts it.
    current_version BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- One row per stored version; never updated or deleted.
CREATE TABLE product_versions (
    product_id  TEXT NOT NULL REFERENCES products (id),
    version     BIGINT NOT NULL,
    -- RFC 8785 canonical JSON of the version's content (what config_hash covers).
    content     TEXT NOT NULL,
    -- Lowercase hex SHA-256 of content.
    config_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (product_id, version)
);

CREATE INDEX product_versions_by_hash ON product_versions (product_id, config_hash);
