using System.Diagnostics;
using System.Globalization;
using AnalyticsEngine.Benchmarks;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Formula;
using AnalyticsEngine.Query;
using AnalyticsEngine.Silo.Storage;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

// One-time query benchmark: a KPI series over N order rows of one client (10 million by default), for 1-day,
// 30-day and 365-day ranges, side by side in one run: the query path on raw rows, the query path on rollups, and
// hand-written SQL over the same raw rows and over the same rollup table.
//
//   dotnet run -c Release --project bench/QueryBench [-- --rows 10000000 --runs 20 --keep --steady 100 --other-rows 5000000
//                                                       --unrolled 1000 --cache 50]
//   ... -- --rebuild-passes 100000     a rebuild of the client's rollups in passes (emptied, then every row again)
//   ... -- --backfill-passes 100000    a backfill of one term new to the partition in passes, as the ingest grain runs it
//   ... -- --custom 5                  a custom KPI the catalog has no terms of, from raw rows and from the client's rollups
//   ... -- --round-trips 2000          rollups with the statement sent with the snapshot and after it, and by hand, in turn
//   ... -- --statement 5000            the day's rollup statement alone, with and without its part for rows after the watermark
//
// The rows belong to a dedicated client id; they are loaded with binary COPY when missing (around the ingest path,
// so their rollups are then rebuilt from them, as for rows stored before rollups existed) and deleted with their
// rollups at the end unless --keep is given (then a second run skips the load).
var rows = Option("--rows", 10_000_000);
var runs = Option("--runs", 20);
var keep = args.Contains("--keep");
// Other tenants' rows in the same table, all in the last day: the planner must still read the benchmark client's
// rows through the (client, time) index rather than scan everyone's.
var otherRows = Option("--other-rows", 0);
// The newest rows not rolled up yet, as between two runs of the ingest grain's rollup (every minute or so): the rollup
// path reads them raw.
var unrolled = Option("--unrolled", 0);
var connectionString = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
    ?? "Host=127.0.0.1;Port=55432;Username=analytics;Password=analytics;Database=analytics";
const string ClientId = "bench-query-orders";
const string OtherClientId = "bench-query-other";
const string Zone = "Europe/Berlin";

// The silo's own data source (statements prepared after two uses), for the query path and the hand-written SQL alike.
await using var dataSource = AnalyticsEngine.Silo.SiloHosting.CreateDataSource(connectionString);
await SchemaMigrator.ApplyAsync(connectionString, NullLogger.Instance, CancellationToken.None);
await ObjectModelTables.BuiltIn.EnsureCreatedAsync(dataSource, CancellationToken.None);
var orders = TermRollups.ForCatalog["orders"];

// The data ends at the start of the current hour, so every range below is full.
var end = DateTimeOffset.UtcNow;
end = new DateTimeOffset(end.Year, end.Month, end.Day, end.Hour, 0, 0, TimeSpan.Zero);
var existing = await ScalarAsync<long>("SELECT count(*) FROM scor_data.orders WHERE client_id = $1", ClientId);
if (existing != rows)
{
    await ExecuteAsync("DELETE FROM scor_data.orders WHERE client_id = $1", ClientId);
    await ExecuteAsync("DELETE FROM query.rollup_terms WHERE client_id = $1", ClientId);
    var load = Stopwatch.StartNew();
    await LoadAsync(ClientId, rows, end, TimeSpan.FromDays(365));
    Console.WriteLine($"loaded {rows:N0} rows with binary COPY in {load.Elapsed.TotalSeconds:0.0} s ({rows / load.Elapsed.TotalSeconds:N0} rows/s)");
    await ExecuteAsync("VACUUM ANALYZE scor_data.orders");
}
else
{
    end = (await ScalarAsync<DateTime>("SELECT max(ordered_at) FROM scor_data.orders WHERE client_id = $1", ClientId)).AddTicks(1);
    end = new DateTimeOffset(end.Year, end.Month, end.Day, end.Hour, 0, 0, TimeSpan.Zero).AddHours(1);
    Console.WriteLine($"reusing {existing:N0} rows of client {ClientId}");
}

// The rows were loaded around the ingest grain: the partition's end is set to match them, as its writer would have.
// The rollups are rebuilt up to the rows that are to stay unrolled (a rebuild rolls up through the partition's end).
async Task SetPartitionEndAsync(long end) => await ExecuteAsync(
    """
    INSERT INTO ingest.partitions (client_id, object_model, last_sequence) VALUES ($1, 'orders', $2)
    ON CONFLICT (client_id, object_model) DO UPDATE SET last_sequence = excluded.last_sequence
    """, ClientId, end);
await SetPartitionEndAsync(rows - unrolled);
// Rebuilt too when some term or dimension does not cover every row (rollups written by an earlier release).
if ((await orders.PartitionAsync(dataSource, ClientId, CancellationToken.None))?.MissesRows == true
    || await ScalarAsync<long>("SELECT rolled_up_through FROM ingest.partitions WHERE client_id = $1 AND object_model = 'orders'", ClientId) != rows - unrolled)
{
    var rebuild = Stopwatch.StartNew();
    await orders.RebuildAsync(dataSource, ClientId, rowsPerPass: 100_000, CancellationToken.None); // as the ingest grain does (and faster than fewer, larger passes)
    Console.WriteLine($"rolled up {rows - unrolled:N0} rows in {rebuild.Elapsed.TotalSeconds:0.0} s");
}

await SetPartitionEndAsync(rows);
if (unrolled > 0)
{
    Console.WriteLine($"the newest {unrolled:N0} rows are not rolled up: the rollup path reads them raw");
}

// As autovacuum keeps a table that is not being written: its pages all-visible, so index-only scans stay index-only
// (for the query path and the hand-written SQL alike), and its statistics current (those of the time slots included,
// which a table loaded before they were declared lacks).
await ExecuteAsync("VACUUM ANALYZE query.term_rollups");
await ExecuteAsync("VACUUM ANALYZE query.dimension_rollups");
await ExecuteAsync("ANALYZE scor_data.orders");

if (await ScalarAsync<long>("SELECT count(*) FROM scor_data.orders WHERE client_id = $1", OtherClientId) != otherRows)
{
    await ExecuteAsync("DELETE FROM scor_data.orders WHERE client_id = $1", OtherClientId);
    await LoadAsync(OtherClientId, otherRows, end, TimeSpan.FromDays(1));
    await ExecuteAsync("VACUUM ANALYZE scor_data.orders");
    Console.WriteLine($"other tenant's rows in the same table, all in the last day: {otherRows:N0}");
}

var rollupRows = await ScalarAsync<long>("SELECT count(*) FROM query.term_rollups WHERE client_id = $1", ClientId);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"rollup rows of the client: {rollupRows:N0} ({orders.Terms.Count} terms of orders + events, 15- and 60-minute slots)"));

