using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;

namespace AnalyticsEngine.Kpi.Tests;

/// <summary>Which live series a new configuration rebuilds or ends, and what a dashboard is told why.</summary>
public sealed class KpiDefinitionChangesTests
{
    private static readonly KpiDefinition BigShare = new(
        "BIG", "Big orders", "", "100 * count(orders) filter (where orders.order_value > 500) / count(orders)", "%", KpiDirection.HigherIsBetter, ["orders"], "", "");

    private static ClientConfig Config(string timeZone = "Europe/Berlin", string[]? selected = null, KpiDefinition[]? custom = null) =>
        new("acme", "Acme", timeZone, selected ?? ["POF", "OTD", "BIG"], custom ?? [BigShare], [], 1);

    [Fact]
    public void The_same_configuration_changes_no_series()
    {
        Assert.True(KpiDefinitionChanges.Between(Config(), Config() with { Name = "Acme Ltd", Version = 2 }).IsEmpty);
    }

    [Fact]
    public void Selecting_another_kpi_changes_none_of_the_watched_ones()
    {
        Assert.True(KpiDefinitionChanges.Between(Config(selected: ["POF"]), Config(selected: ["POF", "OTD"])).IsEmpty);
    }

    [Fact]
    public void A_changed_formula_redefines_that_kpi_alone()
    {
        var changes = KpiDefinitionChanges.Between(Config(), Config(custom: [BigShare with { Formula = "count(orders)" }]));

        Assert.Equal(["BIG"], changes.Redefined);
        Assert.Empty(changes.Ended);
    }

    [Fact]
    public void A_changed_name_or_unit_computes_the_same_values()
    {
        Assert.True(KpiDefinitionChanges.Between(Config(), Config(custom: [BigShare with { Name = "Large orders", Unit = "percent" }])).IsEmpty);
    }

    [Fact]
    public void Another_time_zone_redefines_every_selected_kpi()
    {
        var changes = KpiDefinitionChanges.Between(Config(), Config(timeZone: "Asia/Kolkata"));

        Assert.Equal(["POF", "OTD", "BIG"], changes.Redefined);
        Assert.Empty(changes.Ended);
    }

    [Fact]
    public void Another_name_of_the_same_time_zone_changes_no_series()
    {
        Assert.True(KpiDefinitionChanges.Between(Config(timeZone: "Asia/Calcutta"), Config(timeZone: "Asia/Kolkata")).IsEmpty);
    }

    [Fact]
    public void A_deleted_custom_kpi_ends_and_says_it_was_deleted()
    {
        var changes = KpiDefinitionChanges.Between(Config(), Config(selected: ["POF", "OTD"], custom: []));

        var (code, reason) = Assert.Single(changes.Ended);
        Assert.Equal("BIG", code);
        Assert.Equal("KPI 'BIG' was deleted from client 'acme'.", reason);
        Assert.Empty(changes.Redefined);
    }

    [Fact]
    public void A_deselected_kpi_ends_and_says_it_is_no_longer_selected()
    {
        var changes = KpiDefinitionChanges.Between(Config(), Config(selected: ["POF", "BIG"]));

        var (code, reason) = Assert.Single(changes.Ended);
        Assert.Equal("OTD", code);
        Assert.Equal("KPI 'OTD' is no longer selected for client 'acme'.", reason);
    }
}
