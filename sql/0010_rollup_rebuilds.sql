-- Rollups rebuilt by the engine (grains/Ingest/IngestGrain.cs, TermRollups.ResetAsync): a partition whose rollups miss
-- rows for a term or dimension of the running release empties them and rolls every row up again. Every coverage in
-- query.rollup_terms now records the last sequence it was rolled up through (covered_through), terms as well as
-- dimensions: a query counts a coverage only where that equals the partition's watermark. Idempotent: safe to run
-- again.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = 'ingest' AND table_name = 'partitions' AND column_name = 'rollups_reset_at') THEN
        -- When the partition's rollups were last emptied to be rebuilt: rebuilds are spaced out by it, so two
        -- releases that roll up different terms side by side (a rolling deploy) do not rebuild over and over.
        ALTER TABLE ingest.partitions ADD COLUMN rollups_reset_at timestamptz;
        -- Until now a term's coverage did not record covered_through (null): the engine counted it through the
        -- watermark, and so does this update, once.
        UPDATE query.rollup_terms AS c SET covered_through = p.rolled_up_through
        FROM ingest.partitions AS p
        WHERE c.covered_through IS NULL AND p.client_id = c.client_id AND p.object_model = c.object_model;
    END IF;
END
$$;
