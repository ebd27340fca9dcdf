using System.Globalization;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Engine;
using Npgsql;

namespace AnalyticsEngine.Query;

/// <summary>
/// What a query reads about its sources in its read-only snapshot, before its statement or in the same round trip:
/// their positions, which terms are rolled up for every row, whether any rows wait after the watermark and when the
/// partition last committed, whether rows landed in a cached answer's buckets since, and, for a statement over raw
/// rows, how many of the client's rows the range holds.
/// </summary>
internal static class QuerySnapshot
{
    /// <summary>What the query's snapshot says about its sources.</summary>
    /// <param name="Positions">The committed position of each object model.</param>
    /// <param name="Covered">Which of their terms are rolled up for every row (coverage from sequence 1 through the watermark).</param>
    /// <param name="ChangedSinceCached">
    /// Whether a row committed after the newest cached result's positions lands in a bucket of the range (for a
    /// snapshot object, anywhere before the range's end); also true when that result saw more than this snapshot.
    /// </param>
    /// <param name="RolledUpToTheEnd">The object models whose partition holds no row after its watermark (or no partition).</param>
    /// <param name="Quiet">The object models whose partition committed no rows for <see cref="RolledUpPartitions.QuietFor"/> (or none since it was made).</param>
    internal sealed record Sources(
        SourcePosition[] Positions, HashSet<(string, long)> Covered, bool ChangedSinceCached, HashSet<string> RolledUpToTheEnd, HashSet<string> Quiet);

    /// <summary>
    /// Starts the query's read-only snapshot and reads in it what the sources hold (<see cref="Sources"/>), in one
    /// round trip; the statement and COMMIT follow in the caller's next.
    /// </summary>
    public static async Task<Sources> BeginAsync(
        NpgsqlConnection connection, TimeSpan statementTimeout, string clientId, IReadOnlyList<string> models, CancellationToken cancellationToken)
    {
        await using var batch = Begin(connection, statementTimeout, clientId, models, cachedPositions: null, boundaries: []);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await ReadAsync(reader, models, null, cancellationToken);
    }

    /// <summary>
    /// What the sources hold now, in a snapshot of its own begun and committed in one round trip; given a cached
    /// answer's positions, also whether that answer still holds (<see cref="Sources.ChangedSinceCached"/>).
    /// </summary>
    public static async Task<Sources> SourcesAsync(
        NpgsqlConnection connection, TimeSpan statementTimeout, string clientId, IReadOnlyList<string> models, SourcePosition[]? cachedPositions, long[] boundaries,
        CancellationToken cancellationToken)
    {
        await using var batch = Begin(connection, statementTimeout, clientId, models, cachedPositions, boundaries);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await ReadAsync(reader, models, cachedPositions, cancellationToken);
    }

