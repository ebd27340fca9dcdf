using System.Globalization;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Proposals;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AnalyticsEngine.Archive;

/// <summary>
/// A client's archival and retention. Not reentrant, so runs and restores never interleave, and a query that may read
/// old rows (<see cref="RetentionHorizons.MayReadArchive"/>) asks first: a run waits for such queries to end (or for
/// <see cref="ArchiveOptions.QueryHold"/>, should one never say so), and queries asking during a run wait for it. So no
/// query reads the active tables while rows it needs are on their way out. The index and the policy live in PostgreSQL;
/// the grain keeps a copy it alone changes.
/// </summary>
public sealed partial class ArchiveGrain(
    SegmentIndex index,
    TableArchiver archiver,
    ColdStorage storage,
    ObjectModelTables tables,
    NpgsqlDataSource dataSource,
    IOptions<ArchiveOptions> options,
    ILogger<ArchiveGrain> logger) : Grain, IArchiveGrain, IRemindable
{
    private const string ReminderName = "archive";

    // Bounds the ids of queries said to have ended before their PrepareQuery finished (kept until the activation goes).
    private const int MaxEndedEarly = 10_000;

    private RetentionPolicy? _policy;
    private List<IndexedSegment> _segments = [];
    private DateTimeOffset? _rollupsDeletedBefore; // as archive.rollups_deleted says: read with the segments
    private readonly Dictionary<Guid, DateTimeOffset> _queries = [];
    // The hold this activation last recorded in archive.holds (one that is later, or any at all before the first, an
    // earlier activation recorded).
    private DateTimeOffset _recordedHold = DateTimeOffset.MinValue;
    private readonly HashSet<Guid> _endedEarly = [];
    private TaskCompletionSource _queryEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private string ClientId => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (await index.PolicyAsync(ClientId, cancellationToken) is { } saved)
        {
            var problems = new List<string>();
            // A saved policy was valid when saved. Should a rule have changed since, nothing leaves the active tables
            // until an admin sets the policy again: queries and restores go on.
            if (RetentionRules.Apply(saved.Answers, problems, "") is { } effective)
            {
                _policy = new RetentionPolicy(ClientId, saved.Answers, effective, saved.UpdatedAt, saved.UpdatedBy);
            }
            else
            {
                LogPolicyInvalid(logger, ClientId, string.Join("; ", problems));
            }
        }

        await ReloadAsync(cancellationToken);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Going quietly (idle, or its silo shutting down) with no query still holding: the hold it recorded covers
        // nothing now, and left in place it would keep the next activation's runs from moving rows for up to an hour.
        var now = DateTimeOffset.UtcNow;
        if (_recordedHold > now && _queries.Values.All(until => until <= now))
        {
            try
            {
                await index.ReleaseHoldAsync(ClientId, _recordedHold, cancellationToken);
            }
            catch (Exception exception) when (exception is NpgsqlException or OperationCanceledException)
            {
                LogHoldNotReleased(logger, exception, ClientId);
            }
        }
    }

    /// <summary>The grain's copy of the index, and of before when runs deleted rollups.</summary>
    private async Task ReloadAsync(CancellationToken cancellationToken)
    {
        _segments = await index.SegmentsAsync(ClientId, cancellationToken);
        _rollupsDeletedBefore = await index.RollupsDeletedBeforeAsync(ClientId, cancellationToken);
    }

    public Task<RetentionPolicy?> GetPolicy() => Task.FromResult(_policy);

    public async Task<RetentionPolicyOutcome> SetPolicy(RetentionAnswers answers, string actor)
    {
        ArgumentNullException.ThrowIfNull(answers);
        var problems = new List<string>();
        var effective = RetentionRules.Apply(answers, problems, "");
        if (effective is not null)
        {
            Require(effective.StagedSourceData, "stagedSourceData", problems);
            Require(effective.AnalyticsData, "analyticsData", problems);
        }

        if (effective is null || problems.Count > 0)
        {
            return new RetentionPolicyOutcome(null, problems);
        }

        var now = DateTimeOffset.UtcNow;
        // Archives are kept by the policy in force: one that keeps them less (or deletes instead) ends older ones at once.
        var ending = _segments.Select(s => s.Segment).Where(s => RetentionHorizons.ExpiresAt(s, effective) <= now).ToList();
        if (ending.Count > 0)
        {
            effective = effective with
            {
                Notes = [.. effective.Notes, string.Create(CultureInfo.InvariantCulture,
                    $"The archive holds {ending.Count:N0} segments ({ending.Sum(s => s.Rows):N0} rows) past this policy's archive period: the next run deletes them.")],
            };
        }

        await index.SavePolicyAsync(ClientId, answers, now, actor, CancellationToken.None);
        _policy = new RetentionPolicy(ClientId, answers, effective, now, actor);
        // The first run an hour after the first policy, then every RunEvery (a changed policy keeps the schedule); RunNow
        // runs at once.
        if (await this.GetReminder(ReminderName) is null)
        {
            var every = options.Value.RunEvery;
            await this.RegisterOrUpdateReminder(ReminderName, every < TimeSpan.FromHours(1) ? every : TimeSpan.FromHours(1), every);
        }

        LogPolicySet(logger, ClientId, actor, effective.StagedSourceData.ActiveDays, effective.AnalyticsData.ActiveDays);
        return new RetentionPolicyOutcome(_policy, []);
    }

    public async Task<bool> RemovePolicy()
    {
        var removed = await index.RemovePolicyAsync(ClientId, CancellationToken.None);
        _policy = null;
        // Restored rows still leave the active tables when their time is up, so the reminder stays while there are some.
        if (!_segments.Any(s => s.Segment.RestoredUntil is not null) && await this.GetReminder(ReminderName) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }

        return removed;
    }

    public Task<ArchiveRun> RunNow() => RunAsync(DateTimeOffset.UtcNow, CancellationToken.None);

    public Task<IReadOnlyList<ArchiveSegment>> Segments(DateTimeOffset from, DateTimeOffset to, int limit) =>
        Task.FromResult<IReadOnlyList<ArchiveSegment>>(_segments
            .Select(s => s.Segment)
            .Where(s => s.From < to && s.To > from)
            .Take(limit)
            .Select(s => s with { ExpiresAt = RetentionHorizons.ExpiresAt(s, _policy?.Effective) })
            .ToList());

    public async Task<ArchiveAccess> PrepareQuery(Guid query, ArchiveQuery ask)
    {
        ArgumentNullException.ThrowIfNull(ask);
        var now = DateTimeOffset.UtcNow;
        var restored = 0;
        ObjectKind? KindOf(string model) => tables.Find(model)?.Model.Kind;
        var segments = _segments.Select(s => s.Segment).ToList();
        // What the query's rollups hold is read only where it may read archived rows: most queries over older days reach
        // none (no policy, or days still active).
        var wholeAfter = ask.Reads.Any(r => r.RollupCoverages is not null) && ArchiveReadPlan.ReachesAny(segments, ask, KindOf)
            ? await ArchivedDays.WholeAfterAsync(dataSource, ClientId, ask.Reads, CancellationToken.None)
            : new Dictionary<string, long>();
        var plan = ArchiveReadPlan.Decide(segments, ask, wholeAfter, _rollupsDeletedBefore, KindOf);
        var restoring = plan.Restore.Select(s => s.SegmentId).ToHashSet();
        ArchiveTelemetry.SegmentsReadThroughRollups.Add(plan.Read - plan.Restore.Count);
        var read = _segments.Where(s => restoring.Contains(s.Segment.SegmentId)).ToList();
        try
        {
            var until = now + options.Value.RestoreFor;
            foreach (var segment in read.Where(s => s.Segment.RestoredUntil is null))
            {
                var table = tables.Get(segment.Segment.Source);
                if (await archiver.RestoreAsync(segment, table, until, CancellationToken.None))
                {
                    restored++;
                    ArchiveTelemetry.SegmentsRestored.Add(1);
                }
            }

            // Rows restored earlier stay while queries read them; the index is written once per half of RestoreFor at most.
            var extend = read.Where(s => s.Segment.RestoredUntil is { } due && due < now + options.Value.RestoreFor / 2).Select(s => s.Segment.SegmentId).ToList();
            if (extend.Count > 0)
            {
                await index.ExtendRestoreAsync(extend, until, CancellationToken.None);
            }

            if (restored > 0)
            {
                LogRestored(logger, ClientId, restored, ask.From, ask.To);
            }

            // Restored rows leave with the next run after their time: a client without a policy runs for that alone.
            if (restored > 0 && _policy is null && await this.GetReminder(ReminderName) is null)
            {
                await this.RegisterOrUpdateReminder(ReminderName, options.Value.RestoreFor, options.Value.RunEvery);
            }

            if (extend.Count > 0 || restored > 0)
            {
                _segments = await index.SegmentsAsync(ClientId, CancellationToken.None);
            }
        }
        catch
        {
            // Some segments may be back: the copy must say so, or they would never leave again.
            _segments = await index.SegmentsAsync(ClientId, CancellationToken.None);
            throw;
        }

        // The hold starts now, unless the caller already said the query ended (it stopped waiting for this call). Runs
        // are turns of this grain, so none can have started in between.
        if (!_endedEarly.Remove(query))
        {
            var hold = DateTimeOffset.UtcNow + options.Value.QueryHold;
            _queries[query] = hold;
            // Held queries live in this activation: it must stay while they run. Should it be lost all the same, the
            // next one finds the time recorded (written once per half a hold at most).
            this.DelayDeactivation(options.Value.QueryHold);
            if (_recordedHold < hold - options.Value.QueryHold / 2)
            {
                await index.HoldUntilAsync(ClientId, hold, CancellationToken.None);
                _recordedHold = hold;
            }
        }

        return plan.Access(restored);
    }

    public Task EndQuery(Guid query)
    {
        if (_queries.Remove(query))
        {
            var ended = _queryEnded;
            _queryEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            ended.SetResult();
        }
        else if (_endedEarly.Count < MaxEndedEarly)
        {
            // Ended before its PrepareQuery came through (the caller gave up waiting), or after its hold lapsed: if
            // the PrepareQuery is still to finish, it must not start a hold nobody will end.
            _endedEarly.Add(query);
        }

        return Task.CompletedTask;
    }

    public async Task<ArchiveFile?> ReadSegment(long segmentId)
    {
        if (_segments.FirstOrDefault(s => s.Segment.SegmentId == segmentId)?.Segment is not { } segment)
        {
            return null;
        }

        segment = segment with { ExpiresAt = RetentionHorizons.ExpiresAt(segment, _policy?.Effective) };
        if (segment.Bytes > options.Value.MaxDownloadBytes)
        {
            return new ArchiveFile(segment, null,
                $"Segment {segmentId} is {segment.Bytes:N0} bytes, more than the {options.Value.MaxDownloadBytes:N0} handed out whole (Archive:MaxDownloadBytes); read it from the cold storage at '{segment.Location}'.");
        }

        await using var file = await storage.OpenCheckedAsync(segment.Location, segment.Sha256, CancellationToken.None);
        using var content = new MemoryStream((int)segment.Bytes);
        await file.CopyToAsync(content);
        return new ArchiveFile(segment, content.ToArray(), null);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ReminderName)
        {
            return;
        }

        try
        {
            await RunAsync(DateTimeOffset.UtcNow, CancellationToken.None);
        }
