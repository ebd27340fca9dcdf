-- Orleans reminders for Microsoft.Orleans.Reminders.AdoNet (Invariant "Npgsql").
--
-- The provider loads every row of OrleansQuery (created by 0001) and uses these keys with these
-- named parameters (DbType in brackets):
--     @ServiceId [String]  @GrainId [AnsiString: GrainId.ToString(), e.g. "type/key"]  @ReminderName [String]
--     @GrainHash, @BeginHash, @EndHash [Int32: the uint ring hash cast to int, so negative values occur]
--     @StartTime [DateTime, UTC]  @Period [Int32 or Int64 milliseconds]  @Version [Int32]
-- Rows are read by column name: "GrainId", "ReminderName", "StartTime", "Period", "Version".
--     ReadReminderRowsKey    all reminders of one grain
--     ReadReminderRowKey     one reminder (zero or one row)
--     ReadRangeRows1Key      ring range (BeginHash, EndHash] when BeginHash < EndHash as signed ints
--     ReadRangeRows2Key      the wrapping range: above BeginHash or up to EndHash
--     UpsertReminderRowKey   one row with column "Version": the reminder's new version
--     DeleteReminderRowKey   one row with a single boolean column: true if that version was deleted
--     DeleteReminderRowsKey  every reminder of the service (used by tests)
-- Idempotent: safe to run again.

CREATE SCHEMA IF NOT EXISTS orleans;

CREATE TABLE IF NOT EXISTS orleans.reminders
(
    service_id    text        NOT NULL,
    grain_id      text        NOT NULL,
    reminder_name text        NOT NULL,
    start_time    timestamptz NOT NULL,
    period_ms     bigint      NOT NULL,
    grain_hash    integer     NOT NULL,
    version       integer     NOT NULL,
    CONSTRAINT reminders_pkey PRIMARY KEY (service_id, grain_id, reminder_name)
);

-- Each silo reads the reminders of its slice of the hash ring.
CREATE INDEX IF NOT EXISTS reminders_by_ring_position ON orleans.reminders (service_id, grain_hash);

CREATE OR REPLACE FUNCTION orleans.upsert_reminder(
    p_service_id text, p_grain_hash integer, p_grain_id text, p_reminder_name text,
    p_start_time timestamptz, p_period_ms bigint)
    RETURNS integer
    LANGUAGE sql
AS $$
    INSERT INTO orleans.reminders AS r
        (service_id, grain_id, reminder_name, start_time, period_ms, grain_hash, version)
    VALUES (p_service_id, p_grain_id, p_reminder_name, p_start_time, p_period_ms, p_grain_hash, 1)
    ON CONFLICT ON CONSTRAINT reminders_pkey DO UPDATE
        SET start_time = EXCLUDED.start_time,
            period_ms  = EXCLUDED.period_ms,
            grain_hash = EXCLUDED.grain_hash,
            version    = CASE WHEN r.version >= 2147483647 THEN 1 ELSE r.version + 1 END
    RETURNING r.version
$$;

CREATE OR REPLACE FUNCTION orleans.delete_reminder(
    p_service_id text, p_grain_id text, p_reminder_name text, p_version integer)
    RETURNS boolean
    LANGUAGE sql
AS $$
    WITH deleted AS (
        DELETE FROM orleans.reminders AS r
         WHERE r.service_id = p_service_id
           AND r.grain_id = p_grain_id
           AND r.reminder_name = p_reminder_name
           AND r.version = p_version
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM deleted)
$$;

INSERT INTO public.orleansquery (querykey, querytext) VALUES
('ReadReminderRowsKey', $q$
SELECT r.grain_id AS "GrainId", r.reminder_name AS "ReminderName", r.start_time AS "StartTime",
       r.period_ms AS "Period", r.version AS "Version"
  FROM orleans.reminders AS r
 WHERE r.service_id = @ServiceId
   AND r.grain_id = @GrainId
$q$),
('ReadReminderRowKey', $q$
SELECT r.grain_id AS "GrainId", r.reminder_name AS "ReminderName", r.start_time AS "StartTime",
       r.period_ms AS "Period", r.version AS "Version"
  FROM orleans.reminders AS r
 WHERE r.service_id = @ServiceId
   AND r.grain_id = @GrainId
   AND r.reminder_name = @ReminderName
$q$),
('ReadRangeRows1Key', $q$
SELECT r.grain_id AS "GrainId", r.reminder_name AS "ReminderName", r.start_time AS "StartTime",
       r.period_ms AS "Period", r.version AS "Version"
  FROM orleans.reminders AS r
 WHERE r.service_id = @ServiceId
   AND r.grain_hash > @BeginHash
   AND r.grain_hash <= @EndHash
$q$),
('ReadRangeRows2Key', $q$
SELECT r.grain_id AS "GrainId", r.reminder_name AS "ReminderName", r.start_time AS "StartTime",
       r.period_ms AS "Period", r.version AS "Version"
  FROM orleans.reminders AS r
 WHERE r.service_id = @ServiceId
   AND (r.grain_hash > @BeginHash OR r.grain_hash <= @EndHash)
$q$),
('UpsertReminderRowKey', $q$
SELECT orleans.upsert_reminder(@ServiceId, @GrainHash, @GrainId, @ReminderName, @StartTime, @Period) AS "Version"
$q$),
('DeleteReminderRowKey', $q$
SELECT orleans.delete_reminder(@ServiceId, @GrainId, @ReminderName, @Version) AS "Deleted"
$q$),
('DeleteReminderRowsKey', $q$
DELETE FROM orleans.reminders WHERE service_id = @ServiceId
$q$)
ON CONFLICT (querykey) DO UPDATE SET querytext = EXCLUDED.querytext;
