using System.Diagnostics;
using System.Globalization;
using AnalyticsEngine.Archive;
using AnalyticsEngine.Benchmarks;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Proposals;
using AnalyticsEngine.Query;
using AnalyticsEngine.Silo.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

// Archival benchmark: a year of orders of one client (1 million by default), a policy keeping 7 days active and
// archiving the rest (its rollups kept). Measures, in one run, for a 30-day and a 365-day query by day: the query
// before archival (raw rows, and rollups); the archival run (rows/s, bytes per row in the archive against the active
// table's); the query after it through rollups that hold the archived rows (as the query grain runs it: what it asks
// the archive, the archive's plan, the check in its snapshot); and, for a query whose rollups do not hold them,
// restoring the segments it reads, the query over the restored rows, and taking them out again.
//
//   dotnet run -c Release --project bench/ArchiveBench [-- --rows 1000000 --runs 5 --archive-dir /tmp/ae-archive-bench]
//
// Everything of the benchmark client is deleted at the end (rows, rollups, segments and their files).
var rows = Option("--rows", 1_000_000);
var runs = Option("--runs", 5);
var directory = OptionText("--archive-dir", Path.Combine(Path.GetTempPath(), "ae-archive-bench"));
var connectionString = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
    ?? "Host=127.0.0.1;Port=55432;Username=analytics;Password=analytics;Database=analytics";
const string ClientId = "bench-archive-orders";
const int ActiveDays = 7;

await using var dataSource = AnalyticsEngine.Silo.SiloHosting.CreateDataSource(connectionString);
await SchemaMigrator.ApplyAsync(connectionString, NullLogger.Instance, CancellationToken.None);
await ObjectModelTables.BuiltIn.EnsureCreatedAsync(dataSource, CancellationToken.None);
var storage = new ColdStorage(new ArchiveOptions { Directory = directory });
var index = new SegmentIndex(dataSource);
var archiver = new TableArchiver(dataSource, storage);
var table = ObjectModelTables.BuiltIn.Get("orders");
var orders = TermRollups.ForCatalog["orders"];

await CleanUpAsync();
var now = DateTimeOffset.UtcNow;
var load = Stopwatch.StartNew();
await OrderRows.LoadAsync(dataSource, ClientId, rows, now.AddHours(-1), TimeSpan.FromDays(365));
await ExecuteAsync(
    "INSERT INTO ingest.partitions (client_id, object_model, last_sequence) VALUES ($1, 'orders', $2) ON CONFLICT (client_id, object_model) DO UPDATE SET last_sequence = excluded.last_sequence",
    ClientId, (long)rows);
await orders.RebuildAsync(dataSource, ClientId, rowsPerPass: 100_000, CancellationToken.None);
// Earlier runs leave dead rows behind in the shared tables (each ends by deleting its client's): vacuumed, as autovacuum
// keeps a table in use.
foreach (var vacuumed in new[] { "scor_data.orders", "query.term_rollups", "query.dimension_rollups", "query.rollup_terms" })
{
    await ExecuteAsync($"VACUUM ANALYZE {vacuumed}");
}
Console.WriteLine($"loaded and rolled up {rows:N0} orders over 365 days in {load.Elapsed.TotalSeconds:0.0} s");

var config = new ClientConfig(ClientId, "Archive benchmark", "Europe/Berlin", ["OTD"], [], [], 1);
var raw = new KpiQueryRunner(dataSource, new KpiQueryOptions { UseRollups = false, StatementTimeout = TimeSpan.FromMinutes(10) }, TimeSpan.FromMinutes(5), NullLogger.Instance);
var rollupOptions = new KpiQueryOptions { CacheDuration = TimeSpan.Zero };
var rolled = new KpiQueryRunner(dataSource, rollupOptions, TimeSpan.FromMinutes(5), NullLogger.Instance);
KpiQuery Days(int days) => new(ClientId, "OTD", now.AddDays(-days), now, QueryGranularity.Day);
async Task<long> EventsAsync(KpiQuery query, KpiQueryRunner? runner = null)
{
    var result = await (runner ?? raw).RunAsync(query, config);
    return result.Error is null ? result.Series[0].Values.Sum(v => v.EventCount) : throw new InvalidOperationException(result.Error.Message);
}

