-- Rollups per dimension value: the same partial states as query.term_rollups, per value of each field the catalog
-- marks as a dimension (FieldDefinition.Dimension: a carrier, a status, a region), so a drill-down by it reads whole
-- slots instead of raw rows. Written in the same statement and behind the same watermark as query.term_rollups
-- (grains/Query/TermRollups.cs); their coverage is in query.rollup_terms under an id of their own per term and
-- dimension (TermRollups.CoverageId). Idempotent: safe to run again.

-- value is the dimension's value as the query's drill-down keys it: '=' and the value as text, or '' for no value.
CREATE TABLE IF NOT EXISTS query.dimension_rollups
(
    client_id    text        NOT NULL,
    object_model text        NOT NULL,
    dimension    text        NOT NULL,
    term         bigint      NOT NULL,
    slot_minutes int         NOT NULL,
    slot_start   timestamptz NOT NULL,
    value        text        NOT NULL,
    sum          float8,
    count        bigint      NOT NULL DEFAULT 0,
    min          float8,
    max          float8,
    -- As for query.term_rollups: a run of slots of one term is read with an index-only scan.
    PRIMARY KEY (client_id, object_model, dimension, term, slot_minutes, slot_start, value) INCLUDE (sum, count, min, max)
);

-- The last sequence a coverage per dimension was rolled up through (TermRollups.CoverageId): a query counts it only
-- when it equals the partition's watermark, i.e. when no roll-up left that dimension out since. Null for terms.
ALTER TABLE query.rollup_terms ADD COLUMN IF NOT EXISTS covered_through bigint;
