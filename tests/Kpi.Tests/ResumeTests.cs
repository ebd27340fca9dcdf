using AnalyticsEngine.Kpi.Engine;
using NodaTime;

namespace AnalyticsEngine.Kpi.Tests;

/// <summary>The engine's side of a resumed subscription: exactly the buckets that differ from the client's copy.</summary>
public class ResumeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 6, 10, 12, 0, 0, TimeSpan.Zero);

    private static ClientKpiEngine Engine() =>
        new("client-7", DateTimeZone.Utc, [TestModels.Kpi("N", "count(orders)")], TestModels.All, new KpiEngineOptions());

    private static Instant At(DateTimeOffset time) => Instant.FromDateTimeOffset(time);

    private static Dictionary<DateTimeOffset, KpiValue> Apply(Dictionary<DateTimeOffset, KpiValue> copy, KpiResume resume)
    {
        foreach (var value in resume.Changed)
        {
            copy[value.BucketStart] = value;
        }

        foreach (var start in resume.Expired)
        {
            copy.Remove(start);
        }

        return copy;
    }

    [Fact]
    public void A_client_that_is_up_to_date_gets_nothing()
    {
        var engine = Engine();
        engine.Apply("orders", [TestModels.Order(1, T0.AddMinutes(-2)), TestModels.Order(2, T0.AddSeconds(5))]);
        var now = At(T0.AddSeconds(10));
        var snapshot = engine.Snapshot("N", Granularity.Minute, 10, now);

        var resume = engine.Resume("N", Granularity.Minute, 10, snapshot.Recent.Select(KpiBucketVersion.Of).ToList(), now);

        Assert.Empty(resume.Changed);
        Assert.Empty(resume.Expired);
        Assert.Equal(T0, resume.Current);
    }

    [Fact]
    public void Only_changed_new_and_held_older_buckets_are_answered_and_the_copy_then_equals_the_server()
    {
        var engine = Engine();
        engine.Apply("orders", [TestModels.Order(1, T0.AddMinutes(-2)), TestModels.Order(2, T0.AddMinutes(-30))]);
        var before = At(T0.AddSeconds(10));
        // The client holds the 10-minute window and, from a late push, the bucket 30 minutes back.
        var copy = engine.Snapshot("N", Granularity.Minute, 10, before).Recent.ToDictionary(v => v.BucketStart);
        copy[T0.AddMinutes(-30)] = engine.Snapshot("N", Granularity.Minute, 31, before).Recent[0];
        var held = copy.Values.Select(KpiBucketVersion.Of).ToList();

        // Away for three minutes: one held bucket changes, the old one too, a new bucket fills, time moves on.
        engine.Apply("orders", [TestModels.Order(3, T0.AddMinutes(-2)), TestModels.Order(4, T0.AddMinutes(-30)), TestModels.Order(5, T0.AddMinutes(2))]);
        var now = At(T0.AddMinutes(3).AddSeconds(1));
        var resume = engine.Resume("N", Granularity.Minute, 10, held, now);

        // -5..-3 only became final (5 minutes' lateness) while the client was away; -9..-6, -1 and 0 did not change.
        Assert.Equal(
            new[] { -30, -5, -4, -3, -2, 1, 2, 3 }.Select(m => T0.AddMinutes(m)),
            resume.Changed.Select(v => v.BucketStart));
        Assert.DoesNotContain(resume.Changed, v => held.Any(h => h.Matches(v)));
        Assert.Equal(2, resume.Changed.Single(v => v.BucketStart == T0.AddMinutes(-30)).Value);

        var server = engine.Snapshot("N", Granularity.Minute, 31 + 3, now).Recent.ToDictionary(v => v.BucketStart);
        var resumed = Apply(copy, resume);
        foreach (var (start, value) in resumed)
        {
            Assert.Equal((server[start].Revision, server[start].IsFinal, server[start].Value), (value.Revision, value.IsFinal, value.Value));
        }

        Assert.All(server.Values.TakeLast(10), v => Assert.True(resumed.ContainsKey(v.BucketStart)));
    }

    [Fact]
    public void A_bucket_that_became_final_is_answered_although_its_revision_did_not_move()
    {
        var engine = Engine();
        engine.Apply("orders", [TestModels.Order(1, T0.AddSeconds(5))]);
        var held = engine.Snapshot("N", Granularity.Minute, 1, At(T0.AddSeconds(10))).Recent.Select(KpiBucketVersion.Of).ToList();

        var final = engine.Resume("N", Granularity.Minute, 1, held, At(T0.AddMinutes(7))).Changed.Single(v => v.BucketStart == T0);

        Assert.True(final.IsFinal);
        Assert.Equal(held[0].Revision, final.Revision);
    }

    [Fact]
    public void Held_buckets_older_than_retention_are_expired()
    {
        var engine = Engine();
        var now = At(T0);
        var ancient = T0.AddDays(-3);

        var resume = engine.Resume("N", Granularity.Minute, 5, [new KpiBucketVersion(ancient, 4, true)], now);

        Assert.Equal([ancient], resume.Expired);
        Assert.DoesNotContain(resume.Changed, v => v.BucketStart == ancient);
    }

    [Fact]
    public void A_bucket_start_that_is_not_a_bucket_boundary_is_refused()
    {
        var engine = Engine();
        var error = Assert.Throws<FormatException>(() =>
            engine.Resume("N", Granularity.Hour, 5, [new KpiBucketVersion(T0.AddMinutes(17), 1, false)], At(T0)));
        Assert.Contains("is not the start of any hour bucket", error.Message, StringComparison.Ordinal);
    }
}
