-- Orleans grain persistence for Microsoft.Orleans.Persistence.AdoNet (Invariant "Npgsql").
--
-- The provider ships no SQL. At start it runs, unqualified,
--     SELECT QueryKey, QueryText FROM OrleansQuery WHERE QueryKey IN (...)
-- so the query catalogue must be reachable through the default search_path (public). Each QueryText is
-- then executed with these named parameters (DbType in brackets):
--     @GrainIdHash [Int32]       hash of the grain key           @GrainTypeHash [Int32]   hash of @GrainTypeString
--     @GrainIdN0, @GrainIdN1 [Int64]  Guid halves, or 0 and the integer key, or 0,0 for string keys
--     @GrainIdExtensionString [String, nullable]  the string key, or the key extension of a Guid/integer key
--     @GrainTypeString [String]  the state name, i.e. the first argument of [PersistentState("kpi", ...)],
--                                not the grain class: grain classes that share a state name and a storage
--                                provider share rows whenever their keys coincide, so name states distinctly
--     @ServiceId [String]        ClusterOptions.ServiceId
--     @GrainStateVersion [Int32, nullable]  the caller's ETag; null when it believes no row exists
--     @PayloadBinary [Binary]    serialized state (write only)
-- and is expected to answer:
--     ReadFromStorageKey   zero or one row with columns "PayloadBinary" and "Version"; a row whose payload
--                          is null means "cleared": no record, but its version is still the ETag to use.
--     WriteToStorageKey    exactly one row with column "NewGrainStateVersion": the new version, or NULL when
--                          the ETag did not match (the provider turns NULL into InconsistentStateException).
--     ClearStorageKey      exactly one row, first column = new version, NULL on ETag mismatch.
--     DeleteStorageKey     (used only with DeleteStateOnClear = true) same shape as ClearStorageKey.
--
-- Everything but the catalogue lives in schema "orleans" so that product tables stay apart.
-- Idempotent: safe to run again on a database that already has it.

CREATE SCHEMA IF NOT EXISTS orleans;

-- The query catalogue shared by all Orleans ADO.NET providers (the reminders migration adds its rows).
-- Unquoted names fold to lower case, which is what the providers' unquoted SELECT finds.
CREATE TABLE IF NOT EXISTS public.orleansquery
(
    querykey  varchar(64) NOT NULL PRIMARY KEY,
    querytext text        NOT NULL
);

CREATE TABLE IF NOT EXISTS orleans.grain_state
(
    grain_id_hash      integer     NOT NULL,
    grain_type_hash    integer     NOT NULL,
    service_id         text        NOT NULL,
    grain_type         text        NOT NULL,
    grain_id_n0        bigint      NOT NULL,
    grain_id_n1        bigint      NOT NULL,
    -- NULL for plain Guid/integer keys; the whole key for string-keyed grains.
    grain_id_extension text,
    -- NULL after a clear: the row stays so that its version keeps growing and stale ETags keep failing.
    payload            bytea,
    version            integer     NOT NULL,
    modified_at        timestamptz NOT NULL DEFAULT now()
)
-- State is rewritten in place on every checkpoint; free room on each page lets PostgreSQL do that as a
-- heap-only update without touching the index.
WITH (fillfactor = 80);

-- One row per (service, state, grain). The two hashes lead so that the index is narrow and selective;
-- the free-text parts enter as md5 because a B-tree entry may not exceed ~2.7 kB and string keys are
-- unbounded. NULLS NOT DISTINCT (PostgreSQL 15) makes a missing key extension count as one value.
CREATE UNIQUE INDEX IF NOT EXISTS grain_state_identity
    ON orleans.grain_state (grain_id_hash, grain_type_hash, service_id, grain_id_n0, grain_id_n1,
                            md5(grain_type), md5(grain_id_extension))
    NULLS NOT DISTINCT;

-- Versions are int because the provider parses ETags with int.Parse; wrap instead of overflowing.
CREATE OR REPLACE FUNCTION orleans.next_version(current_version integer)
    RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN current_version >= 2147483647 THEN 1 ELSE current_version + 1 END $$;

CREATE OR REPLACE FUNCTION orleans.write_grain_state(
    p_grain_id_hash integer, p_grain_id_n0 bigint, p_grain_id_n1 bigint,
    p_grain_type_hash integer, p_grain_type text, p_grain_id_extension text,
    p_service_id text, p_expected_version integer, p_payload bytea)
    RETURNS integer
    LANGUAGE plpgsql
AS $$
DECLARE
    new_version integer;
