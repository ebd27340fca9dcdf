using System.Diagnostics;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using Xunit.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Faults;

/// <summary>
/// The check every fault scenario ends with: the committed log is contiguous, every client grain has applied
/// exactly up to the end of the log, and every KPI bucket it reports equals a recomputation from the rows in
/// the database — zero lost, zero double-counted.
/// </summary>
public static class ExactlyOnceVerifier
{
    private static readonly TimeSpan CatchUpPatience = TimeSpan.FromSeconds(90);

    /// <summary>Buckets to request per granularity: enough to cover every event the workload writes.</summary>
    private static readonly (Granularity Granularity, string Unit, int Buckets)[] Granularities =
    [
        (Granularity.Minute, "minute", 360),
        (Granularity.Hour, "hour", 12),
        (Granularity.Day, "day", 3),
    ];

    /// <summary>Runs the whole check for every client of <paramref name="workload"/>; returns seconds until all were current.</summary>
    public static async Task<double> VerifyAsync(FaultClusterFixture fixture, FaultWorkload workload, ITestOutputHelper output)
    {
        var waited = Stopwatch.StartNew();
        var events = 0L;
        foreach (var clientId in workload.Clients)
        {
            var last = await AssertContiguousAsync(fixture, clientId);
            events += last;
            await WaitForPositionAsync(workload, clientId, last);
        }

        var caughtUp = waited.Elapsed.TotalSeconds;
        var buckets = 0;
        foreach (var clientId in workload.Clients)
        {
            buckets += await AssertBucketsAsync(fixture, workload, clientId);
        }

        output.WriteLine($"verified {workload.Clients.Count} clients, {events} events, {buckets} non-empty buckets × 2 KPIs; " +
            $"grains current {caughtUp:F1}s after the check began; ingest: {workload.CommittedBatches} committed, " +
            $"{workload.ReplayedBatches} replayed, {workload.FailedAttempts} failed attempts retried; events reaching client grains " +
            $"(process-wide) from the stream {fixture.Metrics.FromStream - workload.StreamedAtStart}, " +
            $"read back from the database {fixture.Metrics.FromDatabase - workload.CaughtUpAtStart}");
        return caughtUp;
    }

    /// <summary>Sequences 1..last_sequence each appear exactly once; returns last_sequence.</summary>
    public static async Task<long> AssertContiguousAsync(FaultClusterFixture fixture, string clientId)
    {
        await using var command = fixture.Database.CreateCommand(
            $"""
            SELECT p.last_sequence, t.rows, t.distinct_sequences, t.first, t.last
            FROM ingest.partitions p,
                 LATERAL (SELECT count(*) AS rows, count(DISTINCT sequence) AS distinct_sequences,
                                 coalesce(min(sequence), 0) AS first, coalesce(max(sequence), 0) AS last
                          FROM {ObjectModelTables.BuiltIn.Get("orders").QualifiedName} WHERE client_id = p.client_id) t
            WHERE p.client_id = $1 AND p.object_model = 'orders'
            """);
        command.Parameters.AddWithValue(clientId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"{clientId} has no orders partition");
        var (lastSequence, rows, distinct, first, last) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
        Assert.True(lastSequence > 0, $"{clientId}: nothing committed");
        Assert.True(rows == lastSequence && distinct == lastSequence && first == 1 && last == lastSequence,
            $"{clientId}: last_sequence {lastSequence} but rows {rows}, distinct sequences {distinct}, range {first}..{last}");
        return lastSequence;
    }