var config = new ClientConfig(ClientId, "Query benchmark", Zone, ["POF"], [], [], 1);
// No result cache: every run is computed. A long statement timeout: a year of raw rows on a busy machine takes a while.
var raw = new KpiQueryRunner(dataSource, new KpiQueryOptions { UseRollups = false, StatementTimeout = TimeSpan.FromMinutes(10) }, TimeSpan.FromMinutes(5), NullLogger.Instance);
var rolled = new KpiQueryRunner(dataSource, new KpiQueryOptions { StatementTimeout = TimeSpan.FromMinutes(10) }, TimeSpan.FromMinutes(5), NullLogger.Instance);
var pof = KpiFormula.Compile(BuiltInCatalog.FindKpi("POF")!.Formula, BuiltInCatalog.ObjectModelsByCode).Formula!;
var perfectTerm = orders.TermIds[pof.Aggregates[0].StateKey];
var allTerm = orders.TermIds[pof.Aggregates[1].StateKey];
var cases = new (string Name, TimeSpan Length, QueryGranularity Granularity, string Unit)[]
{
    ("1 day, hourly", TimeSpan.FromDays(1), QueryGranularity.Hour, "hour"),
    ("30 days, daily", TimeSpan.FromDays(30), QueryGranularity.Day, "day"),
    ("365 days, daily", TimeSpan.FromDays(365), QueryGranularity.Day, "day"),
};
// --days N: only the range of N days.
var onlyDays = Option("--days", 0);
cases = cases.Where(c => onlyDays == 0 || c.Length == TimeSpan.FromDays(onlyDays)).ToArray();

var rollupCostRows = Option("--rollup-cost", 0);
if (rollupCostRows > 0)
{
    // What the rollups per dimension value cost the roll-up that follows ingest: N orders over the last
    // --rollup-span minutes (a day by default; a minute is what a partition of the pipeline benchmark rolls up at a
    // time) rolled up by the catalog's rollups (terms, and per status and per carrier) and by the same rollups
    // without dimensions, in turn, each from an empty rollup.
    const string CostClientId = "bench-rollup-cost";
    var span = TimeSpan.FromMinutes(Option("--rollup-span", 1440));
    await ExecuteAsync("DELETE FROM scor_data.orders WHERE client_id = $1", CostClientId);
    await LoadAsync(CostClientId, rollupCostRows, end, span);
    await ExecuteAsync("VACUUM ANALYZE scor_data.orders");

    await ExecuteAsync(
        """
        INSERT INTO ingest.partitions (client_id, object_model, last_sequence) VALUES ($1, 'orders', $2)
        ON CONFLICT (client_id, object_model) DO UPDATE SET last_sequence = excluded.last_sequence
        """, CostClientId, (long)rollupCostRows);
    var withoutDimensions = TermRollups.Build(BuiltInCatalog.Kpis, BuiltInCatalog.ObjectModelsByCode.ToDictionary(
        m => m.Key, m => m.Value with { Fields = m.Value.Fields.Select(f => f with { Dimension = false }).ToArray() }))["orders"];
    var costs = new Dictionary<string, List<double>> { ["without"] = [], ["with dimensions"] = [] };
    for (var i = 0; i <= runs; i++)
    {
        foreach (var (name, rollups) in new[] { ("without", withoutDimensions), ("with dimensions", orders) })
        {
            var watch = Stopwatch.StartNew();
            await rollups.RebuildAsync(dataSource, CostClientId, TermRollups.EveryRow, CancellationToken.None); // one pass: the cost of rolling up that many rows
            if (i > 0)
            {
                costs[name].Add(watch.Elapsed.TotalMilliseconds);
            }
        }
    }

    var rolledRows = await ScalarAsync<long>("SELECT count(*) FROM query.dimension_rollups WHERE client_id = $1", CostClientId);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"rolling up {rollupCostRows:N0} orders of {span.TotalMinutes:N0} minutes, {runs} runs of each in turn after 1 warm-up, ms p50 / p99 (rows/s at p50):"));
    foreach (var (name, times) in costs)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name,-16} {P(times, 50),8:0.0} / {P(times, 99),8:0.0}  ({rollupCostRows / P(times, 50) * 1000,10:N0} rows/s)"));
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  with ÷ without {P(costs["with dimensions"], 50) / P(costs["without"], 50):0.00}x; {rolledRows:N0} rollup rows per dimension value"));
    return;
}

var rebuildPassRows = Option("--rebuild-passes", 0);
if (rebuildPassRows > 0)
{
    // A rebuild from scratch (TermRollups.RebuildAsync, as this benchmark's load does): the client's rollups emptied in
    // one transaction under the partition's lock, then every row rolled up again in passes of N rows, each its own
    // transaction under that lock. The reset and the longest pass are how long the partition's batches would wait.
    var resetWatch = Stopwatch.StartNew();
    await orders.ResetAsync(dataSource, ClientId, CancellationToken.None);
    var resetMs = resetWatch.Elapsed.TotalMilliseconds;
    var total = Stopwatch.StartNew();
    var passTimes = await PassesAsync(async () => (await orders.RollUpAsync(dataSource, ClientId, rebuildPassRows, CancellationToken.None)).Remaining);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"rebuilt the rollups of {rows - unrolled:N0} orders: reset {resetMs:0.0} ms, then {passTimes.Count} passes of up to {rebuildPassRows:N0} rows in {total.Elapsed.TotalSeconds:0.0} s; {PassFigures(passTimes)}"));
    return;
}

var backfillPassRows = Option("--backfill-passes", 0);
if (backfillPassRows > 0)
{
    // A backfill as the ingest grain runs it when a release adds a term: POF's "perfect orders" term made new to the
    // partition (its rollups and coverages, in total and per dimension value, deleted), then its rows added back in
    // passes of N rows, each its own transaction under the partition's lock. Halfway, a year of OTD (other terms) is
    // still read from rollups and a year of POF from raw rows; at the end POF reads rollups with the raw rows' values.
    long[] coverages = [.. orders.Dimensions.Select(d => TermRollups.CoverageId(pof.Aggregates[0].StateKey, d)), perfectTerm];
    var year = new KpiQuery(ClientId, "POF", end - TimeSpan.FromDays(365), end, QueryGranularity.Day);
    Check(await rolled.RunAsync(year with { KpiCode = "OTD" }, config), rolled, expectRollups: true); // warm-up
    var (_, otdBeforeMs) = await TimedAsync(() => rolled.RunAsync(year with { KpiCode = "OTD" }, config));
    await ExecuteAsync("DELETE FROM query.term_rollups WHERE client_id = $1 AND object_model = 'orders' AND term = $2", ClientId, perfectTerm);
    await ExecuteAsync("DELETE FROM query.dimension_rollups WHERE client_id = $1 AND object_model = 'orders' AND term = $2", ClientId, perfectTerm);
    await ExecuteAsync("DELETE FROM query.rollup_terms WHERE client_id = $1 AND object_model = 'orders' AND term = ANY($2)", ClientId, coverages);
    var halfway = "";
    var total = Stopwatch.StartNew();
    var passTimes = await PassesAsync(
        async () => (await orders.BackfillAsync(dataSource, ClientId, backfillPassRows, TimeSpan.Zero, CancellationToken.None)).Remaining,
        async remaining =>
        {
            if (halfway.Length == 0 && remaining <= (rows - unrolled) / 2)
            {
                var (_, otdMs) = await CheckedRunAsync(rolled, year with { KpiCode = "OTD" }, config, expectRollups: true);
                var (_, pofMs) = await CheckedRunAsync(rolled, year, config, expectRollups: false);
                halfway = string.Create(CultureInfo.InvariantCulture, $"halfway, a year of OTD {otdMs:0.0} ms from rollups (before: {otdBeforeMs:0.0}), of POF {pofMs:0.0} ms from raw rows; ");
            }
        });

    var elapsed = total.Elapsed;
    var (after, afterMs) = await CheckedRunAsync(rolled, year, config, expectRollups: true);
    var same = (await raw.RunAsync(year, config)).Series[0].Values.Select(v => v.Value).SequenceEqual(after.Series[0].Values.Select(v => v.Value));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"backfilled one term of {rows - unrolled:N0} orders ({coverages.Length} coverages): {passTimes.Count} passes of up to {backfillPassRows:N0} rows in {elapsed.TotalSeconds:0.0} s; " +
        $"{PassFigures(passTimes)}; {halfway}" +
        $"then POF {afterMs:0.0} ms from rollups, same values as raw rows: {(same ? "yes" : "NO")}"));
    return;
}

