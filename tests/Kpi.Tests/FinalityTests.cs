using AnalyticsEngine.Kpi.Engine;
using NodaTime;

namespace AnalyticsEngine.Kpi.Tests;

/// <summary>Finality is announced once: a pushed value is never pushed again unchanged.</summary>
public class FinalityTests
{
    private static readonly DateTimeOffset T0 = new(2026, 6, 10, 12, 0, 0, TimeSpan.Zero);

    private static Instant At(DateTimeOffset time) => Instant.FromDateTimeOffset(time);

    [Fact]
    public void A_late_event_in_a_bucket_past_its_lateness_is_published_final_once()
    {
        var engine = new ClientKpiEngine("client-7", DateTimeZone.Utc, [TestModels.Kpi("N", "count(orders)")], TestModels.All, new KpiEngineOptions());
        var now = At(T0.AddMinutes(30));
        engine.Apply("orders", [TestModels.Order(1, T0.AddSeconds(5))]);
        var changes = new List<KpiValue>();
        engine.DrainChanges(_ => true, changes, now);
        var late = Assert.Single(changes, c => c.Granularity == Granularity.Minute);
        Assert.True(late.IsFinal);

        changes.Clear();
        engine.AdvanceTime(now.Plus(Duration.FromSeconds(1)));
        engine.DrainChanges(_ => true, changes, now.Plus(Duration.FromSeconds(1)));

        Assert.DoesNotContain(changes, c => c.Granularity == Granularity.Minute && c.BucketStart == T0);
    }

    [Fact]
    public void A_bucket_that_was_pushed_before_its_lateness_is_still_announced_final()
    {
        var engine = new ClientKpiEngine("client-7", DateTimeZone.Utc, [TestModels.Kpi("N", "count(orders)")], TestModels.All, new KpiEngineOptions());
        engine.Apply("orders", [TestModels.Order(1, T0.AddSeconds(5))]);
        engine.DrainChanges(_ => true, [], At(T0.AddSeconds(10)));

        engine.AdvanceTime(At(T0.AddMinutes(6)));
        var changes = new List<KpiValue>();
        engine.DrainChanges(_ => true, changes, At(T0.AddMinutes(6)));

        var final = Assert.Single(changes, c => c.Granularity == Granularity.Minute);
        Assert.True(final.IsFinal);
        Assert.Equal(1, final.Revision);
    }
}
