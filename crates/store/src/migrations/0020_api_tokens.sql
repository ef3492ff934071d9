-- API tokens for the REST API `serve` answers at /api/v1 (issue 19). Only a SHA-256 of each
-- token is kept (tokens are 256 random bits, so a fast hash is enough); `prefix` is the
-- token's first characters, shown to tell tokens apart.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked_ms INTEGER
);
