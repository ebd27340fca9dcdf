using AnalyticsEngine.Query;

namespace AnalyticsEngine.Kpi.Tests.Query;

/// <summary>
/// A coverage's recorded key says which rollups it holds, even for a term or dimension this release does not know
/// (what <see cref="TermRollups.DropAbandonedAsync"/> deletes by).
/// </summary>
public sealed class RollupCoverageKeyTests
{
    [Theory]
    [InlineData("sum(orders.order_value)")]
    [InlineData("count(orders) filter (where orders.carrier = 'sold by dhl')")]
    [InlineData(TermRollups.EventsKey)]
    public void A_terms_key_names_its_rollups_in_total(string stateKey)
    {
        var id = TermRollups.CoverageId(stateKey, null);

        Assert.Equal((id, (string?)null), TermRollups.RollupsOf(id, stateKey));
    }

    [Theory]
    [InlineData("sum(orders.order_value)", "carrier")]
    [InlineData("count(orders) filter (where orders.carrier = 'sold by dhl')", "status")] // " by " inside the term too
    [InlineData(TermRollups.EventsKey, "carrier")]
    public void A_key_per_dimension_names_the_terms_rollups_per_value_of_that_dimension(string stateKey, string dimension)
    {
        var id = TermRollups.CoverageId(stateKey, dimension);

        Assert.Equal((TermRollups.CoverageId(stateKey, null), dimension), TermRollups.RollupsOf(id, $"{stateKey} by {dimension}"));
    }

    [Theory]
    [InlineData("sum(orders.order_value)")]
    [InlineData("sum(orders.order_value) by carrier")]
    public void A_key_that_does_not_give_back_the_coverages_id_names_nothing(string key) =>
        Assert.Null(TermRollups.RollupsOf(12345, key));
}
