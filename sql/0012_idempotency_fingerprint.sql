-- What request an idempotency key was first used for: the SHA-256 of the rows it stored (see
-- grains/Ingest/RequestFingerprint.cs). A request that reuses the key with other rows is refused instead of being
-- answered "replayed" while its rows are dropped. Keys recorded before this column have none, and match any request.
-- Idempotent: safe to run again.

ALTER TABLE ingest.idempotency_keys ADD COLUMN IF NOT EXISTS request_fingerprint bytea;
