using AnalyticsEngine.Catalog;
using AnalyticsEngine.Kpi.Engine;
using NodaTime;

namespace AnalyticsEngine.Kpi.Tests;

/// <summary>When a configuration change can keep the engine instead of replaying every stored event.</summary>
public sealed class EngineReuseTests
{
    private static readonly DateTimeZone Berlin = DateTimeZoneProviders.Tzdb["Europe/Berlin"];
    private static readonly KpiDefinition Count = TestModels.Kpi("N", "count(orders)");
    private static readonly KpiDefinition Big = TestModels.Kpi("BIG", "count(orders) filter (where orders.order_value > 500)");

    private static ClientKpiEngine EngineOf(params KpiDefinition[] kpis) => new("c", Berlin, kpis, TestModels.All, new KpiEngineOptions());

    [Fact]
    public void The_same_formulas_in_the_same_zone_compute_the_same_whatever_their_names_order_or_zone_alias()
    {
        Assert.True(EngineOf(Count, Big).ComputesTheSame([Count with { Name = "Orders", Unit = "" }, Big with { Description = "Big ones" }], Berlin));
        Assert.True(EngineOf(Count, Big).ComputesTheSame([Big, Count], Berlin));
        Assert.True(new ClientKpiEngine("c", DateTimeZoneProviders.Tzdb["Asia/Kolkata"], [Count], TestModels.All, new KpiEngineOptions())
            .ComputesTheSame([Count], DateTimeZoneProviders.Tzdb["Asia/Calcutta"]));
    }

    [Fact]
    public void Another_formula_another_kpi_set_or_another_zone_does_not()
    {
        var engine = EngineOf(Count, Big);

        Assert.False(engine.ComputesTheSame([Count, Big with { Formula = "count(orders)" }], Berlin));
        Assert.False(engine.ComputesTheSame([Count], Berlin));
        Assert.False(engine.ComputesTheSame([Count, Big, TestModels.Kpi("X", "sum(orders.order_value)")], Berlin));
        Assert.False(engine.ComputesTheSame([Count, Count], Berlin));
        Assert.False(engine.ComputesTheSame([Count, Big], DateTimeZoneProviders.Tzdb["Europe/Paris"]));
    }
}
