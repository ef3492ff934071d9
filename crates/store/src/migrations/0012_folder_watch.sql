-- What each Folder Trigger saw: the matching files with their size and modification time
-- (milliseconds). Kept across restarts so that a watch starting again can report what was
-- added, changed or removed while nothing watched. A row with an empty path marks a watch
-- that ran (so a first watch reports nothing as missed).
CREATE TABLE folder_files (
    workflow_id TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, node_id, path)
);