var before30 = await TimeAsync(runs, () => EventsAsync(Days(30)));
var before365 = await TimeAsync(runs, () => EventsAsync(Days(365)));
var rolled30 = await TimeAsync(runs, () => EventsAsync(Days(30), rolled));
var rolled365 = await TimeAsync(runs, () => EventsAsync(Days(365), rolled));
var events30 = await EventsAsync(Days(30));
var events365 = await EventsAsync(Days(365));
// The client's rows as the table stores them (tuple headers included; indexes and free space of pages not).
var tableBytesPerRow = await ScalarAsync<double>($"SELECT avg(pg_column_size(t.*))::float8 FROM scor_data.orders AS t WHERE t.client_id = '{ClientId}'");

// The archival run: every day older than a week, a segment each.
var policy = new ProposalRetention(new RetentionPlan(ActiveDays, true, null), new RetentionPlan(400, false, null), new GranularityAnswer(), [], null, []);
var archival = Stopwatch.StartNew();
var run = await new ArchivalRun(ClientId, now, policy, index, archiver, ObjectModelTables.BuiltIn, dataSource, storage, NullLogger.Instance)
    .ExecuteAsync(await index.SegmentsAsync(ClientId, CancellationToken.None), CancellationToken.None);
var archiveSeconds = archival.Elapsed.TotalSeconds;
var segments = await index.SegmentsAsync(ClientId, CancellationToken.None);
var archiveBytes = segments.Sum(s => s.Segment.Bytes);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"archived {run.RowsArchived:N0} rows into {run.SegmentsWritten} segments in {archiveSeconds:0.0} s ({run.RowsArchived / archiveSeconds:N0} rows/s); " +
    $"{archiveBytes / 1048576.0:0.0} MB, {archiveBytes / (double)run.RowsArchived:0.0} bytes a row against {tableBytesPerRow:0} in the active table (a row alone, without its indexes)"));

// The query after archival as the query grain runs it over rollups that hold the archived rows: what it tells the
// archive, the archive's plan (which restores nothing here), and the query with the check in its snapshot.
var throughRollups = new Dictionary<int, List<double>>();
foreach (var days in new[] { 30, 365 })
{
    var events = days == 30 ? events30 : events365;
    throughRollups[days] = await TimeAsync(runs, async () =>
    {
        var prepared = KpiQueryRunner.Prepare(Days(days), config, rollupOptions);
        var ask = ArchivedDays.Ask(prepared.Formula!, null, prepared.Boundaries!, useRollups: true);
        var wholeAfter = await ArchivedDays.WholeAfterAsync(dataSource, ClientId, ask.Reads, CancellationToken.None);
        var deletedBefore = await index.RollupsDeletedBeforeAsync(ClientId, CancellationToken.None);
        var plan = ArchiveReadPlan.Decide(segments.Select(s => s.Segment), ask, wholeAfter, deletedBefore, _ => AnalyticsEngine.Catalog.ObjectKind.Event);
        if (plan.Restore.Count > 0)
        {
            throw new InvalidOperationException($"{days} days: the rollups should hold every archived order, yet {plan.Restore.Count} segments would come back");
        }

        var runner = new KpiQueryRunner(dataSource, rollupOptions, TimeSpan.FromMinutes(5), NullLogger.Instance) { Archived = plan.Access(0) };
        var counted = await EventsAsync(Days(days), runner);
        return counted == events ? counted : throw new InvalidOperationException($"{days} days: {counted} events from the rollups after archival, {events} before");
    });
}

