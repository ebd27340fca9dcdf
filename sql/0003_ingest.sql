-- Ingest bookkeeping: per (client, object model) sequence numbers and idempotent batch results.
-- The object-model data tables themselves come in their own migrations.
-- Idempotent: safe to run again.

CREATE SCHEMA IF NOT EXISTS ingest;

-- The last sequence number handed out per partition: every committed event gets the next one, which is
-- what grains use as their watermark to detect gaps and catch up from the database.
CREATE TABLE IF NOT EXISTS ingest.partitions
(
    client_id     text   NOT NULL,
    object_model  text   NOT NULL,
    last_sequence bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (client_id, object_model)
);

-- A retried request with the same key gets the first attempt's answer instead of committing twice.
CREATE TABLE IF NOT EXISTS ingest.idempotency_keys
(
    client_id       text NOT NULL,
    object_model    text NOT NULL,
    idempotency_key text NOT NULL,
    from_sequence   bigint,
    to_sequence     bigint,
    result          jsonb,
    created_at      timestamptz DEFAULT now(),
    PRIMARY KEY (client_id, object_model, idempotency_key)
);

-- Lets expiry of old keys run without scanning the table.
CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON ingest.idempotency_keys (created_at);

-- Whether the TimescaleDB extension is installed in this database. Later migrations branch on it
-- (hypertables and continuous aggregates with it, native partitioning and rollup tables without).
CREATE OR REPLACE FUNCTION public.ae_has_timescaledb()
    RETURNS boolean
    LANGUAGE sql STABLE
AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'timescaledb') $$;
