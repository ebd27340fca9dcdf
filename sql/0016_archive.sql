-- Archival and retention. A client's retention policy (the answers of the proposal questionnaire's retention section)
-- and the index of its archived segments: gzip-compressed CSV files in cold storage, each holding the rows one archival
-- step moved out of an active table (one UTC day of one object model, or a set of batch runs). A segment's rows left
-- the active table in the transaction that recorded the segment. Idempotent: safe to run again.

CREATE SCHEMA IF NOT EXISTS archive;

CREATE TABLE IF NOT EXISTS archive.policies
(
    client_id  text PRIMARY KEY,
    -- The retention answers as sent (camelCase JSON of RetentionAnswers); the days they come to are derived again
    -- from them, so a rule that changes applies to every policy.
    answers    jsonb       NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text        NOT NULL
);

CREATE TABLE IF NOT EXISTS archive.segments
(
    segment_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id      text        NOT NULL,
    -- 'source' (rows of an object model) or 'analytics' (batch runs).
    data_kind      text        NOT NULL CHECK (data_kind IN ('source', 'analytics')),
    -- The object model's code, or 'batch_runs'.
    source         text        NOT NULL,
    -- The event times (scheduled times of batch runs) of its rows lie in [range_from, range_to).
    range_from     timestamptz NOT NULL,
    range_to       timestamptz NOT NULL,
    -- The rows' sequence numbers: which rows of the active table a restored segment put back.
    sequences      int8multirange,
    -- Of a snapshot object: the rows that replaced these are all older than this (the horizon they were archived at),
    -- so no bucket ending at or after it reads them.
    replaced_before timestamptz,
    row_count      bigint      NOT NULL,
    bytes          bigint      NOT NULL,
    sha256         text        NOT NULL,
    -- Where the file is, relative to the cold storage's root.
    location       text        NOT NULL UNIQUE,
    archived_at    timestamptz NOT NULL,
    -- Set while the segment's rows are back in the active table for queries; they leave it again after this.
    restored_until timestamptz
);

CREATE INDEX IF NOT EXISTS segments_by_client ON archive.segments (client_id, data_kind, source, range_from);

-- Until when queries (or replays) that the client's archive grain let read old rows may still be running. The grain
-- holds them in memory and ends them as they end; should it be lost with its silo, the next activation finds this time
-- and moves no rows out of the active tables before it.
CREATE TABLE IF NOT EXISTS archive.holds
(
    client_id  text PRIMARY KEY,
    held_until timestamptz NOT NULL
);
