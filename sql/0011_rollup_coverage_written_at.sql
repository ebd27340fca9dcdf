-- When a roll-up or backfill last wrote each coverage (grains/Query/TermRollups.cs): the rollups of a term or
-- dimension that no release has written for a while (a custom KPI removed, a term of the catalog an earlier release
-- had) are dropped by TermRollups.DropAbandonedAsync. Coverages recorded before this column get the time it was
-- added, so none is taken for abandoned before a full wait. Idempotent: safe to run again.

ALTER TABLE query.rollup_terms ADD COLUMN IF NOT EXISTS written_at timestamptz NOT NULL DEFAULT now();
