-- Rollups that outlive the rows they add up. Archival moves an event object's rows out of the active tables but keeps
-- their rollup slots until both retention horizons have passed, so a query over archived days reads those slots
-- instead of putting the rows back, wherever they are known to hold them (grains/Archive/ArchiveReadPlan.cs).
-- Idempotent: safe to run again.

-- The newest segment of its object model the client had archived when a coverage came to hold every row from row 1:
-- its rollups hold the rows of every later segment (archival moves only rows already rolled up), and miss those of
-- this one and earlier ones, which left before the coverage's passes could read them. Null while a coverage does not
-- start at row 1. Coverages that already did are taken to hold no archived segment so far: when they came to is not
-- known.
ALTER TABLE query.rollup_terms ADD COLUMN IF NOT EXISTS whole_after_segment bigint;
UPDATE query.rollup_terms AS c
SET whole_after_segment = (SELECT coalesce(max(s.segment_id), 0) FROM archive.segments AS s
                           WHERE s.client_id = c.client_id AND s.data_kind = 'source' AND s.source = c.object_model)
WHERE c.from_sequence = 1 AND c.whole_after_segment IS NULL;

-- Rollup slots of a client that start before this were deleted by an archival run (those older than both horizons):
-- a query over them reads the archived rows.
CREATE TABLE IF NOT EXISTS archive.rollups_deleted
(
    client_id text PRIMARY KEY,
    before    timestamptz NOT NULL
);
