using System.Diagnostics;
using System.Globalization;
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

    public async Task<KpiQueryResult> RunAsync(KpiQuery query, ClientConfig config, CancellationToken cancellationToken = default)
    {
        using var activity = Source.StartActivity("kpi.query");
        activity?.SetTag("ae.client", query.ClientId);
        activity?.SetTag("ae.kpi", query.KpiCode);
        activity?.SetTag("ae.granularity", query.Granularity.ToString());

        var prepared = Prepare(query, config, options);
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
            var series = await ExecuteAsync(query, prepared, context, cancellationToken);
            return new KpiQueryResult(query.ClientId, prepared.KpiCode!, query.Granularity, query.From, query.To, query.Dimension, series, null);
        }
        catch (TooManyPointsException ex)
        {
            return KpiQueryResult.Failed(query, QueryErrorKind.TooManyPoints, ex.Message + ".");
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.QueryCanceled && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("KPI query {Kpi} of {Client} hit the statement timeout", query.KpiCode, query.ClientId);
            return KpiQueryResult.Failed(query, QueryErrorKind.Timeout,
                $"The query did not finish within {options.StatementTimeout.TotalSeconds:0.#} s; ask for a shorter range or a coarser granularity.");
        }
        catch (PostgresException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // PostgresException does not cross grain boundaries (no codec): say what failed in one that does.
            logger.LogError(ex, "KPI query {Kpi} of {Client} failed: {Sql}", query.KpiCode, query.ClientId, ex.BatchCommand?.CommandText);
            throw new InvalidOperationException($"The query of KPI '{query.KpiCode}' failed in PostgreSQL: {ex.SqlState} {ex.MessageText}");
        }
    }

    /// <summary>Everything before touching the database: the KPI, its compiled formula, the zone and the bucket boundaries, or why not.</summary>
    internal static PreparedQuery Prepare(KpiQuery query, ClientConfig config, KpiQueryOptions options)
    {
        if (!Enum.IsDefined(query.Granularity))
        {
            return PreparedQuery.Failed(QueryErrorKind.UnsupportedGranularity, $"Granularity {query.Granularity} is not supported.");
        }

        if (query.To <= query.From)
        {
            return PreparedQuery.Failed(QueryErrorKind.InvalidRange, $"The range is empty or inverted: 'to' ({query.To:O}) must be after 'from' ({query.From:O}).");
        }

        if (query.To - query.From > options.MaxRange)
        {
            return PreparedQuery.Failed(QueryErrorKind.InvalidRange, $"The range covers {(query.To - query.From).TotalDays:0.#} days; at most {options.MaxRange.TotalDays:0} are allowed.");
        }

        var definition = ClientKpis.Find(config, query.KpiCode);
        if (definition is null)
        {
            return PreparedQuery.Failed(QueryErrorKind.UnknownKpi, $"KPI '{query.KpiCode}' is neither a custom KPI of client '{config.ClientId}' nor in the catalog.");
        }

        var models = BuiltInCatalog.ObjectModelsByCode;
        var compiled = KpiFormula.Compile(definition.Formula, models);
        if (compiled.Formula is not { } formula)
        {
            return PreparedQuery.Failed(QueryErrorKind.InvalidFormula,
                $"The formula of KPI '{definition.Code}' does not compile: {string.Join("; ", compiled.Errors.Select(e => $"({e.Line},{e.Column}) {e.Message}"))}");
        }

        if (query.Dimension is { } dimension && KpiSqlCompiler.DimensionProblem(formula, models, dimension) is { } problem)
        {
            return PreparedQuery.Failed(QueryErrorKind.InvalidDimension, $"Cannot drill down KPI '{definition.Code}' by '{dimension}': {problem}");
        }

        var zone = DateTimeZoneProviders.Tzdb.GetZoneOrNull(config.TimeZone) ?? DateTimeZone.Utc;
        var boundaries = QueryBuckets.Compute(zone, query.Granularity, TimeTicks.Of(query.From), TimeTicks.Of(query.To), options.MaxPoints);
        if (boundaries is null)
        {
            return PreparedQuery.Failed(QueryErrorKind.TooManyPoints,
                $"A {query.Granularity.ToString().ToLowerInvariant()} series over {(query.To - query.From).TotalDays:0.#} days has more than {options.MaxPoints} points; ask for a coarser granularity or a shorter range.");
        }

        return new PreparedQuery(definition.Code, formula, zone, boundaries, null);
    }

    /// <summary>Whether the last statement this runner ran read rollups (for tests and the benchmark).</summary>
    internal bool LastRunUsedRollups { get; private set; }

    /// <summary>Whether the last statement this runner ran was told to read through the index (<see cref="TenantShare"/>).</summary>
    internal bool LastRunReadThroughIndex { get; private set; }

    private async Task<IReadOnlyList<KpiSeries>> ExecuteAsync(
        KpiQuery query, PreparedQuery prepared, QueryAnswerContext context, CancellationToken cancellationToken)
    {
        var formula = prepared.Formula!;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        string? key = null;
        CachedResult? newest = null;
        if (cache is not null && options.CacheDuration > TimeSpan.Zero)
        {
            key = KpiQueryCache.Key(
                connection.Host + ":" + connection.Port + "/" + connection.Database, context.ClientId, context.KpiCode, formula.Source, prepared.Zone!.Id, query);
            newest = await cache.NewestAsync(key, cancellationToken);
        }

        // Two round trips on a miss, as for one statement plus its transaction: the snapshot, its limits, what the
        // sources hold (and whether rows landed in the range since the newest cached result) in one batch; the query
        // and COMMIT in the other (and for raw rows, the client's share of the range before them). A connection
        // returned mid-transaction (an error) is rolled back by the pool.
        var begun = await BeginAsync(connection, context.ClientId, formula.ObjectModels, newest?.Positions, context.Boundaries, cancellationToken);
        if (newest is not null && !begun.ChangedSinceCached)
        {
            cache!.Record(hit: true);
            await CommitAsync(connection, cancellationToken);
            return Served(newest.Series, begun.Positions, context);
        }

        var rollups = options.UseRollups && begun.Covered.Count > 0
            ? new RollupSource(RollupRanges.Split(context.Boundaries, TermRollups.SlotMinutes), begun.Covered, begun.Unrolled)
            : null;
        var plan = KpiSqlCompiler.Compile(
            formula, BuiltInCatalog.ObjectModelsByCode, query.Dimension, rollups, TermRollups.SlotDividing(context.Boundaries));
        var committed = false;
        async ValueTask<KpiSeries[]> Run(CancellationToken ct)
        {
            // A statement over rollups reads raw rows only at the edges and after the watermark, through the index
            // anyway; one that reads the range's raw rows first asks how many are the client's (one more round trip,
            // against tens of milliseconds and more for the statement).
            var rawRead = plan.ReadsRawRanges
                ? await RawReadAsync(connection, context.ClientId, formula.ObjectModels, begun.Positions, context.Boundaries, ct)
                : null;
            var readThroughIndex = rawRead?.ThroughIndex == true;
            await using var batch = new NpgsqlBatch(connection);
            if (readThroughIndex)
            {
                // See TenantShare.
                batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_seqscan = off"));
            }

            if (rawRead is not null && (readThroughIndex || rawRead.Rows < TenantShare.JitFromRows))
            {
                // JIT compiling a read of fewer rows costs more than it saves (TenantShare.JitFromRows); where the
                // planner's estimate is wrong (a client's few rows in a crowded table) it would cost 80–200 ms.
                batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL jit = off"));
            }

            // The statement is prepared (auto-prepare), and PostgreSQL would choose after five runs between planning
            // each run and one generic plan, by costs it cannot know. A statement over rollups is written for a
            // generic plan (every part an index range scan, KpiSqlCompiler.RollupCte): planning it each run would cost
            // more than running it (1 ms against 0.2 ms for a day). One over the range's raw rows is planned for its
            // range: a generic plan cannot tell a day from a year (a year of raw rows took 3.7 s instead of 1.6 s).
            batch.BatchCommands.Add(new NpgsqlBatchCommand(
                plan.ReadsRawRanges ? "SET LOCAL plan_cache_mode = force_custom_plan" : "SET LOCAL plan_cache_mode = force_generic_plan"));
            batch.BatchCommands.Add(plan.CreateBatchCommand(context.ClientId, context.Boundaries));
            batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            var series = await plan.ReadAsync(reader, context, ct);
            await reader.DisposeAsync();
            committed = true;
            LastRunUsedRollups = plan.UsesRollups;
            LastRunReadThroughIndex = readThroughIndex;
            return series.ToArray();
        }

        // Through the cache, concurrent callers at the same positions run the statement once.
        var answer = key is null
            ? await Run(cancellationToken)
            : Served(await cache!.RunAsync(key, begun.Positions, Run, cancellationToken), begun.Positions, context);
        if (!committed)
        {
            await CommitAsync(connection, cancellationToken);
        }

        return answer;
    }

    private static async Task CommitAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var commit = new NpgsqlCommand("COMMIT", connection);
        await commit.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>What the query's snapshot says about its sources.</summary>
    /// <param name="Positions">The committed position of each object model.</param>
    /// <param name="Covered">Which of their terms are rolled up for every row (coverage from sequence 1).</param>
    /// <param name="Unrolled">The rows not in the rollups yet, per object model that has such rows.</param>
    /// <param name="ChangedSinceCached">
    /// Whether a row committed after the newest cached result's positions lands in a bucket of the range (for a
    /// snapshot object, anywhere before the range's end); also true when that result saw more than this snapshot.
    /// </param>
    private sealed record Sources(
        SourcePosition[] Positions, HashSet<(string, long)> Covered, Dictionary<string, UnrolledRows> Unrolled, bool ChangedSinceCached);

    /// <summary>
    /// Starts the query's read-only snapshot and reads in it what the sources hold (<see cref="Sources"/>), in one
    /// round trip; with <paramref name="cachedPositions"/>, also whether rows landed in the range since then.
    /// </summary>
    private async Task<Sources> BeginAsync(
        NpgsqlConnection connection, string clientId, IReadOnlyList<string> models, SourcePosition[]? cachedPositions, long[] boundaries,
        CancellationToken cancellationToken)
    {
        var timeout = (long)Math.Max(1, options.StatementTimeout.TotalMilliseconds);
        var sources = new NpgsqlBatchCommand(
            """
            SELECT m.object_model, coalesce(p.last_sequence, 0), coalesce(p.rolled_up_through, 0),
                   coalesce((SELECT array_agg(c.term) FROM query.rollup_terms AS c
                             WHERE c.client_id = $1 AND c.object_model = m.object_model AND c.from_sequence = 1), '{}')
            FROM unnest($2::text[]) AS m(object_model)
            LEFT JOIN ingest.partitions AS p ON p.client_id = $1 AND p.object_model = m.object_model
            """);
        sources.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        sources.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = models.ToArray() });
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                new NpgsqlBatchCommand($"SET LOCAL statement_timeout = {timeout.ToString(CultureInfo.InvariantCulture)}"),
                // These statements read a few rows through their keys whatever the values; PostgreSQL would plan them
                // on every run (its custom plans looked cheaper than the generic one), 0.1 ms of a day's 0.8.
                new NpgsqlBatchCommand("SET LOCAL plan_cache_mode = force_generic_plan"),
                sources,
            },
        };
        var landedCommand = cachedPositions is null || models.Count == 0 ? null : LandedCommand(clientId, models, cachedPositions, boundaries);
        if (landedCommand is not null)
        {
            batch.BatchCommands.Add(landedCommand);
        }

        var positions = new List<SourcePosition>();
        var covered = new HashSet<(string, long)>();
        var unrolled = new Dictionary<string, UnrolledRows>(StringComparer.Ordinal);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var model = reader.GetString(0);
            var (position, rolledUpThrough) = (reader.GetInt64(1), reader.GetInt64(2));
            positions.Add(new SourcePosition(model, position));
            if (rolledUpThrough < position)
            {
                unrolled[model] = new UnrolledRows(rolledUpThrough, position);
            }

            foreach (var term in reader.GetFieldValue<long[]>(3))
            {
                covered.Add((model, term));
            }
        }

        var landed = false;
        if (landedCommand is not null && await reader.NextResultAsync(cancellationToken) && await reader.ReadAsync(cancellationToken))
        {
            landed = reader.GetBoolean(0);
        }

        var ahead = cachedPositions is not null
            && cachedPositions.Any(c => c.Sequence > positions.FirstOrDefault(p => p.ObjectModel == c.ObjectModel)?.Sequence);
        return new Sources(positions.ToArray(), covered, unrolled, landed || ahead);
    }

    /// <summary>
    /// One boolean: whether any row committed after <paramref name="cachedPositions"/> lands in the range's buckets
    /// (an event object's by its event time; a snapshot object's anywhere before the range's end, since it is the
    /// latest of its key from then on). Each is a short scan of the key's index: the client, then its newest sequences.
    /// </summary>
    private static NpgsqlBatchCommand LandedCommand(string clientId, IReadOnlyList<string> models, SourcePosition[] cachedPositions, long[] boundaries)
    {
        var command = new NpgsqlBatchCommand();
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        command.Parameters.Add(KpiSqlPlan.InstantParameter(TimeTicks.ToDateTimeOffset(boundaries[0]).UtcDateTime));
        command.Parameters.Add(KpiSqlPlan.InstantParameter(TimeTicks.ToDateTimeOffset(boundaries[^1]).UtcDateTime));
        var tests = models.Select(model =>
        {
            var table = ObjectModelTables.BuiltIn.Get(model);
            var time = "t." + table.EventTimeColumn;
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = cachedPositions.FirstOrDefault(p => p.ObjectModel == model)?.Sequence ?? 0 });
            var since = "$" + command.Parameters.Count.ToString(CultureInfo.InvariantCulture);
            var when = table.Model.Kind == ObjectKind.Event ? "n.at >= $2 AND n.at < $3" : "n.at < $3";
            // The rows after the cached position first (OFFSET 0 keeps the time out of the index choice: through the
            // (client, time) index this read every row of a long range), bounded above so that a generic plan, which
            // cannot see how few they are, still takes the key's index.
            return $"EXISTS (SELECT 1 FROM (SELECT {time} AS at FROM {table.QualifiedName} AS t " +
                   $"WHERE t.client_id = $1 AND t.sequence > {since} AND t.sequence <= {long.MaxValue.ToString(CultureInfo.InvariantCulture)} OFFSET 0) AS n WHERE {when})";
        });
        command.CommandText = "SELECT " + string.Join("\n    OR ", tests);
        return command;
    }

    /// <summary>How a statement over raw rows should read them: through the (client, time) index, and about how many rows.</summary>
    private sealed record RawRead(bool ThroughIndex, double Rows);

    /// <summary>
    /// Whether the client's rows in the range are better read through the (client, time) index (<see cref="TenantShare"/>),
    /// and how many they are: per object model, the event times of the client's first and last rows (two probes of
    /// that index) and the table's row estimate, read in the query's snapshot.
    /// </summary>
    private static async Task<RawRead> RawReadAsync(
        NpgsqlConnection connection, string clientId, IReadOnlyList<string> models, SourcePosition[] positions, long[] boundaries,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection) { BatchCommands = { SpansCommand(clientId, models) } };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var readThroughIndex = false;
        var rows = 0.0;
        while (await reader.ReadAsync(cancellationToken))
        {
            if (reader.IsDBNull(1))
            {
                continue; // no rows of the client
            }

            var model = models[reader.GetInt32(0)];
            var first = TimeTicks.Of(new DateTimeOffset(reader.GetFieldValue<DateTime>(1), TimeSpan.Zero));
            var last = TimeTicks.Of(new DateTimeOffset(reader.GetFieldValue<DateTime>(2), TimeSpan.Zero));
            // A snapshot object's query reads every row before the range's end (the latest per key as of each bucket).
            var from = BuiltInCatalog.ObjectModelsByCode[model].Kind == ObjectKind.Event ? boundaries[0] : long.MinValue;
            var clientRows = positions.First(p => p.ObjectModel == model).Sequence;
            readThroughIndex |= TenantShare.ReadThroughIndex(clientRows, first, last, from, boundaries[^1], reader.GetDouble(3));
            rows += TenantShare.RowsInRange(clientRows, first, last, from, boundaries[^1]);
        }

        return new RawRead(readThroughIndex, rows);
    }

    /// <summary>
    /// One row per object model: its index in <paramref name="models"/>, the event time of the client's first and
    /// last rows (two probes of the (client, time) index) and the table's row estimate.
    /// </summary>
    private static NpgsqlBatchCommand SpansCommand(string clientId, IReadOnlyList<string> models)
    {
        var tables = models.Select(ObjectModelTables.BuiltIn.Get).ToArray();
        var rows = tables.Select((table, i) =>
        {
            var (name, time) = (table.QualifiedName, table.EventTimeColumn);
            return $"SELECT {i.ToString(CultureInfo.InvariantCulture)}, " +
                   $"(SELECT min({time}) FROM {name} WHERE client_id = $1), (SELECT max({time}) FROM {name} WHERE client_id = $1), " +
                   $"coalesce((SELECT t.reltuples FROM pg_class AS t WHERE t.oid = to_regclass(($2::text[])[{(i + 1).ToString(CultureInfo.InvariantCulture)}])), -1)::float8";
        });
        var command = new NpgsqlBatchCommand(string.Join("\nUNION ALL\n", rows));
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = tables.Select(t => t.QualifiedName).ToArray() });
        return command;
    }

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
                IsFinal = v.IsFinal || TimeTicks.Of(v.BucketEnd) + context.LatenessTicks <= context.NowTicks,
            }).ToArray(),
        }).ToArray();
    }
}

/// <summary>A query ready to run, or the reason it cannot.</summary>
internal sealed record PreparedQuery(string? KpiCode, CompiledFormula? Formula, DateTimeZone? Zone, long[]? Boundaries, QueryError? Error)
{
    public static PreparedQuery Failed(QueryErrorKind kind, string message) => new(null, null, null, null, new QueryError(kind, message));
}
