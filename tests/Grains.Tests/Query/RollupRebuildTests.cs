using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// Rollups are written in passes of bounded size, and a partition whose rollups miss rows for a term or dimension of
/// this release (written by an earlier one) rebuilds them in the background once a query finds so.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class RollupRebuildTests(KpiClusterFixture fixture)
{
    private readonly StoredRows _stored = new(fixture.Database);

    [Fact]
    public async Task Rolling_up_in_passes_gives_the_rollups_of_one_pass()
    {
        var inPasses = "pass-" + Guid.NewGuid().ToString("N")[..10];
        var inOne = "pass-" + Guid.NewGuid().ToString("N")[..10];
        await _stored.OrdersAsync(inPasses, 1, 2500);
        await _stored.OrdersAsync(inOne, 1, 2500);
        var rollups = TermRollups.ForCatalog["orders"];
        Assert.False(await rollups.NeedsRebuildAsync(fixture.Database, inPasses, CancellationToken.None)); // never rolled up: the first pass starts from row 1

        var passes = new List<RollUpPass>();
        do
        {
            passes.Add(await rollups.RollUpAsync(fixture.Database, inPasses, 1000, CancellationToken.None));
        }
        while (passes[^1].Remaining > 0);

        Assert.Equal([new RollUpPass(1000, 1500), new RollUpPass(1000, 500), new RollUpPass(500, 0)], passes);
        Assert.Equal(2500, (await rollups.RollUpAsync(fixture.Database, inOne, TermRollups.EveryRow, CancellationToken.None)).Rows);
        var expected = await RollupRowsAsync(inOne);
        Assert.True(expected.Count > 1000, $"only {expected.Count} rollup rows: the data does not exercise the passes");
        Assert.Equal(expected, await RollupRowsAsync(inPasses));
        Assert.False(await rollups.NeedsRebuildAsync(fixture.Database, inPasses, CancellationToken.None));
        Assert.Equal(default, await rollups.RollUpAsync(fixture.Database, inPasses, 1000, CancellationToken.None));
    }

    [Fact]
    public async Task A_query_that_finds_rollups_missing_rows_has_the_partition_rebuild_them_and_answers_stay_exact()
    {
        var clientId = "rebuild-" + Guid.NewGuid().ToString("N")[..10];
        var config = new ClientConfig(clientId, "Rollup rebuild", "UTC", ["POF"], [], [], 0);
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Put(config));
        var byCarrier = new KpiQuery(clientId, "POF", StoredRows.End.AddDays(-2), StoredRows.End, QueryGranularity.Day, "carrier");
        var total = byCarrier with { Dimension = null };
        var catalog = TermRollups.ForCatalog["orders"];
        // An earlier release: the terms of one other KPI over orders only, and no dimensions.
        var earlier = TermRollups.Build(
            BuiltInCatalog.Kpis.Where(k => k.Code == "OTD"), DimensionRollupTests.Unmarked(BuiltInCatalog.ObjectModelsByCode))["orders"];
        var (raw, rolled) = (Runner(useRollups: false), Runner(useRollups: true));

        async Task<bool> ReadsRollupsAsync(KpiQuery query)
        {
            var expected = DimensionRollupTests.Flatten(await raw.RunAsync(query, config));
            Assert.Equal(expected, DimensionRollupTests.Flatten(await rolled.RunAsync(query, config)));
            Assert.Equal(expected, DimensionRollupTests.Flatten(await fixture.Client.GetGrain<IKpiQueryGrain>(0).Calculate(query)));
            return rolled.LastRunUsedRollups;
        }

        await _stored.OrdersAsync(clientId, 1, 2000);
        Assert.Equal(2000, (await earlier.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None)).Rows);
        await _stored.OrdersAsync(clientId, 2001, 2400);
        Assert.Equal(400, (await catalog.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None)).Rows);
        Assert.True(await catalog.NeedsRebuildAsync(fixture.Database, clientId, CancellationToken.None));

        // Exact from raw rows, and through the query grain, which asks the partition to check its rollups.
        Assert.False(await ReadsRollupsAsync(byCarrier));
        Assert.False(await ReadsRollupsAsync(total));
        Assert.Equal(["orders"], rolled.IncompleteRollups);

        // The ingest grain empties them and rolls every row up again, in passes of IngestOptions.RollupRowsPerPass.
        var timeout = DateTime.UtcNow.AddSeconds(60);
        while (await _stored.ScalarAsync<long>(
                   "SELECT rolled_up_through FROM ingest.partitions WHERE client_id = $1 AND object_model = 'orders'", clientId) < 2400
               || await catalog.NeedsRebuildAsync(fixture.Database, clientId, CancellationToken.None))
        {
            Assert.True(DateTime.UtcNow < timeout, "the partition did not rebuild its rollups within 60 s");
            await Task.Delay(50);
        }

        Assert.True(await ReadsRollupsAsync(byCarrier));
        Assert.True(await ReadsRollupsAsync(total));
        Assert.Empty(rolled.IncompleteRollups);
    }

    /// <summary>Every rollup row and coverage of a client's orders, without the client id, sums to 6 decimals (passes add in another order).</summary>
    private async Task<List<string>> RollupRowsAsync(string clientId)
    {
        await using var command = fixture.Database.CreateCommand(
            """
            SELECT concat_ws(' ', 'term', term, slot_minutes, slot_start, round(sum::numeric, 6), count, min, max)
            FROM query.term_rollups WHERE client_id = $1 AND object_model = 'orders'
            UNION ALL
            SELECT concat_ws(' ', dimension, value, term, slot_minutes, slot_start, round(sum::numeric, 6), count, min, max)
            FROM query.dimension_rollups WHERE client_id = $1 AND object_model = 'orders'
            UNION ALL
            SELECT concat_ws(' ', 'coverage', term, state_key, from_sequence, covered_through)
            FROM query.rollup_terms WHERE client_id = $1 AND object_model = 'orders'
            ORDER BY 1
            """);
        command.Parameters.AddWithValue(clientId);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    private KpiQueryRunner Runner(bool useRollups) =>
        new(fixture.Database, new KpiQueryOptions { UseRollups = useRollups, CacheDuration = TimeSpan.Zero }, TimeSpan.FromMinutes(5), NullLogger.Instance);
}