var doubleRuns = Option("--double-arithmetic", 0);
if (doubleRuns > 0)
{
    // What a query pays when float8 raised 22003 and it runs again with the engine's double arithmetic (sql/0014): the
    // statement over raw rows of a formula with per-row arithmetic and a sum, with float8's operators and with the
    // engine's, in turn, on one connection. Wall time p50 / p99 per statement.
    var models = BuiltInCatalog.ObjectModelsByCode;
    var net = KpiFormula.Compile("sum(orders.order_value * 1.19 - 5) filter (where orders.status != 'cancelled') / count(orders)", models).Formula!;
    Console.WriteLine();
    Console.WriteLine($"raw statement of sum(orders.order_value * 1.19 - 5) / count(orders), float8 and double arithmetic in turn, {doubleRuns} runs of each after 2 warm-ups: ms p50 / p99");
    Console.WriteLine("| range            | rows       | float8          | double arithmetic | ratio  |");
    Console.WriteLine("|------------------|-----------:|----------------:|------------------:|-------:|");
    foreach (var (name, length, granularity, _) in cases)
    {
        var boundaries = KpiQueryRunner.Prepare(new KpiQuery(ClientId, "POF", end - length, end, granularity), config, new KpiQueryOptions()).Boundaries!;
        var plans = new[] { KpiSqlCompiler.Compile(net, models, null), KpiSqlCompiler.Compile(net, models, null, doubleArithmetic: true) };
        var times = new[] { new List<double>(), new List<double>() };
        var answers = new List<double>[] { [], [] };
        await using var connection = await dataSource.OpenConnectionAsync();
        for (var i = 0; i < doubleRuns + 2; i++)
        {
            for (var p = 0; p < plans.Length; p++)
            {
                await using var command = plans[p].CreateCommand(connection, ClientId, boundaries);
                command.CommandTimeout = 0;
                var (values, ms) = await TimedAsync(async () =>
                {
                    var read = new List<double>();
                    await using var reader = await command.ExecuteReaderAsync();
                    while (await reader.ReadAsync())
                    {
                        read.Add(reader.IsDBNull(1) ? double.MinValue : reader.GetDouble(1));
                    }

                    return read;
                });
                answers[p] = values;
                if (i >= 2)
                {
                    times[p].Add(ms);
                }
            }
        }

        // The same sums but in the last bits: the two plans may add the rows up in another order (parallel workers).
        if (answers[0].Count != answers[1].Count || answers[0].Zip(answers[1]).Any(p => Math.Abs(p.First - p.Second) > 1e-12 * Math.Abs(p.First)))
        {
            throw new InvalidOperationException("float8 and double arithmetic gave different sums");
        }

        var rowsRead = await ScalarAsync<long>("SELECT count(*) FROM scor_data.orders WHERE client_id = $1 AND ordered_at >= $2 AND ordered_at < $3",
            ClientId, DateTime.UnixEpoch.AddTicks(boundaries[0]), DateTime.UnixEpoch.AddTicks(boundaries[^1]));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name,-16} | {rowsRead,10:N0} | {P(times[0], 50),6:0.0} / {P(times[0], 99),6:0.0} | {P(times[1], 50),7:0.0} / {P(times[1], 99),7:0.0} | {P(times[1], 50) / P(times[0], 50),5:0.00}x |"));
    }

    return;
}

if (args.Contains("--explain"))
{
    // The plans PostgreSQL chooses for the statements over raw rows and over rollups, to see where their time goes.
    var covered = orders.TermIds.Values.Append(TermRollups.EventsTerm).Select(t => ("orders", t)).ToHashSet();
    foreach (var (name, length, granularity, _) in cases)
    {
        var prepared = KpiQueryRunner.Prepare(new KpiQuery(ClientId, "POF", end - length, end, granularity), config, new KpiQueryOptions());
        foreach (var (source, rollups) in new[] { ("raw rows", (RollupSource?)null), ("rollups", new RollupSource(RollupRanges.Split(prepared.Boundaries!, TermRollups.SlotMinutes), covered)) })
        {
            var plan = KpiSqlCompiler.Compile(prepared.Formula!, BuiltInCatalog.ObjectModelsByCode, null, rollups, TermRollups.SlotDividing(prepared.Boundaries!));
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var explain = plan.CreateCommand(connection, ClientId, prepared.Boundaries!, rollups?.Ranges);
            explain.CommandText = "EXPLAIN (ANALYZE, BUFFERS) " + explain.CommandText;
            Console.WriteLine($"--- {name}, {source}\n{plan.Sql}");
            await using var reader = await explain.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                Console.WriteLine(reader.GetString(0));
            }
        }
    }

    return;
}

Console.WriteLine();
Console.WriteLine($"KPI POF (perfect order fulfillment), client time zone {Zone}, {runs} runs of each after 2 warm-ups, in turn, {Environment.ProcessorCount} cores");
Console.WriteLine("times in ms, p50 / p99; 'hand' = hand-written SQL over the same table (raw rows, or the rollup table)");
Console.WriteLine();
Console.WriteLine("| range            | buckets | rows       | raw             | hand raw         | raw ÷ hand | rollups       | hand rollups  | rollups ÷ hand | same values |");
Console.WriteLine("|------------------|--------:|-----------:|----------------:|-----------------:|-----------:|--------------:|--------------:|---------------:|:-----------:|");
foreach (var (name, length, granularity, unit) in cases)
{
    var query = new KpiQuery(ClientId, "POF", end - length, end, granularity);
    var times = new Dictionary<string, List<double>> { ["raw"] = [], ["hand"] = [], ["rollups"] = [], ["hand rollups"] = [] };
    KpiQueryResult? rawResult = null;
    KpiQueryResult? rolledResult = null;
    List<(DateTimeOffset Start, double? Value)>? handValues = null;
    List<(DateTimeOffset Start, double? Value)>? handRolledValues = null;
    for (var i = 0; i < runs + 2; i++)
    {
        (rawResult, var rawMs) = await CheckedRunAsync(raw, query, config, expectRollups: false);
        var values = rawResult.Series[0].Values;
        (handValues, var handMs) = await TimedAsync(() => HandWrittenAsync(unit, values[0].BucketStart, values[^1].BucketEnd));
        (rolledResult, var rolledMs) = await CheckedRunAsync(rolled, query, config, expectRollups: true);
        (handRolledValues, var handRolledMs) = await TimedAsync(() => HandWrittenOverRollupsAsync(unit, values[0].BucketStart, values[^1].BucketEnd));
        if (i >= 2)
        {
            Keep(times, rawMs, handMs, rolledMs, handRolledMs);
        }
    }

    var series = rawResult!.Series[0].Values;
    var byStart = handValues!.ToDictionary(v => v.Start, v => v.Value);
    var byStartRolled = handRolledValues!.ToDictionary(v => v.Start, v => v.Value);
    var same = series.All(v => Equals(byStart.GetValueOrDefault(v.BucketStart), v.Value) && Equals(byStartRolled.GetValueOrDefault(v.BucketStart), v.Value))
        && series.SequenceEqual(rolledResult!.Series[0].Values, ValueComparer.Instance);
    var read = series.Sum(v => v.EventCount);
    string Pair(string mode) => string.Create(CultureInfo.InvariantCulture, $"{P(times[mode], 50),6:0.0} / {P(times[mode], 99),6:0.0}");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {name,-16} | {series.Count,7} | {read,10:N0} | {Pair("raw"),15} | {Pair("hand"),16} | {P(times["raw"], 50) / P(times["hand"], 50),9:0.00}x | {Pair("rollups"),13} | {Pair("hand rollups"),13} | {P(times["rollups"], 50) / P(times["hand rollups"], 50),13:0.00}x | {(same ? "yes" : "NO"),-11} |"));
}

