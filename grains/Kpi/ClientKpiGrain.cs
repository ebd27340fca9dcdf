using System.Diagnostics;
using AnalyticsEngine.Archive;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NodaTime;
using Npgsql;
using Orleans.Streams;

namespace AnalyticsEngine.Kpi;

/// <summary>
/// The checkpoint of a client's computation: engine state (with its positions) and the configuration it
/// was built for. The engine state is kept as opaque bytes so that a checkpoint the current code cannot
/// read (an older format, a damaged row) is simply discarded and rebuilt from the database, the log.
/// </summary>
[GenerateSerializer, Alias("ae.ClientKpiCheckpoint")]
public sealed class ClientKpiCheckpoint
{
    [Id(0)] public byte[]? EngineState { get; set; }

    [Id(1)] public long ConfigVersion { get; set; }
}

/// <summary>How often the client grain checkpoints and looks for events it never received.</summary>
public sealed class ClientKpiOptions
{
    /// <summary>
    /// The longest a client's applied events stay without a checkpoint. A checkpoint is a grain-state write of the
    /// whole engine state, about as heavy for PostgreSQL as committing a small batch, while what it saves is a replay
    /// of at most this long (and <see cref="CheckpointEveryEvents"/>) of one client's events after a crash: one range
    /// read. A grain that is deactivated checkpoints first, whatever the interval.
    /// </summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(60);

    public int CheckpointEveryEvents { get; set; } = 20_000;

    /// <summary>How often to compare positions with the committed log, to catch a lost last batch.</summary>
    public TimeSpan GapCheckInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a partition found behind the committed log may stay behind before the grain reads the missing
    /// rows itself. Rows are committed before they are published, so a check often finds rows the stream is
    /// still delivering; reading those too does the work twice. Zero reads them at once.
    /// </summary>
    public TimeSpan LostBatchGrace { get; set; } = TimeSpan.FromSeconds(5);

    public int CatchUpPageSize { get; set; } = 10_000;
}

