using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Grains.Tests.Ingest;

/// <summary>Rows for an object model the catalog does not have are refused with the models it does have.</summary>
[Collection(KpiClusterCollection.Name)]
public sealed class UnknownObjectModelTests(KpiClusterFixture fixture)
{
    [Fact]
    public async Task A_model_code_in_other_case_is_refused_naming_the_codes_and_not_the_grain()
    {
        var result = await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For("acme", "Orders"))
            .Ingest(new IngestRequest(IngestFormat.Json, "[]"u8.ToArray(), IngestPolicy.RejectBatch, null));

        Assert.Equal(IngestStatus.UnknownObjectModel, result.Status);
        var reason = Assert.Single(result.Errors).Reason;
        Assert.StartsWith("'Orders' is not an object model (codes are lower case); they are: ", reason, StringComparison.Ordinal);
        Assert.Contains(", orders, ", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("acme", reason, StringComparison.Ordinal);
    }
}
