-- Advances a partition whose writer already knows where it ends, in the statement sent together with COMMIT.
-- Idempotent: safe to run again.

-- Moves ingest.partitions.last_sequence from p_expected to p_last, or fails with serialization_failure when
-- the partition is not at p_expected (another writer committed in between, or the row is gone): the caller's
-- transaction then rolls back with its rows, and the caller numbers the batch again from the locked row.
CREATE OR REPLACE FUNCTION ingest.advance_partition(p_client_id text, p_object_model text, p_expected bigint, p_last bigint)
    RETURNS void
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE ingest.partitions SET last_sequence = p_last
    WHERE client_id = p_client_id AND object_model = p_object_model AND last_sequence = p_expected;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'partition %/% is no longer at sequence %', p_client_id, p_object_model, p_expected
            USING ERRCODE = 'serialization_failure';
    END IF;
END
$$;
