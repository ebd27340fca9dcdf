-- Client configuration (time zone, selected KPIs, custom KPIs, data-source mappings) as one versioned
-- JSON document per client. Idempotent: safe to run again.

CREATE SCHEMA IF NOT EXISTS config;

CREATE TABLE IF NOT EXISTS config.clients
(
    client_id  text PRIMARY KEY,
    config     jsonb       NOT NULL,
    -- Optimistic concurrency: an update names the version it read and fails if it moved on.
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