#pragma warning disable CA1031 // A failed run is logged and tried again at the next tick; the reminder must live on.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            LogRunFailed(logger, exception, ClientId);
            ArchiveTelemetry.RunFailures.Add(1);
        }

        if (_policy is null && !_segments.Any(s => s.Segment.RestoredUntil is not null) && await this.GetReminder(ReminderName) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private async Task<ArchiveRun> RunAsync(DateTimeOffset now, CancellationToken ct)
    {
        await QueriesEndedAsync();
        // A hold recorded later than this activation's own was handed out by an earlier one, whose queries may still run.
        var recorded = await index.HeldUntilAsync(ClientId, ct);
        DateTimeOffset? postponed = recorded > now && recorded > _recordedHold ? recorded : null;
        if (postponed is not null)
        {
            LogMovesPostponed(logger, ClientId, postponed.Value);
        }

        var run = new ArchivalRun(ClientId, now, _policy?.Effective, index, archiver, tables, dataSource, storage, logger, postponed);
        ArchiveRun done;
        try
        {
            // From the index, not the grain's copy: an operator may have changed it (a restore cut short, say).
            done = await run.ExecuteAsync(await index.SegmentsAsync(ClientId, ct), ct);
        }
        finally
        {
            await ReloadAsync(CancellationToken.None);
        }

        await NudgeRollUpsAsync(ct);
        return done;
    }

    /// <summary>
    /// Has the partitions of the client with rows not rolled up yet roll them up (activating their ingest grains, which
    /// then roll up what an earlier activation left): a run moves out only rows their rollups hold, so without this
    /// the last rows of a client that stopped sending would stay in the active tables past the policy.
    /// </summary>
    private async Task NudgeRollUpsAsync(CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(
            """
            SELECT p.object_model FROM ingest.partitions AS p
            WHERE p.client_id = $1 AND p.rolled_up_through < p.last_sequence
              AND EXISTS (SELECT 1 FROM query.rollup_terms AS c WHERE c.client_id = p.client_id AND c.object_model = p.object_model)
            """);
        command.Parameters.AddWithValue(ClientId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            _ = GrainFactory.GetGrain<IIngestGrain>(IngestKeys.For(ClientId, reader.GetString(0))).CheckRollups();
        }
    }

    /// <summary>Waits until no query that asked (<see cref="PrepareQuery"/>) is still running, or its hold has passed.</summary>
    private async Task QueriesEndedAsync()
    {
        while (true)
        {
            var now = DateTimeOffset.UtcNow;
            foreach (var (query, _) in _queries.Where(q => q.Value <= now).ToList())
            {
                _queries.Remove(query);
            }

            if (_queries.Count == 0)
            {
                return;
            }

            // EndQuery interleaves with this wait; a query that never ends holds the run only until its hold passes.
            await Task.WhenAny(_queryEnded.Task, Task.Delay(_queries.Values.Min() - now));
        }
    }

    private static void Require(RetentionPlan plan, string field, List<string> problems)
    {
        if (plan.ActiveDays < RetentionHorizons.MinActiveDays)
        {
            problems.Add($"{field}.activePeriod: keep data at least {RetentionHorizons.MinActiveDays} days in the active database (late events and the last week's queries read it there); it is {plan.ActiveDays} days");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention policy of {Client} set by {Actor}: source data {SourceDays} days active, analytics data {AnalyticsDays} days active")]
    private static partial void LogPolicySet(ILogger logger, string client, string actor, int sourceDays, int analyticsDays);

    [LoggerMessage(Level = LogLevel.Information, Message = "Restored {Segments} archived segments of {Client} for a query over [{From}, {To})")]
    private static partial void LogRestored(ILogger logger, string client, int segments, DateTimeOffset from, DateTimeOffset to);

    [LoggerMessage(Level = LogLevel.Error, Message = "The saved retention policy of {Client} is no longer valid ({Problems}); nothing is archived until it is set again")]
    private static partial void LogPolicyInvalid(ILogger logger, string client, string problems);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Archival of {Client} moves no rows before {Until}: queries an earlier activation let read them may still run")]
    private static partial void LogMovesPostponed(ILogger logger, string client, DateTimeOffset until);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The recorded hold of {Client} stays until it passes: releasing it failed")]
    private static partial void LogHoldNotReleased(ILogger logger, Exception exception, string client);

    [LoggerMessage(Level = LogLevel.Error, Message = "Archival run of {Client} failed; it runs again at the next tick")]
    private static partial void LogRunFailed(ILogger logger, Exception exception, string client);
}
