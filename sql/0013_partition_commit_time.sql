-- When a partition last committed rows (ingest.partitions.last_committed_at), set with every move of last_sequence:
-- a query over rollups leaves out its part for the rows after the watermark only for a partition rolled up to its
-- end and quiet for a while (grains/Query/RolledUpPartitions.cs). Rows committed before this column have none, and
-- count as quiet. A silo of the previous release leaves it as it was: its partitions look quiet, and a query that
-- relied on that is dropped and runs again, never answered wrong.
-- Idempotent: safe to run again.

ALTER TABLE ingest.partitions ADD COLUMN IF NOT EXISTS last_committed_at timestamptz;

CREATE OR REPLACE FUNCTION ingest.advance_partition(p_client_id text, p_object_model text, p_expected bigint, p_last bigint)
    RETURNS void
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE ingest.partitions SET last_sequence = p_last, last_committed_at = now()
    WHERE client_id = p_client_id AND object_model = p_object_model AND last_sequence = p_expected;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'partition %/% is no longer at sequence %', p_client_id, p_object_model, p_expected
            USING ERRCODE = 'serialization_failure';
    END IF;
END
$$;