var steady = Option("--steady", 0);
if (steady > 0)
{
    // Rollup queries back to back, without the raw scans between them evicting caches: the query path's fixed cost
    // per query (snapshot, positions, planning) against the hand-written SQL over the rollup table.
    Console.WriteLine();
    Console.WriteLine($"rollups back to back, {steady} runs of each after 5 warm-ups: ms p50 / p99");
    Console.WriteLine("| range            | rollups       | hand rollups  | rollups ÷ hand |");
    Console.WriteLine("|------------------|--------------:|--------------:|---------------:|");
    foreach (var (name, length, granularity, unit) in cases)
    {
        var query = new KpiQuery(ClientId, "POF", end - length, end, granularity);
        var path = await TimeAsync(steady, async () => Check(await rolled.RunAsync(query, config), rolled, expectRollups: true));
        var first = (await rolled.RunAsync(query, config)).Series[0].Values;
        var hand = await TimeAsync(steady, () => HandWrittenOverRollupsAsync(unit, first[0].BucketStart, first[^1].BucketEnd));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name,-16} | {P(path, 50),5:0.00} / {P(path, 99),5:0.00} | {P(hand, 50),5:0.00} / {P(hand, 99),5:0.00} | {P(path, 50) / P(hand, 50),13:0.00}x |"));
    }

    // The floor under both: a round trip to the server. The hand-written SQL makes one; the query path makes two (its
    // snapshot and what the sources hold, then its statement and COMMIT).
    var roundTrip = await TimeAsync(steady, async () =>
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await command.ExecuteScalarAsync();
    });
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"one round trip (SELECT 1 on a pooled connection): {P(roundTrip, 50):0.00} / {P(roundTrip, 99):0.00} ms"));
}

var roundTripRuns = Option("--round-trips", 0);
if (roundTripRuns > 0)
{
    // The query path over rollups with its statement sent with the snapshot (one round trip) and after it (two), and
    // the hand-written SQL, run by run in turn, so that the machine's noise falls on all three alike.
    var twoTrips = new KpiQueryRunner(
        dataSource, new KpiQueryOptions { StatementTimeout = TimeSpan.FromMinutes(10) }, TimeSpan.FromMinutes(5), NullLogger.Instance)
    {
        SendsStatementWithSnapshot = false,
    };
    Console.WriteLine();
    Console.WriteLine($"rollups in one round trip and in two, and the hand-written SQL, in turn, {roundTripRuns} runs of each after 5 warm-ups: ms p50 / p99");
    Console.WriteLine("'hand' answers the values alone; 'hand, same answer' also each bucket's event count and newest event time, as the query path does");
    Console.WriteLine("| range            | one round trip | two round trips | hand rollups  | hand, same answer | one ÷ two | one ÷ hand | one ÷ same answer |");
    Console.WriteLine("|------------------|---------------:|----------------:|--------------:|------------------:|----------:|-----------:|------------------:|");
    foreach (var (name, length, granularity, unit) in cases)
    {
        var query = new KpiQuery(ClientId, "POF", end - length, end, granularity);
        var first = (await rolled.RunAsync(query, config)).Series[0].Values;
        var (one, two, hand, same) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        var starts = first.Select(v => v.BucketStart).ToArray();
        var cpu = await CpuMeter.ForBackendsAsync(dataSource);
        for (var i = 0; i < roundTripRuns + 5; i++)
        {
            var (oneAnswer, oneMs) = await cpu.MeasureAsync("one", i >= 5, () => CheckedRunAsync(rolled, query, config, expectRollups: true));
            var (twoAnswer, twoMs) = await cpu.MeasureAsync("two", i >= 5, () => CheckedRunAsync(twoTrips, query, config, expectRollups: true));
            var (_, handMs) = await cpu.MeasureAsync("hand", i >= 5, () => TimedAsync(() => HandWrittenOverRollupsAsync(unit, first[0].BucketStart, first[^1].BucketEnd)));
            var (sameAnswer, sameMs) = await cpu.MeasureAsync("same", i >= 5, () => TimedAsync(() => HandSameAnswerOverRollupsAsync(unit, starts, first[^1].BucketEnd)));
            if (!rolled.LastRunInOneRoundTrip || twoTrips.LastRunInOneRoundTrip
                || !oneAnswer.Series[0].Values.Select(v => v.Value).SequenceEqual(twoAnswer.Series[0].Values.Select(v => v.Value))
                || !oneAnswer.Series[0].Values.Select(v => (v.BucketStart, v.Value, v.EventCount, v.NewestEventTime)).SequenceEqual(sameAnswer))
            {
                throw new InvalidOperationException("the two paths did not take their round trips, or the paths and the hand-written SQL did not agree");
            }

            if (i >= 5)
            {
                one.Add(oneMs);
                two.Add(twoMs);
                hand.Add(handMs);
                same.Add(sameMs);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name,-16} | {P(one, 50),6:0.00} / {P(one, 99),5:0.00} | {P(two, 50),7:0.00} / {P(two, 99),5:0.00} | {P(hand, 50),5:0.00} / {P(hand, 99),5:0.00} | {P(same, 50),9:0.00} / {P(same, 99),5:0.00} | {P(one, 50) / P(two, 50),8:0.00}x | {P(one, 50) / P(hand, 50),9:0.00}x | {P(one, 50) / P(same, 50),16:0.00}x |"));
        Console.WriteLine("  the database's CPU time per query, µs: " + cpu.Summary(roundTripRuns, "one", "two", "hand", "same"));
    }
}

var statementRuns = Option("--statement", 0);
if (statementRuns > 0)
{
    // The day's statement over rollups alone, on one connection that keeps one generic plan (as the query path does),
    // with and without its part for the rows after the watermark (there are none here), in turn: what that part
    // costs when it has nothing to read. Wall time p50 and the backend's CPU time per statement.
    Console.WriteLine();
    Console.WriteLine($"the day's rollup statement alone, {statementRuns} runs of each in turn after 20 warm-ups: µs p50 / backend CPU per run");
    var dayQuery = new KpiQuery(ClientId, "POF", end - TimeSpan.FromDays(1), end, QueryGranularity.Hour);
    var day = KpiQueryRunner.Prepare(dayQuery, config, new KpiQueryOptions());
    var dayRanges = RollupRanges.Split(day.Boundaries!, TermRollups.SlotMinutes);
    var assumed = RollupSource.AssumingCovered(dayRanges, day.Formula!, null);
    var variants = new[]
    {
        ("with the rows after the watermark", assumed),
        ("without them", assumed with { RolledUpToTheEnd = new HashSet<string> { "orders" } }),
    }.Select(v => (Name: v.Item1, Plan: KpiSqlCompiler.Compile(day.Formula!, BuiltInCatalog.ObjectModelsByCode, null, v.Item2), Times: new List<double>()))
        .ToArray();
    var generic = new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c plan_cache_mode=force_generic_plan", MaxAutoPrepare = 8, AutoPrepareMinUsages = 2 };
    await using var single = NpgsqlDataSource.Create(generic.ConnectionString);
    await using var connection = await single.OpenConnectionAsync();
    await using var pidCommand = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
    var backend = new CpuMeter([(int)(await pidCommand.ExecuteScalarAsync())!]);
    for (var i = 0; i < statementRuns + 20; i++)
    {
        for (var v = 0; v < variants.Length; v++)
        {
            await using var command = variants[v].Plan.CreateCommand(connection, ClientId, day.Boundaries!, dayRanges);
            var (_, ms) = await backend.MeasureAsync(variants[v].Name, i >= 20, () => TimedAsync(async () =>
            {
                await using var reader = await command.ExecuteReaderAsync();
                var rowsRead = 0;
                while (await reader.ReadAsync())
                {
                    rowsRead++;
                }

                return rowsRead;
            }));
            if (i >= 20)
            {
                variants[v].Times.Add(ms * 1000);
            }
        }
    }

    foreach (var (name, _, times) in variants)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-34} {P(times, 50),6:0} µs, backend CPU {backend.MicrosPerRun(name, statementRuns),4:0} µs"));
    }
}

