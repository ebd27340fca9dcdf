using System.Diagnostics;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using Xunit.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Faults;

/// <summary>
/// Exactly-once under faults (issue 4 §5): each scenario streams small batches while it breaks something,
/// then proves that every committed event was counted once — no more, no less.
/// </summary>
[Collection(FaultClusterCollection.Name)]
public sealed class FaultScenarioTests(FaultClusterFixture fixture, ITestOutputHelper testOutput)
{
    private readonly FaultLog output = new(testOutput, nameof(FaultScenarioTests));

    private static readonly TimeSpan Progress = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Killing_the_silo_of_a_client_grain_mid_stream_loses_and_doubles_nothing()
    {
        var workload = new FaultWorkload(fixture, output, seed: 1);
        await workload.CreateClientsAsync(4);
        var victim = await workload.SiloHostingAsync(fixture.Client.GetGrain<IClientKpiGrain>(workload.Clients[0]));

        var run = workload.StartIngesting();
        await run.WaitUntilAsync(c => c.Count == workload.Clients.Count && c.Values.All(n => n >= 5), Progress);
        var before = run.Snapshot();
        var killedAt = Stopwatch.StartNew();
        await workload.KillAsync(victim);

        // Keep ingesting until every client has committed batches after the kill, then stop.
        await run.WaitUntilAsync(c => c.All(kv => kv.Value >= before[kv.Key] + 5), Progress);
        await run.StopAsync();
        var ingestStopped = killedAt.Elapsed.TotalSeconds;

        var caughtUp = await ExactlyOnceVerifier.VerifyAsync(fixture, workload, output);
        output.WriteLine($"recovery: ingest resumed and stopped {ingestStopped:F1}s after the kill; " +
            $"all client grains current {ingestStopped + caughtUp:F1}s after the kill ({caughtUp:F1}s after the last commit)");
        await workload.RestoreSilosAsync();
    }

    [Fact]
    public async Task Adding_a_silo_and_removing_one_during_ingest_loses_and_doubles_nothing()
    {
        var workload = new FaultWorkload(fixture, output, seed: 2);
        await workload.CreateClientsAsync(4);
        var run = workload.StartIngesting();
        await run.WaitUntilAsync(c => c.Count == workload.Clients.Count && c.Values.All(n => n >= 3), Progress);

        // Scale out: grains and stream queues rebalance onto the new silo while batches keep coming.
        var before = run.Snapshot();
        var added = await fixture.Cluster.StartAdditionalSiloAsync();
        output.WriteLine($"added {added.Name}");
        await run.WaitUntilAsync(c => c.All(kv => kv.Value >= before[kv.Key] + 5), Progress);

        // Scale in: a graceful stop of one of the original silos deactivates (and checkpoints) its grains.
        before = run.Snapshot();
        var removed = fixture.Cluster.GetActiveSilos().First(s => s != added);
        await fixture.Cluster.StopSiloAsync(removed);
        output.WriteLine($"stopped {removed.Name}");
        await run.WaitUntilAsync(c => c.All(kv => kv.Value >= before[kv.Key] + 5), Progress);
        await run.StopAsync();

        await ExactlyOnceVerifier.VerifyAsync(fixture, workload, output);
        await workload.RestoreSilosAsync();
    }

