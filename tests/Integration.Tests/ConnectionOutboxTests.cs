using AnalyticsEngine.Gateway.Streaming;
using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// A message that replaces a series (a reset, an end) voids what is pending for it, and what follows it follows it; a
/// value the connection was sent already is not sent again.
/// </summary>
public sealed class ConnectionOutboxTests
{
    private static readonly WatchKey Series = new("acme", "POF", Granularity.Minute);
    private static readonly WatchKey Other = new("acme", "OTD", Granularity.Minute);
    private static readonly DateTimeOffset Start = new(2026, 11, 29, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_reset_drops_the_series_pending_values_and_goes_before_values_offered_after_it()
    {
        var outbox = new RecordingOutbox();
        outbox.Box.Offer(Change(Series, 0, revision: 1)); // in flight, held at the gate
        outbox.Box.Offer(Change(Series, 1, revision: 1)); // pending, then void
        outbox.Box.Offer(Change(Other, 1, revision: 1));
        var reset = SeriesChange.Reset(Series, new KpiSnapshot("acme", "POF", Granularity.Minute, null, []));
        outbox.Box.Replace(reset);
        outbox.Box.Offer(Change(Series, 2, revision: 1));

        outbox.Open();
        var sent = await outbox.WaitForAsync(4);

        Assert.Equal(Start, Assert.Single(sent[0].Values).BucketStart);
        Assert.Same(reset, sent[1]);
        Assert.DoesNotContain(sent, c => c.Values.Any(v => v.BucketStart == Start.AddMinutes(1) && c.Series == Series));
        Assert.Contains(sent.Skip(2), c => c.Series == Other);
        Assert.Contains(sent.Skip(2), c => c.Series == Series && c.Values.Single().BucketStart == Start.AddMinutes(2));
    }

    [Fact]
    public async Task A_later_replacement_of_the_same_series_voids_an_earlier_one_not_sent_yet()
    {
        var outbox = new RecordingOutbox();
        outbox.Box.Offer(Change(Other, 0, revision: 1)); // in flight, held at the gate
        outbox.Box.Replace(SeriesChange.Reset(Series, new KpiSnapshot("acme", "POF", Granularity.Minute, null, [])));
        var ended = SeriesChange.Ended(Series, "KPI 'POF' is no longer selected for client 'acme'.");
        outbox.Box.Replace(ended);

        outbox.Open();
        var sent = await outbox.WaitForAsync(2);

        Assert.Same(ended, sent[1]);
        outbox.Box.Offer(Change(Other, 1, revision: 1));
        Assert.Equal(3, (await outbox.WaitForAsync(3)).Count);
    }

    [Fact]
    public async Task A_value_offered_again_in_a_version_the_connection_was_sent_is_not_sent_twice_until_the_series_starts_again()
    {
        var outbox = new RecordingOutbox();
        outbox.Open();
        outbox.Box.Offer(Change(Series, 0, revision: 4));
        await outbox.WaitForAsync(1);

        // As a client grain that activates again publishes what it had published: a repeat, then the next revision.
        outbox.Box.Offer(Change(Series, 0, revision: 4));
        outbox.Box.Offer(Change(Series, 0, revision: 3));
        outbox.Box.Offer(Change(Series, 0, revision: 5));
        var sent = await outbox.WaitForAsync(2);

        Assert.Equal([4L, 5L], sent.Select(c => Assert.Single(c.Values).Revision));

        // A reset starts the series again, revisions with it.
        outbox.Box.Replace(SeriesChange.Reset(Series, new KpiSnapshot("acme", "POF", Granularity.Minute, null, [])));
        outbox.Box.Offer(Change(Series, 0, revision: 4));
        Assert.Equal(4, Assert.Single((await outbox.WaitForAsync(4))[3].Values).Revision);
    }

    [Fact]
    public void Only_a_message_that_replaces_its_series_can_replace()
    {
        var outbox = new RecordingOutbox();

        Assert.Throws<ArgumentException>(() => outbox.Box.Replace(Change(Series, 0, revision: 1)));
    }

    private static SeriesChange Change(WatchKey series, int minute, long revision) =>
        new(series, [new KpiValue(series.ClientId, series.KpiCode, series.Granularity, Start.AddMinutes(minute), Start.AddMinutes(minute + 1),
            1.0, null, [], revision, false, null, [], 1)]);

    /// <summary>An outbox whose first send waits until <see cref="Open"/>, recording every message in the order sent.</summary>
    private sealed class RecordingOutbox
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<SeriesChange> _sent = [];
        private readonly Lock _lock = new();
        private TaskCompletionSource _more = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public RecordingOutbox()
        {
            Box = new ConnectionOutbox(async change =>
            {
                await _gate.Task;
                lock (_lock)
                {
                    _sent.Add(change);
                    _more.TrySetResult();
                }
            }, _ => { }, ex =>
            {
                lock (_lock)
                {
                    Failures.Add(ex);
                }
            });
        }

        public ConnectionOutbox Box { get; }

        public List<Exception> Failures { get; } = [];

        public void Open() => _gate.TrySetResult();

        public async Task<List<SeriesChange>> WaitForAsync(int count)
        {
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (true)
            {
                Task more;
                lock (_lock)
                {
                    Assert.Empty(Failures);
                    if (_sent.Count >= count)
                    {
                        return [.. _sent];
                    }

                    _more = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    more = _more.Task;
                }

                await more.WaitAsync(patience.Token);
            }
        }
    }
}