var drillRuns = Option("--drill", 0);
if (drillRuns > 0)
{
    // Drill-downs by carrier (a dimension field of orders): from raw rows and from the rollups per carrier, against the
    // hand-written SQL grouped by bucket and carrier over the same table and over the same rollup table, in turn, after
    // one warm-up of each.
    Console.WriteLine();
    Console.WriteLine($"drill-down by carrier, {drillRuns} runs of each in turn after 1 warm-up: ms p50 / p99");
    Console.WriteLine("| range            | series | raw               | hand raw          | raw ÷ hand | rollups         | hand rollups    | rollups ÷ hand | same values |");
    Console.WriteLine("|------------------|-------:|------------------:|------------------:|-----------:|----------------:|----------------:|---------------:|:-----------:|");
    foreach (var (name, length, granularity, unit) in cases)
    {
        var query = new KpiQuery(ClientId, "POF", end - length, end, granularity, "carrier");
        var times = new Dictionary<string, List<double>> { ["raw"] = [], ["hand"] = [], ["rollups"] = [], ["hand rollups"] = [] };
        var same = true;
        for (var i = 0; i <= drillRuns; i++)
        {
            var (rawAnswer, rawMs) = await CheckedRunAsync(raw, query, config, expectRollups: false);
            var (rolledAnswer, rolledMs) = await CheckedRunAsync(rolled, query, config, expectRollups: true);
            var (from, to) = (rawAnswer.Series[0].Values[0].BucketStart, rawAnswer.Series[0].Values[^1].BucketEnd);
            var (handValues, handMs) = await TimedAsync(() => HandDrillDownAsync(unit, from, to));
            var (handRolledValues, handRolledMs) = await TimedAsync(() => HandDrillDownOverRollupsAsync(unit, from, to));
            same &= SameDrillDown(rawAnswer, handValues) && SameDrillDown(rolledAnswer, handRolledValues) && SameDrillDown(rolledAnswer, handValues);
            if (i > 0)
            {
                Keep(times, rawMs, handMs, rolledMs, handRolledMs);
            }
        }

        var series = (await rolled.RunAsync(query, config)).Series.Count;
        string Pair(string key) => string.Create(CultureInfo.InvariantCulture, $"{P(times[key], 50),7:0.0} / {P(times[key], 99),7:0.0}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name,-16} | {series,6} | {Pair("raw")} | {Pair("hand")} | {P(times["raw"], 50) / P(times["hand"], 50),9:0.00}x | {Pair("rollups"),15} | {Pair("hand rollups"),15} | {P(times["rollups"], 50) / P(times["hand rollups"], 50),13:0.00}x | {(same ? "yes" : "NO"),-11} |"));
    }
}

var customRuns = Option("--custom", 0);
if (customRuns > 0)
{
    // A custom KPI whose terms the catalog lacks: from raw rows, and from the client's own rollups once its partition
    // is rebuilt with them (TermRollups.ForClient), values compared, in turn after one warm-up of each.
    var custom = new KpiDefinition("BENCH_DHL_VALUE", "Value of DHL orders per order", "",
        "sum(orders.order_value) filter (where orders.carrier = 'dhl' and orders.order_value > 100) / count(orders)",
        "ratio", KpiDirection.HigherIsBetter, ["orders"], "BENCH", "BENCH");
    var customConfig = config with { SelectedKpis = ["POF", custom.Code], CustomKpis = [custom] };
    var clientRollups = TermRollups.ForClient(customConfig)["orders"];
    if ((await clientRollups.PartitionAsync(dataSource, ClientId, CancellationToken.None))?.MissesRows != false)
    {
        // As the ingest grain does once the KPI is defined: its term backfilled alone.
        var backfill = Stopwatch.StartNew();
        while ((await clientRollups.BackfillAsync(dataSource, ClientId, 100_000, TimeSpan.Zero, CancellationToken.None)).Remaining > 0)
        {
        }

        Console.WriteLine($"backfilled the custom KPI's term in {backfill.Elapsed.TotalSeconds:0.0} s");
    }

    Console.WriteLine();
    Console.WriteLine($"custom KPI {custom.Code}, {customRuns} runs of each in turn after 1 warm-up: ms p50 / p99");
    Console.WriteLine("| range            | raw               | rollups         | raw ÷ rollups | same values |");
    Console.WriteLine("|------------------|------------------:|----------------:|--------------:|:-----------:|");
    foreach (var (name, length, granularity, _) in cases)
    {
        var query = new KpiQuery(ClientId, custom.Code, end - length, end, granularity);
        var times = new Dictionary<string, List<double>> { ["raw"] = [], ["rollups"] = [] };
        var same = true;
        for (var i = 0; i <= customRuns; i++)
        {
            var (rawAnswer, rawMs) = await CheckedRunAsync(raw, query, customConfig, expectRollups: false);
            var (rolledAnswer, rolledMs) = await CheckedRunAsync(rolled, query, customConfig, expectRollups: true);
            same &= rawAnswer.Series[0].Values.Select(v => v.Value).SequenceEqual(rolledAnswer.Series[0].Values.Select(v => v.Value));
            if (i > 0)
            {
                times["raw"].Add(rawMs);
                times["rollups"].Add(rolledMs);
            }
        }

        string Pair(string key) => string.Create(CultureInfo.InvariantCulture, $"{P(times[key], 50),7:0.0} / {P(times[key], 99),7:0.0}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name,-16} | {Pair("raw"),17} | {Pair("rollups"),15} | {P(times["raw"], 50) / P(times["rollups"], 50),12:0.0}x | {(same ? "yes" : "NO"),-11} |"));
    }
}

