using System.Diagnostics;
using AnalyticsEngine.Kpi;
using Xunit.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Faults;

/// <summary>
/// Exactly-once under faults (issue 4 §5): each scenario streams small batches while it breaks something,
/// then proves that every committed event was counted once — no more, no less.
/// </summary>
[Collection(FaultClusterCollection.Name)]
public sealed class FaultScenarioTests(FaultClusterFixture fixture, ITestOutputHelper output)
{
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
}
