-- The credential vault. Secrets are sealed by crates/vault (AES-256-GCM) before they reach
-- this database: `sealed` columns hold version || nonce || ciphertext || tag, never plaintext.

-- One row: how the master key is kept and a sealed check value that proves a key is right.
CREATE TABLE vault_header (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    vault_id    TEXT NOT NULL,
    -- "keyring" or "password"
    key_source  TEXT NOT NULL,
    -- Which keyring entry holds the key (changes on rotation).
    key_id      TEXT NOT NULL,
    -- Argon2id parameters and salt (JSON) and the wrapped key, for key_source = password.
    kdf         TEXT,
    wrapped_key BLOB,
    check_value BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Accounts: one user's credentials for one connection type, by label.
CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    connection_type TEXT NOT NULL,
    label           TEXT NOT NULL,
    is_default      INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL,
    sealed          BLOB NOT NULL,
    token_expires_at TEXT,
    last_test       TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (connection_type, label)
);
