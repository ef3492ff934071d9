-- The vault's recovery key (issue 20): a second way to the master key, for a machine whose
-- keyring entry is gone. `recovery_wrapped` is the master key sealed under a key derived
-- from the recovery key; `recovery_sealed` is that derived key sealed under the master key,
-- so a key rotation can wrap the new master key for the same recovery key without it.
ALTER TABLE vault_header ADD COLUMN recovery_wrapped BLOB;
ALTER TABLE vault_header ADD COLUMN recovery_sealed BLOB;
ALTER TABLE vault_header ADD COLUMN recovery_created_at TEXT;
