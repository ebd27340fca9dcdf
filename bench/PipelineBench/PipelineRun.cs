using System.Diagnostics;
using System.Globalization;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Query;
using AnalyticsEngine.Silo;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AnalyticsEngine.PipelineBench;

/// <summary>The three measurements in order, on one silo and one database, and the report.</summary>
public sealed class PipelineRun(BenchOptions options, string[] args)
{
    private static readonly TimeSpan DrainPatience = TimeSpan.FromMinutes(10);

    private readonly Workload _workload = new(options, "pb" + DateTime.UtcNow.ToString("MMddHHmmss", CultureInfo.InvariantCulture));
    private readonly PipelineProbe _probe = new();
    private readonly KpiWatch _watch = new();
    private readonly List<string> _report = [];
    private IGrainFactory _grains = null!;
    private NpgsqlDataSource _dataSource = null!;
    private readonly long[] _rawSequences = new long[options.Clients];

    /// <summary>The highest sequence any ingest result reported per client, over the whole run.</summary>
    private readonly long[] _reportedSequences = new long[options.Clients];

    public async Task RunAsync()
    {
        var started = DateTimeOffset.UtcNow;
        Line($"pipeline benchmark, {started:yyyy-MM-dd HH:mm} UTC");
        Line($"command: dotnet run -c Release --project bench/PipelineBench -- {string.Join(' ', args)}".TrimEnd());
        Line($"machine: {Environment.ProcessorCount} cores (shared with other users), load average {LoadAverage()} at start; " +
             $"{Environment.OSVersion}; .NET {Environment.Version}; server GC {System.Runtime.GCSettings.IsServerGC}");
        Line($"workload: {options.Clients} clients × {options.Kpis} KPIs (all over orders), batches of {options.BatchSize} {options.Format} rows, " +
             $"{options.Concurrency} batches in flight, {options.Seconds} s per phase, database {options.Database}");

        await BenchDatabase.EnsureAsync(options);
        var app = SiloApp.Build(SiloArguments());
        await SiloApp.StartAsync(app);
        try
        {
            _grains = app.Services.GetRequiredService<IGrainFactory>();
            _dataSource = app.Services.GetRequiredService<NpgsqlDataSource>();
            Line($"postgres: {await ServerVersionAsync()}");
            await CreateClientsAsync();
            if (options.QueryCalls > 0)
            {
                await ArchiveCheckAsync();
                return;
            }

            using var renewal = await WatchAsync();

            // Raw COPY runs before and after the pipeline: on a shared machine the load of others drifts, and
            // the ratio is taken against the mean of the two.
            var rawBefore = await RawCopyAsync("1. raw binary COPY alone");
            var pipeline = await SustainedAsync();
            var rawAfter = await RawCopyAsync("3. raw binary COPY alone, again");
            var raw = (rawBefore + rawAfter) / 2;
            Line("");
            Line($"ratio pipeline / raw COPY: {pipeline / raw:F2} (goal ≥ 0.5; {pipeline / rawBefore:F2} against the COPY before, {pipeline / rawAfter:F2} against the one after)");
            await HalfRateLatencyAsync(pipeline / 2);
            await CheckpointSizesAsync();
            Line("");
            Line($"load average at end {LoadAverage()}; total {(DateTimeOffset.UtcNow - started).TotalMinutes:F1} min");
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>
    /// What asking the archive costs a query through the query grain: a range whose buckets start 8–12 days ago asks the
    /// client's archive grain first (one call, and a one-way call after), one of 1–5 days ago does not. Both are 4 days
    /// by day over a client with no policy and no rows (so the statement costs the same), called in turn.
    /// </summary>
    private async Task ArchiveCheckAsync()
    {
        Line("");
        Line($"archive check: {options.QueryCalls} query calls of each kind, in turn, through the query grain");
        var clientId = _workload.Clients[0];
        var queries = _grains.GetGrain<IKpiQueryGrain>(0);
        var now = DateTimeOffset.UtcNow;
        var recent = new KpiQuery(clientId, Workload.WatchedKpi, now.AddDays(-5), now.AddDays(-1), QueryGranularity.Day);
        var older = new KpiQuery(clientId, Workload.WatchedKpi, now.AddDays(-12), now.AddDays(-8), QueryGranularity.Day);
        var times = new Dictionary<KpiQuery, List<double>> { [recent] = [], [older] = [] };
        for (var i = 0; i < options.QueryCalls + 100; i++)
        {
            foreach (var query in new[] { recent, older })
            {
                // A range of its own each call (a millisecond later), so that no cached answer stands in for the query.
                var shifted = query with { From = query.From.AddMilliseconds(i), To = query.To.AddMilliseconds(i) };
                var watch = Stopwatch.StartNew();
                var result = await queries.Calculate(shifted);
                var elapsed = watch.Elapsed.TotalMilliseconds;
                if (result.Error is not null)
                {
                    throw new InvalidOperationException($"query failed: {result.Error.Message}");
                }

                if (i >= 100)
                {
                    times[query].Add(elapsed);
                }
            }
        }

        static double P(List<double> samples, double p) => samples.Order().ElementAt((int)Math.Min(samples.Count - 1, Math.Floor(p / 100 * samples.Count)));
        Line($"  buckets from 1–5 days ago (no archive call): p50 {P(times[recent], 50):F3} ms, p99 {P(times[recent], 99):F3} ms");
        Line($"  buckets from 8–12 days ago (asks the archive): p50 {P(times[older], 50):F3} ms, p99 {P(times[older], 99):F3} ms");
        Line($"  the archive check, p50: {P(times[older], 50) - P(times[recent], 50):F3} ms");
    }

    private string[] SiloArguments() =>
    [
        $"--ConnectionStrings:Postgres={options.ConnectionString}",
        $"--ConnectionStrings:Redis={options.Redis}",
        "--Orleans:ClusterId=pipeline-bench",
        "--Orleans:ServiceId=pipeline-bench",
        $"--Orleans:SiloPort={options.SiloPort}",
        $"--Orleans:GatewayPort={options.GatewayPort}",
        $"--Urls=http://127.0.0.1:{options.HttpPort}",
        "--Logging:LogLevel:Default=Warning",
        // On a starved machine every slow turn is logged; the report's figures say the same more usefully.
        "--Logging:LogLevel:Orleans.Runtime.Scheduler=Error",
        .. options.SiloSettings.Select(setting => "--" + setting),
    ];

    private async Task CreateClientsAsync()
    {
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(_workload.Clients, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (clientId, _) =>
        {
            var problems = await _grains.GetGrain<IClientConfigGrain>(clientId).Put(_workload.ConfigFor(clientId));
            if (problems.Count > 0)
            {
                throw new InvalidOperationException($"client {clientId} refused: {string.Join("; ", problems)}");
            }
        });
        Line($"created {_workload.Clients.Count} clients with {options.Kpis} KPIs each in {watch.Elapsed.TotalSeconds:F1} s " +
             $"(KPIs: {string.Join(", ", _workload.SelectedKpis)})");
    }

    /// <summary>Watches the first KPI of the first clients at day granularity, as a gateway would, and keeps the lease alive.</summary>
    private async Task<IDisposable> WatchAsync()
    {
        var observer = _grains.CreateObjectReference<IKpiObserver>(_watch);
        var watched = _workload.Clients.Take(options.Watch).ToList();
        async Task RenewAsync()
        {
            foreach (var clientId in watched)
            {
                await _grains.GetGrain<IKpiGrain>(KpiGrainKeys.For(clientId, Workload.WatchedKpi)).Watch(observer, Granularity.Day, 1);
            }
        }

        await RenewAsync();
        var timer = new Timer(_ => RenewAsync().ContinueWith(t => Console.Error.WriteLine($"watch renewal failed: {t.Exception}"), TaskContinuationOptions.OnlyOnFaulted),
            null, KpiGrainLease.Renewal, KpiGrainLease.Renewal);
        return timer;
    }

    /// <summary>
    /// The same rows the ingest grain would write (parsed by the product's parser), through the same
    /// <see cref="ObjectModelTable.CopyAsync"/> into the same table, one transaction per batch on a pooled
    /// connection of the silo's data source, with the same number of batches in flight.
    /// </summary>
    private async Task<double> RawCopyAsync(string title)
    {
        Line("");
        Line(title);
        var table = ObjectModelTables.BuiltIn.Get(Workload.ObjectModel);
        var sequences = _rawSequences;
        long next = -1, rows = 0;
        var durations = new List<double>();
        var before = await BenchDatabase.CountersAsync(_dataSource);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var duration = TimeSpan.FromSeconds(options.Seconds);
        await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                var batch = Interlocked.Increment(ref next);
                var client = (int)(batch % options.Clients);
                var parsed = _workload.ParsedBodies[batch % _workload.ParsedBodies.Length];
                var from = Interlocked.Add(ref sequences[client], parsed.Length) - parsed.Length + 1;
                var events = new EventRow[parsed.Length];
                for (var i = 0; i < events.Length; i++)
                {
                    events[i] = parsed[i].WithSequence(from + i);
                }

                var started = Stopwatch.GetTimestamp();
                await using (var connection = await _dataSource.OpenConnectionAsync())
                {
                    await using var transaction = await connection.BeginTransactionAsync();
                    await table.CopyAsync(connection, _workload.RawClients[client], events, CancellationToken.None);
                    await transaction.CommitAsync();
                }

                Interlocked.Add(ref rows, events.Length);
                lock (durations)
                {
                    durations.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }
        })));
        var elapsed = clock.Elapsed;
        var rate = rows / elapsed.TotalSeconds;
        Line($"   {rows:N0} events in {next + 1:N0} batches in {elapsed.TotalSeconds:F1} s: {rate:N0} events/s ({(next + 1) / elapsed.TotalSeconds:N0} batches/s)");
        Line($"   one batch (connection from the pool, COPY, commit): {Summary(durations)}");
        await CostAsync(before, cpu, elapsed, rows);
        return rate;
    }

    /// <summary>
    /// Ingest through <see cref="IIngestGrain"/> for the phase's duration, then wait until the client grains have
    /// applied every committed event. The rate is committed events over the time from the first commit to the
    /// moment the last of them was applied by its client grain.
    /// </summary>
    private async Task<double> SustainedAsync()
    {
        Line("");
        Line("2. sustained pipeline: ingest grain commit → client grain has applied the event to all its KPIs");
        var fromDatabase = _probe.FromDatabase;
        _probe.StartLatency();
        var outcome = await IngestAsync(paced: null);
        var commits = _probe.CommitDurations();
        if (!await _probe.WaitForAppliedAsync(outcome.AppliedTarget, DrainPatience))
        {
            throw new TimeoutException($"client grains applied {_probe.Applied - outcome.AppliedBaseline:N0} of {outcome.Events:N0} events within {DrainPatience}");
        }

        var lastApplied = _probe.LastAppliedAt;
        var elapsed = lastApplied - outcome.FirstCommit;
        var rate = outcome.Events / elapsed.TotalSeconds;
        var commitWindow = (outcome.LastCommit - outcome.FirstCommit).TotalSeconds;
        Line($"   {outcome.Events:N0} events in {outcome.Batches:N0} batches committed over {commitWindow:F1} s ({outcome.Events / commitWindow:N0} events/s committed)");
        Line($"   last event applied {(lastApplied - outcome.LastCommit).TotalMilliseconds:N0} ms after the last commit; first commit → all applied {elapsed.TotalSeconds:F1} s");
        Line($"   sustained: {rate:N0} events/s");
        Line($"   one IIngestGrain.Ingest call as the driver saw it: {Summary(outcome.CallDurations())}; its commit transaction " +
             $"(ae.ingest.commit.duration: connection, sequence claim, COPY, commit): {Summary(commits)}");
        Line($"   commit → applied at full load (ae.kpi.commit_to_applied, batches that came by the stream): {Summary(_probe.StopLatency())}; " +
             $"{_probe.FromDatabase - fromDatabase:N0} events were read back from the database instead");
        await VerifyAsync(outcome);
        await CostAsync(outcome.Before, outcome.Cpu, elapsed, outcome.Events);
        return rate;
    }

    /// <summary>Open-loop ingest at <paramref name="rate"/> events/s; commit-to-applied per batch from the product's histogram.</summary>
    private async Task HalfRateLatencyAsync(double rate)
    {
        Line("");
        Line($"4. latency at half the sustained rate: {rate:N0} events/s offered for {options.Seconds} s");
        _probe.StartLatency();
        var outcome = await IngestAsync(paced: rate);
        if (!await _probe.WaitForAppliedAsync(outcome.AppliedTarget, DrainPatience))
        {
            throw new TimeoutException("client grains did not apply every committed event");
        }

        await Task.Delay(200);
        var samples = _probe.StopLatency();
        var commitWindow = (outcome.LastCommit - outcome.FirstCommit).TotalSeconds;
        Line($"   {outcome.Events:N0} events in {outcome.Batches:N0} batches committed over {commitWindow:F1} s: {outcome.Events / commitWindow:N0} events/s achieved");
        Line($"   commit → applied by the client grain (ae.kpi.commit_to_applied, {samples.Count:N0} batches): {Summary(samples)}");

        var pushes = outcome.Watched
            .Select(w => _watch.FirstPushOf(w.ClientId, w.ToSequence) is { } at ? (at - w.CommittedAt).TotalMilliseconds : double.NaN)
            .ToList();
        var received = pushes.Where(double.IsFinite).ToList();
        Line($"   commit → pushed to the watcher through the KPI grain ({received.Count:N0} of {pushes.Count:N0} watched batches seen): {Summary(received)}");
        await VerifyAsync(outcome);
        await CostAsync(outcome.Before, outcome.Cpu, TimeSpan.FromSeconds(commitWindow), outcome.Events);
    }

    private async Task<IngestOutcome> IngestAsync(double? paced)
    {
        var outcome = new IngestOutcome(_reportedSequences, _probe.Applied, await BenchDatabase.CountersAsync(_dataSource), Process.GetCurrentProcess().TotalProcessorTime);
        var watched = new HashSet<string>(_workload.Clients.Take(options.Watch), StringComparer.Ordinal);
        long next = -1;
        var clock = Stopwatch.StartNew();
        var duration = TimeSpan.FromSeconds(options.Seconds);

        async Task IngestOneAsync(long batch)
        {
            var client = (int)(batch % options.Clients);
            var clientId = _workload.Clients[client];
            var request = new IngestRequest(_workload.Format, _workload.Bodies[batch % _workload.Bodies.Length], IngestPolicy.RejectBatch, null);
            var started = Stopwatch.GetTimestamp();
            var result = await _grains.GetGrain<IIngestGrain>(IngestKeys.For(clientId, Workload.ObjectModel)).Ingest(request);
            outcome.Record(client, result, watched.Contains(clientId) ? clientId : null, Stopwatch.GetElapsedTime(started));
        }

        if (paced is { } rate)
        {
            var interval = options.BatchSize / rate;
            var inFlight = new List<Task>();
            while (clock.Elapsed < duration)
            {
                var batch = next + 1;
                var wait = TimeSpan.FromSeconds(batch * interval) - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                    continue;
                }

                next = batch;
                inFlight.Add(IngestOneAsync(batch));
                inFlight.RemoveAll(t => t.IsCompletedSuccessfully);
            }

            await Task.WhenAll(inFlight);
        }
        else
        {
            await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(async () =>
            {
                while (clock.Elapsed < duration)
                {
                    await IngestOneAsync(Interlocked.Increment(ref next));
                }
            })));
        }

        if (outcome.Failures > 0)
        {
            Line($"   {outcome.Failures} batches were not committed: {outcome.FirstFailure}");
        }

        return outcome;
    }

    /// <summary>
    /// Every client grain's position equals the partition's last committed sequence (in the database and as the
    /// ingest results reported), and every watched KPI grain pushed a value counting every committed event.
    /// </summary>
    private async Task VerifyAsync(IngestOutcome outcome)
    {
        var logged = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var command = _dataSource.CreateCommand(
            "SELECT client_id, last_sequence FROM ingest.partitions WHERE client_id = ANY($1) AND object_model = $2"))
        {
            command.Parameters.AddWithValue(_workload.Clients.ToArray());
            command.Parameters.AddWithValue(Workload.ObjectModel);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                logged[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        var mismatches = new List<string>();
        for (var c = 0; c < options.Clients; c++)
        {
            var clientId = _workload.Clients[c];
            var last = logged.GetValueOrDefault(clientId);
            var positions = await _grains.GetGrain<IClientKpiGrain>(clientId).GetPositions();
            var position = positions.FirstOrDefault(p => p.ObjectModel == Workload.ObjectModel)?.Sequence ?? 0;
            if (position != last || outcome.LastSequence(c) != last)
            {
                mismatches.Add($"{clientId}: grain at {position}, last_sequence {last}, ingest reported {outcome.LastSequence(c)}");
            }
        }

        var pushDeadline = Stopwatch.StartNew();
        List<string> stale;
        do
        {
            stale = [.. _workload.Clients.Take(options.Watch).Where(id => _watch.CountedEvents(id) != logged.GetValueOrDefault(id))];
            if (stale.Count > 0)
            {
                await Task.Delay(50);
            }
        }
        while (stale.Count > 0 && pushDeadline.Elapsed < TimeSpan.FromSeconds(10));

        Line($"   verified: {options.Clients - mismatches.Count} of {options.Clients} client grains at last_sequence " +
             $"({logged.Values.Sum():N0} events committed in all so far); {options.Watch - stale.Count} of {options.Watch} watched KPI grains " +
             $"pushed {Workload.WatchedKpi} = every committed event; events reached the client grains from the stream {_probe.FromStream:N0}, " +
             $"read back from the database {_probe.FromDatabase:N0} (cumulative)");
        foreach (var problem in mismatches.Take(5).Concat(stale.Take(5).Select(id => $"{id}: pushed {_watch.CountedEvents(id)}, committed {logged.GetValueOrDefault(id)}")))
        {
            Line($"   MISMATCH {problem}");
        }
    }

    private async Task CostAsync(DbCounters before, TimeSpan cpuBefore, TimeSpan elapsed, long events)
    {
        await Task.Delay(1_000);
        var cost = await BenchDatabase.CountersAsync(_dataSource) - before;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        Line($"   cost: benchmark process (silo + driver) CPU {cpu:F1} s = {cpu / elapsed.TotalSeconds:F2} cores, {cpu * 1e6 / Math.Max(1, events):N0} µs per event; PostgreSQL ≈ {cost.Commits:N0} commits, " +
             $"{cost.OrderRows:N0} order rows, {cost.StateWrites:N0} grain-state writes (checkpoints), {cost.PartitionReads:N0} reads of ingest.partitions");
    }

    /// <summary>How big the client grains' checkpoints are: each one rewrites this every few seconds while events arrive.</summary>
    private async Task CheckpointSizesAsync()
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT count(*), coalesce(avg(octet_length(payload)), 0)::bigint, coalesce(max(octet_length(payload)), 0) FROM orleans.grain_state WHERE grain_type = 'checkpoint' AND grain_id_extension LIKE $1");
        command.Parameters.AddWithValue("%" + _workload.Clients[0][.._workload.Clients[0].IndexOf('-', StringComparison.Ordinal)] + "-%");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Line($"   client grain checkpoints: {reader.GetInt64(0):N0}, {reader.GetInt64(1):N0} bytes on average, {reader.GetInt32(2):N0} at most");
    }

    private async Task<string> ServerVersionAsync()
    {
        await using var command = _dataSource.CreateCommand("SELECT current_setting('server_version') || ', synchronous_commit ' || current_setting('synchronous_commit')");
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private static string Summary(List<double> samples)
    {
        if (samples.Count == 0)
        {
            return "no samples";
        }

        samples.Sort();
        double P(double p) => samples[Math.Clamp((int)Math.Ceiling(p * samples.Count) - 1, 0, samples.Count - 1)];
        return $"p50 {P(0.50):F1} ms, p90 {P(0.90):F1} ms, p99 {P(0.99):F1} ms, max {samples[^1]:F1} ms";
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private void Line(string line)
    {
        Console.WriteLine(line);
        _report.Add(line);
    }

    /// <summary>What one ingest phase committed, per client, and when.</summary>
    private sealed class IngestOutcome(long[] lastSequence, long appliedBaseline, DbCounters before, TimeSpan cpu)
    {
        private readonly long[] _lastSequence = lastSequence;
        private readonly object _gate = new();
        private long _events;
        private long _batches;
        private long _failures;

        public long AppliedBaseline { get; } = appliedBaseline;

        public DbCounters Before { get; } = before;

        public TimeSpan Cpu { get; } = cpu;

        public long Events => Interlocked.Read(ref _events);

        public long Batches => Interlocked.Read(ref _batches);

        public long Failures => Interlocked.Read(ref _failures);

        public string? FirstFailure { get; private set; }

        public long AppliedTarget => AppliedBaseline + Events;

        public DateTimeOffset FirstCommit { get; private set; } = DateTimeOffset.MaxValue;

        public DateTimeOffset LastCommit { get; private set; } = DateTimeOffset.MinValue;

        public List<(string ClientId, long ToSequence, DateTimeOffset CommittedAt)> Watched { get; } = [];

        public long LastSequence(int client) => Interlocked.Read(ref _lastSequence[client]);

        private readonly List<double> _callDurations = [];

        public List<double> CallDurations()
        {
            lock (_gate)
            {
                return [.. _callDurations];
            }
        }

        public void Record(int client, IngestResult result, string? watchedClient, TimeSpan duration)
        {
            if (result.Status != IngestStatus.Committed)
            {
                Interlocked.Increment(ref _failures);
                lock (_gate)
                {
                    FirstFailure ??= $"{result.Status}: {string.Join("; ", result.Errors.Take(3))}";
                }

                return;
            }

            Interlocked.Add(ref _events, result.Accepted);
            Interlocked.Increment(ref _batches);
            lock (_gate)
            {
                _callDurations.Add(duration.TotalMilliseconds);
                _lastSequence[client] = Math.Max(_lastSequence[client], result.ToSequence);
                FirstCommit = result.CommittedAt < FirstCommit ? result.CommittedAt : FirstCommit;
                LastCommit = result.CommittedAt > LastCommit ? result.CommittedAt : LastCommit;
                if (watchedClient is not null)
                {
                    Watched.Add((watchedClient, result.ToSequence, result.CommittedAt));
                }
            }
        }
    }
}
