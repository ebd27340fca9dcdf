-- Scheduled batch jobs (mode 3): a listing of jobs and every run with its results. The jobs' definitions and status
-- live in Orleans grain storage (orleans.grain_state, state "batch-job"), which stays the authority; batch.jobs is
-- the grains' projection for listing without activating them. Idempotent: safe to run again.

CREATE SCHEMA IF NOT EXISTS batch;

CREATE TABLE IF NOT EXISTS batch.jobs
(
    job_id     text PRIMARY KEY,
    client_id  text        NOT NULL,
    -- 'scheduled' or 'unscheduled'
    status     text        NOT NULL,
    -- The job as GET /batch/jobs shows it (definition, next run, last run), camelCase JSON.
    info       jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS jobs_client_created ON batch.jobs (client_id, created_at DESC);

CREATE TABLE IF NOT EXISTS batch.runs
(
    job_id        text        NOT NULL,
    run_id        bigint      NOT NULL,
    client_id     text        NOT NULL,
    -- 'schedule' or 'manual'
    trigger       text        NOT NULL,
    -- 'running', 'succeeded' or 'failed'
    status        text        NOT NULL,
    -- When the run was due; [range_from, range_to) is relative to it.
    scheduled_for timestamptz NOT NULL,
    range_from    timestamptz NOT NULL,
    range_to      timestamptz NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    error         text,
    -- One KpiQueryResult per KPI, the shape POST /calculate answers, camelCase JSON.
    results       jsonb,
    PRIMARY KEY (job_id, run_id)
);

CREATE INDEX IF NOT EXISTS runs_client_started ON batch.runs (client_id, started_at DESC);