    /// <summary>Waits until the client grain's position equals the end of the log (it must never pass it).</summary>
    public static async Task WaitForPositionAsync(FaultWorkload workload, string clientId, long last, bool exact = true)
    {
        var grain = workload.Client.GetGrain<IClientKpiGrain>(clientId);
        var started = Stopwatch.StartNew();
        var nextHeartbeat = TimeSpan.FromSeconds(10);
        while (true)
        {
            var call = Stopwatch.StartNew();
            var positions = await workload.RetryAsync("positions", grain.GetPositions);
            if (call.Elapsed > TimeSpan.FromSeconds(1))
            {
                workload.Log($"{clientId}: reading the grain's positions took {call.Elapsed.TotalSeconds:F1}s");
            }

            var position = positions.Single(p => p.ObjectModel == "orders").Sequence;
            Assert.True(!exact || position <= last, $"{clientId}: position {position} beyond last_sequence {last}");
            if (position >= last)
            {
                return;
            }

            Assert.True(started.Elapsed < CatchUpPatience, $"{clientId}: position {position} never reached last_sequence {last}");
            if (started.Elapsed > nextHeartbeat)
            {
                workload.Log($"{clientId}: still at position {position} of {last} after {started.Elapsed.TotalSeconds:F0}s");
                nextHeartbeat += TimeSpan.FromSeconds(10);
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Compares OTD and POF in every minute, hour and day bucket with SQL over the stored rows; returns the buckets compared.</summary>
    private static async Task<int> AssertBucketsAsync(FaultClusterFixture fixture, FaultWorkload workload, string clientId)
    {
        var grain = workload.Client.GetGrain<IClientKpiGrain>(clientId);
        var compared = 0;
        foreach (var (granularity, unit, buckets) in Granularities)
        {
            var expected = await RecomputeAsync(fixture, clientId, unit);
            foreach (var kpi in new[] { "OTD", "POF" })
            {
                var snapshot = await workload.RetryAsync("snapshot", () => grain.GetSnapshot(kpi, granularity, buckets));
                var reported = snapshot.Recent.Where(v => v.EventCount > 0).ToDictionary(v => v.BucketStart.UtcDateTime);
                var earliest = snapshot.Recent.Min(v => v.BucketStart.UtcDateTime);
                Assert.True(expected.Keys.All(k => k >= earliest), $"{clientId} {kpi} {granularity}: the snapshot does not reach back to the oldest event");

                foreach (var (bucket, (count, onTime, perfect)) in expected)
                {
                    Assert.True(reported.TryGetValue(bucket, out var value), $"{clientId} {kpi} {granularity} {bucket:O}: {count} events in the database, none reported");
                    Assert.True(value.EventCount == count, $"{clientId} {kpi} {granularity} {bucket:O}: {value.EventCount} events counted, {count} in the database");
                    var numerator = kpi == "OTD" ? onTime : perfect;
                    var want = 100.0 * numerator / count;
                    Assert.True(value.Value is { } got && Math.Abs(got - want) < 1e-9,
                        $"{clientId} {kpi} {granularity} {bucket:O}: value {value.Value}, recomputed {want}");
                }

                var extra = reported.Keys.Where(k => !expected.ContainsKey(k)).ToList();
                Assert.True(extra.Count == 0, $"{clientId} {kpi} {granularity}: buckets with events not in the database: {string.Join(", ", extra)}");
                compared += expected.Count;
            }
        }

        return compared;
    }

    /// <summary>Count, on-time count and perfect-order count per bucket start (UTC), in the client's zone.</summary>
    private static async Task<Dictionary<DateTime, (long Count, long OnTime, long Perfect)>> RecomputeAsync(FaultClusterFixture fixture, string clientId, string unit)
    {
        await using var command = fixture.Database.CreateCommand(
            $"""
            SELECT date_trunc($2, ordered_at AT TIME ZONE $3) AT TIME ZONE $3 AS bucket,
                   count(*),
                   count(*) FILTER (WHERE on_time),
                   count(*) FILTER (WHERE on_time AND in_full AND damage_free AND documentation_complete)
            FROM {ObjectModelTables.BuiltIn.Get("orders").QualifiedName}
            WHERE client_id = $1
            GROUP BY 1
            """);
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(unit);
        command.Parameters.AddWithValue(FaultWorkload.TimeZone);
        var buckets = new Dictionary<DateTime, (long, long, long)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            buckets[reader.GetFieldValue<DateTime>(0)] = (reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        }

        return buckets;
    }
}
