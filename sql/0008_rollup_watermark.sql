-- Rollups behind a watermark: the ingest grain rolls up a partition's committed rows a few seconds after they commit,
-- many batches at a time, instead of in every ingest transaction. ingest.partitions.rolled_up_through is the last
-- sequence whose row is in query.term_rollups; a query reads rollups for the rows up to it and raw rows for the rest.
-- Idempotent: safe to run again.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = 'ingest' AND table_name = 'partitions' AND column_name = 'rolled_up_through') THEN
        ALTER TABLE ingest.partitions ADD COLUMN rolled_up_through bigint NOT NULL DEFAULT 0;
        -- Until now every ingest transaction wrote its rows' rollups: each partition is rolled up to its end.
        UPDATE ingest.partitions SET rolled_up_through = last_sequence;
    END IF;
END
$$;