var cacheRuns = Option("--cache", 0);
if (cacheRuns > 0)
{
    // A report over a past range while the client's events keep arriving: before each run one more order commits,
    // after every range's last bucket (a daily series' last bucket runs to local midnight), so the position moves but
    // no bucket of the answer changes. The result cache checks that in
    // the query's snapshot and serves the answer as of the new position; the first run computes it.
    var services = new ServiceCollection();
    services.AddHybridCache();
    await using var provider = services.BuildServiceProvider();
    KpiQueryOptions Cached(bool useRollups) => new() { UseRollups = useRollups, StatementTimeout = TimeSpan.FromMinutes(10), CacheDuration = TimeSpan.FromMinutes(10) };
    var cache = new KpiQueryCache(provider.GetRequiredService<HybridCache>(), Options.Create(Cached(true)));
    var live = (long)rows;
    Console.WriteLine();
    Console.WriteLine($"cached answers while events keep arriving outside the range, {cacheRuns} runs each after the first (which computes): ms p50 / p99");
    Console.WriteLine("| range            | raw, first    | raw, cached   | rollups, cached | hits      | same values |");
    Console.WriteLine("|------------------|--------------:|--------------:|----------------:|----------:|:-----------:|");
    foreach (var (name, length, granularity, _) in cases)
    {
        var query = new KpiQuery(ClientId, "POF", end - length, end, granularity);
        var times = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
        var first = 0.0;
        var hits = cache.Hits;
        KpiQueryResult? answer = null;
        foreach (var useRollups in new[] { false, true })
        {
            var runner = new KpiQueryRunner(dataSource, Cached(useRollups), TimeSpan.FromMinutes(5), NullLogger.Instance, cache);
            for (var i = 0; i <= cacheRuns; i++)
            {
                live++;
                await ExecuteAsync(
                    """
                    INSERT INTO scor_data.orders (client_id, sequence, order_id, ordered_at, order_value, promised_at,
                                                  on_time, in_full, damage_free, documentation_complete, status)
                    VALUES ($1, $2, 'live-' || $2::text, $3, 10, $3, true, true, true, true, 'open')
                    """, ClientId, live, end.AddDays(2).UtcDateTime);
                await ExecuteAsync("UPDATE ingest.partitions SET last_sequence = $2 WHERE client_id = $1 AND object_model = 'orders'", ClientId, live);
                var watch = Stopwatch.StartNew();
                answer = await runner.RunAsync(query, config);
                if (i == 0 && !useRollups)
                {
                    first = watch.Elapsed.TotalMilliseconds; // the one run that computes: both paths share the entry
                }
                else
                {
                    times[useRollups].Add(watch.Elapsed.TotalMilliseconds);
                }
            }
        }

        // The last cached answer against the query computed afresh (no cache) at the same position.
        var fresh = await rolled.RunAsync(query, config);
        var same = Assert(answer!).Zip(Assert(fresh)).All(p => p.First.Value == p.Second.Value && p.First.AsOf.SequenceEqual(p.Second.AsOf));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name,-16} | {first,13:0.0} | {P(times[false], 50),5:0.00} / {P(times[false], 99),5:0.00} | {P(times[true], 50),6:0.00} / {P(times[true], 99),6:0.00} | {cache.Hits - hits,4} / {2 * cacheRuns + 1,3} | {(same ? "yes" : "NO"),-11} |"));
    }

    await ExecuteAsync("DELETE FROM scor_data.orders WHERE client_id = $1 AND sequence > $2", ClientId, (long)rows);
    await SetPartitionEndAsync(rows);

    static IReadOnlyList<KpiValue> Assert(KpiQueryResult result) =>
        result.Error is null ? result.Series[0].Values : throw new InvalidOperationException(result.Error.Message);
}

if (!keep)
{
    await ExecuteAsync("DELETE FROM scor_data.orders WHERE client_id = $1", ClientId);
    await ExecuteAsync("DELETE FROM scor_data.orders WHERE client_id = $1", OtherClientId);
    await ExecuteAsync("DELETE FROM query.term_rollups WHERE client_id = $1", ClientId);
    await ExecuteAsync("DELETE FROM query.rollup_terms WHERE client_id = $1", ClientId);
    await ExecuteAsync("VACUUM ANALYZE scor_data.orders");
    Console.WriteLine($"\ndeleted the rows of {ClientId} (use --keep to keep them for the next run)");
}

return;

// The query an engineer would write by hand for POF per local hour or day (no DST day in the last year is special-cased
// here: date_trunc on local time merges the repeated fall-back hour, which the hourly 1-day range never meets).
async Task<List<(DateTimeOffset Start, double? Value)>> HandWrittenAsync(string unit, DateTimeOffset from, DateTimeOffset to)
{
    return await HandSeriesAsync(
        """
        SELECT date_trunc($4, ordered_at AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin',
               count(*) FILTER (WHERE on_time AND in_full AND damage_free AND documentation_complete),
               count(*)
        FROM scor_data.orders
        WHERE client_id = $1 AND ordered_at >= $2 AND ordered_at < $3
        GROUP BY 1
        ORDER BY 1
        """, unit, from, to);
}

// The same series from the rollup table by hand: the hour slots of the two terms of POF, grouped by local hour or day
// (Europe/Berlin's hours and days are whole UTC hours, so hour slots cover every bucket).
async Task<List<(DateTimeOffset Start, double? Value)>> HandWrittenOverRollupsAsync(string unit, DateTimeOffset from, DateTimeOffset to)
{
    const string rolledUp =
        """
        SELECT date_trunc($4, slot_start AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin',
               sum(count) FILTER (WHERE term = $5),
               sum(count) FILTER (WHERE term = $6)
        FROM query.term_rollups
        WHERE client_id = $1 AND object_model = 'orders' AND term IN ($5, $6) AND slot_minutes = 60
          AND slot_start >= $2 AND slot_start < $3
        GROUP BY 1
        """;
    if (unrolled == 0)
    {
        return await HandSeriesAsync(rolledUp + "\nORDER BY 1", unit, from, to, perfectTerm, allTerm);
    }

    // With rows not rolled up yet, the newest rows are added from the table (the key's index: client, sequence).
    return await HandSeriesAsync(
        $"""
        SELECT b, sum(perfect), sum(all_orders)
        FROM ({rolledUp}
              UNION ALL
              SELECT date_trunc($4, ordered_at AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin',
                     count(*) FILTER (WHERE on_time AND in_full AND damage_free AND documentation_complete), count(*)
              FROM scor_data.orders
              WHERE client_id = $1 AND sequence > $7 AND ordered_at >= $2 AND ordered_at < $3
              GROUP BY 1) AS u(b, perfect, all_orders)
        GROUP BY 1
        ORDER BY 1
        """, unit, from, to, perfectTerm, allTerm, rows - unrolled);
}

