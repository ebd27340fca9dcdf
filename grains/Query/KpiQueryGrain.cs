using AnalyticsEngine.Archive;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Concurrency;

namespace AnalyticsEngine.Query;

/// <summary>
/// Answers one-time KPI queries through <see cref="KpiQueryRunner"/>. Stateless and reentrant: each silo takes any
/// number of calls at once, so a quick query never waits behind a long one for an activation; the silo's
/// <see cref="QueryGate"/> bounds how many run in PostgreSQL at once. A caller that goes away cancels its statement.
/// </summary>
[StatelessWorker]
[Reentrant]
public sealed partial class KpiQueryGrain(
    NpgsqlDataSource dataSource,
    IOptions<KpiEngineOptions> engineOptions,
    IOptions<KpiQueryOptions> queryOptions,
    KpiQueryCache cache,
    QueryGate gate,
    ILogger<KpiQueryGrain> logger) : Grain, IKpiQueryGrain
{
    public async Task<KpiQueryResult> Calculate(KpiQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var config = await GrainFactory.GetGrain<IClientConfigGrain>(query.ClientId).Get();
        if (config is null)
        {
            return KpiQueryResult.Failed(query, QueryErrorKind.UnknownClient, $"Client '{query.ClientId}' does not exist.");
        }

        return await CalculateAsync(query, config, queryOptions.Value.BatchTimeout, cancellationToken);
    }

    public async Task<IReadOnlyList<KpiQueryResult>> CalculateBatch(IReadOnlyList<KpiQuery> queries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queries);
        var configs = new Dictionary<string, ClientConfig?>(StringComparer.Ordinal);
        return await InTurnAsync(
            queries,
            async clientId => configs.TryGetValue(clientId, out var config)
                ? config
                : configs[clientId] = await GrainFactory.GetGrain<IClientConfigGrain>(clientId).Get(),
            $"A batch may hold at most {queryOptions.Value.MaxBatch} queries.",
            cancellationToken);
    }

    public async Task<IReadOnlyList<KpiQueryResult>> CalculateDashboard(
        string clientId, DateTimeOffset from, DateTimeOffset to, QueryGranularity granularity, CancellationToken cancellationToken = default)
    {
        var config = await GrainFactory.GetGrain<IClientConfigGrain>(clientId).Get();
        if (config is null)
        {
            return [KpiQueryResult.Failed(new KpiQuery(clientId, "", from, to, granularity), QueryErrorKind.UnknownClient, $"Client '{clientId}' does not exist.")];
        }

        if (config.SelectedKpis.Count == 0)
        {
            // No KPI to refuse the range for it: the range is checked as any KPI's would be, so the answer does not
            // depend on whether the client has selected some.
            var none = new KpiQuery(clientId, "", from, to, granularity);
            return KpiQueryRunner.RangeProblem(none, config, queryOptions.Value) is { } problem ? [KpiQueryResult.Failed(none, problem.Kind, problem.Message)] : [];
        }

        return await InTurnAsync(
            config.SelectedKpis.Select(code => new KpiQuery(clientId, code, from, to, granularity)),
            _ => Task.FromResult<ClientConfig?>(config),
            $"A dashboard answers at most {queryOptions.Value.MaxBatch} KPIs; the client has selected {config.SelectedKpis.Count}.",
            cancellationToken);
    }

    /// <summary>
    /// The queries of a batch, a dashboard or a scheduled run, one after another, each answered in its place: those the
    /// batch's number, time or points no longer allow (<see cref="BatchBudget"/>, <paramref name="tooMany"/> past its
    /// number) as not started, those of a client that does not exist as such.
    /// </summary>
    private async Task<IReadOnlyList<KpiQueryResult>> InTurnAsync(
        IEnumerable<KpiQuery> queries, Func<string, Task<ClientConfig?>> configOf, string tooMany, CancellationToken cancellationToken)
    {
        var results = new List<KpiQueryResult>();
        var budget = new BatchBudget(queryOptions.Value, tooMany);
        foreach (var query in queries)
        {
            if (budget.Refusal(query) is { } notStarted)
            {
                results.Add(notStarted);
            }
            else
            {
                results.Add(await configOf(query.ClientId) is { } config
                    ? budget.Spend(await CalculateAsync(query, config, budget.Remaining, cancellationToken))
                    : KpiQueryResult.Failed(query, QueryErrorKind.UnknownClient, $"Client '{query.ClientId}' does not exist."));
            }
        }

        return results;
    }

    public async Task<IReadOnlyList<PartitionRollupStatus>> RollupStatus(string clientId, CancellationToken cancellationToken = default)
    {
        var config = await GrainFactory.GetGrain<IClientConfigGrain>(clientId).Get();
        return (await TermRollups.PartitionsAsync(dataSource, clientId, config, cancellationToken))
            .Select(p => new PartitionRollupStatus(p.ObjectModel, p.LastSequence, p.RolledUpThrough, !p.MissesRows, p.RestartedAt, p.MissingRows))
            .ToArray();
    }

    /// <summary>
    /// One query, once the silo's <see cref="QueryGate"/> lets it run: a turn that does not come within
    /// <paramref name="maxWait"/> (a single query's batch time, or what is left of its batch's) is answered as not started.
    /// </summary>
    private async Task<KpiQueryResult> CalculateAsync(KpiQuery query, ClientConfig config, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        var options = queryOptions.Value;
        KpiQueryResult result;
        KpiQueryRunner runner;
        var archive = GrainFactory.GetGrain<IArchiveGrain>(query.ClientId);
        Guid? asked = null;
        try
        {
            // Buckets that may reach archived days (a week's or a month's start before the range's) first ask the
            // client's archive, which takes no rows or rollups out while the query runs. It puts back the rows of the
            // archived days the query's rollups do not hold, and the query reads those days raw.
            // Prepared once: reading raw rows only changes no limit it checks.
            var prepared = KpiQueryRunner.Prepare(query, config, options);
            ArchiveQuery? ask = null;
            ArchiveAccess? access = null;
            if (prepared is { Boundaries: { } bounds, Formula: { ObjectModels.Count: > 0 } formula }
                && RetentionHorizons.MayReadArchive(TimeTicks.ToDateTimeOffset(bounds[0]), DateTimeOffset.UtcNow))
            {
                asked = Guid.NewGuid();
                ask = ArchivedDays.Ask(formula, query.Dimension, bounds, options.UseRollups);
                access = await archive.PrepareQuery(asked.Value, ask);
            }

            Task<(bool Ran, KpiQueryResult? Answer)> RunAsync(KpiQueryOptions runOptions, ArchiveAccess? archived)
            {
                runner = new KpiQueryRunner(dataSource, runOptions, engineOptions.Value.AllowedLateness, logger, cache) { Archived = archived };
                return gate.TryRunAsync(() => runner.RunAsync(query, config, prepared, cancellationToken), maxWait, cancellationToken);
            }

            bool ran;
            KpiQueryResult? answer;
            try
            {
                // A range the archive holds nothing of runs as any other (in one round trip where it can).
                (ran, answer) = await RunAsync(options, access is { SegmentsRead: > 0 } ? access : null);
            }
            catch (ArchivedRowsNotBackException exception)
            {
                // The rollups changed since the archive was asked (a rebuild): once more, with every archived row back.
                LogArchivedRowsNotBack(logger, query.KpiCode, query.ClientId, exception.ObjectModel);
                QueryTelemetry.ArchivedRowsNotBack.Add(1);
                access = await archive.PrepareQuery(asked!.Value, ArchiveQuery.RawRowsOnly(ask!.From, ask.To, prepared.Formula!.ObjectModels));
                (ran, answer) = await RunAsync(options.RawRowsOnly(), access);
            }

            result = ran
                ? answer!
                : KpiQueryResult.Failed(query, QueryErrorKind.Timeout,
                    $"Not started: the silo ran its {gate.Slots} queries at once (Query:MaxConcurrentQueries) for the {maxWait.TotalSeconds:0.#} s this one could wait; send it again.");
        }
        catch (InvalidDataException exception) when (!cancellationToken.IsCancellationRequested)
        {
            // A segment the query reads failed its checksum (ColdStorage): asking again will not help.
            LogQueryFailed(logger, exception, query.KpiCode, query.ClientId);
            return KpiQueryResult.Failed(query, QueryErrorKind.Failed,
                $"The query of KPI '{query.KpiCode}' reads archived days whose file is damaged (it fails its SHA-256 check; the server's log names it). " +
                "Asking again will not help: an operator must restore the file from a backup of the cold storage.");
        }
#pragma warning disable CA1031 // One query's failure is its own answer: the other queries of a batch, a dashboard or a scheduled run keep theirs.
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
            LogQueryFailed(logger, exception, query.KpiCode, query.ClientId);
            return KpiQueryResult.Failed(query, QueryErrorKind.Failed, ServerFailure.Describe($"The query of KPI '{query.KpiCode}'"));
        }
        finally
        {
            // Also when asking failed or timed out: the archive must not hold its runs for a query that is over.
            if (asked is { } ended)
            {
                _ = archive.EndQuery(ended);
            }
        }

        // The answer was exact (raw rows where rollups miss some); the partition's next queries need not be slow.
        // One-way, and a no-op for a partition that checked in the last minutes (IngestOptions.RollupCheckInterval).
        foreach (var model in runner.IncompleteRollups)
        {
            _ = GrainFactory.GetGrain<IIngestGrain>(IngestKeys.For(query.ClientId, model)).CheckRollups();
        }

        return result;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "KPI query {Kpi} of {Client} runs again over raw rows: the rollups of {Model} no longer hold the archived rows it was to read through them")]
    private static partial void LogArchivedRowsNotBack(ILogger logger, string kpi, string client, string model);

    [LoggerMessage(Level = LogLevel.Error, Message = "KPI query {Kpi} of {Client} failed")]
    private static partial void LogQueryFailed(ILogger logger, Exception exception, string kpi, string client);
}
