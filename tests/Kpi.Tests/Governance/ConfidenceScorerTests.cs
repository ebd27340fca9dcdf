using AnalyticsEngine.Governance;
using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Kpi.Tests.Governance;

public sealed class ConfidenceScorerTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);

    private static KpiValue Day(int index, double? value, long events = 100, bool final = true, long received = 5_000) => new(
        "acme", "POF", Granularity.Day, Start.AddDays(index), Start.AddDays(index + 1), value, value is null ? "no orders" : null, [],
        1, final, null, [new SourcePosition("orders", received)], events);

    [Fact]
    public void A_final_value_of_a_full_sample_in_line_with_its_neighbours_has_full_confidence()
    {
        var confidence = ConfidenceScorer.Score(Day(7, 95), [.. Enumerable.Range(0, 7).Select(i => Day(i, 94 + i % 3))], readsEvents: true)!;

        Assert.Equal(1.0, confidence.Score);
        Assert.Equal(ConfidenceLevel.High, confidence.Level);
        Assert.Equal("High confidence (100%): 100 events, and the day is final.", confidence.Explanation);
        Assert.False(ConfidenceScorer.IsFlagged(confidence));
    }

    [Theory]
    [InlineData(0, 0.5, ConfidenceLevel.Low)]
    [InlineData(12, 0.7, ConfidenceLevel.Medium)]
    [InlineData(21, 0.85, ConfidenceLevel.High)]
    [InlineData(30, 1.0, ConfidenceLevel.High)]
    public void Fewer_events_than_a_full_sample_lower_the_score_in_proportion(long events, double score, ConfidenceLevel level)
    {
        var confidence = ConfidenceScorer.Score(Day(0, 80, events), [], readsEvents: true)!;

        Assert.Equal(score, confidence.Score);
        Assert.Equal(level, confidence.Level);
    }

    [Fact]
    public void A_small_open_bucket_is_flagged_and_says_why()
    {
        var confidence = ConfidenceScorer.Score(Day(0, 50, events: 3, final: false), [], readsEvents: true)!;

        Assert.Equal(0.45, confidence.Score);
        Assert.True(ConfidenceScorer.IsFlagged(confidence));
        Assert.Equal(
            "Low confidence (45%): only 3 events in this day (30 make a full sample); this day is still open, so late events may change it.",
            confidence.Explanation);
    }

    [Fact]
    public void A_value_outside_its_neighbours_fences_is_unusual()
    {
        IReadOnlyList<KpiValue> week = [Day(0, 95), Day(1, 96), Day(2, 94), Day(3, 95), Day(4, null), Day(5, 97), Day(6, 96)];

        var unusual = ConfidenceScorer.Score(Day(7, 60), week, readsEvents: true)!;
        var usual = ConfidenceScorer.Score(Day(7, 97.5), week, readsEvents: true)!;

        Assert.Equal(0.65, unusual.Score);
        Assert.True(ConfidenceScorer.IsFlagged(unusual));
        Assert.Contains("unusual against the 6 days before it, which lie within 94 to 97", unusual.Explanation, StringComparison.Ordinal);
        Assert.Equal(1.0, usual.Score);
    }

    [Fact]
    public void Fewer_than_four_neighbours_with_a_value_judge_nothing_and_only_the_last_seven_count()
    {
        IReadOnlyList<KpiValue> sparse = [Day(0, 10), Day(1, null), Day(2, 10), Day(3, 10)];
        IReadOnlyList<KpiValue> older = [Day(0, 60), Day(1, 60), Day(2, 60), .. Enumerable.Range(3, 7).Select(i => Day(i, 95))];

        Assert.Equal(1.0, ConfidenceScorer.Score(Day(4, 90), sparse, readsEvents: true)!.Score);
        Assert.Equal(0.65, ConfidenceScorer.Score(Day(10, 60), older, readsEvents: true)!.Score);
    }

    [Fact]
    public void A_kpi_of_snapshots_alone_is_not_judged_by_how_many_records_changed()
    {
        var confidence = ConfidenceScorer.Score(Day(0, 72.5, events: 1), [], readsEvents: false)!;

        Assert.Equal(1.0, confidence.Score);
        Assert.Equal("High confidence (100%): the day is final.", confidence.Explanation);
    }

    [Fact]
    public void Rows_that_lack_a_field_the_kpi_reads_lower_the_score_by_their_share()
    {
        var confidence = ConfidenceScorer.Score(Day(0, 80), [], readsEvents: true, new BucketCompleteness(100, 40, ["orders.carrier"]))!;
        var complete = ConfidenceScorer.Score(Day(0, 80), [], readsEvents: true, new BucketCompleteness(100, 0, ["orders.carrier"]))!;

        Assert.Equal(0.88, confidence.Score);
        Assert.Equal("High confidence (88%): 40 of its 100 rows lack orders.carrier (60% complete).", confidence.Explanation);
        Assert.Equal(1.0, complete.Score);
    }

    [Fact]
    public void A_value_over_an_object_model_of_which_nothing_has_come_is_flagged()
    {
        var confidence = ConfidenceScorer.Score(Day(0, 0, events: 0, received: 0), [], readsEvents: false)!;

        Assert.Equal(0.5, confidence.Score);
        Assert.Equal("Low confidence (50%): no orders rows have been received for this client yet.", confidence.Explanation);
    }

    [Fact]
    public void A_bucket_without_a_value_has_no_score()
    {
        Assert.Null(ConfidenceScorer.Score(Day(0, null, events: 0), [], readsEvents: true));
        Assert.False(ConfidenceScorer.IsFlagged(null));
    }
}

public sealed class ReviewDecisionTests
{
    [Theory]
    [InlineData(66.66666666666667, 66.66666666666666, true)]
    [InlineData(0.30000000000000004, 0.3, true)]
    [InlineData(66.6, 66.7, false)]
    [InlineData(0.0, 1e-300, false)]
    [InlineData(null, null, true)]
    [InlineData(null, 0.0, false)]
    public void A_decision_holds_for_the_same_value_to_within_rounding(double? reviewed, double? now, bool same) =>
        Assert.Equal(same, ReviewGrain.SameValue(reviewed, now));
}

public sealed class AuditStorageTests
{
    // Built in code: an attribute's string cannot carry a lone surrogate.
    [Fact]
    public void Text_postgresql_cannot_hold_is_replaced()
    {
        Assert.Equal("plain", AuditStore.Storable("plain"));
        Assert.Equal("a\uFFFDb", AuditStore.Storable("a\0b"));
        Assert.Equal("pair \ud83d\ude00 kept", AuditStore.Storable("pair \ud83d\ude00 kept"));
        Assert.Equal("lone high \uFFFD", AuditStore.Storable("lone high " + '\ud83d'));
        Assert.Equal("\uFFFD lone low", AuditStore.Storable('\ude00' + " lone low"));
    }
}
