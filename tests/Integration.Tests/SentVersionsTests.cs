using AnalyticsEngine.Gateway.Streaming;
using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>The gateway's memory of what viewers were sent, from which a renewal repairs lost pushes.</summary>
public sealed class SentVersionsTests
{
    private static readonly DateTimeOffset Minute = new(2026, 11, 29, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_bucket_sent_in_an_older_version_or_never_sent_is_unsent_and_one_sent_as_it_is_is_not()
    {
        var sent = new SentVersions(capacity: 4);
        sent.Remember([Value(Minute, 4), Value(Minute.AddMinutes(1), 2)]);

        var unsent = sent.Unsent([Value(Minute, 7), Value(Minute.AddMinutes(1), 2), Value(Minute.AddMinutes(2), 1), Value(Minute.AddMinutes(3), 0)]);

        Assert.Equal([(Minute, 7L), (Minute.AddMinutes(2), 1L)], unsent.Select(v => (v.BucketStart, v.Revision)));
    }

    [Fact]
    public void Finality_without_a_new_revision_is_unsent_and_an_older_version_never_replaces_a_newer()
    {
        var sent = new SentVersions(capacity: 4);
        sent.Remember([Value(Minute, 5)]);
        sent.Remember([Value(Minute, 3)]); // a late copy of an older push

        Assert.Empty(sent.Unsent([Value(Minute, 5)]));
        Assert.Single(sent.Unsent([Value(Minute, 5, isFinal: true)]));
    }

    [Fact]
    public void Only_the_newest_buckets_are_remembered_and_an_older_one_is_left_alone()
    {
        var sent = new SentVersions(capacity: 2);
        sent.Remember([Value(Minute, 1), Value(Minute.AddMinutes(1), 1), Value(Minute.AddMinutes(2), 1)]);

        // The oldest was forgotten: it cannot be told whether viewers have it, so it is not sent again.
        Assert.Empty(sent.Unsent([Value(Minute, 9)]));
        Assert.Single(sent.Unsent([Value(Minute.AddMinutes(2), 2)]));
        Assert.Single(sent.Unsent([Value(Minute.AddMinutes(3), 1)]));
    }

    private static KpiValue Value(DateTimeOffset start, long revision, bool isFinal = false) => new(
        "acme", "OTD", Granularity.Minute, start, start.AddMinutes(1), revision, null, [], revision, isFinal, null, [], revision);
}