// A query whose rollups do not hold the archived rows (a term added later, say): restoring what it reads, then the
// query itself over the restored rows, then the rows out again; per range.
var restoreTimes = new Dictionary<int, List<double>> { [30] = [], [365] = [] };
var afterTimes = new Dictionary<int, List<double>> { [30] = [], [365] = [] };
var removeTimes = new Dictionary<int, List<double>> { [30] = [], [365] = [] };
var segmentsRead = new Dictionary<int, int>();
foreach (var days in new[] { 30, 365 })
{
    for (var i = 0; i < runs; i++)
    {
        // What the query grain asks the archive for: the bounds of the query's buckets (a local day starts before UTC's).
        var bounds = KpiQueryRunner.Prepare(Days(days), config, new KpiQueryOptions()).Boundaries!;
        var (from, to) = (TimeTicks.ToDateTimeOffset(bounds[0]), TimeTicks.ToDateTimeOffset(bounds[^1]));
        var read = segments.Where(s => RetentionHorizons.IsRead(s.Segment, AnalyticsEngine.Catalog.ObjectKind.Event, from, to)).ToList();
        segmentsRead[days] = read.Count;
        var restore = Stopwatch.StartNew();
        foreach (var segment in read)
        {
            await archiver.RestoreAsync(segment, table, now.AddDays(1), CancellationToken.None);
        }

        restoreTimes[days].Add(restore.Elapsed.TotalMilliseconds);
        var events = days == 30 ? events30 : events365;
        afterTimes[days].AddRange(await TimeAsync(1, async () =>
        {
            var counted = await EventsAsync(Days(days));
            return counted == events ? counted : throw new InvalidOperationException($"{days} days: {counted} events after the restore, {events} before archival");
        }));
        var restored = (await index.SegmentsAsync(ClientId, CancellationToken.None)).Where(s => s.Segment.RestoredUntil is not null).ToList();
        var remove = Stopwatch.StartNew();
        foreach (var segment in restored)
        {
            await archiver.RemoveRestoredAsync(ClientId, segment, table, CancellationToken.None);
        }

        removeTimes[days].Add(remove.Elapsed.TotalMilliseconds);
    }
}

Console.WriteLine();
Console.WriteLine($"OTD by day, {runs} runs each, median (p50) in ms:");
Console.WriteLine("| range | before archival: raw rows | before archival: rollups | after: rollups, nothing restored | restore the segments | raw query over restored rows | take them out again |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach (var days in new[] { 30, 365 })
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {days} days ({segmentsRead[days]} segments) | {Median(days == 30 ? before30 : before365):0.0} | {Median(days == 30 ? rolled30 : rolled365):0.0} | " +
        $"{Median(throughRollups[days]):0.0} | {Median(restoreTimes[days]):0.0} | {Median(afterTimes[days]):0.0} | {Median(removeTimes[days]):0.0} |"));
}

await CleanUpAsync();
return;

async Task CleanUpAsync()
{
    foreach (var segment in await index.SegmentsAsync(ClientId, CancellationToken.None))
    {
        await ExecuteAsync("DELETE FROM archive.segments WHERE segment_id = $1", segment.Segment.SegmentId);
        storage.Delete(segment.Segment.Location);
    }

    await ExecuteAsync("DELETE FROM scor_data.orders WHERE client_id = $1", ClientId);
    await ExecuteAsync("DELETE FROM query.term_rollups WHERE client_id = $1", ClientId);
    await ExecuteAsync("DELETE FROM query.dimension_rollups WHERE client_id = $1", ClientId);
    await ExecuteAsync("DELETE FROM query.rollup_terms WHERE client_id = $1", ClientId);
    await ExecuteAsync("DELETE FROM ingest.partitions WHERE client_id = $1", ClientId);
    await ExecuteAsync("DELETE FROM archive.rollups_deleted WHERE client_id = $1", ClientId);
}

Task ExecuteAsync(string sql, params object[] parameters) => BenchSql.ExecuteAsync(dataSource, sql, parameters);

Task<T> ScalarAsync<T>(string sql) => BenchSql.ScalarAsync<T>(dataSource, sql);

static async Task<List<double>> TimeAsync(int count, Func<Task<long>> run)
{
    var times = new List<double>(count);
    for (var i = 0; i < count; i++)
    {
        var watch = Stopwatch.StartNew();
        await run();
        times.Add(watch.Elapsed.TotalMilliseconds);
    }

    return times;
}

static double Median(List<double> samples)
{
    var sorted = samples.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

int Option(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

string OptionText(string name, string fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}
