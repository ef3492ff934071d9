-- Which master key seals the accounts: one more with every rotation. Every write of sealed
-- bytes names the generation it sealed with and is refused when it is no longer the stored
-- one (a process that kept the old key after another rotated it reloads the key instead of
-- sealing records nobody can open).
ALTER TABLE vault_header ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
