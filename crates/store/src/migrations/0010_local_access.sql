-- What the user approved, when trusting an imported workflow, of the programs it runs and
-- the paths it reads and writes (JSON: [{"kind": "command", "pattern": "…"}]). NULL for
-- workflows made here: they are the user's own. A workflow with a list may run only what
-- is in it; anything else needs a new review.
ALTER TABLE workflows ADD COLUMN approved_access TEXT;
