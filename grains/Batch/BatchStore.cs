using System.Text.Json;
using AnalyticsEngine.Query;
using Npgsql;
using NpgsqlTypes;

namespace AnalyticsEngine.Batch;

/// <summary>
/// The tables of scheduled batches (sql/0006): <c>batch.jobs</c>, a listing of every job written by its grain on
/// each change (the grain's storage stays the authority), and <c>batch.runs</c>, one row per run with its results.
/// </summary>
public sealed class BatchStore(NpgsqlDataSource dataSource)
{
    /// <summary>How jobs and results are stored as jsonb.</summary>
    internal static readonly JsonSerializerOptions Json = StoredJson.Options;

    public async Task UpsertJobAsync(BatchJobInfo job, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        await using var command = dataSource.CreateCommand(
            """
            INSERT INTO batch.jobs (job_id, client_id, status, info, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, now())
            ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, info = excluded.info, updated_at = now()
            """);
        command.Parameters.AddWithValue(job.JobId);
        command.Parameters.AddWithValue(job.Definition.ClientId);
        command.Parameters.AddWithValue(Name(job.Status));
        command.Parameters.AddWithValue(NpgsqlDbType.Jsonb, JsonSerializer.Serialize(job, Json));
        command.Parameters.AddWithValue(job.CreatedAt);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Scheduled jobs of these clients (all clients when null), newest first (then by id), from just after
    /// <paramref name="after"/>; at most <paramref name="limit"/> (null: every one), with the cursor of the next page
    /// when there are more.
    /// </summary>
    public async Task<BatchJobPage> ListJobsAsync(
        IReadOnlyList<string>? clientIds, int? limit, BatchJobCursor? after = null, CancellationToken ct = default)
    {
        if (limit is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "A page holds at least one job.");
        }

        await using var command = dataSource.CreateCommand(
            """
            SELECT info, created_at, job_id FROM batch.jobs
             WHERE status = 'scheduled' AND ($1::text[] IS NULL OR client_id = ANY($1))
               AND ($3::timestamptz IS NULL OR created_at < $3 OR (created_at = $3 AND job_id > $4))
             ORDER BY created_at DESC, job_id
             LIMIT $2
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)clientIds?.ToArray() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        // One more than the page, to know whether another follows; LIMIT NULL is no limit.
        command.Parameters.Add(new NpgsqlParameter<long?> { TypedValue = limit + 1L, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<DateTime?> { TypedValue = after?.CreatedAt.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = after?.JobId, NpgsqlDbType = NpgsqlDbType.Text });
        var jobs = new List<BatchJobInfo>();
        BatchJobCursor? last = null;
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (jobs.Count == limit)
            {
                return new BatchJobPage(jobs, last);
            }

            jobs.Add(JsonSerializer.Deserialize<BatchJobInfo>(reader.GetString(0), Json)!);
            // The stored time, not the job's own: the database keeps microseconds, and the next page compares with it.
            last = new BatchJobCursor(new DateTimeOffset(reader.GetFieldValue<DateTime>(1), TimeSpan.Zero), reader.GetString(2));
        }

        return new BatchJobPage(jobs, null);
    }

    /// <summary>
    /// Records a run as started. A row of the same id is a start the job's state never named (its silo stopped before the
    /// state was written, so that run never ran): it is replaced whole, so nothing of it shows under this run.
    /// </summary>
    public async Task InsertRunAsync(string clientId, BatchRunSummary run, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        await using var command = dataSource.CreateCommand(
            """
            INSERT INTO batch.runs (job_id, run_id, client_id, trigger, status, scheduled_for, range_from, range_to, started_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (job_id, run_id) DO UPDATE SET
                client_id = EXCLUDED.client_id, trigger = EXCLUDED.trigger, status = EXCLUDED.status,
                scheduled_for = EXCLUDED.scheduled_for, range_from = EXCLUDED.range_from, range_to = EXCLUDED.range_to,
                started_at = EXCLUDED.started_at, finished_at = NULL, error = NULL, results = NULL
            """);
        command.Parameters.AddWithValue(run.JobId);
        command.Parameters.AddWithValue(run.RunId);
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(Name(run.Trigger));
        command.Parameters.AddWithValue(Name(run.Status));
        command.Parameters.AddWithValue(run.ScheduledFor);
        command.Parameters.AddWithValue(run.From);
        command.Parameters.AddWithValue(run.To);
        command.Parameters.AddWithValue(run.StartedAt);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Stores how a run ended and its results, and deletes the job's runs older than its newest
    /// <paramref name="runsKept"/>, in one round trip.
    /// </summary>
    public async Task FinishRunAsync(BatchRunSummary run, IReadOnlyList<KpiQueryResult> results, int runsKept, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentOutOfRangeException.ThrowIfLessThan(runsKept, 1);
        var finish = new NpgsqlBatchCommand(
            """
            UPDATE batch.runs SET status = $3, finished_at = $4, error = $5, results = $6
             WHERE job_id = $1 AND run_id = $2
            """);
        finish.Parameters.AddWithValue(run.JobId);
        finish.Parameters.AddWithValue(run.RunId);
        finish.Parameters.AddWithValue(Name(run.Status));
        finish.Parameters.AddWithValue((object?)run.FinishedAt ?? DBNull.Value);
        finish.Parameters.AddWithValue((object?)run.Error ?? DBNull.Value);
        finish.Parameters.AddWithValue(NpgsqlDbType.Jsonb, JsonSerializer.Serialize(results, Json));
        // Run ids count up from 1 without gaps, so the kept ones are the ids after this one's minus the count.
        var prune = new NpgsqlBatchCommand("DELETE FROM batch.runs WHERE job_id = $1 AND run_id <= $2");
        prune.Parameters.AddWithValue(run.JobId);
        prune.Parameters.AddWithValue(run.RunId - runsKept);
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(finish);
        batch.BatchCommands.Add(prune);
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Marks as failed a run its job's state still calls running when the job wakes (its silo stopped during the run),
    /// unless the run stored its outcome before that: only the state's copy was then stale. Returns the run as stored.
    /// </summary>
    public async Task<BatchRunSummary?> FinishInterruptedRunAsync(BatchRunSummary run, string error, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var finish = new NpgsqlBatchCommand(
            """
            UPDATE batch.runs SET status = 'failed', finished_at = now(), error = $3, results = '[]'
             WHERE job_id = $1 AND run_id = $2 AND status = 'running'
            """);
        finish.Parameters.AddWithValue(run.JobId);
        finish.Parameters.AddWithValue(run.RunId);
        finish.Parameters.AddWithValue(error);
        var read = new NpgsqlBatchCommand($"SELECT {SummaryColumns} FROM batch.runs WHERE job_id = $1 AND run_id = $2");
        read.Parameters.AddWithValue(run.JobId);
        read.Parameters.AddWithValue(run.RunId);
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(finish);
        batch.BatchCommands.Add(read);
        await using var reader = await batch.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadSummary(reader) : null;
    }

    public async Task<IReadOnlyList<BatchRunSummary>> ListRunsAsync(string jobId, int limit, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT {SummaryColumns} FROM batch.runs WHERE job_id = $1 ORDER BY run_id DESC LIMIT $2");
        command.Parameters.AddWithValue(jobId);
        command.Parameters.AddWithValue(limit);
        var runs = new List<BatchRunSummary>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            runs.Add(ReadSummary(reader));
        }

        return runs;
    }

    public async Task<BatchRun?> GetRunAsync(string jobId, long runId, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT {SummaryColumns}, client_id, results FROM batch.runs WHERE job_id = $1 AND run_id = $2");
        command.Parameters.AddWithValue(jobId);
        command.Parameters.AddWithValue(runId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        var results = reader.IsDBNull(11) ? [] : JsonSerializer.Deserialize<List<KpiQueryResult>>(reader.GetString(11), Json)!;
        return new BatchRun(reader.GetString(10), ReadSummary(reader), results);
    }

    private const string SummaryColumns = "job_id, run_id, trigger, scheduled_for, range_from, range_to, status, started_at, finished_at, error";

    private static BatchRunSummary ReadSummary(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetInt64(1),
        Enum.Parse<BatchRunTrigger>(reader.GetString(2), ignoreCase: true),
        reader.GetFieldValue<DateTimeOffset>(3),
        reader.GetFieldValue<DateTimeOffset>(4),
        reader.GetFieldValue<DateTimeOffset>(5),
        Enum.Parse<BatchRunStatus>(reader.GetString(6), ignoreCase: true),
        reader.GetFieldValue<DateTimeOffset>(7),
        reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
        reader.IsDBNull(9) ? null : reader.GetString(9));

    private static string Name<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();
}