    [Fact]
    public async Task Deactivating_ingest_and_client_grains_mid_batch_loses_and_doubles_nothing()
    {
        var workload = new FaultWorkload(fixture, output, seed: 3);
        await workload.CreateClientsAsync(3);
        var run = workload.StartIngesting(maxRows: 40);
        var random = new Random(3);
        var deactivations = 0;
        for (var i = 0; i < 30; i++)
        {
            var clientId = workload.Clients[random.Next(workload.Clients.Count)];
            var committed = run.Total;
            if (i % 2 == 0)
            {
                // The ingest loop keeps a request in flight, so this lands while a batch is being committed or published.
                await fixture.Cluster.DeactivateAsync(fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders")));
            }
            else
            {
                await fixture.Cluster.DeactivateAsync(fixture.Client.GetGrain<IClientKpiGrain>(clientId));
            }

            deactivations++;
            await run.WaitUntilAsync(_ => run.Total > committed, Progress);
        }

        await run.StopAsync();
        output.WriteLine($"{deactivations} deactivations");
        await ExactlyOnceVerifier.VerifyAsync(fixture, workload, output);
    }

    [Fact]
    public async Task Breaking_the_database_connections_during_ingest_loses_and_doubles_nothing()
    {
        var workload = new FaultWorkload(fixture, output, seed: 4);
        await workload.CreateClientsAsync(3);
        var run = workload.StartIngesting(maxRows: 20);
        var terminated = 0;
        for (var i = 0; i < 15; i++)
        {
            var committed = run.Total;
            var round = Stopwatch.StartNew();
            var now = await workload.TerminateProductConnectionsAsync();
            terminated += now;
            await run.WaitUntilAsync(_ => run.Total >= committed + 2, Progress);
            output.WriteLine($"round {i}: terminated {now} connections; two more batches committed after {round.Elapsed.TotalSeconds:F1}s");
        }

        await run.StopAsync();
        output.WriteLine($"15 rounds terminated {terminated} silo connections to PostgreSQL");
        Assert.True(terminated > 0, "no silo connection was open to terminate");
        await ExactlyOnceVerifier.VerifyAsync(fixture, workload, output);
    }

    /// <summary>
    /// Restarts the database server itself, so it runs only where that was asked for: scripts/test.sh sets
    /// <c>AE_RESTART_DATABASE=1</c> for the instance it started; elsewhere the scenario reports itself skipped.
    /// </summary>
    [SkippableFact]
    public async Task Restarting_PostgreSQL_during_ingest_loses_and_doubles_nothing()
    {
        Skip.IfNot(Environment.GetEnvironmentVariable("AE_RESTART_DATABASE") == "1",
            "restarts the PostgreSQL server; set AE_RESTART_DATABASE=1 (scripts/test.sh does) to run it");
        var workload = new FaultWorkload(fixture, output, seed: 7);
        await workload.CreateClientsAsync(3);
        var run = workload.StartIngesting(maxRows: 20);
        await run.WaitUntilAsync(c => c.Count == workload.Clients.Count && c.Values.All(n => n >= 3), Progress);
        for (var i = 0; i < 2; i++)
        {
            // Batches are in flight while the server goes down: each either committed (its retry is a replay) or not.
            var before = run.Snapshot();
            var clock = Stopwatch.StartNew();
            await workload.RestartDatabaseServerAsync();
            await run.WaitUntilAsync(c => c.All(kv => kv.Value >= before[kv.Key] + 2), Progress);
            output.WriteLine($"restart {i}: every client committed two more batches {clock.Elapsed.TotalSeconds:F1}s after the restart began");
        }

        await run.StopAsync();
        await ExactlyOnceVerifier.VerifyAsync(fixture, workload, output);
    }

    [Fact]
    public async Task A_hundred_random_faults_during_ingest_lose_and_double_nothing()
    {
        var workload = new FaultWorkload(fixture, output, seed: 5);
        await workload.CreateClientsAsync(5);
        var run = workload.StartIngesting(maxRows: 8);
        await run.WaitUntilAsync(c => c.Count == workload.Clients.Count, Progress);
        var random = new Random(5);
        var injected = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < 110; i++)
        {
            var clientId = workload.Clients[random.Next(workload.Clients.Count)];
            var committed = run.Total;
            var roll = random.Next(100);
            string fault;
            if (roll < 10)
            {
                var silos = fixture.Cluster.GetActiveSilos().ToList();
                if (silos.Count >= FaultClusterFixture.InitialSilos)
                {
                    await workload.KillAsync(silos[random.Next(silos.Count)]);
                    fault = "kill silo";
                }
                else
                {
                    await workload.RestoreSilosAsync();
                    fault = "start silo";
                }
            }
            else if (roll < 14)
            {
                var silos = fixture.Cluster.GetActiveSilos().ToList();
                await workload.RestartAsync(silos[random.Next(silos.Count)]);
                fault = "restart silo";
            }
            else if (roll < 32)
            {
                await fixture.Cluster.DeactivateAsync(fixture.Client.GetGrain<IClientKpiGrain>(clientId));
                fault = "deactivate client grain";
            }
            else if (roll < 48)
            {
                await fixture.Cluster.DeactivateAsync(fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders")));
                fault = "deactivate ingest grain";
            }
            else if (roll < 70)
            {
                await workload.TerminateProductConnectionsAsync();
                fault = "terminate database connections";
            }
            else
            {
                await workload.RedeliverAsync(clientId, random);
                fault = "redeliver a batch";
            }

            injected[fault] = injected.GetValueOrDefault(fault) + 1;
            await run.WaitUntilAsync(_ => run.Total > committed, Progress);
        }

        await run.StopAsync();
        output.WriteLine($"{injected.Values.Sum()} faults: {string.Join(", ", injected.Select(kv => $"{kv.Key} {kv.Value}"))}");
        Assert.True(injected.Values.Sum() >= 100);
        await ExactlyOnceVerifier.VerifyAsync(fixture, workload, output);
        await workload.RestoreSilosAsync();
    }

    /// <summary>Issue 4's figure: seconds from a silo kill until every client grain has applied the whole log.</summary>
    [Fact]
    public async Task Time_for_KPIs_to_be_current_again_after_a_silo_kill()
    {
        var workload = new FaultWorkload(fixture, output, seed: 6);
        await workload.CreateClientsAsync(6);
        var figures = new List<double>();
        for (var round = 0; round < 3; round++)
        {
            var run = workload.StartIngesting();
            await run.WaitUntilAsync(c => c.Count == workload.Clients.Count && c.Values.All(n => n >= 3), Progress);

            // Rounds alternate between the silo of a client grain (its stream may lose messages) and the silo of an
            // ingest grain (a batch may be committed and never published; its retry is then a replay).
            var clientId0 = workload.Clients[round];
            var ingestGrain = fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId0, "orders"));
            var victim = round % 2 == 0
                ? await workload.SiloHostingAsync(fixture.Client.GetGrain<IClientKpiGrain>(clientId0))
                : await workload.SiloHostingAsync(ingestGrain, () => Task.FromResult(true));

            var clock = Stopwatch.StartNew();
            await workload.KillAsync(victim);
            var committedAtKill = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var clientId in workload.Clients)
            {
                committedAtKill[clientId] = await workload.LastSequenceAsync(clientId);
            }

