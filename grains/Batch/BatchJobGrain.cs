using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NodaTime;

namespace AnalyticsEngine.Batch;

/// <summary>
/// One scheduled batch job. Its definition and status live in grain storage; an Orleans reminder ticks it at the next
/// due time (re-aligned after every tick, so runs follow the client's local clock across DST); each run queries
/// through <see cref="IKpiQueryGrain"/> in a grain timer, so callers never wait for it, and stores its results in
/// <c>batch.runs</c>.
/// </summary>
public sealed partial class BatchJobGrain(
    [PersistentState("batch-job", BatchJobState.StorageName)] IPersistentState<BatchJobState> state,
    BatchStore store,
    IOptions<BatchOptions> options,
    IOptions<KpiQueryOptions> queryOptions,
    ILogger<BatchJobGrain> logger) : Grain, IBatchJobGrain, IRemindable
{
    private const string ReminderName = "batch";

    private IGrainTimer? _run;

    // A run's timer interleaves with calls (so a user or the reminder is never stuck behind a long run); its state
    // writes and those of the calls take turns here, so no two writes of this grain's state are ever in flight.
    private readonly SemaphoreSlim _saving = new(1, 1);

    private string JobId => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A run that was in progress when its silo stopped will never finish: say so instead of "running" forever. One
        // that stored its outcome before the silo stopped keeps it: only this state's copy was behind.
        if (state.State.LastRun is { Status: BatchRunStatus.Running } interrupted)
        {
            const string error = "The run was interrupted (its silo stopped); the next run is unaffected.";
            state.State.LastRun = await store.FinishInterruptedRunAsync(interrupted, error, cancellationToken)
                ?? interrupted with { Status = BatchRunStatus.Failed, FinishedAt = StoredNow(), Error = error };
            await SaveAsync();
        }
    }

    public async Task<BatchJobScheduled> Schedule(BatchJobDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        if (state.State.Definition is not null)
        {
            return new(null, [new("jobId", $"Job '{JobId}' already exists.")]);
        }

        var problems = BatchCalendar.Validate(definition.Schedule, definition.Range);
        var config = await GrainFactory.GetGrain<IClientConfigGrain>(definition.ClientId).Get();
        if (config is null)
        {
            problems.Add(new("clientId", $"Client '{definition.ClientId}' does not exist."));
            return new(null, problems);
        }

        if (problems.Count > 0)
        {
            return new(null, problems);
        }

        var zone = ZoneIds.ZoneOf(config);
        var now = SystemClock.Instance.GetCurrentInstant();
        var due = BatchCalendar.NextRun(definition.Schedule, zone, now);
        problems.AddRange(await CheckQueriesAsync(definition, config, zone, due));
        if (problems.Count > 0)
        {
            return new(null, problems);
        }

        // Codes as the catalog spells them ("pof" finds POF), as the runs' results name them.
        state.State.Definition = definition with { KpiCodes = [.. definition.KpiCodes.Select(c => ClientKpis.Find(config, c)?.Code ?? c)] };
        state.State.Status = BatchJobStatus.Scheduled;
        state.State.CreatedAt = now.ToDateTimeOffset();
        state.State.NextRunAt = options.Value.TestTickPeriod is { } tick ? (now + Duration.FromTimeSpan(tick)).ToDateTimeOffset() : due.ToDateTimeOffset();
        // The reminder first: one left behind by a failed write finds no job when it fires and unregisters itself,
        // where a job written without its reminder would never run.
        await RegisterReminderAsync(now);
        await SaveAsync();
        LogScheduled(logger, JobId, definition.ClientId, state.State.NextRunAt.Value);
        return new(Info(), []);
    }

    public Task<BatchJobInfo?> GetInfo() => Task.FromResult(state.State.Definition is null ? null : Info());

    public async Task<BatchRunStarted> RunNow()
    {
        if (state.State.Definition is null)
        {
            return new(BatchRunStart.UnknownJob, null);
        }

        if (state.State.Status == BatchJobStatus.Unscheduled)
        {
            return new(BatchRunStart.Unscheduled, null);
        }

        if (_run is not null)
        {
            return new(BatchRunStart.AlreadyRunning, state.State.LastRun);
        }

        return new(BatchRunStart.Started, await StartRunAsync(BatchRunTrigger.Manual, Instant.FromDateTimeOffset(StoredNow())));
    }

    public async Task<bool> Unschedule()
    {
        if (state.State.Definition is null)
        {
            return false;
        }

        // The state first: a reminder a failure leaves behind finds the job unscheduled when it fires and unregisters
        // itself, where a job still listed as scheduled without its reminder would never run.
        state.State.Status = BatchJobStatus.Unscheduled;
        state.State.NextRunAt = null;
        await SaveAsync();
        if (await this.GetReminder(ReminderName) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }

        return true;
    }

    public async Task ClientZoneChanged()
    {
        if (state.State is not { Definition: { } definition, Status: BatchJobStatus.Scheduled } || options.Value.TestTickPeriod is not null)
        {
            return;
        }

        var zone = ZoneIds.ZoneOf(await GrainFactory.GetGrain<IClientConfigGrain>(definition.ClientId).Get());
        var now = SystemClock.Instance.GetCurrentInstant();
        state.State.NextRunAt = BatchCalendar.NextRun(definition.Schedule, zone, now).ToDateTimeOffset();
        await RegisterReminderAsync(now);
        await SaveAsync();
        LogScheduled(logger, JobId, definition.ClientId, state.State.NextRunAt.Value);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ReminderName)
        {
            return;
        }

        if (state.State is not { Definition: not null, Status: BatchJobStatus.Scheduled, NextRunAt: { } nextRunAt })
        {
            if (await this.GetReminder(ReminderName) is { } stale)
            {
                await this.UnregisterReminder(stale);
            }

            return;
        }

        var now = SystemClock.Instance.GetCurrentInstant();
        if (options.Value.TestTickPeriod is { } tick)
        {
            state.State.NextRunAt = (now + Duration.FromTimeSpan(tick)).ToDateTimeOffset();
            await StartOrSkipAsync(now);
            return;
        }

        var due = Instant.FromDateTimeOffset(nextRunAt);
        if (now < due)
        {
            // Early: the reminder's fixed period drifted from the local clock (a DST change); tick again when due.
            await RegisterReminderAsync(now);
            return;
        }

        // Runs missed while no silo was up collapse into one, for the latest of them (its range is the most recent);
        // the next is the first due time after now.
        var config = await GrainFactory.GetGrain<IClientConfigGrain>(state.State.Definition.ClientId).Get();
        var zone = ZoneIds.ZoneOf(config);
        var schedule = state.State.Definition.Schedule;
        state.State.NextRunAt = BatchCalendar.NextRun(schedule, zone, now).ToDateTimeOffset();
        await StartOrSkipAsync(BatchCalendar.LatestRun(schedule, zone, due, now));
        await RegisterReminderAsync(now);
    }

    private async Task StartOrSkipAsync(Instant due)
    {
        if (_run is not null)
        {
            LogSkipped(logger, JobId, due.ToDateTimeOffset());
            await RecordSkippedAsync(due);
            return;
        }

        await StartRunAsync(BatchRunTrigger.Schedule, due);
    }

    /// <summary>
    /// Records a run due while the previous one still goes as failed without running it, so its period's missing
    /// results are listed with the reason rather than absent. The running one stays the job's last run.
    /// </summary>
    private async Task RecordSkippedAsync(Instant due)
    {
        var (definition, running) = (state.State.Definition!, state.State.LastRun!);
        var zone = ZoneIds.ZoneOf(await GrainFactory.GetGrain<IClientConfigGrain>(definition.ClientId).Get());
        var (from, to) = BatchCalendar.RangeFor(definition.Range, zone, due);
        var now = StoredNow();
        var skipped = new BatchRunSummary(JobId, state.State.LastRunId + 1, BatchRunTrigger.Schedule, due.ToDateTimeOffset(), from.ToDateTimeOffset(),
            to.ToDateTimeOffset(), BatchRunStatus.Failed, now, now, $"Skipped: run {running.RunId}, started at {running.StartedAt:O}, was still going.");
        await store.InsertRunAsync(definition.ClientId, skipped);
        await store.FinishRunAsync(skipped, [], options.Value.RunsKept);
        state.State.LastRunId = skipped.RunId;
        await SaveAsync();
    }

    /// <summary>
    /// Now, to the microsecond PostgreSQL stores: a run's times then read the same from the job's state and from
    /// <c>batch.runs</c>.
    /// </summary>
    private static DateTimeOffset StoredNow()
    {
        var now = DateTimeOffset.UtcNow;
        return now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMicrosecond));
    }

    /// <summary>Records the run as started, then runs it in a timer: the caller (a user or the reminder) does not wait.</summary>
    private async Task<BatchRunSummary> StartRunAsync(BatchRunTrigger trigger, Instant due)
    {
        var definition = state.State.Definition!;
        var config = await GrainFactory.GetGrain<IClientConfigGrain>(definition.ClientId).Get();
        var zone = ZoneIds.ZoneOf(config);
        var (from, to) = BatchCalendar.RangeFor(definition.Range, zone, due);
        var run = new BatchRunSummary(JobId, state.State.LastRunId + 1, trigger, due.ToDateTimeOffset(), from.ToDateTimeOffset(), to.ToDateTimeOffset(),
            BatchRunStatus.Running, StoredNow(), null, null);

        // The run row exists before the state names it, so a listed last run can always be read.
        await store.InsertRunAsync(definition.ClientId, run);
        state.State.LastRunId = run.RunId;
        state.State.LastRun = run;
        await SaveAsync();

        _run = this.RegisterGrainTimer(ct => ExecuteAsync(run, config, ct),
            new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true, Interleave = true });
        return run;
    }

    private async Task ExecuteAsync(BatchRunSummary run, ClientConfig? config, CancellationToken cancellationToken)
    {
        var definition = state.State.Definition!;
        IReadOnlyList<KpiQueryResult> results = [];
        string? error;
        try
        {
            if (config is null)
            {
                error = $"Client '{definition.ClientId}' does not exist.";
            }
            else
            {
                var codes = definition.Dashboard ? config.SelectedKpis : definition.KpiCodes;
                var queries = codes.Select(code => new KpiQuery(definition.ClientId, code, run.From, run.To, definition.Granularity, definition.Dimension)).ToList();
                results = queries.Count == 0 ? [] : await GrainFactory.GetGrain<IKpiQueryGrain>(0).CalculateBatch(queries, cancellationToken);
                var failures = results.Where(r => r.Error is not null).Select(r => $"{r.KpiCode}: {r.Error!.Message}").ToList();
                error = failures.Count > 0 ? string.Join(" ", failures) : null;
            }
        }
#pragma warning disable CA1031 // Whatever stops a run is its outcome, recorded for the user; the job stays scheduled.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            LogRunFailed(logger, exception, JobId, run.RunId);
            error = ServerFailure.Describe("The run");
        }

        var finished = run with
        {
            Status = error is null ? BatchRunStatus.Succeeded : BatchRunStatus.Failed,
            FinishedAt = StoredNow(),
            Error = error,
        };
        try
        {
            await store.FinishRunAsync(finished, results, options.Value.RunsKept, CancellationToken.None);
            if (state.State.LastRun?.RunId == finished.RunId)
            {
                state.State.LastRun = finished;
            }

            await SaveAsync();
        }
        finally
        {
            _run?.Dispose();
            _run = null;
        }
    }

    /// <summary>Checks what a run would refuse, against the first run's range, so a bad job is refused at once.</summary>
    private async Task<List<BatchJobProblem>> CheckQueriesAsync(BatchJobDefinition definition, ClientConfig config, DateTimeZone zone, Instant due)
    {
        var problems = new List<BatchJobProblem>();
        if (definition.Dimension is { Length: 0 })
        {
            problems.Add(new("dimension", "must not be empty; leave it out for no drill-down."));
        }

        var codes = definition.Dashboard ? config.SelectedKpis : definition.KpiCodes;
        if (codes.Count == 0)
        {
            problems.Add(definition.Dashboard
                ? new("dashboard", $"Client '{config.ClientId}' has selected no KPIs.")
                : new("kpiCodes", "name at least one KPI, or set dashboard to true."));
        }

        if (codes.Count > queryOptions.Value.MaxBatch)
        {
            problems.Add(new("kpiCodes", $"a job may compute at most {queryOptions.Value.MaxBatch} KPIs."));
        }

        foreach (var code in codes.Where(c => ClientKpis.Find(config, c) is null).Distinct(StringComparer.Ordinal))
        {
            problems.Add(new("kpiCodes", $"KPI '{code}' is neither a custom KPI of client '{config.ClientId}' nor in the catalog."));
        }

        var (from, to) = BatchCalendar.RangeFor(definition.Range, zone, due);
        var buckets = QueryBuckets.Compute(zone, definition.Granularity, from.ToUnixTimeTicks(), to.ToUnixTimeTicks(), queryOptions.Value.MaxPoints);
        if (buckets is null)
        {
            problems.Add(new("granularity", $"{definition.Granularity.ToString().ToLowerInvariant()} buckets over the range would be more than {queryOptions.Value.MaxPoints} points."));
        }

        if (problems.Count > 0)
        {
            return problems;
        }

        // Formulas and the dimension, checked by the query path itself over a one-tick range (it reads almost nothing).
        var probeTo = from.ToDateTimeOffset().AddTicks(1);
        var probes = codes.Select(code => new KpiQuery(config.ClientId, code, from.ToDateTimeOffset(), probeTo, QueryGranularity.Range, definition.Dimension)).ToList();
        foreach (var result in await GrainFactory.GetGrain<IKpiQueryGrain>(0).CalculateBatch(probes))
        {
            if (result.Error is { } error)
            {
                problems.Add(new(error.Kind == QueryErrorKind.InvalidDimension ? "dimension" : "kpiCodes", $"{result.KpiCode}: {error.Message}"));
            }
        }

        return problems;
    }

    private async Task RegisterReminderAsync(Instant now)
    {
        if (options.Value.TestTickPeriod is { } tick)
        {
            await this.RegisterOrUpdateReminder(ReminderName, tick, tick);
            return;
        }

        var due = Instant.FromDateTimeOffset(state.State.NextRunAt!.Value) - now;
        await this.RegisterOrUpdateReminder(ReminderName, due < Duration.Zero ? TimeSpan.Zero : due.ToTimeSpan(),
            BatchCalendar.NominalPeriod(state.State.Definition!.Schedule.Frequency));
    }

    private async Task SaveAsync()
    {
        await _saving.WaitAsync();
        try
        {
            await state.WriteStateAsync();
            await store.UpsertJobAsync(Info());
        }
        finally
        {
            _saving.Release();
        }
    }

    private BatchJobInfo Info() => new(JobId, state.State.Definition!, state.State.Status, state.State.CreatedAt, state.State.NextRunAt, state.State.LastRun);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch job {JobId} of client {ClientId} scheduled; first run at {NextRunAt}")]
    private static partial void LogScheduled(ILogger logger, string jobId, string clientId, DateTimeOffset nextRunAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch job {JobId}: the run due at {Due} was skipped because the previous run is still going")]
    private static partial void LogSkipped(ILogger logger, string jobId, DateTimeOffset due);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch job {JobId}: run {RunId} failed")]
    private static partial void LogRunFailed(ILogger logger, Exception exception, string jobId, long runId);
}
