using System.Diagnostics;
using System.Text.Json;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using Npgsql;
using Orleans.Runtime;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Faults;

/// <summary>
/// Drives one fault scenario: its clients, small order batches ingested with an idempotency key and
/// retried until they are committed (a retry of a batch that was committed is a replay, not a second copy),
/// and the faults themselves.
/// </summary>
public sealed class FaultWorkload
{
    /// <summary>A zone with a half-hour offset, so hour and day buckets depend on getting the zone right.</summary>
    public const string TimeZone = "Asia/Kolkata";

    /// <summary>How long one call may keep failing while the cluster recovers before the test gives up.</summary>
    private static readonly TimeSpan RetryPatience = TimeSpan.FromSeconds(90);

    /// <summary>A call that needed longer than this to get through is worth a line in the log.</summary>
    private static readonly TimeSpan SlowRecovery = TimeSpan.FromSeconds(5);

    private readonly FaultClusterFixture _fixture;
    private readonly ITestOutputHelper _output;
    private readonly Random _random;
    private readonly DateTimeOffset _origin;
    private readonly string _prefix = "f" + Guid.NewGuid().ToString("N")[..8];
    private int _keys;
    private int _orderNumber;

    public FaultWorkload(FaultClusterFixture fixture, ITestOutputHelper output, int seed)
    {
        _fixture = fixture;
        _output = output;
        _random = new Random(seed);
        var now = DateTimeOffset.UtcNow;
        _origin = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero);
        output.WriteLine($"workload {_prefix}, seed {seed}");
        StreamedAtStart = fixture.Metrics.FromStream;
        CaughtUpAtStart = fixture.Metrics.FromDatabase;
    }

    public List<string> Clients { get; } = [];

    public long StreamedAtStart { get; }

    public long CaughtUpAtStart { get; }

    public int CommittedBatches => Volatile.Read(ref _committed);

    public int ReplayedBatches => Volatile.Read(ref _replayed);

    public int FailedAttempts => Volatile.Read(ref _failedAttempts);

    private int _committed;
    private int _replayed;
    private int _failedAttempts;

    public InProcessTestCluster Cluster => _fixture.Cluster;

    public void Log(string line) => _output.WriteLine(line);

    public IClusterClient Client => _fixture.Client;

    public async Task CreateClientsAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var clientId = $"{_prefix}-{i}";
            var problems = await RetryAsync($"create {clientId}", () => Client.GetGrain<IClientConfigGrain>(clientId)
                .Put(new ClientConfig(clientId, "Fault test", TimeZone, ["POF", "OTD"], [], [], 0)));
            Assert.Empty(problems);
            Clients.Add(clientId);
        }
    }

    /// <summary>Ingests one batch of <paramref name="rows"/> orders, retrying with the same idempotency key until it is stored.</summary>
    public async Task IngestAsync(string clientId, int rows, Random? random = null)
    {
        random ??= _random;
        byte[] body;
        lock (random)
        {
            body = JsonSerializer.SerializeToUtf8Bytes(Orders(random, rows));
        }

        var request = new IngestRequest(IngestFormat.Json, body, IngestPolicy.RejectBatch, $"{clientId}-k{Interlocked.Increment(ref _keys)}");
        var result = await RetryAsync($"ingest into {clientId}", async () =>
        {
            var attempt = await Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders")).Ingest(request);
            // "Unavailable" is the product's own "retry with the same key", like a failed call.
            return attempt.Status == IngestStatus.Unavailable ? throw new InvalidOperationException(attempt.Errors[0].Reason) : attempt;
        });
        Assert.True(result.Status is IngestStatus.Committed or IngestStatus.Replayed, $"{result.Status}: {string.Join("; ", result.Errors)}");
        Interlocked.Increment(ref result.Status == IngestStatus.Committed ? ref _committed : ref _replayed);
    }

    /// <summary>Ingests small batches into every client, concurrently, until the returned run is stopped.</summary>
    public IngestRun StartIngesting(int maxRows = 5)
    {
        var run = new IngestRun(_output);
        foreach (var clientId in Clients)
        {
            var random = new Random(_random.Next());
            run.Add(Task.Run(async () =>
            {
                while (!run.Stopping)
                {
                    await IngestAsync(clientId, random.Next(1, maxRows + 1), random);
                    run.Committed(clientId);
                }
            }));
        }

        return run;
    }

    /// <summary>The silo currently hosting <paramref name="grain"/> (activating it first).</summary>
    public Task<InProcessSiloHandle> SiloHostingAsync(IClientKpiGrain grain) => SiloHostingAsync(grain, grain.GetPositions);

    /// <summary>The silo currently hosting <paramref name="grain"/>, after <paramref name="activate"/> made sure it is active.</summary>
    public async Task<InProcessSiloHandle> SiloHostingAsync<T>(IAddressable grain, Func<Task<T>> activate)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            await RetryAsync("activate", activate);
            if (Cluster.TryGetGrainContext(grain.GetGrainId(), out var context)
                && context.Address.SiloAddress is { } address
                && Cluster.GetSiloForAddress(address) is { } silo)
            {
                return silo;
            }

            Assert.True(deadline.Elapsed < RetryPatience, "the grain has no activation on a live silo");
            await Task.Delay(20);
        }
    }

    /// <summary>Kills <paramref name="silo"/> without any shutdown, as a crash would.</summary>
    public async Task KillAsync(InProcessSiloHandle silo)
    {
        _output.WriteLine($"{Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency:F1}s kill {silo.Name}");
        await Cluster.KillSiloAsync(silo);
    }

    /// <summary>Starts silos until the cluster has <see cref="FaultClusterFixture.InitialSilos"/> again.</summary>
    public async Task RestoreSilosAsync()
    {
        while (Cluster.GetActiveSilos().Count() < FaultClusterFixture.InitialSilos)
        {
            // A silo's storage providers connect at start, from the pools this process shares with every in-process
            // silo: one that drew a connection a fault had terminated failed to start, and the testing host does not
            // stop a silo whose start failed (once, right after such a failure, the next test's calls to a grain timed
            // out for the whole retry patience). Each start takes fresh connections.
            var silo = await RetryAsync("start a silo", () =>
            {
                NpgsqlConnection.ClearAllPools();
                return Cluster.StartAdditionalSiloAsync();
            });
            _output.WriteLine($"started {silo.Name}");
        }
    }

    /// <summary>Stops <paramref name="silo"/> gracefully (its grains deactivate and checkpoint), then starts a replacement.</summary>
    public async Task RestartAsync(InProcessSiloHandle silo)
    {
        _output.WriteLine($"restart {silo.Name}");
        await Cluster.StopSiloAsync(silo);
        await RestoreSilosAsync();
    }

    /// <summary>Terminates every PostgreSQL connection the silos hold; returns how many were terminated.</summary>
    public async Task<int> TerminateProductConnectionsAsync()
    {
        await using var command = _fixture.Database.CreateCommand(
            """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1
            """);
        command.Parameters.AddWithValue(_fixture.ApplicationName);
        return (int)(long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Restarts the PostgreSQL server (a fast shutdown cuts every connection, then it starts again) through
    /// scripts/services.sh, which only ever restarts the instance this checkout started.
    /// </summary>
    public async Task RestartDatabaseServerAsync()
    {
        var script = Path.Combine(RepositoryRoot(), "scripts", "services.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add("restart-postgres");
        start.Environment["AE_PG_PORT"] = new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"restarting PostgreSQL failed ({process.ExitCode}): {await stderr}{await stdout}");

        // The test's own pooled connections died with the server too.
        _fixture.Database.Clear();
        _output.WriteLine($"restarted PostgreSQL in {clock.Elapsed.TotalSeconds:F1}s");
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "scripts", "services.sh")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no scripts/services.sh above {AppContext.BaseDirectory}");
    }

    /// <summary>Publishes committed rows of <paramref name="clientId"/> again on its stream, as a retried publish would.</summary>
    public async Task RedeliverAsync(string clientId, Random random)
    {
        var last = await LastSequenceAsync(clientId);
        if (last == 0)
        {
            return;
        }

        long from, to;
        lock (random)
        {
            from = random.NextInt64(1, last + 1);
            to = Math.Min(last, from + random.Next(0, 5));
        }

        var rows = await ObjectModelTables.BuiltIn.Get("orders").ReadAsync(_fixture.Database, clientId, from, to, CancellationToken.None);
        var stream = Client.GetStreamProvider(EventStreams.Provider).GetStream<EventBatch>(StreamId.Create(EventStreams.Namespace, clientId));
        await RetryAsync("redeliver", async () =>
        {
            await stream.OnNextAsync(new EventBatch(clientId, "orders", from, to, DateTimeOffset.UtcNow, [.. rows]));
            return true;
        });
    }

    public async Task<long> LastSequenceAsync(string clientId)
    {
        await using var command = _fixture.Database.CreateCommand(
            "SELECT coalesce(max(last_sequence), 0) FROM ingest.partitions WHERE client_id = $1 AND object_model = 'orders'");
        command.Parameters.AddWithValue(clientId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Calls <paramref name="call"/> until it returns, for as long as the cluster may need to recover.</summary>
    public async Task<T> RetryAsync<T>(string what, Func<Task<T>> call)
    {
        var started = Stopwatch.StartNew();
        var failures = 0;
        while (true)
        {
            try
            {
                var result = await call();
                if (failures > 0 && started.Elapsed > SlowRecovery)
                {
                    _output.WriteLine($"{what} succeeded after {failures} failed attempts over {started.Elapsed.TotalSeconds:F1}s");
                }

                return result;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && started.Elapsed < RetryPatience)
            {
                Interlocked.Increment(ref _failedAttempts);
                if (failures++ % 20 == 0)
                {
                    _output.WriteLine($"{what} failed after {started.Elapsed.TotalSeconds:F1}s, retrying: {ex.GetType().Name}: {ex.Message.Split('\n')[0]}");
                }

                // Back off briefly before the retry; the retry itself is what waits for recovery.
                await Task.Delay(100);
            }
        }
    }

    private object[] Orders(Random random, int count)
    {
        var orders = new object[count];
        for (var i = 0; i < count; i++)
        {
            // Spread over the last ~2.5 hours: several hour buckets, and across a day boundary in some zones.
            var orderedAt = _origin.AddSeconds(-random.Next(60, 150 * 60));
            orders[i] = new
            {
                order_id = $"{_prefix}-o{Interlocked.Increment(ref _orderNumber)}",
                ordered_at = orderedAt,
                order_value = Math.Round(random.NextDouble() * 100, 2),
                promised_at = orderedAt.AddDays(1),
                on_time = random.NextDouble() < 0.7,
                in_full = random.NextDouble() < 0.9,
                damage_free = random.NextDouble() < 0.95,
                documentation_complete = random.NextDouble() < 0.9,
                status = "delivered",
            };
        }

        return orders;
    }
}

/// <summary>Concurrent ingest loops, one per client.</summary>
public sealed class IngestRun(ITestOutputHelper output)
{
    /// <summary>While a wait lasts longer than this, it logs where the counts stand each time this passes again.</summary>
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(10);

    private readonly List<Task> _loops = [];
    private readonly Dictionary<string, int> _perClient = new(StringComparer.Ordinal);
    private volatile bool _stopping;

    public bool Stopping => _stopping;

    public int Total
    {
        get
        {
            lock (_perClient)
            {
                return _perClient.Values.Sum();
            }
        }
    }

    public void Add(Task loop) => _loops.Add(loop);

    public void Committed(string clientId)
    {
        lock (_perClient)
        {
            _perClient[clientId] = _perClient.GetValueOrDefault(clientId) + 1;
        }
    }

    public IReadOnlyDictionary<string, int> Snapshot()
    {
        lock (_perClient)
        {
            return new Dictionary<string, int>(_perClient, StringComparer.Ordinal);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds over the per-client commit counts (or a loop fails).</summary>
    public async Task WaitUntilAsync(Func<IReadOnlyDictionary<string, int>, bool> condition, TimeSpan timeout)
    {
        var started = Stopwatch.StartNew();
        var nextHeartbeat = Heartbeat;
        while (!condition(Snapshot()))
        {
            if (_loops.FirstOrDefault(l => l.IsFaulted) is { } failed)
            {
                await failed;
            }

            if (started.Elapsed > nextHeartbeat)
            {
                output.WriteLine($"still waiting after {started.Elapsed.TotalSeconds:F0}s; committed batches per client: " +
                    string.Join(", ", Snapshot().Select(kv => $"{kv.Key} {kv.Value}")));
                nextHeartbeat += Heartbeat;
            }

            Assert.True(started.Elapsed < timeout, "ingest did not make the expected progress");
            await Task.Delay(20);
        }
    }

    /// <summary>Stops the loops after their current batch and waits for them.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        await Task.WhenAll(_loops);
    }
}
