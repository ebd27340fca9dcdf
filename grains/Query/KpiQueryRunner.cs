using System.Diagnostics;
using AnalyticsEngine.Archive;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Kpi.Formula;
using Microsoft.Extensions.Logging;
using NodaTime;
using Npgsql;

namespace AnalyticsEngine.Query;

/// <summary>
/// Runs one KPI query without Orleans: resolves the KPI (the client's custom KPIs first, then the catalog, as the
/// stream does), cuts the range into the stream's buckets, compiles the formula to one SQL statement and runs it in a
/// read-only transaction under a statement timeout. The query grain and the benchmark both use it.
/// </summary>
/// <remarks>
/// Event object models whose terms are all rolled up for every row are read from <c>query.term_rollups</c> for the
/// whole slots of each bucket and from raw rows at the edges; a <see cref="KpiQueryCache"/>, when given, answers a
/// repeated query whose sources have not moved.
/// </remarks>
public sealed class KpiQueryRunner(
    NpgsqlDataSource dataSource, KpiQueryOptions options, TimeSpan allowedLateness, ILogger logger, KpiQueryCache? cache = null)
{
    private static readonly ActivitySource Source = new("AnalyticsEngine.Query");

    public Task<KpiQueryResult> RunAsync(KpiQuery query, ClientConfig config, CancellationToken cancellationToken = default) =>
        RunAsync(query, config, Prepare(query, config, options), cancellationToken);

    /// <summary>The query as <see cref="Prepare"/> made it ready (with the same limits as this runner's options).</summary>
    internal async Task<KpiQueryResult> RunAsync(KpiQuery query, ClientConfig config, PreparedQuery prepared, CancellationToken cancellationToken = default)
    {
        using var activity = Source.StartActivity("kpi.query");
        activity?.SetTag("ae.client", query.ClientId);
        activity?.SetTag("ae.kpi", query.KpiCode);
        activity?.SetTag("ae.granularity", query.Granularity.ToString());

        if (prepared.Error is { } error)
        {
            return KpiQueryResult.Failed(query, error.Kind, error.Message);
        }

        var boundaries = prepared.Boundaries!;
        var context = new QueryAnswerContext(
            query.ClientId,
            prepared.KpiCode!,
            QueryBuckets.Reported(query.Granularity),
            boundaries,
            SystemClock.Instance.GetCurrentInstant().ToUnixTimeTicks(),
            allowedLateness.Ticks,
            options.MaxPoints);
        try
        {
            IReadOnlyList<KpiSeries> series;
            try
            {
                series = await ExecuteAsync(query, config, prepared, context, cancellationToken);
            }
            catch (PostgresException ex) when (IsPastFloat8(ex, cancellationToken))
            {
                // float8 raised where the engine's doubles go past their range (a row's product, a bucket's sum): the
                // raw rows again, with the engine's arithmetic, so that the answer is the stream's. A data exception
                // of that statement too is the formula's (below).
                LogPastFloat8(query);
                series = await AnsweredWithDoubleArithmeticAsync(query, config, prepared, context, cancellationToken);
            }

            return new KpiQueryResult(query.ClientId, prepared.KpiCode!, query.Granularity, query.From, query.To, query.Dimension, series, null);
        }
        catch (TooManyPointsException ex)
        {
            return KpiQueryResult.Failed(query, QueryErrorKind.TooManyPoints, ex.Message + ".");
        }
        catch (NpgsqlException ex) when (IsTimeout(ex) && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("KPI query {Kpi} of {Client} hit the statement timeout", query.KpiCode, query.ClientId);
            return KpiQueryResult.Failed(query, QueryErrorKind.Timeout,
                $"The query did not finish within {options.StatementTimeout.TotalSeconds:0.#} s; ask for a shorter range or a coarser granularity.");
        }
        catch (PostgresException ex) when (TermRollups.IsDataException(ex) && !cancellationToken.IsCancellationRequested)
        {
            // A data exception (class 22) is the formula's over these rows (an overflow, say): the caller's to fix.
            logger.LogInformation("KPI query {Kpi} of {Client} failed over the stored rows: {Error}", query.KpiCode, query.ClientId, ex.MessageText);
            return KpiQueryResult.Failed(query, QueryErrorKind.FormulaFailed,
                $"The formula of KPI '{prepared.KpiCode}' cannot be computed over the stored rows: {ex.MessageText} ({ex.SqlState}).");
        }
        catch (PostgresException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The statement goes into the log with the error; the caller is told where to find them.
            logger.LogError(ex, "KPI query {Kpi} of {Client} failed: {Sql}", query.KpiCode, query.ClientId, ex.BatchCommand?.CommandText);
            return KpiQueryResult.Failed(query, QueryErrorKind.Failed, ServerFailure.Describe($"The query of KPI '{query.KpiCode}'"));
        }
    }

    private void LogPastFloat8(KpiQuery query) =>
        logger.LogInformation("KPI query {Kpi} of {Client} went past float8's range; reading its rows again with double arithmetic", query.KpiCode, query.ClientId);

    /// <summary>PostgreSQL's statement timeout, or Npgsql's own should the server not answer at all.</summary>
    private static bool IsTimeout(NpgsqlException exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } || exception.InnerException is TimeoutException;

    /// <summary>Everything before touching the database: the KPI, its compiled formula, the zone and the bucket boundaries, or why not.</summary>
    internal static PreparedQuery Prepare(KpiQuery query, ClientConfig config, KpiQueryOptions options)
    {
        if (RangeProblem(query, options) is { } rangeProblem)
        {
            return PreparedQuery.Failed(rangeProblem);
        }

        var definition = ClientKpis.Find(config, query.KpiCode);
        if (definition is null)
        {
            return PreparedQuery.Failed(QueryErrorKind.UnknownKpi, $"KPI '{query.KpiCode}' is neither a custom KPI of client '{config.ClientId}' nor in the catalog.");
        }

        var models = BuiltInCatalog.ObjectModelsByCode;
        var compiled = QueryFormulas.Compile(definition.Formula);
        if (compiled.Formula is not { } formula)
        {
            return PreparedQuery.Failed(QueryErrorKind.InvalidFormula,
                $"The formula of KPI '{definition.Code}' does not compile: {string.Join("; ", compiled.Errors.Select(e => $"({e.Line},{e.Column}) {e.Message}"))}");
        }

        if (query.Dimension is { } dimension && KpiSqlCompiler.DimensionProblem(formula, models, dimension) is { } problem)
        {
            return PreparedQuery.Failed(QueryErrorKind.InvalidDimension, $"Cannot drill down KPI '{definition.Code}' by '{dimension}': {problem}");
        }

        var zone = ZoneIds.ZoneOf(config);
        var boundaries = QueryBuckets.Compute(zone, query.Granularity, TimeTicks.Of(query.From), TimeTicks.Of(query.To), options.MaxPoints);
        if (boundaries is null)
        {
            return PreparedQuery.Failed(TooManyPoints(query, options));
        }

        return new PreparedQuery(definition.Code, formula, zone, boundaries, null);
    }

    /// <summary>
    /// What is wrong with a query's range or granularity whatever its KPI (including too many buckets in the client's
    /// zone), or null: what a dashboard of no KPIs is checked for, as one of any KPIs would be.
    /// </summary>
    internal static QueryError? RangeProblem(KpiQuery query, ClientConfig config, KpiQueryOptions options) =>
        RangeProblem(query, options)
        ?? (QueryBuckets.Compute(ZoneIds.ZoneOf(config), query.Granularity, TimeTicks.Of(query.From), TimeTicks.Of(query.To), options.MaxPoints) is null
            ? TooManyPoints(query, options)
            : null);

    private static QueryError? RangeProblem(KpiQuery query, KpiQueryOptions options)
    {
        if (!Enum.IsDefined(query.Granularity))
        {
            return new QueryError(QueryErrorKind.UnsupportedGranularity, $"Granularity {query.Granularity} is not supported.");
        }

        if (query.To <= query.From)
        {
            return new QueryError(QueryErrorKind.InvalidRange, $"The range is empty or inverted: 'to' ({query.To:O}) must be after 'from' ({query.From:O}).");
        }

        // The instants ingest accepts (RowBuilder): no stored event is outside them, and a bucket reaching past the end
        // could end beyond the last date .NET and NodaTime can represent.
        if (query.From < QueryRange.Earliest || query.To > QueryRange.End)
        {
            return new QueryError(QueryErrorKind.InvalidRange,
                $"The range must lie between {QueryRange.Earliest:yyyy-MM-dd} and {QueryRange.End:yyyy-MM-dd} (UTC): no stored event is outside it, and the calendar's buckets end at the year 9999.");
        }

        if (query.To - query.From > options.MaxRange)
        {
            return new QueryError(QueryErrorKind.InvalidRange, $"The range covers {(query.To - query.From).TotalDays:0.#} days; at most {options.MaxRange.TotalDays:0} are allowed.");
        }

        return null;
    }

    private static QueryError TooManyPoints(KpiQuery query, KpiQueryOptions options) => new(QueryErrorKind.TooManyPoints,
        $"A {query.Granularity.ToString().ToLowerInvariant()} series over {(query.To - query.From).TotalDays:0.#} days has more than {options.MaxPoints} points; ask for a coarser granularity or a shorter range.");

    /// <summary>
    /// The object models of the last query whose partitions hold rows that this release's rollups do not all cover
    /// (not rolled up yet, or a term or dimension added since): the query grain asks their ingest grains to check them.
    /// </summary>
    internal IReadOnlyList<string> IncompleteRollups { get; private set; } = [];

    /// <summary>Whether the last statement this runner ran read rollups (for tests and the benchmark).</summary>
    internal bool LastRunUsedRollups { get; private set; }

    /// <summary>Whether the last statement this runner ran was told to read through the index (<see cref="TenantShare"/>).</summary>
    internal bool LastRunReadThroughIndex { get; private set; }

    /// <summary>Whether the last query this runner answered sent its statement with its snapshot, in one round trip (a cache hit does not).</summary>
    internal bool LastRunInOneRoundTrip { get; private set; }

    /// <summary>Whether a statement over rollups alone goes with its snapshot in one round trip (off only for the benchmark's comparison).</summary>
    internal bool SendsStatementWithSnapshot { get; init; } = true;

    /// <summary>
    /// What the client's archive said of the query's range, for a query over days that may be archived: where to read
    /// raw rows (their rows are back), and which archived rows the rollups it reads must hold (<see cref="ArchivedDays"/>).
    /// </summary>
    internal ArchiveAccess? Archived { get; init; }

    private async Task<IReadOnlyList<KpiSeries>> ExecuteAsync(
        KpiQuery query, ClientConfig config, PreparedQuery prepared, QueryAnswerContext context, CancellationToken cancellationToken)
    {
        var formula = prepared.Formula!;
        var clientRollups = TermRollups.ForClient(config);
        LastRunInOneRoundTrip = false;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        string? key = null;
        QuerySnapshot.Sources? checkedSources = null;
        if (cache is not null && options.CacheDuration > TimeSpan.Zero)
        {
            key = CacheKey(connection, context, prepared, query);
            if (await cache.NewestAsync(key, cancellationToken) is { } newest)
            {
                // Whether the newest cached answer still holds, in one round trip of its own: the snapshot, whether
                // rows landed in its buckets since, COMMIT. On a miss the query runs in a new snapshot, as uncached.
                var check = checkedSources = await QuerySnapshot.SourcesAsync(
                    connection, options.StatementTimeout, context.ClientId, formula.ObjectModels, newest.Positions, context.Boundaries, cancellationToken);
                RolledUpPartitions.Record(context.ClientId, check);
                if (!check.ChangedSinceCached)
                {
                    IncompleteRollups = Incomplete(check, clientRollups);
                    cache.Record(hit: true);
                    return Served(newest.Series, check.Positions, context);
                }
            }
        }

        var ranges = options.UseRollups ? RollupRanges.Split(context.Boundaries, TermRollups.SlotMinutesFor(query.Dimension), ArchivedDays.RawTicks(Archived)) : null;
        // A query over archived days checks the rollups in its snapshot before its statement (ArchivedDays.CheckAsync).
        if (SendsStatementWithSnapshot && Archived is null && ranges is not null && RolledUpByThisRelease(formula, query.Dimension, clientRollups))
        {
            // A statement that would read rollups alone if they held every row (as they do but for a while after a
            // release or a client adds a term) is sent with the snapshot, in one round trip, and its answer kept if
            // the snapshot says they do; else it is dropped (having read little: KpiSqlCompiler.RollupCte) and the
            // query runs in two round trips. It leaves out the rows after the watermark of a partition the client's
            // last query (or the cache check just now) found quiet and rolled up to the end (RolledUpPartitions), and
            // is dropped too if rows came after the watermark since.
            // Concurrent callers each run it (0.1–10 ms), where the cache would have them wait for one run at the same
            // positions, which are known only with the answer here.
            var expected = RollupSource.AssumingCovered(ranges, formula, query.Dimension) with
            {
                RolledUpToTheEnd = RolledUpPartitions.Expected(context.ClientId, formula.ObjectModels),
            };
            var assumed = Compile(formula, query.Dimension, expected, context.Boundaries);
            if (!assumed.ReadsRawRanges
                && await InOneRoundTripAsync(connection, clientRollups, assumed, expected, query.Dimension, context, cancellationToken) is { } answered)
            {
                if (key is not null)
                {
                    await cache!.StoreAsync(key, answered.Positions, answered.Series, cancellationToken);
                }

                return answered.Series;
            }
        }

        if (key is null)
        {
            return (await InTwoRoundTripsAsync(connection, formula, query.Dimension, ranges, clientRollups, context, cancellationToken)).Series;
        }

        // Through the cache, concurrent callers at the same positions run the statement once. The positions come from a
        // snapshot of their own, begun and committed in one round trip (the cache check's, when it ran), and the run
        // reads in a connection and snapshot of its own: a caller may leave while others still wait on the run, which on
        // that caller's connection would lose it. Its answer may be newer than the positions it was asked at, and says
        // so in asOf.
        var sources = checkedSources ?? await QuerySnapshot.SourcesAsync(
            connection, options.StatementTimeout, context.ClientId, formula.ObjectModels, cachedPositions: null, context.Boundaries, cancellationToken);
        IncompleteRollups = Incomplete(sources, clientRollups);
        await connection.DisposeAsync();
        var result = await cache!.RunAsync(key, sources.Positions, async ct =>
        {
            try
            {
                await using var own = await dataSource.OpenConnectionAsync(ct);
                var (series, positions) = await InTwoRoundTripsAsync(own, formula, query.Dimension, ranges, clientRollups, context, ct);
                return new CachedResult(positions, series);
            }
            catch (PostgresException ex) when (IsPastFloat8(ex, ct))
            {
                // Past float8's range (RunAsync): again with double arithmetic, here, so that the callers waiting on
                // this run share that one too.
                LogPastFloat8(query);
                await using var again = await dataSource.OpenConnectionAsync(ct);
                var (series, positions) = await WithDoubleArithmeticAsync(again, formula, query.Dimension, clientRollups, context, ct);
                return new CachedResult(positions, series);
            }
        }, cancellationToken);
        return Served(result.Series, result.Positions, context);
    }

    /// <summary>Whether a statement raised where float8 went past its range (and its caller is still there).</summary>
    private static bool IsPastFloat8(PostgresException exception, CancellationToken cancellationToken) =>
        exception.SqlState == PostgresErrorCodes.NumericValueOutOfRange && !cancellationToken.IsCancellationRequested;

    /// <summary>
    /// The query over raw rows with the engine's double arithmetic (<see cref="KpiSqlCompiler.RowSql"/>), in a snapshot
    /// of its own: only for a query whose statement went past float8's range.
    /// </summary>
    private Task<(KpiSeries[] Series, SourcePosition[] Positions)> WithDoubleArithmeticAsync(
        NpgsqlConnection connection, CompiledFormula formula, string? dimension, IReadOnlyDictionary<string, TermRollups> clientRollups,
        QueryAnswerContext context, CancellationToken cancellationToken) =>
        InTwoRoundTripsAsync(connection, formula, dimension, ranges: null, clientRollups, context, cancellationToken, doubleArithmetic: true);

    /// <summary>
    /// The query with double arithmetic, for one whose statement ran outside the shared cache run; its answer is kept
    /// as the query's newest, so that the next callers, finding no row since, are served it rather than going past the
    /// range again.
    /// </summary>
    private async Task<IReadOnlyList<KpiSeries>> AnsweredWithDoubleArithmeticAsync(
        KpiQuery query, ClientConfig config, PreparedQuery prepared, QueryAnswerContext context, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var (series, positions) = await WithDoubleArithmeticAsync(
            connection, prepared.Formula!, query.Dimension, TermRollups.ForClient(config), context, cancellationToken);
        if (cache is not null && options.CacheDuration > TimeSpan.Zero)
        {
            await cache.StoreAsync(CacheKey(connection, context, prepared, query), positions, series, cancellationToken);
        }

        return series;
    }

    private static string CacheKey(NpgsqlConnection connection, QueryAnswerContext context, PreparedQuery prepared, KpiQuery query) =>
        KpiQueryCache.Key(
            connection.Host + ":" + connection.Port + "/" + connection.Database, context.ClientId, context.KpiCode, prepared.Formula!.Source, prepared.Zone!.Id, query);

    /// <summary>
    /// The query in two round trips, as for one statement plus its transaction: the snapshot, its limits and what the
    /// sources hold in one batch; the statement and COMMIT in the other (and for raw rows, the client's share of the
    /// range before them). A connection returned mid-transaction (an error) is rolled back by the pool.
    /// </summary>
    private async Task<(KpiSeries[] Series, SourcePosition[] Positions)> InTwoRoundTripsAsync(
        NpgsqlConnection connection, CompiledFormula formula, string? dimension, RollupRanges? ranges,
        IReadOnlyDictionary<string, TermRollups> clientRollups, QueryAnswerContext context, CancellationToken cancellationToken, bool doubleArithmetic = false)
    {
        var begun = await QuerySnapshot.BeginAsync(connection, options.StatementTimeout, context.ClientId, formula.ObjectModels, cancellationToken);
        IncompleteRollups = Incomplete(begun, clientRollups);
        RolledUpPartitions.Record(context.ClientId, begun);
        var rollups = ranges is null ? null : new RollupSource(ranges, ArchivedDays.WithoutRawRowModels(begun.Covered, Archived)) { RolledUpToTheEnd = begun.RolledUpToTheEnd };
        if (Archived is not null)
        {
            await ArchivedDays.CheckAsync(connection, Archived, context.ClientId, formula, dimension, rollups, cancellationToken);
        }

        var plan = doubleArithmetic
            ? KpiSqlCompiler.Compile(formula, BuiltInCatalog.ObjectModelsByCode, dimension, rowLimit: RowLimit(dimension), doubleArithmetic: true)
            : Compile(formula, dimension, rollups, context.Boundaries);

        // A statement over rollups (here only with the benchmark's switch off, or with rollups for some object models
        // and raw ranges for others) reads raw rows only at the edges and after the watermark, through the index
        // anyway; one that reads the range's raw rows first asks how many are the client's (one more round trip,
        // against tens of milliseconds and more for the statement).
        var rawRead = plan.ReadsRawRanges
            ? await QuerySnapshot.RawReadAsync(connection, options.StatementTimeout, context.ClientId, plan.RawRangeModels, begun.Positions, context.Boundaries, cancellationToken)
            : null;
        var readThroughIndex = rawRead?.ThroughIndex == true;
        await using var batch = new NpgsqlBatch(connection) { Timeout = QuerySnapshot.ClientTimeoutSeconds(options.StatementTimeout) };
        if (readThroughIndex)
        {
            // See TenantShare.
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_seqscan = off"));
        }

        if (rawRead is { Jit: false })
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL jit = off"));
        }

        // The statement is prepared (auto-prepare), and PostgreSQL would choose after five runs between planning each
        // run and one generic plan, by costs it cannot know. A statement over rollups is written for a generic plan
        // (every part an index range scan, KpiSqlCompiler.RollupCte), which the transaction already uses
        // (QuerySnapshot.Begin): planning it each run would cost more than running it (1 ms against 0.2 ms for a
        // day). One over the range's raw rows is planned for its range: a generic plan cannot tell a day from a year
        // (a year of raw rows took 3.7 s instead of 1.6 s).
        if (plan.ReadsRawRanges)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL plan_cache_mode = force_custom_plan"));
        }

        batch.BatchCommands.Add(plan.CreateBatchCommand(context.ClientId, context.Boundaries, ranges));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var series = await plan.ReadAsync(reader, context, begun.Positions, cancellationToken);
        LastRunUsedRollups = plan.UsesRollups;
        LastRunReadThroughIndex = readThroughIndex;
        return (series.ToArray(), begun.Positions);
    }

    /// <summary>
    /// The statement of <paramref name="formula"/> over <paramref name="rollups"/> (raw rows without them). A
    /// drill-down's sends at most one row past the points an answer may have (<see cref="KpiSqlPlan.ReadAsync"/> refuses it).
    /// </summary>
    private KpiSqlPlan Compile(CompiledFormula formula, string? dimension, RollupSource? rollups, long[] boundaries) =>
        QueryStatements.Compile(formula, dimension, rollups, TermRollups.SlotDividing(boundaries), RowLimit(dimension));

    private int? RowLimit(string? dimension) => dimension is null ? null : options.MaxPoints + 1;

    /// <summary>
    /// Runs the snapshot's commands, <paramref name="assumed"/> (written for <paramref name="expected"/>) and COMMIT in
    /// one batch; the answer, or null when the snapshot says some rollup it read does not hold every row, or a partition
    /// whose rows after the watermark it left out has some (the batch is then read to its end, and the query starts
    /// again in a new snapshot).
    /// </summary>
    private async Task<(KpiSeries[] Series, SourcePosition[] Positions)?> InOneRoundTripAsync(
        NpgsqlConnection connection, IReadOnlyDictionary<string, TermRollups> clientRollups, KpiSqlPlan assumed, RollupSource expected, string? dimension,
        QueryAnswerContext context, CancellationToken cancellationToken)
    {
        var formula = assumed.Formula;
        await using var batch = QuerySnapshot.Begin(connection, options.StatementTimeout, context.ClientId, formula.ObjectModels, null, context.Boundaries);
        batch.BatchCommands.Add(assumed.CreateBatchCommand(context.ClientId, context.Boundaries, expected.Ranges));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var sources = await QuerySnapshot.ReadAsync(reader, formula.ObjectModels, null, cancellationToken);
        IncompleteRollups = Incomplete(sources, clientRollups);
        RolledUpPartitions.Record(context.ClientId, sources);
        var rollups = new RollupSource(expected.Ranges, sources.Covered);
        if (!formula.ObjectModels.All(m => rollups.Covers(formula, BuiltInCatalog.ObjectModelsByCode[m], dimension))
            || expected.RolledUpToTheEnd?.IsSubsetOf(sources.RolledUpToTheEnd) == false)
        {
            // Dropped: the rest of the batch is read, COMMIT with it. An error of the dropped statement is no answer's
            // (the batch then skipped its COMMIT): the transaction is rolled back instead.
            QueryTelemetry.StatementsDropped.Add(1);
            try
            {
                await reader.DisposeAsync();
            }
            catch (PostgresException ex) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogDebug(ex, "A dropped rollup statement of {Client} failed", context.ClientId);
                await using var rollback = new NpgsqlCommand("ROLLBACK", connection);
                await rollback.ExecuteNonQueryAsync(cancellationToken);
            }

            return null;
        }

        if (!await reader.NextResultAsync(cancellationToken))
        {
            throw new InvalidOperationException("The query's batch ended before its statement's answer.");
        }

        var series = (await assumed.ReadAsync(reader, context, sources.Positions, cancellationToken)).ToArray();
        LastRunUsedRollups = assumed.UsesRollups;
        LastRunReadThroughIndex = false;
        LastRunInOneRoundTrip = true;
        return (series, sources.Positions);
    }

    /// <summary>
    /// Whether this release rolls up every term of <paramref name="formula"/> for the client (in total, or per value of
    /// <paramref name="dimension"/>): a term it does not (past the custom terms a model may have) is never covered, so
    /// a statement written as if it were would be dropped every time.
    /// </summary>
    private static bool RolledUpByThisRelease(CompiledFormula formula, string? dimension, IReadOnlyDictionary<string, TermRollups> clientRollups) =>
        formula.Aggregates.All(t => clientRollups.TryGetValue(t.ObjectModel, out var rollups)
            && rollups.TermIds.ContainsKey(t.StateKey)
            && (dimension is null || rollups.Dimensions.Contains(dimension)));

    /// <summary>The object models whose partitions hold rows the client's rollups miss (none when rollups are off).</summary>
    private string[] Incomplete(QuerySnapshot.Sources sources, IReadOnlyDictionary<string, TermRollups> clientRollups) =>
        options.UseRollups
            ? sources.Positions
                .Where(p => p.Sequence > 0
                    && clientRollups.TryGetValue(p.ObjectModel, out var rollups)
                    && !rollups.HoldsEveryRow(id => sources.Covered.Contains((p.ObjectModel, id))))
                .Select(p => p.ObjectModel)
                .ToArray()
            : [];

    /// <summary>
    /// A cached result as the statement would give it now: as of the snapshot's positions (no row since changed it),
    /// and final where a bucket has become final since it was cached.
    /// </summary>
    private static KpiSeries[] Served(KpiSeries[] cached, SourcePosition[] positions, QueryAnswerContext context)
    {
        var current = positions.ToDictionary(p => p.ObjectModel, StringComparer.Ordinal);
        return cached.Select(s => s with
        {
            Values = s.Values.Select(v => v with
            {
                AsOf = v.AsOf.Select(p => current.GetValueOrDefault(p.ObjectModel, p)).ToArray(),
                IsFinal = v.IsFinal || context.IsFinal(TimeTicks.Of(v.BucketEnd)),
            }).ToArray(),
        }).ToArray();
    }
}

/// <summary>A query ready to run, or the reason it cannot.</summary>
internal sealed record PreparedQuery(string? KpiCode, CompiledFormula? Formula, DateTimeZone? Zone, long[]? Boundaries, QueryError? Error)
{
    public static PreparedQuery Failed(QueryErrorKind kind, string message) => Failed(new QueryError(kind, message));

    public static PreparedQuery Failed(QueryError error) => new(null, null, null, null, error);
}