// The hand-written SQL over the rollup table answering what the query path answers per bucket: POF, and the bucket's
// event count and newest event time (the events term, 0); with rows not rolled up yet, those added from the table.
async Task<List<(DateTimeOffset Start, double? Value, long Events, DateTimeOffset? Newest)>> HandSameAnswerOverRollupsAsync(string unit, IReadOnlyList<DateTimeOffset> starts, DateTimeOffset to)
{
    const string rolledUp =
        """
        SELECT date_trunc($4, slot_start AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin',
               sum(count) FILTER (WHERE term = $5),
               sum(count) FILTER (WHERE term = $6),
               sum(count) FILTER (WHERE term = 0),
               to_timestamp(max(max) FILTER (WHERE term = 0) / 1000000)
        FROM query.term_rollups
        WHERE client_id = $1 AND object_model = 'orders' AND term IN ($5, $6, 0) AND slot_minutes = 60
          AND slot_start >= $2 AND slot_start < $3
        GROUP BY 1
        """;
    var sql = unrolled == 0
        ? rolledUp + "\nORDER BY 1"
        : $"""
          SELECT b, sum(perfect), sum(all_orders), sum(events), max(newest)
          FROM ({rolledUp}
                UNION ALL
                SELECT date_trunc($4, ordered_at AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin',
                       count(*) FILTER (WHERE on_time AND in_full AND damage_free AND documentation_complete), count(*), count(*), max(ordered_at)
                FROM scor_data.orders
                WHERE client_id = $1 AND sequence > $7 AND ordered_at >= $2 AND ordered_at < $3
                GROUP BY 1) AS u(b, perfect, all_orders, events, newest)
          GROUP BY 1
          ORDER BY 1
          """;
    await using var command = dataSource.CreateCommand(sql);
    command.CommandTimeout = 0;
    foreach (var value in new object[] { ClientId, starts[0].UtcDateTime, to.UtcDateTime, unit, perfectTerm, allTerm })
    {
        command.Parameters.AddWithValue(value);
    }

    if (unrolled > 0)
    {
        command.Parameters.AddWithValue(rows - unrolled);
    }

    // Every bucket of the range, as the query path answers them: one with no rows has no value, no events and no newest event.
    var byStart = new Dictionary<DateTimeOffset, (double? Value, long Events, DateTimeOffset? Newest)>();
    await using (var reader = await command.ExecuteReaderAsync())
    {
        while (await reader.ReadAsync())
        {
            var perfect = reader.IsDBNull(1) ? 0 : Convert.ToDouble(reader.GetValue(1), CultureInfo.InvariantCulture);
            var total = reader.IsDBNull(2) ? 0 : Convert.ToDouble(reader.GetValue(2), CultureInfo.InvariantCulture);
            var events = reader.IsDBNull(3) ? 0 : Convert.ToInt64(reader.GetValue(3), CultureInfo.InvariantCulture);
            DateTimeOffset? newest = reader.IsDBNull(4) ? null : new DateTimeOffset(reader.GetDateTime(4), TimeSpan.Zero);
            byStart[new DateTimeOffset(reader.GetDateTime(0), TimeSpan.Zero)] = (total == 0 ? null : 100.0 * perfect / total, events, newest);
        }
    }

    return [.. starts.Select(start => byStart.TryGetValue(start, out var b) ? (start, b.Value, b.Events, b.Newest) : (start, (double?)null, 0L, (DateTimeOffset?)null))];
}

// The hand-written drill-down: POF per local hour or day and carrier.
Task<List<(DateTimeOffset Start, string Carrier, double? Value)>> HandDrillDownAsync(string unit, DateTimeOffset from, DateTimeOffset to) =>
    HandDrillDownRowsAsync(
        """
        SELECT date_trunc($4, ordered_at AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin', carrier,
               count(*) FILTER (WHERE on_time AND in_full AND damage_free AND documentation_complete),
               count(*)
        FROM scor_data.orders
        WHERE client_id = $1 AND ordered_at >= $2 AND ordered_at < $3
        GROUP BY 1, 2
        """, unit, from, to);

// The hand-written drill-down over the rollups per carrier: the hour slots of POF's two terms by local hour or day and
// carrier (the value column holds '=' and the carrier), with the rows not rolled up yet added from the table.
Task<List<(DateTimeOffset Start, string Carrier, double? Value)>> HandDrillDownOverRollupsAsync(string unit, DateTimeOffset from, DateTimeOffset to) =>
    HandDrillDownRowsAsync(
        """
        SELECT b, carrier, sum(perfect)::bigint, sum(all_orders)::bigint
        FROM (SELECT date_trunc($4, slot_start AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin', substr(value, 2),
                     sum(count) FILTER (WHERE term = $5), sum(count) FILTER (WHERE term = $6)
              FROM query.dimension_rollups
              WHERE client_id = $1 AND object_model = 'orders' AND dimension = 'carrier' AND term IN ($5, $6)
                AND slot_minutes = 60 AND slot_start >= $2 AND slot_start < $3
              GROUP BY 1, 2
              UNION ALL
              SELECT date_trunc($4, ordered_at AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin', carrier,
                     count(*) FILTER (WHERE on_time AND in_full AND damage_free AND documentation_complete), count(*)
              FROM scor_data.orders
              WHERE client_id = $1 AND sequence > $7 AND ordered_at >= $2 AND ordered_at < $3
              GROUP BY 1, 2) AS u(b, carrier, perfect, all_orders)
        GROUP BY 1, 2
        """, unit, from, to, perfectTerm, allTerm, rows - unrolled);

// Runs a hand-written drill-down: $1 client, $2..$3 the range, $4 the date_trunc unit, then the extra parameters; rows
// of bucket start, carrier, perfect orders, orders.
async Task<List<(DateTimeOffset Start, string Carrier, double? Value)>> HandDrillDownRowsAsync(
    string sql, string unit, DateTimeOffset from, DateTimeOffset to, params long[] extra)
{
    await using var command = dataSource.CreateCommand(sql);
    command.CommandTimeout = 0;
    command.Parameters.AddWithValue(ClientId);
    command.Parameters.AddWithValue(from.UtcDateTime);
    command.Parameters.AddWithValue(to.UtcDateTime);
    command.Parameters.AddWithValue(unit);
    foreach (var value in extra)
    {
        command.Parameters.AddWithValue(value);
    }

    var values = new List<(DateTimeOffset, string, double?)>();
    await using var reader = await command.ExecuteReaderAsync();
    while (await reader.ReadAsync())
    {
        values.Add((new DateTimeOffset(reader.GetDateTime(0), TimeSpan.Zero), reader.GetString(1), 100.0 * reader.GetInt64(2) / reader.GetInt64(3)));
    }

    return values;
}

