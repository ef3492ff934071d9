-- See ../0024_shared_blobs.sql.
CREATE TABLE shared_blobs (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    created_ms BIGINT NOT NULL
);
