-- Rollups for one-time queries: the partial state of KPI aggregate terms per client and UTC slot of 15 and 60
-- minutes, maintained by the engine in the ingest transaction (grains/Query/TermRollups.cs), so a query reads
-- whole slots from here and only the edges of its range from the raw rows, and is exact at every commit.
-- Idempotent: safe to run again.

CREATE SCHEMA IF NOT EXISTS query;

-- One row per (client, object model, term, slot). term 0 is the events term: count = rows, max = newest event time
-- in Unix microseconds. Other terms: the state the query compiler's SQL aggregates return (sum and count of the
-- non-null values, min, max), each under its FILTER.
CREATE TABLE IF NOT EXISTS query.term_rollups
(
    client_id    text        NOT NULL,
    object_model text        NOT NULL,
    term         bigint      NOT NULL,
    slot_minutes int         NOT NULL,
    slot_start   timestamptz NOT NULL,
    sum          float8,
    count        bigint      NOT NULL DEFAULT 0,
    min          float8,
    max          float8,
    -- The state rides in the key's index, so a query reads a run of slots with an index-only scan instead of
    -- visiting a heap page per slot (the rows of one term are spread over pages by the order slots were written).
    PRIMARY KEY (client_id, object_model, term, slot_minutes, slot_start) INCLUDE (sum, count, min, max)
);

-- Which terms are rolled up for a partition, and from which sequence on. The query path reads a term's rollups only
-- when from_sequence is 1 (every row of the partition is in them); TermRollups.RebuildAsync brings an older
-- partition there.
CREATE TABLE IF NOT EXISTS query.rollup_terms
(
    client_id     text   NOT NULL,
    object_model  text   NOT NULL,
    term          bigint NOT NULL,
    state_key     text   NOT NULL,
    from_sequence bigint NOT NULL,
    PRIMARY KEY (client_id, object_model, term)
);
