using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Proposals;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AnalyticsEngine.Archive;

/// <summary>
/// One archival run of a client, in this order:
/// <list type="number">
/// <item>restored segments whose time is up leave the active tables again;</item>
/// <item>segments past their archive period are deleted, file and index entry;</item>
/// <item>rows of every object model older than the staged source data's horizon move to new segments, a UTC day per
/// segment (or are deleted, when the policy archives nothing); of a snapshot object only the rows a newer row of the same
/// key, also older than the horizon, replaces, since a key's latest row is its value today;</item>
/// <item>rollup slots older than both horizons are deleted, and that is recorded (until then, queries over archived days
/// read the rollups where they hold the archived rows: <see cref="ArchiveReadPlan"/>);</item>
/// <item>batch runs scheduled before the analytics data's horizon move to a segment (or are deleted);</item>
/// <item>files of the client that no index entry names and that are over an hour old are deleted: left by a crash
/// between writing a segment and recording it, which the rows never left.</item>
/// </list>
/// </summary>
public sealed class ArchivalRun(
    string clientId,
    DateTimeOffset now,
    ProposalRetention? policy,
    SegmentIndex index,
    TableArchiver archiver,
    ObjectModelTables tables,
    NpgsqlDataSource dataSource,
    ColdStorage storage,
    ILogger logger,
    DateTimeOffset? movesPostponedUntil = null)
{
    private const string BatchRuns = "batch_runs";

    private int _written;
    private long _archived;
    private long _deleted;

    public async Task<ArchiveRun> ExecuteAsync(IReadOnlyList<IndexedSegment> segments, CancellationToken ct)
    {
        var restoredAgain = await RemoveExpiredRestoresAsync(segments, ct);
        if (policy is null)
        {
            return new ArchiveRun(now, null, null, 0, 0, 0, 0, restoredAgain, 0);
        }

        // Segments whose rows just left the active tables again may expire in this same run.
        var expired = await DeleteExpiredAsync(restoredAgain > 0 ? await index.SegmentsAsync(clientId, ct) : segments, ct);
        var source = RetentionHorizons.Horizon(now, policy.StagedSourceData.ActiveDays);
        var analytics = RetentionHorizons.Horizon(now, policy.AnalyticsData.ActiveDays);
        if (movesPostponedUntil is { } postponed)
        {
            return new ArchiveRun(now, source, analytics, 0, 0, 0, expired, restoredAgain, 0, postponed);
        }

        foreach (var table in tables.All)
        {
            await MoveOutOlderRowsAsync(table, source, ct);
        }

        var rollupRows = await DeleteRollupsAsync(analytics < source ? analytics : source, ct);
        await MoveOutBatchRunsAsync(analytics, ct);
        await DeleteOrphanFilesAsync(ct);
        return new ArchiveRun(now, source, analytics, _written, _archived, _deleted, expired, restoredAgain, rollupRows);
    }

    /// <summary>
    /// Deletes the client's files the index does not name. Only those over an hour old: the index is read after the
    /// files are listed, and a step records its file at most a statement after writing it.
    /// </summary>
    private async Task DeleteOrphanFilesAsync(CancellationToken ct)
    {
        var files = storage.FilesUnder(clientId, now.AddHours(-1)).ToList();
        if (files.Count == 0)
        {
            return;
        }

        var named = (await index.SegmentsAsync(clientId, ct)).Select(s => s.Segment.Location).ToHashSet(StringComparer.Ordinal);
        foreach (var orphan in files.Where(f => !named.Contains(f)))
        {
            logger.LogWarning("Deleting {File} of client {Client}: no archived segment names it", orphan, clientId);
            storage.Delete(orphan);
        }
    }

    private async Task<int> RemoveExpiredRestoresAsync(IReadOnlyList<IndexedSegment> segments, CancellationToken ct)
    {
        var count = 0;
        foreach (var segment in segments.Where(s => s.Segment.RestoredUntil is { } until && until <= now))
        {
            var table = tables.Get(segment.Segment.Source);
            try
            {
                if (await archiver.RemoveRestoredAsync(clientId, segment, table, ct))
                {
                    count++;
                }
            }
            catch (InvalidOperationException exception)
            {
                // Its rows are not all in the table as restored: they stay, and the rest of the run goes on.
                logger.LogError(exception, "Restored segment {Segment} of {Client} cannot leave the active tables", segment.Segment.SegmentId, clientId);
            }
        }

        return count;
    }

    private async Task<int> DeleteExpiredAsync(IReadOnlyList<IndexedSegment> segments, CancellationToken ct)
    {
        var count = 0;
        foreach (var segment in segments)
        {
            // A restored segment waits until its rows have left the active tables again.
            if (segment.Segment.RestoredUntil is null && RetentionHorizons.ExpiresAt(segment.Segment, policy) <= now
                && await index.ForgetAsync(segment.Segment.SegmentId, ct))
            {
                count++;
                storage.Delete(segment.Segment.Location);
                ArchiveTelemetry.SegmentsExpired.Add(1);
            }
        }

        return count;
    }

    private async Task MoveOutOlderRowsAsync(ObjectModelTable table, DateTimeOffset horizon, CancellationToken ct)
    {
        var model = table.Model;
        var time = table.EventTimeColumn;
        var client = KpiSqlCompiler.Literal(clientId);
        var columns = string.Join(", ", table.ColumnNames.Select(c => $"t.{ObjectModelTable.Quote(c)}"));
        var notRestored =
            $"NOT EXISTS (SELECT 1 FROM archive.segments AS s WHERE s.client_id = {client} AND s.data_kind = 'source' " +
            $"AND s.source = {KpiSqlCompiler.Literal(model.Code)} AND s.restored_until IS NOT NULL AND s.sequences @> t.sequence)";
        var archive = policy!.StagedSourceData.Archive;
        var snapshot = model.Kind == ObjectKind.Snapshot;
        // Of an event object, only rows its rollups hold already (by the watermark, unless it has none): the rollups of
        // a term that held every row before a segment left then hold that segment's rows (ArchiveReadPlan). A row
        // still waiting leaves with the next run.
        var code = KpiSqlCompiler.Literal(model.Code);
        var rolledUp = snapshot ? "" :
            $" AND (t.sequence <= (SELECT p.rolled_up_through FROM ingest.partitions AS p WHERE p.client_id = {client} AND p.object_model = {code})" +
            $" OR NOT EXISTS (SELECT 1 FROM query.rollup_terms AS c WHERE c.client_id = {client} AND c.object_model = {code}))";

        // Of a snapshot object, each day's replaced rows by their sequence numbers (found in one pass); of an event
        // object, every row of the day.
        var days = snapshot ? await ReplacedRowsByDayAsync(table, horizon, ct) : (await DaysAsync(table, horizon, ct)).Select(d => (Day: d, Sequences: (string?)null));
        foreach (var (day, sequences) in days)
        {
            var end = day.AddDays(1) < horizon ? day.AddDays(1) : horizon;
            var replaced = sequences is null ? "" : $" AND t.sequence <@ {KpiSqlCompiler.Literal(sequences)}::int8multirange";
            var where = $"t.client_id = {client} AND t.{time} >= {TableArchiver.Literal(day)} AND t.{time} < {TableArchiver.Literal(end)} AND {notRestored}{replaced}{rolledUp}";
            var slice = new TableSlice(ArchivedDataKind.Source, model.Code, table.QualifiedName, where, columns, day, end, HasSequences: true,
                snapshot ? horizon : null);
            await MoveOutAsync(slice, archive, ct);
        }
    }

    /// <summary>The UTC days before <paramref name="horizon"/> with rows of the client, oldest first (one index probe a day).</summary>
    private async Task<List<DateTimeOffset>> DaysAsync(ObjectModelTable table, DateTimeOffset horizon, CancellationToken ct)
    {
        var days = new List<DateTimeOffset>();
        var after = DateTimeOffset.MinValue;
        while (await OldestAsync(table, after, horizon, ct) is { } oldest)
        {
            var day = RetentionHorizons.StartOfDay(oldest);
            days.Add(day);
            after = day.AddDays(1);
        }

        return days;
    }

    /// <summary>
    /// Per UTC day before <paramref name="horizon"/>, the sequence numbers (an <c>int8multirange</c> literal) of a snapshot
    /// object's rows that a newer row of their key, also before it, replaces (by event time, then sequence: the order
    /// in which the query path takes a key's latest row). One pass over the client's rows: a run neither revisits every
    /// day of a history whose latest rows stay nor looks for each row's successor again. A row replaced now stays
    /// replaced, so rows committed before the days are moved do not change the answer.
    /// </summary>
    private async Task<List<(DateTimeOffset Day, string? Sequences)>> ReplacedRowsByDayAsync(ObjectModelTable table, DateTimeOffset horizon, CancellationToken ct)
    {
        var time = table.EventTimeColumn;
        var keys = string.Join(", ", table.Model.KeyFields.Select(k => $"t.{ObjectModelTable.Quote(k)}"));
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT date_trunc('day', r.at AT TIME ZONE 'UTC') AS day, range_agg(int8range(r.sequence, r.sequence, '[]'))::text
            FROM (
                SELECT t.{time} AS at, t.sequence, lead(t.sequence) OVER (PARTITION BY {keys} ORDER BY t.{time}, t.sequence) AS replaced_by
                FROM {table.QualifiedName} AS t WHERE t.client_id = $1 AND t.{time} < $2) AS r
            WHERE r.replaced_by IS NOT NULL
            GROUP BY 1 ORDER BY 1
            """);
        command.CommandTimeout = 0;
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(horizon.UtcDateTime);
        var days = new List<(DateTimeOffset, string?)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            days.Add((new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc)), reader.GetString(1)));
        }

        return days;
    }

    private async Task MoveOutAsync(TableSlice slice, bool archive, CancellationToken ct)
    {
        var moved = await archiver.MoveOutAsync(clientId, slice, archive, now, ct);
        if (!archive)
        {
            _deleted += moved;
            ArchiveTelemetry.RowsDeleted.Add(moved);
        }
        else if (moved > 0)
        {
            _written++;
            _archived += moved;
            ArchiveTelemetry.RowsArchived.Add(moved);
        }
    }

    /// <summary>The event time of the client's oldest row in [<paramref name="after"/>, <paramref name="before"/>), or null.</summary>
    /// <remarks>
    /// The first row in the (client, time) index order, not <c>min()</c>: once auto-prepared, the statement runs a
    /// generic plan, and PostgreSQL's generic plan of <c>min()</c> over a range added up every row of it (a year of a
    /// million orders took 80–120 ms a day, 30 s a run, where this takes a probe).
    /// </remarks>
    private async Task<DateTimeOffset?> OldestAsync(ObjectModelTable table, DateTimeOffset after, DateTimeOffset before, CancellationToken ct)
    {
        var time = table.EventTimeColumn;
        await using var command = dataSource.CreateCommand(
            $"SELECT t.{time} FROM {table.QualifiedName} AS t WHERE t.client_id = $1 AND t.{time} >= $2 AND t.{time} < $3 ORDER BY t.{time} LIMIT 1");
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(after == DateTimeOffset.MinValue ? DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc) : after.UtcDateTime);
        command.Parameters.AddWithValue(before.UtcDateTime);
        return await command.ExecuteScalarAsync(ct) is DateTime oldest ? new DateTimeOffset(oldest, TimeSpan.Zero) : null;
    }

    /// <summary>
    /// Deletes the client's rollup slots that start before <paramref name="before"/>, and records that it did in the same
    /// transaction: a query over those days then reads the archived rows.
    /// </summary>
    private async Task<long> DeleteRollupsAsync(DateTimeOffset before, CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(SegmentIndex.RecordRollupsDeleted(clientId, before));
        foreach (var table in new[] { "query.term_rollups", "query.dimension_rollups" })
        {
            var command = new NpgsqlBatchCommand($"DELETE FROM {table} WHERE client_id = $1 AND slot_start < $2");
            command.Parameters.AddWithValue(clientId);
            command.Parameters.AddWithValue(before.UtcDateTime);
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync(ct);
        return batch.BatchCommands[1].RecordsAffected + batch.BatchCommands[2].RecordsAffected;
    }

    private async Task MoveOutBatchRunsAsync(DateTimeOffset horizon, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT min(scheduled_for) FROM batch.runs WHERE client_id = $1 AND scheduled_for < $2 AND finished_at IS NOT NULL");
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(horizon.UtcDateTime);
        if (await command.ExecuteScalarAsync(ct) is not DateTime oldest)
        {
            return;
        }

        var where = $"t.client_id = {KpiSqlCompiler.Literal(clientId)} AND t.scheduled_for < {TableArchiver.Literal(horizon)} AND t.finished_at IS NOT NULL";
        var slice = new TableSlice(ArchivedDataKind.Analytics, BatchRuns, "batch.runs", where, "t.*", new DateTimeOffset(oldest, TimeSpan.Zero), horizon, HasSequences: false);
        await MoveOutAsync(slice, policy!.AnalyticsData.Archive, ct);
    }
}