            // No new batches start; those in flight at the kill are retried (same idempotency key) meanwhile.
            var stopped = run.StopAsync();
            var reached = new List<string>();
            foreach (var clientId in workload.Clients)
            {
                await ExactlyOnceVerifier.WaitForPositionAsync(workload, clientId, committedAtKill[clientId], exact: false);
                reached.Add($"{clientId[^1]}@{clock.Elapsed.TotalSeconds:F1}s");
            }

            output.WriteLine($"round {round}: clients current with the pre-kill log: {string.Join(" ", reached)}");

            var beforeKillApplied = clock.Elapsed.TotalSeconds;
            await stopped;
            var lastCommit = clock.Elapsed.TotalSeconds;
            foreach (var clientId in workload.Clients)
            {
                await ExactlyOnceVerifier.WaitForPositionAsync(workload, clientId, await workload.LastSequenceAsync(clientId));
            }

            figures.Add(clock.Elapsed.TotalSeconds);
            output.WriteLine($"round {round}: everything committed by the kill applied after {beforeKillApplied:F1}s; " +
                $"last in-flight batch committed after {lastCommit:F1}s; all grains current after {figures[^1]:F1}s");
            await workload.RestoreSilosAsync();
        }

        output.WriteLine($"FIGURE time from silo kill to all {workload.Clients.Count} client grains current: " +
            string.Join(", ", figures.Select(f => $"{f:F1}s")));
        await ExactlyOnceVerifier.VerifyAsync(fixture, workload, output);
    }
}