BEGIN
    IF p_expected_version IS NULL THEN
        -- The caller has never seen a row: create it, unless someone else already has (a conflict).
        INSERT INTO orleans.grain_state AS s
            (grain_id_hash, grain_type_hash, service_id, grain_type, grain_id_n0, grain_id_n1,
             grain_id_extension, payload, version)
        VALUES (p_grain_id_hash, p_grain_type_hash, p_service_id, p_grain_type, p_grain_id_n0, p_grain_id_n1,
                p_grain_id_extension, p_payload, 1)
        ON CONFLICT DO NOTHING
        RETURNING s.version INTO new_version;
    ELSE
        UPDATE orleans.grain_state AS s
           SET payload = p_payload,
               version = orleans.next_version(s.version),
               modified_at = now()
         WHERE s.grain_id_hash = p_grain_id_hash
           AND s.grain_type_hash = p_grain_type_hash
           AND s.service_id = p_service_id
           AND s.grain_id_n0 = p_grain_id_n0
           AND s.grain_id_n1 = p_grain_id_n1
           AND s.grain_type = p_grain_type
           AND s.grain_id_extension IS NOT DISTINCT FROM p_grain_id_extension
           AND s.version = p_expected_version
        RETURNING s.version INTO new_version;
    END IF;
    RETURN new_version; -- NULL when nothing matched: an ETag conflict
END
$$;

CREATE OR REPLACE FUNCTION orleans.clear_grain_state(
    p_grain_id_hash integer, p_grain_id_n0 bigint, p_grain_id_n1 bigint,
    p_grain_type_hash integer, p_grain_type text, p_grain_id_extension text,
    p_service_id text, p_expected_version integer)
    RETURNS integer
    LANGUAGE sql
AS $$
    UPDATE orleans.grain_state AS s
       SET payload = NULL,
           version = orleans.next_version(s.version),
           modified_at = now()
     WHERE s.grain_id_hash = p_grain_id_hash
       AND s.grain_type_hash = p_grain_type_hash
       AND s.service_id = p_service_id
       AND s.grain_id_n0 = p_grain_id_n0
       AND s.grain_id_n1 = p_grain_id_n1
       AND s.grain_type = p_grain_type
       AND s.grain_id_extension IS NOT DISTINCT FROM p_grain_id_extension
       AND s.version = p_expected_version
    RETURNING s.version
$$;

-- Removes the row outright (DeleteStateOnClear = true). Answers the version the row would have had next,
-- which differs from the caller's ETag, so the provider sees success; NULL means an ETag conflict.
CREATE OR REPLACE FUNCTION orleans.delete_grain_state(
    p_grain_id_hash integer, p_grain_id_n0 bigint, p_grain_id_n1 bigint,
    p_grain_type_hash integer, p_grain_type text, p_grain_id_extension text,
    p_service_id text, p_expected_version integer)
    RETURNS integer
    LANGUAGE sql
AS $$
    DELETE FROM orleans.grain_state AS s
     WHERE s.grain_id_hash = p_grain_id_hash
       AND s.grain_type_hash = p_grain_type_hash
       AND s.service_id = p_service_id
       AND s.grain_id_n0 = p_grain_id_n0
       AND s.grain_id_n1 = p_grain_id_n1
       AND s.grain_type = p_grain_type
       AND s.grain_id_extension IS NOT DISTINCT FROM p_grain_id_extension
       AND s.version = p_expected_version
    RETURNING orleans.next_version(s.version)
$$;

-- The catalogue entries. Column aliases are quoted because the provider looks them up by these names.
INSERT INTO public.orleansquery (querykey, querytext) VALUES
('ReadFromStorageKey', $q$
SELECT s.payload AS "PayloadBinary", s.version AS "Version"
  FROM orleans.grain_state AS s
 WHERE s.grain_id_hash = @GrainIdHash
   AND s.grain_type_hash = @GrainTypeHash
   AND s.service_id = @ServiceId
   AND s.grain_id_n0 = @GrainIdN0
   AND s.grain_id_n1 = @GrainIdN1
   AND s.grain_type = @GrainTypeString
   AND s.grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString
$q$),
('WriteToStorageKey', $q$
SELECT orleans.write_grain_state(@GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString,
                                 @GrainIdExtensionString, @ServiceId, @GrainStateVersion, @PayloadBinary)
       AS "NewGrainStateVersion"
$q$),
('ClearStorageKey', $q$
SELECT orleans.clear_grain_state(@GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString,
                                 @GrainIdExtensionString, @ServiceId, @GrainStateVersion)
       AS "NewGrainStateVersion"
$q$),
('DeleteStorageKey', $q$
SELECT orleans.delete_grain_state(@GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString,
                                  @GrainIdExtensionString, @ServiceId, @GrainStateVersion)
       AS "NewGrainStateVersion"
$q$)
ON CONFLICT (querykey) DO UPDATE SET querytext = EXCLUDED.querytext;