// Whether a drill-down answer has exactly the hand-written query's values, per bucket and carrier.
static bool SameDrillDown(KpiQueryResult answer, List<(DateTimeOffset Start, string Carrier, double? Value)> hand)
{
    var byKey = hand.ToDictionary(v => (v.Start, v.Carrier), v => v.Value);
    return answer.Series.Sum(s => s.Values.Count(v => v.Value is not null)) == byKey.Count
        && answer.Series.All(s => s.Values.All(v => v.Value is null || Equals(byKey.GetValueOrDefault((v.BucketStart, s.DimensionValue!)), v.Value)));
}

// Runs a hand-written POF series: $1 client, $2..$3 the range, $4 the date_trunc unit, then the extra parameters.
async Task<List<(DateTimeOffset Start, double? Value)>> HandSeriesAsync(string sql, string unit, DateTimeOffset from, DateTimeOffset to, params long[] extra)
{
    await using var command = dataSource.CreateCommand(sql);
    command.CommandTimeout = 0;
    command.Parameters.AddWithValue(ClientId);
    command.Parameters.AddWithValue(from.UtcDateTime);
    command.Parameters.AddWithValue(to.UtcDateTime);
    command.Parameters.AddWithValue(unit);
    foreach (var value in extra)
    {
        command.Parameters.AddWithValue(value);
    }

    return await PercentagesAsync(command);
}

// The rows of a hand-written POF series, (bucket start, perfect orders, all orders), as percentages per bucket.
static async Task<List<(DateTimeOffset Start, double? Value)>> PercentagesAsync(NpgsqlCommand command)
{
    var values = new List<(DateTimeOffset, double?)>();
    await using var reader = await command.ExecuteReaderAsync();
    while (await reader.ReadAsync())
    {
        var perfect = reader.IsDBNull(1) ? 0 : Convert.ToDouble(reader.GetValue(1), CultureInfo.InvariantCulture);
        var total = reader.IsDBNull(2) ? 0 : Convert.ToDouble(reader.GetValue(2), CultureInfo.InvariantCulture);
        values.Add((new DateTimeOffset(reader.GetDateTime(0), TimeSpan.Zero), total == 0 ? null : 100.0 * perfect / total));
    }

    return values;
}

// One timed run of a query, checked to have succeeded and read rollups or raw rows as expected.
static async Task<(KpiQueryResult Result, double Ms)> CheckedRunAsync(KpiQueryRunner runner, KpiQuery query, ClientConfig clientConfig, bool expectRollups)
{
    var (result, ms) = await TimedAsync(() => runner.RunAsync(query, clientConfig));
    Check(result, runner, expectRollups);
    return (result, ms);
}

static void Check(KpiQueryResult result, KpiQueryRunner runner, bool expectRollups)
{
    if (result.Error is { } error)
    {
        throw new InvalidOperationException(error.Message);
    }

    if (runner.LastRunUsedRollups != expectRollups)
    {
        throw new InvalidOperationException(expectRollups ? "the query did not read rollups" : "the raw query read rollups");
    }
}

Task LoadAsync(string clientId, int count, DateTimeOffset until, TimeSpan span) => OrderRows.LoadAsync(dataSource, clientId, count, until, span);

Task ExecuteAsync(string sql, params object[] parameters) => BenchSql.ExecuteAsync(dataSource, sql, parameters);

Task<T> ScalarAsync<T>(string sql, params object[] parameters) => BenchSql.ScalarAsync<T>(dataSource, sql, parameters);

// What one call returns and how long it took, in ms.
static async Task<(T Result, double Ms)> TimedAsync<T>(Func<Task<T>> run)
{
    var watch = Stopwatch.StartNew();
    var result = await run();
    return (result, watch.Elapsed.TotalMilliseconds);
}

// One run's times of the four modes the tables compare.
static void Keep(Dictionary<string, List<double>> times, double raw, double hand, double rollups, double handRollups)
{
    times["raw"].Add(raw);
    times["hand"].Add(hand);
    times["rollups"].Add(rollups);
    times["hand rollups"].Add(handRollups);
}

// Runs roll-up or backfill passes until none remains, timing each; between passes, `between` gets the rows remaining.
static async Task<List<double>> PassesAsync(Func<Task<long>> pass, Func<long, Task>? between = null)
{
    var times = new List<double>();
    while (true)
    {
        var (remaining, ms) = await TimedAsync(pass);
        times.Add(ms);
        if (remaining == 0)
        {
            return times;
        }

        if (between is not null)
        {
            await between(remaining);
        }
    }
}

static string PassFigures(List<double> passTimes) => string.Create(CultureInfo.InvariantCulture,
    $"a pass p50 / p99 / max {P(passTimes, 50):0.0} / {P(passTimes, 99):0.0} / {passTimes.Max():0.0} ms");

static async Task<List<double>> TimeAsync(int runs, Func<Task> run)
{
    var times = new List<double>(runs);
    for (var i = 0; i < runs + 5; i++)
    {
        var watch = Stopwatch.StartNew();
        await run();
        if (i >= 5)
        {
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
    }

    return times;
}

static double P(List<double> samples, int percentile)
{
    var sorted = samples.Order().ToArray();
    var rank = (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1;
    return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
}

int Option(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>Two query answers agree bucket for bucket: value, components, events, newest event, as-of.</summary>
internal sealed class ValueComparer : IEqualityComparer<KpiValue>
{
    public static readonly ValueComparer Instance = new();

    public bool Equals(KpiValue? x, KpiValue? y) =>
        x is not null && y is not null && x.BucketStart == y.BucketStart && x.BucketEnd == y.BucketEnd && x.Value == y.Value
        && x.EventCount == y.EventCount && x.NewestEventTime == y.NewestEventTime
        && x.Components.SequenceEqual(y.Components) && x.AsOf.SequenceEqual(y.AsOf);

    public int GetHashCode(KpiValue obj) => obj.BucketStart.GetHashCode();
}

// CPU time the database's client backends spend on a call (the first field of /proc/<pid>/schedstat: time on a CPU,
// in ns, exact rather than sampled; the server must run on this machine). This process's own CPU time says little:
// while it waits for an answer, the thread pool spins and yields, which perf shows as most of it.
sealed class CpuMeter(int[] backends)
{
    private readonly Dictionary<string, long> _totals = [];

    public static async Task<CpuMeter> ForBackendsAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'");
        var pids = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            pids.Add(reader.GetInt32(0));
        }

        return new CpuMeter(pids.ToArray());
    }

    public async Task<T> MeasureAsync<T>(string mode, bool keep, Func<Task<T>> run)
    {
        var before = ServerNs();
        var result = await run();
        if (keep)
        {
            _totals[mode] = _totals.GetValueOrDefault(mode) + ServerNs() - before;
        }

        return result;
    }

    public double MicrosPerRun(string mode, int runs) => _totals.GetValueOrDefault(mode) / 1000.0 / runs;

    public string Summary(int runs, params string[] modes) => string.Join(", ", modes.Select(mode =>
        string.Create(CultureInfo.InvariantCulture, $"{mode} {_totals.GetValueOrDefault(mode) / 1000.0 / runs:0}")));

    private long ServerNs() => backends.Sum(pid =>
        File.Exists($"/proc/{pid}/schedstat") ? long.Parse(File.ReadAllText($"/proc/{pid}/schedstat").Split(' ')[0], CultureInfo.InvariantCulture) : 0);
}
