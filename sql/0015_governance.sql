-- Governance. The audit trail: one row per request that changed something or tried to (configuration, custom KPIs, ingest,
-- schedules, the demo feed), written by the gateway through the audit grain after the request ended, so rows come in
-- the order requests end; they are read by the time each came (at), then by id. Append-only: nothing in the engine
-- updates or deletes a row. Idempotent: safe to run again.

CREATE SCHEMA IF NOT EXISTS governance;

CREATE TABLE IF NOT EXISTS governance.audit_log
(
    entry_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    -- The token's subject (requests without a valid token are not recorded).
    actor      text        NOT NULL,
    roles      text[]      NOT NULL,
    -- The clients the request named, in its path, query or body.
    client_ids text[]      NOT NULL,
    -- Method and route pattern: 'PUT /clients/{clientId}'.
    action     text        NOT NULL,
    -- The request's path and query string.
    path       text        NOT NULL,
    status     integer     NOT NULL,
    trace_id   text,
    -- The JSON body of an accepted configuration change (at most 16 KB), as sent.
    body       text
);

CREATE INDEX IF NOT EXISTS audit_log_client_ids ON governance.audit_log USING gin (client_ids);
CREATE INDEX IF NOT EXISTS audit_log_at ON governance.audit_log (at DESC, entry_id DESC);
CREATE INDEX IF NOT EXISTS audit_log_actor ON governance.audit_log (actor, at DESC, entry_id DESC);

-- Review decisions on KPI values (GET/POST /clients/{clientId}/reviews): the latest decision per bucket, with the
-- value and event count it was made for; a bucket that changed since is pending again. Who decided what, and every
-- earlier decision, is in the audit trail.
CREATE TABLE IF NOT EXISTS governance.reviews
(
    client_id            text        NOT NULL,
    kpi_code             text        NOT NULL,
    -- 'minute', 'hour', 'day', 'week' or 'month'
    granularity          text        NOT NULL,
    bucket_start         timestamptz NOT NULL,
    -- 'approved' or 'rejected'
    decision             text        NOT NULL,
    notes                text,
    reviewer             text        NOT NULL,
    decided_at           timestamptz NOT NULL,
    reviewed_value       float8,
    reviewed_event_count bigint      NOT NULL,
    PRIMARY KEY (client_id, granularity, bucket_start, kpi_code)
);