    /// <summary>
    /// The commands that start the query's read-only snapshot and read what its sources hold; commands added to the
    /// batch after them run in the same snapshot and round trip. <see cref="ReadAsync"/> reads their answer.
    /// </summary>
    public static NpgsqlBatch Begin(
        NpgsqlConnection connection, TimeSpan statementTimeout, string clientId, IReadOnlyList<string> models, SourcePosition[]? cachedPositions, long[] boundaries)
    {
        var timeout = (long)Math.Max(1, statementTimeout.TotalMilliseconds);
        var sources = new NpgsqlBatchCommand(
            $$"""
            SELECT m.object_model, coalesce(p.last_sequence, 0),
                   coalesce((SELECT string_agg(c.term::text, ',') FROM query.rollup_terms AS c
                             WHERE c.client_id = $1 AND c.object_model = m.object_model AND {{TermRollups.CoversEveryRolledUpRow}}), ''),
                   coalesce(p.rolled_up_through >= p.last_sequence, true),
                   coalesce(p.last_committed_at < now() - interval '{{(int)RolledUpPartitions.QuietFor.TotalSeconds}} seconds', true)
            FROM unnest($2::text[]) AS m(object_model)
            LEFT JOIN ingest.partitions AS p ON p.client_id = $1 AND p.object_model = m.object_model
            """);
        sources.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        sources.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = models.ToArray() });
        var batch = new NpgsqlBatch(connection)
        {
            Timeout = ClientTimeoutSeconds(statementTimeout),
            BatchCommands =
            {
                new NpgsqlBatchCommand("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                new NpgsqlBatchCommand($"SET LOCAL statement_timeout = {timeout.ToString(CultureInfo.InvariantCulture)}"),
                // For the whole transaction: these statements read a few rows through their keys whatever the values,
                // and PostgreSQL would plan them on every run (its custom plans looked cheaper than the generic one),
                // 0.1 ms of a day's 0.8; a statement over rollups is written for it too (the runner changes it only
                // for a statement over raw ranges).
                new NpgsqlBatchCommand("SET LOCAL plan_cache_mode = force_generic_plan"),
                sources,
            },
        };
        if (ChecksLanded(models, cachedPositions))
        {
            batch.BatchCommands.Add(LandedCommand(clientId, models, cachedPositions!, boundaries));
        }

        return batch;
    }

    /// <summary>
    /// Reads the answer of <see cref="Begin"/>'s commands from <paramref name="reader"/>, which is left on their last
    /// result: <see cref="NpgsqlDataReader.NextResultAsync(CancellationToken)"/> moves on to the commands added after them.
    /// </summary>
    public static async Task<Sources> ReadAsync(
        NpgsqlDataReader reader, IReadOnlyList<string> models, SourcePosition[]? cachedPositions, CancellationToken cancellationToken)
    {
        var positions = new List<SourcePosition>();
        var covered = new HashSet<(string, long)>(CoverageComparer.Instance);
        var rolledUpToTheEnd = new HashSet<string>(StringComparer.Ordinal);
        var quiet = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            var model = reader.GetString(0);
            positions.Add(new SourcePosition(model, reader.GetInt64(1)));
            if (reader.GetBoolean(3))
            {
                rolledUpToTheEnd.Add(model);
            }

            if (reader.GetBoolean(4))
            {
                quiet.Add(model);
            }

            // The terms travel as text: Npgsql reads an int8[] element by element as objects, which took 3 µs for a
            // partition's 33 coverages, a tenth of the silo's own work on a day's query.
            var terms = reader.GetString(2);
            if (terms.Length > 0)
            {
                foreach (var term in terms.AsSpan().Split(','))
                {
                    covered.Add((model, long.Parse(terms.AsSpan(term), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)));
                }
            }
        }

        var landed = false;
        if (ChecksLanded(models, cachedPositions) && await reader.NextResultAsync(cancellationToken) && await reader.ReadAsync(cancellationToken))
        {
            landed = reader.GetBoolean(0);
        }

        var ahead = cachedPositions is not null
            && cachedPositions.Any(c => c.Sequence > positions.FirstOrDefault(p => p.ObjectModel == c.ObjectModel)?.Sequence);
        return new Sources(positions.ToArray(), covered, landed || ahead, rolledUpToTheEnd, quiet);
    }

    /// <summary>
    /// (object model, term id) pairs hashed by the id alone: ids are hashes already (<see cref="TermRollups.IdOf"/>),
    /// and a query looks up every coverage of its object models (<c>KpiQueryRunner.Incomplete</c>).
    /// </summary>
    private sealed class CoverageComparer : IEqualityComparer<(string ObjectModel, long Term)>
    {
        public static readonly CoverageComparer Instance = new();

        public bool Equals((string ObjectModel, long Term) x, (string ObjectModel, long Term) y) =>
            x.Term == y.Term && string.Equals(x.ObjectModel, y.ObjectModel, StringComparison.Ordinal);

        public int GetHashCode((string ObjectModel, long Term) obj) => obj.Term.GetHashCode();
    }

    /// <summary>
    /// Npgsql's own timeout for a query's round trips, in seconds: past the statement timeout, so that PostgreSQL's
    /// cancels first and the caller hears "timeout" (Npgsql's would break the connection and say only that it gave up;
    /// its default, 30 s, equals the default statement timeout and, starting earlier, fired first). It stays as the
    /// backstop for a server that does not answer at all.
    /// </summary>
    internal static int ClientTimeoutSeconds(TimeSpan statementTimeout) => (int)Math.Ceiling(statementTimeout.TotalSeconds) + 5;

    /// <summary>Whether <see cref="Begin"/> asks if rows landed since a cached result's positions.</summary>
    private static bool ChecksLanded(IReadOnlyList<string> models, SourcePosition[]? cachedPositions) =>
        cachedPositions is not null && models.Count > 0;

    /// <summary>
    /// One boolean: whether any row committed after <paramref name="cachedPositions"/> lands in the range's buckets
    /// (an event object's by its event time; a snapshot object's anywhere before the range's end, since it is the
    /// latest of its key from then on). Each is a short scan of the key's index: the client, then its newest sequences.
    /// </summary>
    private static NpgsqlBatchCommand LandedCommand(string clientId, IReadOnlyList<string> models, SourcePosition[] cachedPositions, long[] boundaries)
    {
        var command = new NpgsqlBatchCommand();
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = clientId });
        command.Parameters.Add(KpiSqlPlan.InstantParameter(KpiSqlPlan.Instant(boundaries[0])));
        command.Parameters.Add(KpiSqlPlan.InstantParameter(KpiSqlPlan.Instant(boundaries[^1])));
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

    /// <summary>How a statement over raw rows should run: reading through the (client, time) index, and with JIT.</summary>
    /// <param name="Jit">
    /// Whether JIT compiling pays: only for at least <see cref="TenantShare.JitFromRows"/> rows and a planner whose
    /// estimate is right (where it is wrong, a client's few rows in a crowded table, compiling would cost 80–200 ms).
    /// </param>
    internal sealed record RawRead(bool ThroughIndex, bool Jit);

    /// <summary>
    /// Whether the client's rows in the range are better read through the (client, time) index (<see cref="TenantShare"/>),
    /// and whether they are enough for JIT: per object model the statement reads raw over the range (<paramref name="models"/>), the
    /// event times of the client's first and last rows (two probes of that index) and the table's row estimate, read in
    /// the query's snapshot.
    /// </summary>
    public static async Task<RawRead> RawReadAsync(
        NpgsqlConnection connection, TimeSpan statementTimeout, string clientId, IReadOnlyList<string> models, SourcePosition[] positions, long[] boundaries,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection)
        {
            Timeout = ClientTimeoutSeconds(statementTimeout),
            BatchCommands = { SpansCommand(clientId, models) },
        };
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

        return new RawRead(readThroughIndex, Jit: !readThroughIndex && rows >= TenantShare.JitFromRows);
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
}