/// <summary>
/// Computes all KPIs of one client from its event stream. The database is the log: every batch carries
/// the sequence range it covers, so a gap (a batch lost with a silo) is read back from the table before
/// the batch is applied, and the engine's positions make a re-delivered batch a no-op. State is
/// checkpointed together with those positions.
/// </summary>
[ImplicitStreamSubscription(EventStreams.Namespace)]
public sealed class ClientKpiGrain(
    [PersistentState("checkpoint", "kpi-store")] IPersistentState<ClientKpiCheckpoint> checkpoint,
    Orleans.Serialization.Serializer serializer,
    NpgsqlDataSource dataSource,
    ObjectModelTables tables,
    CommittedEnds committedEnds,
    IOptions<KpiEngineOptions> engineOptions,
    IOptions<ClientKpiOptions> options,
    ILogger<ClientKpiGrain> logger) : Grain, IClientKpiGrain
{
    // The KPIs whose changes do not go to their KPI grains. A new activation cannot know which are watched (a KPI
    // grain keeps its watchers when this grain's activation moves, its silo leaving, say), so it publishes every KPI
    // until the KPI grain of each unwatched one says stop (KpiGrain.Publish): a dashboard's series goes on at once,
    // not at its gateway's next renewal of the watch.
    private readonly HashSet<string> _unpublished = new(StringComparer.Ordinal);
    private readonly List<KpiValue> _changes = [];

    /// <summary>Partitions a gap check found behind: the committed end it saw, and when.</summary>
    private readonly Dictionary<string, (long Last, long SeenAt)> _behind = new(StringComparer.Ordinal);
    private ClientKpiEngine _engine = null!;

    // Completes when the engine holds every committed event again after a rebuild (Reconfigure).
    private Task _rebuilt = Task.CompletedTask;
    private long _configVersion;
    // Whether the engine was built empty (no checkpoint), so that catching up replays every stored row.
    private bool _replaysFromStart;
    private int _eventsSinceCheckpoint;
    private long _checkpointedAt;

    private string ClientId => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await BuildEngineAsync(allowRestore: true, cancellationToken);
        await CatchUpAllAsync(cancellationToken);

        var stream = this.GetStreamProvider(EventStreams.Provider)
            .GetStream<EventBatch>(StreamId.Create(EventStreams.Namespace, ClientId));
        await stream.SubscribeAsync((batch, _) => OnBatchAsync(batch));

        _checkpointedAt = Stopwatch.GetTimestamp();
        this.RegisterGrainTimer(OnTickAsync, new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));
        this.RegisterGrainTimer(CheckForLostBatchesAsync, new GrainTimerCreationOptions(options.Value.GapCheckInterval, options.Value.GapCheckInterval));
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_eventsSinceCheckpoint > 0)
        {
            await CheckpointAsync();
        }
    }

    public async Task<KpiSnapshot> GetSnapshot(string kpiCode, Granularity granularity, int recentBuckets)
    {
        await _rebuilt;
        return _engine.KpiCodes.Contains(kpiCode)
            ? _engine.Snapshot(kpiCode, granularity, Math.Clamp(recentBuckets, 1, LiveRetention.MaxBuckets(granularity)), Now())
            : new KpiSnapshot(ClientId, kpiCode, granularity, null, []);
    }

    public async Task<KpiResume> Resume(string kpiCode, Granularity granularity, int recentBuckets, IReadOnlyList<KpiBucketVersion> held)
    {
        await _rebuilt;
        return _engine.KpiCodes.Contains(kpiCode)
            ? _engine.Resume(kpiCode, granularity, Math.Clamp(recentBuckets, 1, LiveRetention.MaxBuckets(granularity)), held, Now())
            : new KpiResume(ClientId, kpiCode, granularity, default, [], []);
    }

    public async Task<KpiValue?> GetWindow(string kpiCode, KpiWindow window)
    {
        await _rebuilt;
        return _engine.KpiCodes.Contains(kpiCode) ? _engine.Window(kpiCode, window, Now()) : null;
    }

    public Task SetPublishing(string kpiCode, bool publishing)
    {
        if (publishing)
        {
            _unpublished.Remove(kpiCode);
        }
        else
        {
            _unpublished.Add(kpiCode);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<SourcePosition>> GetPositions() =>
        Task.FromResult<IReadOnlyList<SourcePosition>>(
            _engine.ObjectModels.Order(StringComparer.Ordinal).Select(m => new SourcePosition(m, _engine.Position(m))).ToList());

    public async Task<bool> Reconfigure()
    {
        var (config, kpis, zone) = await LoadConfigurationAsync();
        if (_engine.ComputesTheSame(kpis, zone))
        {
            // A new name or field mappings, say: the engine stays, and its checkpoint now stands for this version.
            _configVersion = config?.Version ?? 0;
            await CheckpointAsync();
            return false;
        }

        // A changed KPI set or time zone invalidates the partial states: rebuild from the stored events. Reads, which
        // interleave with this, wait for the end of the replay rather than answer from a half-replayed engine.
        var rebuilt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _rebuilt = rebuilt.Task;
        try
        {
            await BuildEngineAsync(allowRestore: false, CancellationToken.None);
            await CatchUpAllAsync(CancellationToken.None);
        }
        finally
        {
            rebuilt.SetResult();
        }

        await CheckpointAsync();
        return true;
    }

    private async Task OnBatchAsync(EventBatch batch)
    {
        if (!_engine.ObjectModels.Contains(batch.ObjectModel))
        {
            return;
        }

        var position = _engine.Position(batch.ObjectModel);
        if (batch.ToSequence <= position)
        {
            return; // Delivered again after a retry or a failover: already applied.
        }

        if (batch.FromSequence > position + 1)
        {
            logger.LogInformation("Gap in {Client}/{Model}: have {Position}, batch starts at {From}; reading the missing rows",
                ClientId, batch.ObjectModel, position, batch.FromSequence);
            await CatchUpAsync(batch.ObjectModel, batch.FromSequence - 1, CancellationToken.None);
        }

        _engine.Apply(batch.ObjectModel, batch.Rows);
        _eventsSinceCheckpoint += batch.Rows.Length;
        KpiTelemetry.EventsApplied.Add(batch.Rows.Length);
        KpiTelemetry.CommitToApplied.Record((DateTimeOffset.UtcNow - batch.CommittedAt).TotalMilliseconds);

        PublishChanges(batch.CommittedAt);
        if (_eventsSinceCheckpoint >= options.Value.CheckpointEveryEvents)
        {
            await CheckpointAsync();
        }
    }

    private async Task OnTickAsync(CancellationToken cancellationToken)
    {
        if (_behind.Count > 0)
        {
            await CatchUpStillBehindAsync(cancellationToken);
        }

        _engine.AdvanceTime(Now());
        PublishChanges();
        if (_eventsSinceCheckpoint > 0 && Stopwatch.GetElapsedTime(_checkpointedAt) >= options.Value.CheckpointInterval)
        {
            await CheckpointAsync();
        }
    }

    /// <summary>Finds committed events that never arrived (e.g. the last batch before a silo died) and applies them.</summary>
    private async Task CheckForLostBatchesAsync(CancellationToken cancellationToken)
    {
        if (_engine.ObjectModels.Count == 0)
        {
            return;
        }

        foreach (var (model, last) in await committedEnds.GetAsync(ClientId, cancellationToken))
        {
            if (_engine.ObjectModels.Contains(model) && last > _engine.Position(model) && !_behind.ContainsKey(model))
            {
                _behind[model] = (last, Stopwatch.GetTimestamp());
            }
        }

        if (options.Value.LostBatchGrace <= TimeSpan.Zero)
        {
            await CatchUpStillBehindAsync(cancellationToken);
        }
    }

    /// <summary>Reads the rows of partitions that stayed behind for the grace period: their batches were lost, not late.</summary>
    private async Task CatchUpStillBehindAsync(CancellationToken cancellationToken)
    {
        var caughtUp = false;
        foreach (var (model, (last, seenAt)) in _behind.ToList())
        {
            if (_engine.Position(model) >= last)
            {
                _behind.Remove(model); // The stream delivered them.
            }
            else if (Stopwatch.GetElapsedTime(seenAt) >= options.Value.LostBatchGrace)
            {
                _behind.Remove(model);
                await CatchUpAsync(model, last, cancellationToken);
                caughtUp = true;
            }
        }

        if (caughtUp)
        {
            PublishChanges();
        }
    }

    /// <param name="committedAt">When the batch that made these changes was committed; stamped on them so the gateway can time the way to a viewer.</param>
    private void PublishChanges(DateTimeOffset? committedAt = null)
    {
        _changes.Clear();
        if (_engine.DrainChanges(code => !_unpublished.Contains(code), _changes, Now()) == 0)
        {
            return;
        }

        if (committedAt is not null)
        {
            for (var i = 0; i < _changes.Count; i++)
            {
                _changes[i] = _changes[i] with { CommittedAt = committedAt };
            }
        }

        foreach (var group in _changes.GroupBy(c => c.KpiCode, StringComparer.Ordinal))
        {
            // One-way call: publishing never blocks computation.
            _ = GrainFactory.GetGrain<IKpiGrain>(KpiGrainKeys.For(ClientId, group.Key)).Publish(group.ToArray());
        }

        KpiTelemetry.ValuesPublished.Add(_changes.Count);
    }

    private async Task BuildEngineAsync(bool allowRestore, CancellationToken ct)
    {
        var (config, kpis, zone) = await LoadConfigurationAsync();
        _configVersion = config?.Version ?? 0;

        var models = BuiltInCatalog.ObjectModelsByCode;
        var restored = allowRestore && checkpoint.State.ConfigVersion == _configVersion ? TryRestore(zone, kpis) : null;
        _engine = restored ?? new ClientKpiEngine(ClientId, zone, kpis, models, engineOptions.Value);
        _replaysFromStart = restored is null;
        // The clock first: the catch-up that follows may replay all history, and only buckets within retention
        // should be built from it (a year of minute buckets otherwise, checkpointed and pushed before the first tick).
        _engine.AdvanceTime(Now());

        foreach (var error in _engine.Errors)
        {
            logger.LogWarning("KPI {Kpi} of client {Client} does not compile: {Error}", error.KpiCode, ClientId, error);
        }
    }

    private ClientKpiEngine? TryRestore(DateTimeZone zone, List<KpiDefinition> kpis)
    {
        if (checkpoint.State.EngineState is not { Length: > 0 } bytes)
        {
            return null;
        }

        try
        {
            var state = serializer.Deserialize<ClientKpiEngineState>(bytes) ?? throw new InvalidDataException("empty engine state");
            var restored = ClientKpiEngine.Restore(state, ClientId, zone, kpis, BuiltInCatalog.ObjectModelsByCode, engineOptions.Value);
            if (restored.TermsNotInCheckpoint.Count > 0)
            {
                // A release changed a formula of the catalog (the client's configuration, and so its version, did not
                // change): the new terms would count only rows after the checkpoint. Replay everything instead.
                logger.LogInformation("Checkpoint of client {Client} has no state for {Terms}; rebuilding from the stored events",
                    ClientId, string.Join(", ", restored.TermsNotInCheckpoint));
                return null;
            }

            return restored;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Losing a checkpoint costs a replay, never correctness: the positions go with the state.
            logger.LogWarning(ex, "Checkpoint of client {Client} is unreadable; rebuilding from the stored events", ClientId);
            return null;
        }
    }

    /// <summary>The client's configuration, the KPIs it selects and its zone (none and UTC for a client that does not exist).</summary>
    private async Task<(ClientConfig? Config, List<KpiDefinition> Kpis, DateTimeZone Zone)> LoadConfigurationAsync()
    {
        var config = await GrainFactory.GetGrain<IClientConfigGrain>(ClientId).Get();
        var kpis = config is null ? [] : ResolveKpis(config);
        return (config, kpis, ZoneIds.ZoneOf(config));
    }

    private static List<KpiDefinition> ResolveKpis(ClientConfig config)
    {
        return [.. config.SelectedKpis.Select(code => ClientKpis.Find(config, code)).OfType<KpiDefinition>()];
    }

    private async Task CatchUpAllAsync(CancellationToken ct)
    {
        // A replay from the start (a new engine, not a checkpoint) first has the client's archive put back the rows of
        // the days the engine keeps, so that its rebuilt buckets count what queries over those days count.
        var archive = _replaysFromStart && _engine.ObjectModels.Count > 0 ? GrainFactory.GetGrain<IArchiveGrain>(ClientId) : null;
        var replay = Guid.NewGuid();
        if (archive is not null)
        {
            await RestoreArchivedDaysAsync(archive, replay);
        }

        _replaysFromStart = false;
        try
        {
            foreach (var model in _engine.ObjectModels)
            {
                await CatchUpAsync(model, long.MaxValue, ct);
            }
        }
        finally
        {
            if (archive is not null)
            {
                _ = archive.EndQuery(replay);
            }
        }
    }

    /// <summary>
    /// Puts back the archived rows of the days the engine keeps, held in the active tables until the replay ends. When
    /// the archive cannot be asked now (a long archival run, a damaged segment) the replay goes on without them rather
    /// than leave the client without values, and its buckets of archived days count the active rows only.
    /// </summary>
    private async Task RestoreArchivedDaysAsync(IArchiveGrain archive, Guid replay)
    {
        var now = DateTimeOffset.UtcNow;
        try
        {
            await archive.PrepareQuery(replay, ArchiveQuery.RawRowsOnly(now.AddDays(-engineOptions.Value.DayBucketsKept - 1), now.AddDays(1), _engine.ObjectModels));
        }
#pragma warning disable CA1031 // Any failure of the archive: the live computation must still start.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            logger.LogError(exception, "Client {Client} replays without its archived days: the archive could not restore them", ClientId);
        }
    }

    /// <summary>Applies committed rows after the engine's position, up to <paramref name="toSequence"/>, page by page.</summary>
    /// <remarks>
    /// Every committed row is in its table unless the client's retention policy took it out (archived or deleted):
    /// the holes such rows leave in the sequence numbers are stepped over.
    /// </remarks>
    private async Task CatchUpAsync(string objectModel, long toSequence, CancellationToken ct)
    {
        var table = tables.Get(objectModel);
        while (true)
        {
            var from = _engine.Position(objectModel) + 1;
            if (from > toSequence)
            {
                return;
            }

            // The next rows there are, however far apart their sequence numbers: rows commit in sequence order, so a
            // hole between two rows of one read is rows removed, never rows not visible yet.
            var rows = await table.ReadAsync(dataSource, ClientId, from, toSequence, ct, options.Value.CatchUpPageSize);
            if (rows.Count == 0)
            {
                // Nothing stored through toSequence. When it is a committed end (a batch's predecessor, a partition's
                // end), the rows up to it were removed; otherwise the table simply ends here for now.
                if (toSequence != long.MaxValue)
                {
                    _engine.SkipRemoved(objectModel, toSequence);
                }

                return;
            }

            ApplyStepping(objectModel, rows);
            _eventsSinceCheckpoint += rows.Count;
            KpiTelemetry.EventsCaughtUp.Add(rows.Count);
        }
    }

    /// <summary>Applies rows read from a table, stepping over the holes removed rows left in their sequence numbers.</summary>
    private void ApplyStepping(string objectModel, List<EventRow> rows)
    {
        var start = 0;
        for (var i = 1; i <= rows.Count; i++)
        {
            if (i < rows.Count && rows[i].Sequence == rows[i - 1].Sequence + 1)
            {
                continue;
            }

            _engine.SkipRemoved(objectModel, rows[start].Sequence - 1);
            _engine.Apply(objectModel, start == 0 && i == rows.Count ? rows : rows.GetRange(start, i - start));
            start = i;
        }
    }

    private async Task CheckpointAsync()
    {
        checkpoint.State.EngineState = serializer.SerializeToArray(_engine.Export());
        checkpoint.State.ConfigVersion = _configVersion;
        await checkpoint.WriteStateAsync();
        _eventsSinceCheckpoint = 0;
        _checkpointedAt = Stopwatch.GetTimestamp();
    }

    private static Instant Now() => SystemClock.Instance.GetCurrentInstant();
}
