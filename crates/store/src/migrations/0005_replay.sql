-- Webhook replay protection: the keys of accepted signed deliveries (the verified HMAC, the
-- sender's delivery id), kept until they expire so a restart does not reopen replays.
CREATE TABLE webhook_replay (
    key            TEXT PRIMARY KEY,
    expires_at_ms  INTEGER NOT NULL
);
CREATE INDEX webhook_replay_by_expiry ON webhook_replay (expires_at_ms);
