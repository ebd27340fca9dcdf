using System.Diagnostics.Metrics;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Gateway.Streaming;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.ServiceDefaults;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// A connection that does not read is conflated: the gateway keeps at most the newest value per bucket for it,
/// other connections go on at full speed, and once it reads again it ends with the newest value of every bucket.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class SlowConsumerTests(AnalyticsFixture fixture, ITestOutputHelper output)
{
    private const int Buckets = 25;
    private const int Rounds = 200;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_connection_that_does_not_read_is_conflated_to_one_value_per_bucket_without_slowing_others()
    {
        var clientId = TestClients.NewId("slow");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var fanout = fixture.Gateway.Services.GetRequiredService<KpiFanout>();
        var series = new WatchKey(clientId, "OTD", Granularity.Minute);
        // Buckets long before anything the test ingests, so only the values below ever reach them.
        var first = new DateTimeOffset(2020, 3, 1, 8, 0, 0, TimeSpan.Zero);
        var starts = Enumerable.Range(0, Buckets).Select(i => first.AddMinutes(i)).ToArray();

        using var http = fixture.CreateClient(fixture.Token(Roles.Viewer, clientId));
        await using var slow = await LongPollingHubClient.ConnectAsync(http);
        var slowCopy = new SeriesCopy();
        slow.OnChanged = slowCopy.ApplyPush;
        await slow.InvokeAsync("Subscribe", clientId, "OTD", "minute");

        await using var fast = await fixture.ConnectHubAsync();
        var fastCopy = new SeriesCopy();
        fast.On<KpiValue[]>("kpiChanged", fastCopy.ApplyPush);
        await fast.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute");

        using var conflatedMetric = new MeterListener();
        long conflated = 0;
        conflatedMetric.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == Telemetry.MeterName && instrument.Name == "ae.gateway.conflated_values")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        conflatedMetric.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref conflated, value));
        conflatedMetric.Start();

        // The slow client stops polling; thousands of changes arrive through the gateway's observer entry point,
        // the one KPI grains call, each round a new revision of every bucket.
        var maxPending = 0;
        for (var revision = 1; revision <= Rounds; revision++)
        {
            await fanout.OnKpiChanged([.. starts.Select(start => Value(clientId, start, revision))]);
            maxPending = Math.Max(maxPending, fanout.PendingValues(slow.ConnectionId));
        }

        // Another connection is not held up: it has every bucket's newest value while the slow one still reads nothing.
        await Eventually.HoldsAsync(() => starts.All(s => fastCopy.Get(s)?.Revision == Rounds), Patience,
            () => $"the fast connection has {starts.Count(s => fastCopy.Get(s)?.Revision == Rounds)} of {Buckets} buckets at the newest revision");
        var stillPending = fanout.PendingValues(slow.ConnectionId);
        maxPending = Math.Max(maxPending, stillPending);
        output.WriteLine($"{Rounds * Buckets} values offered; slow connection pending at most {maxPending}, {stillPending} while stalled; conflated {Interlocked.Read(ref conflated)}");

        Assert.True(maxPending > 0, "the slow connection never fell behind: the test did not exercise conflation");
        Assert.True(maxPending <= Buckets, $"{maxPending} values pending for one connection watching {Buckets} buckets");
        Assert.True(stillPending > 0, "the gateway delivered to a connection that was not reading");
        Assert.True(Interlocked.Read(ref conflated) > 0, "the conflated-values counter did not move");

        // It reads again: it ends with the newest value of every bucket, having been sent far fewer than were offered.
        using var deadline = new CancellationTokenSource(Patience);
        while (!starts.All(s => slowCopy.Get(s)?.Revision == Rounds))
        {
            await slow.PollAsync(deadline.Token);
        }

        output.WriteLine($"the slow connection received {slowCopy.ReceivedCount} values in {slow.ChangeMessages} messages");
        Assert.All(starts, s => Assert.Equal((double)Rounds, slowCopy.Get(s)!.Value));
        Assert.True(slowCopy.ReceivedCount < Rounds * Buckets / 2, $"{slowCopy.ReceivedCount} of {Rounds * Buckets} values sent: not conflated");
        Assert.Equal(0, fanout.PendingValues(slow.ConnectionId));
    }

    [Fact]
    public async Task An_outbox_keeps_the_newest_value_per_bucket_and_ignores_older_ones_arriving_late()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = new List<KpiValue>();
        var conflated = 0;
        var outbox = new ConnectionOutbox(
            async change =>
            {
                await release.Task;
                lock (sent)
                {
                    sent.AddRange(change.Values);
                }
            },
            count => Interlocked.Add(ref conflated, count),
            ex => Assert.Fail(ex.ToString()));
        var series = new WatchKey("c", "OTD", Granularity.Minute);
        var start = new DateTimeOffset(2020, 3, 1, 8, 0, 0, TimeSpan.Zero);

        outbox.Offer(new SeriesChange(series, [Value("c", start, 1)])); // in flight, stuck until released
        outbox.Offer(new SeriesChange(series, [Value("c", start, 3), Value("c", start.AddMinutes(1), 1)]));
        outbox.Offer(new SeriesChange(series, [Value("c", start, 2)])); // late and older: must not replace revision 3
        outbox.Offer(new SeriesChange(series, [Value("c", start, 3) with { IsFinal = true }])); // same revision, now final: newer
        Assert.Equal(2, outbox.PendingCount);
        Assert.Equal(2, conflated);

        release.SetResult();
        await Eventually.HoldsAsync(() => { lock (sent) { return sent.Count == 3; } }, Patience, () => $"{sent.Count} values sent");
        lock (sent)
        {
            Assert.Equal([(start, 1L, false), (start, 3L, true), (start.AddMinutes(1), 1L, false)], sent.Select(v => (v.BucketStart, v.Revision, v.IsFinal)));
        }
    }

    [Fact]
    public async Task Viewers_that_keep_up_are_sent_the_one_serialized_change_and_a_conflated_viewer_a_merged_one()
    {
        var series = new WatchKey("c", "OTD", Granularity.Minute);
        var start = new DateTimeOffset(2020, 3, 1, 8, 0, 0, TimeSpan.Zero);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        List<SeriesChange> toReader = [], toStalled = [];
        var reader = new ConnectionOutbox(change => { lock (toReader) { toReader.Add(change); } return Task.CompletedTask; }, _ => { }, ex => Assert.Fail(ex.ToString()));
        var stalled = new ConnectionOutbox(
            async change =>
            {
                lock (toStalled)
                {
                    toStalled.Add(change);
                }

                await release.Task;
            },
            _ => { },
            ex => Assert.Fail(ex.ToString()));

        var changes = new[]
        {
            new SeriesChange(series, [Value("c", start, 1)]),
            new SeriesChange(series, [Value("c", start, 2), Value("c", start.AddMinutes(1), 1)]),
            new SeriesChange(series, [Value("c", start.AddMinutes(1), 2)]),
        };
        foreach (var change in changes)
        {
            reader.Offer(change);
            stalled.Offer(change);
        }

        release.SetResult();
        await Eventually.HoldsAsync(() => { lock (toStalled) { return toStalled.Count == 2; } }, Patience, () => $"{toStalled.Count} messages to the stalled outbox");
        await Eventually.HoldsAsync(() => { lock (toReader) { return toReader.Count == 3; } }, Patience, () => $"{toReader.Count} messages to the reading outbox");

        // The outbox that kept up sent the very changes it was offered: one message object, serialized once, for all viewers.
        lock (toReader)
        {
            Assert.Equal(changes, toReader);
        }

        lock (toStalled)
        {
            Assert.Same(changes[0], toStalled[0]);
            // Its second message merges the newest values of two changes, so it is a message of its own.
            Assert.DoesNotContain(toStalled[1], changes);
            Assert.Equal([(start, 2L), (start.AddMinutes(1), 2L)], toStalled[1].Values.Select(v => (v.BucketStart, v.Revision)));
        }
    }

    private static KpiValue Value(string clientId, DateTimeOffset start, long revision) => new(
        clientId, "OTD", Granularity.Minute, start, start.AddMinutes(1), revision, null, [], revision, false, null, [], revision);
}
