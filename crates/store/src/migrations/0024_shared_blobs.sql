-- Server mode: the files a queued run's trigger items carry (an email's attachments), put here
-- by the main that received them so that a worker on another machine can run with them. They
-- are content-addressed like the data folder's blob store and kept for a week.
CREATE TABLE shared_blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
