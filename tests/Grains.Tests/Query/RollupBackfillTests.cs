using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// Rollups are written in passes of bounded size, and a partition whose rollups miss rows for a term or dimension of
/// this release (added since, or left out by another release) backfills them in the background once a query finds
/// so, its other terms read from rollups all the while.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class RollupBackfillTests(KpiClusterFixture fixture)
{
    private readonly StoredRows _stored = new(fixture.Database);
    private readonly KpiQueryRunner _raw = Runner(fixture, useRollups: false);
    private readonly KpiQueryRunner _rolled = Runner(fixture, useRollups: true);

    [Fact]
    public async Task Rolling_up_in_passes_gives_the_rollups_of_one_pass()
    {
        var inPasses = "pass-" + Guid.NewGuid().ToString("N")[..10];
        var inOne = "pass-" + Guid.NewGuid().ToString("N")[..10];
        await _stored.OrdersAsync(inPasses, 1, 2500);
        await _stored.OrdersAsync(inOne, 1, 2500);
        var rollups = TermRollups.ForCatalog["orders"];
        Assert.False((await rollups.PartitionAsync(fixture.Database, inPasses, CancellationToken.None))!.MissesRows); // never rolled up: the first pass starts from row 1

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
        Assert.False((await rollups.PartitionAsync(fixture.Database, inPasses, CancellationToken.None))!.MissesRows);
        Assert.Equal(default, await rollups.RollUpAsync(fixture.Database, inPasses, 1000, CancellationToken.None));
    }

    [Theory]
    [InlineData(true)] // a term rolled up by this release first, then left out by another's roll-up
    [InlineData(false)] // a term this release added after the partition's first rows were rolled up
    public async Task Rollups_that_miss_rows_of_a_term_are_not_read(bool thisReleaseFirst)
    {
        var clientId = "backfill-" + Guid.NewGuid().ToString("N")[..10];
        var (config, total, _) = await ClientAsync(clientId);
        var (first, then) = thisReleaseFirst ? (Catalog, Earlier) : (Earlier, Catalog);
        await _stored.OrdersAsync(clientId, 1, 2000);
        Assert.Equal(2000, (await first.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None)).Rows);
        await _stored.OrdersAsync(clientId, 2001, 2400);
        Assert.Equal(400, (await then.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None)).Rows);

        Assert.True((await Catalog.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.MissesRows);
        Assert.False(await ReadsRollupsAsync(total, config));
    }

    [Theory]
    [InlineData(false)] // terms and dimensions this release added after the partition's first rows were rolled up
    [InlineData(true)] // terms and dimensions rolled up by this release first, then left out by another's roll-up
    public async Task A_backfill_in_passes_gives_the_rollups_of_one_pass_and_complete_terms_are_read_from_rollups_meanwhile(bool thisReleaseFirst)
    {
        var clientId = "backfill-" + Guid.NewGuid().ToString("N")[..10];
        var inOne = "backfill-" + Guid.NewGuid().ToString("N")[..10];
        var (config, total, byCarrier) = await ClientAsync(clientId);
        var otd = total with { KpiCode = "OTD" }; // its terms are in both releases' roll-ups
        await _stored.OrdersAsync(inOne, 1, 2400);
        await Catalog.RollUpAsync(fixture.Database, inOne, TermRollups.EveryRow, CancellationToken.None);
        var (first, then) = thisReleaseFirst ? (Catalog, Earlier) : (Earlier, Catalog);
        await _stored.OrdersAsync(clientId, 1, 2000);
        await first.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        await _stored.OrdersAsync(clientId, 2001, 2400);
        await then.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        Assert.True(await ReadsRollupsAsync(otd, config));
        Assert.False(await ReadsRollupsAsync(total, config));

        var passes = new List<BackfillPass>();
        do
        {
            passes.Add(await Catalog.BackfillAsync(fixture.Database, clientId, 1000, TimeSpan.FromHours(1), CancellationToken.None));
            Assert.True(await ReadsRollupsAsync(otd, config));
            Assert.Equal(passes[^1].Remaining == 0, await ReadsRollupsAsync(total, config));
            Assert.Equal(passes[^1].Remaining, (await Catalog.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.MissingRows);
        }
        while (passes[^1].Remaining > 0);

        // Left out by the other release's roll-up, this release's coverages restart after the watermark (2400); added
        // later, they go on back from where they started (2001).
        Assert.Equal(
            thisReleaseFirst ? [(1000L, 1400L), (1000, 400), (400, 0)] : [(1000L, 1000L), (1000, 0)],
            passes.Select(p => (p.Rows, p.Remaining)));
        Assert.Equal(thisReleaseFirst, passes[0].Restarted > 0);
        Assert.All(passes.Skip(1), p => Assert.Equal(0, p.Restarted));
        Assert.Equal(await RollupRowsAsync(inOne), await RollupRowsAsync(clientId));
        Assert.True(await ReadsRollupsAsync(byCarrier, config));
        Assert.False((await Catalog.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.MissesRows);
        Assert.Equal(default, await Catalog.BackfillAsync(fixture.Database, clientId, 1000, TimeSpan.FromHours(1), CancellationToken.None));

        if (thisReleaseFirst)
        {
            // The other release leaves them out again: within the restart spacing of the restart above they stay as they
            // are, read raw; past it they restart.
            await _stored.OrdersAsync(clientId, 2401, 2600);
            await Earlier.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
            var held = await Catalog.BackfillAsync(fixture.Database, clientId, 1000, TimeSpan.FromHours(1), CancellationToken.None);
            Assert.Equal((0L, 0L, 0), (held.Rows, held.Remaining, held.Restarted));
            Assert.InRange(held.RestartIn!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
            Assert.Equal(2600, (await Catalog.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.MissingRows);
            Assert.False(await ReadsRollupsAsync(total, config));
            var restart = await Catalog.BackfillAsync(fixture.Database, clientId, TermRollups.EveryRow, TimeSpan.Zero, CancellationToken.None);
            Assert.Equal((2600L, 0L, passes[0].Restarted), (restart.Rows, restart.Remaining, restart.Restarted));
            Assert.True(await ReadsRollupsAsync(total, config));
            Assert.True(await ReadsRollupsAsync(byCarrier, config));
        }
    }

    [Fact]
    public async Task A_query_that_finds_rollups_missing_rows_has_the_partition_backfill_them_and_answers_stay_exact()
    {
        var clientId = "backfill-" + Guid.NewGuid().ToString("N")[..10];
        var (config, total, byCarrier) = await ClientAsync(clientId);
        await _stored.OrdersAsync(clientId, 1, 2000);
        Assert.Equal(2000, (await Catalog.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None)).Rows);
        await _stored.OrdersAsync(clientId, 2001, 2400);
        Assert.Equal(400, (await Earlier.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None)).Rows);

        Assert.False(await ReadsRollupsAsync(byCarrier, config));
        Assert.False(await ReadsRollupsAsync(total, config));
        Assert.Equal(["orders"], _rolled.IncompleteRollups);
        var queries = fixture.Client.GetGrain<IKpiQueryGrain>(0);
        Assert.Equal([new PartitionRollupStatus("orders", 2400, 2400, Complete: false, RestartedAt: null, Missing: 2400)], await queries.RollupStatus(clientId));

        // Through the query grain: exact too, and it asks the partition to check its rollups.
        var expected = DimensionRollupTests.Flatten(await _raw.RunAsync(byCarrier, config));
        Assert.Equal(expected, DimensionRollupTests.Flatten(await queries.Calculate(byCarrier)));

        // The ingest grain restarts the coverages the other release left out and backfills them, in passes of
        // IngestOptions.RollupRowsPerPass.
        await RolledUpAsync(Catalog, clientId, p => p is { MissesRows: false, RolledUpThrough: 2400 });

        Assert.True(await ReadsRollupsAsync(byCarrier, config));
        Assert.True(await ReadsRollupsAsync(total, config));
        Assert.Empty(_rolled.IncompleteRollups);
        var backfilled = Assert.Single(await queries.RollupStatus(clientId));
        Assert.Equal(("orders", 2400L, 2400L, true), (backfilled.ObjectModel, backfilled.Rows, backfilled.RolledUp, backfilled.Complete));
        Assert.Equal(0, backfilled.Missing);
        Assert.NotNull(backfilled.RestartedAt); // the terms the other release left out
        Assert.InRange((await Catalog.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.SinceRestart!.Value, TimeSpan.Zero, TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task A_custom_kpi_with_terms_the_catalog_lacks_gets_rollups_of_its_own_once_the_partition_backfills_them()
    {
        var clientId = "backfill-" + Guid.NewGuid().ToString("N")[..10];
        var custom = new KpiDefinition("R_BIG_DHL", "Big DHL orders", "",
            "sum(orders.order_value) filter (where orders.carrier = 'dhl' and orders.order_value > 20) / count(orders)",
            "ratio", KpiDirection.HigherIsBetter, ["orders"], "TEST", "TEST");
        var before = new ClientConfig(clientId, "Custom rollups", "UTC", ["POF"], [], [], 0);
        var config = before with { SelectedKpis = ["POF", "R_BIG_DHL"], CustomKpis = [custom] };
        var query = new KpiQuery(clientId, "R_BIG_DHL", StoredRows.End.AddDays(-2), StoredRows.End, QueryGranularity.Day);
        var clientRollups = TermRollups.ForClient(config)["orders"];
        Assert.NotSame(Catalog, clientRollups);
        Assert.Same(Catalog, TermRollups.ForClient(before)["orders"]);
        Assert.Same(clientRollups, TermRollups.ForClient(config with { ClientId = "another", Version = 7 })["orders"]);

        // Rows rolled up before the KPI is defined, and the partition's grain has checked them: nothing to backfill.
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Put(before));
        await _stored.OrdersAsync(clientId, 1, 2400);
        await Catalog.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        var ingest = fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"));
        await ingest.CheckRollups();
        // CheckRollups is one-way: a request sent after it is served after it, so the check is done when this returns.
        var empty = await ingest.Ingest(new IngestRequest(IngestFormat.Json, "[]"u8.ToArray(), IngestPolicy.RejectBatch, null));
        Assert.Equal(IngestStatus.Refused, empty.Status);
        Assert.Null((await Catalog.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.RestartedAt);

        // Defined: its term is in no rollup yet, so the query reads raw rows and the partition's grain is asked again.
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Put(config));
        Assert.False(await ReadsRollupsAsync(query, config));
        Assert.Equal(["orders"], _rolled.IncompleteRollups);
        Assert.True((await clientRollups.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.MissesRows);
        // Within RollupCheckInterval of its last check, but its set of terms changed: it checks, and backfills the new
        // term alone (nothing restarts).
        await ingest.CheckRollups();
        await RolledUpAsync(clientRollups, clientId, p => p is { MissesRows: false, RolledUpThrough: 2400 });
        Assert.Null((await Catalog.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.RestartedAt);

        Assert.True(await ReadsRollupsAsync(query, config));
        Assert.True(await ReadsRollupsAsync(query with { KpiCode = "POF" }, config));
        Assert.Empty(_rolled.IncompleteRollups);
    }

    [Fact]
    public async Task A_custom_term_that_fails_over_some_row_leaves_the_catalogs_terms_rolling_up()
    {
        var clientId = "backfill-" + Guid.NewGuid().ToString("N")[..10];
        var config = new ClientConfig(clientId, "Failing custom term", "UTC", ["POF", "R_OVERFLOW"], [Overflowing], [], 0);
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Put(config));
        await _stored.OrdersAsync(clientId, 1, 2000);
        await Catalog.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        await _stored.OrdersAsync(clientId, 2001, 2400);

        // The grain finds the custom term missing; its passes with the custom term fail, without it go on.
        await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders")).CheckRollups();
        await RolledUpAsync(Catalog, clientId, p => p is { MissesRows: false, RolledUpThrough: 2400 });

        var pof = new KpiQuery(clientId, "POF", StoredRows.End.AddDays(-2), StoredRows.End, QueryGranularity.Day);
        Assert.True(await ReadsRollupsAsync(pof, config));
        Assert.True((await TermRollups.ForClient(config)["orders"].PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.MissesRows);
        // Its KPI reads raw rows, past float8's range as the engine's doubles go (DoubleRangeTests).
        var custom = await _rolled.RunAsync(pof with { KpiCode = "R_OVERFLOW" }, config);
        Assert.Null(custom.Error);
        Assert.False(_rolled.LastRunUsedRollups);
    }

    [Fact]
    public async Task A_catalog_term_that_fails_over_some_row_is_left_out_and_the_other_terms_go_on_rolling_up()
    {
        var clientId = "backfill-" + Guid.NewGuid().ToString("N")[..10];
        var config = new ClientConfig(clientId, "Failing catalog term", "UTC", ["POF", "SCOR_AVG_ORDER_VALUE"], [], [], 0);
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Put(config));
        // Rows rolled up by another release, then rows of order values near float8's largest: some hour's sum of them
        // is past its range (22003, value out of range).
        await _stored.OrdersAsync(clientId, 1, 2000);
        await Earlier.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        await _stored.OrdersAsync(clientId, 2001, 2400);
        await _stored.SetOrderValueAsync(clientId, 2001, 2400, 1.7e308);

        // The grain finds this release's terms missing and rolls up: its pass fails; the term that fails alone (the sum
        // of order values) is left out, and every other term rolls up the new rows and backfills the old ones.
        await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders")).CheckRollups();
        var orderValues = Catalog.Terms.Where(t => t.StateKey.Contains("order_value", StringComparison.Ordinal)).Select(t => t.StateKey).ToHashSet();
        Assert.Single(orderValues);
        await RolledUpAsync(Catalog.Without(orderValues), clientId, p => p is { MissesRows: false, RolledUpThrough: 2400 });

        var pof = new KpiQuery(clientId, "POF", StoredRows.End.AddDays(-2), StoredRows.End, QueryGranularity.Day);
        Assert.True(await ReadsRollupsAsync(pof, config));
        // The partition's rollup status says so: some term misses every row past the pass that failed.
        Assert.Equal(2400, (await Catalog.PartitionAsync(fixture.Database, clientId, CancellationToken.None))!.MissingRows);
        // Its KPI reads raw rows: a day whose orders add up past float8's range has no value, as in the stream.
        var average = await _rolled.RunAsync(pof with { KpiCode = "SCOR_AVG_ORDER_VALUE" }, config);
        Assert.False(_rolled.LastRunUsedRollups);
        Assert.Contains(Assert.Single(average.Series).Values, v => v.NoValueReason == "the result is not a finite number");
    }

    [Fact]
    public async Task A_custom_term_that_fails_over_old_rows_ends_its_backfill_and_goes_on_rolling_up_new_ones()
    {
        var clientId = "backfill-" + Guid.NewGuid().ToString("N")[..10];
        var config = new ClientConfig(clientId, "Failing backfill", "UTC", ["POF", "R_OVERFLOW"], [Overflowing], [], 0);
        await _stored.OrdersAsync(clientId, 1, 2000);
        await Catalog.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Put(config));
        // New rows of value 0, over which the custom term is fine; two passes of the grain (RollupRowsPerPass 1000).
        await _stored.OrdersAsync(clientId, 2001, 4000);
        await _stored.SetOrderValueAsync(clientId, 2001, 4000, 0);

        // The first pass starts the custom term at row 2001; its backfill over rows 1001–2000 fails and ends; the
        // second pass still rolls the custom term up (a failure of the roll-up itself would leave it out from there).
        await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders")).CheckRollups();
        await RolledUpAsync(Catalog, clientId, p => p is { MissesRows: false, RolledUpThrough: 4000 });

        var custom = await TermRollups.ForClient(config)["orders"].PartitionAsync(fixture.Database, clientId, CancellationToken.None);
        Assert.Equal(2000, custom!.MissingRows); // rows 1–2000, before the custom term's coverage; 4000 had it stopped at 3000
        Assert.True(await ReadsRollupsAsync(new KpiQuery(clientId, "POF", StoredRows.End.AddDays(-2), StoredRows.End, QueryGranularity.Day), config));
    }

    [Fact]
    public async Task A_custom_term_left_out_after_failing_keeps_its_rollups_however_long_ago_they_were_written()
    {
        var clientId = "backfill-" + Guid.NewGuid().ToString("N")[..10];
        var config = new ClientConfig(clientId, "Failing custom term kept", "UTC", ["POF", "R_OVERFLOW"], [Overflowing], [], 0);
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Put(config));
        var client = TermRollups.ForClient(config)["orders"];
        // Rows of value 0, over which the custom term is fine: rolled up with it, then without it (as another release
        // would), so that its coverage stops short; then rows over which it fails, not rolled up yet.
        await _stored.OrdersAsync(clientId, 1, 2400);
        await _stored.SetOrderValueAsync(clientId, 1, 2400, 0);
        await client.RollUpAsync(fixture.Database, clientId, 2000, CancellationToken.None);
        await Catalog.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        await _stored.OrdersAsync(clientId, 2401, 2800);
        await CoveragesWrittenDaysAgoAsync(clientId, 8);
        var coverages = await CoveragesAsync(clientId);

        // The grain finds the custom term short; its pass with the custom term fails, the catalog's terms go on alone.
        // The custom term's coverage, short of the watermark and written longer ago than the week after which a term
        // no roll-up writes is dropped, is still the client's: kept (the fixture looks after every pass).
        var grain = fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"));
        await grain.CheckRollups();
        await RolledUpAsync(Catalog, clientId, p => p is { MissesRows: false, RolledUpThrough: 2800 });
        await grain.CheckRollups(); // a turn after the pass that rolled up the last rows, so that pass has ended

        Assert.Equal(coverages, await CoveragesAsync(clientId));
    }

    [Fact]
    public async Task Rollups_no_release_has_written_for_a_while_are_dropped_and_backfilled_from_scratch_when_wanted_again()
    {
        var clientId = "abandoned-" + Guid.NewGuid().ToString("N")[..10];
        var onlyEarlier = "abandoned-" + Guid.NewGuid().ToString("N")[..10];
        var (config, total, byCarrier) = await ClientAsync(clientId);
        var otd = total with { KpiCode = "OTD" }; // its terms are in both releases' roll-ups
        var week = TimeSpan.FromDays(7);
        await _stored.OrdersAsync(onlyEarlier, 1, 2400);
        await Earlier.RollUpAsync(fixture.Database, onlyEarlier, TermRollups.EveryRow, CancellationToken.None);

        // Rolled up through the watermark by this release: the other release keeps them, however long ago that was.
        await _stored.OrdersAsync(clientId, 1, 2000);
        await Catalog.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        await CoveragesWrittenDaysAgoAsync(clientId, 8);
        Assert.Equal(0, await Earlier.DropAbandonedAsync(fixture.Database, clientId, week, CancellationToken.None));

        // Left out by the other release's roll-up: kept for the week after they were last written.
        await _stored.OrdersAsync(clientId, 2001, 2400);
        await Earlier.RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        await CoveragesWrittenDaysAgoAsync(clientId, 6);
        Assert.Equal(0, await Earlier.DropAbandonedAsync(fixture.Database, clientId, week, CancellationToken.None));

        // Past it: dropped by the release that does not have them (never by the one that does, which backfills its
        // own), and the partition holds what the other release alone would have written.
        await CoveragesWrittenDaysAgoAsync(clientId, 8);
        Assert.Equal(0, await Catalog.DropAbandonedAsync(fixture.Database, clientId, week, CancellationToken.None));
        var abandoned = await CoveragesAsync(clientId) - await CoveragesAsync(onlyEarlier);
        Assert.True(abandoned > 0);
        Assert.Equal(abandoned, await Earlier.DropAbandonedAsync(fixture.Database, clientId, week, CancellationToken.None));
        Assert.Equal(await RollupRowsAsync(onlyEarlier), await RollupRowsAsync(clientId));
        Assert.True(await ReadsRollupsAsync(otd, config));
        Assert.False(await ReadsRollupsAsync(total, config));
        Assert.Equal(0, await Earlier.DropAbandonedAsync(fixture.Database, clientId, week, CancellationToken.None));

        // Wanted again (this release back): backfilled from scratch, nothing left to restart.
        var backfill = await Catalog.BackfillAsync(fixture.Database, clientId, TermRollups.EveryRow, TimeSpan.FromHours(1), CancellationToken.None);
        Assert.Equal((2400L, 0L, 0), (backfill.Rows, backfill.Remaining, backfill.Restarted));
        Assert.True(await ReadsRollupsAsync(total, config));
        Assert.True(await ReadsRollupsAsync(byCarrier, config));
    }

    /// <summary>Moves when every coverage of a client's orders was last written back by <paramref name="days"/>.</summary>
    private async Task CoveragesWrittenDaysAgoAsync(string clientId, int days)
    {
        await using var command = fixture.Database.CreateCommand(
            "UPDATE query.rollup_terms SET written_at = now() - make_interval(days => $2) WHERE client_id = $1 AND object_model = 'orders'");
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(days);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<int> CoveragesAsync(string clientId)
    {
        await using var command = fixture.Database.CreateCommand("SELECT count(*)::int FROM query.rollup_terms WHERE client_id = $1 AND object_model = 'orders'");
        command.Parameters.AddWithValue(clientId);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    private static TermRollups Catalog => TermRollups.ForCatalog["orders"];

    /// <summary>A custom KPI past float8's range for every order of value above 0: PostgreSQL raises 22003 (value out of range).</summary>
    private static KpiDefinition Overflowing { get; } = new("R_OVERFLOW", "Overflowing", "",
        "sum(orders.order_value * 1e300 * 1e300) / count(orders)", "ratio", KpiDirection.HigherIsBetter, ["orders"], "TEST", "TEST");

    /// <summary>Another release's rollups of orders: the terms of one other KPI only, and no dimensions.</summary>
    private static TermRollups Earlier { get; } = TermRollups.Build(
        BuiltInCatalog.Kpis.Where(k => k.Code == "OTD"), DimensionRollupTests.Unmarked(BuiltInCatalog.ObjectModelsByCode))["orders"];

    private async Task<(ClientConfig Config, KpiQuery Total, KpiQuery ByCarrier)> ClientAsync(string clientId)
    {
        var config = new ClientConfig(clientId, "Rollup backfill", "UTC", ["POF"], [], [], 0);
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Put(config));
        var total = new KpiQuery(clientId, "POF", StoredRows.End.AddDays(-2), StoredRows.End, QueryGranularity.Day);
        return (config, total, total with { Dimension = "carrier" });
    }

    /// <summary>Waits until the partition's ingest grain has rolled its rollups up to <paramref name="done"/>, at most 60 s.</summary>
    private async Task RolledUpAsync(TermRollups rollups, string clientId, Func<PartitionRollups?, bool> done)
    {
        var timeout = DateTime.UtcNow.AddSeconds(60);
        PartitionRollups? partition;
        while (!done(partition = await rollups.PartitionAsync(fixture.Database, clientId, CancellationToken.None)))
        {
            Assert.True(DateTime.UtcNow < timeout, $"the partition's ingest grain did not roll up its rollups within 60 s: {partition}");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Whether the query path reads rollups for <paramref name="query"/>; its answer must equal the raw rows' either
    /// way. A query of orders alone that reads rollups takes one round trip; one that cannot, written for rollups
    /// before its snapshot was read, is dropped (<c>ae.query.statements_dropped</c>) and starts again over raw rows.
    /// </summary>
    private async Task<bool> ReadsRollupsAsync(KpiQuery query, ClientConfig config)
    {
        var expected = DimensionRollupTests.Flatten(await _raw.RunAsync(query, config));
        long dropped;
        using (var droppedStatements = new CounterTotal("ae.query.statements_dropped"))
        {
            Assert.Equal(expected, DimensionRollupTests.Flatten(await _rolled.RunAsync(query, config)));
            dropped = droppedStatements.Total;
        }

        Assert.Equal(_rolled.LastRunUsedRollups, _rolled.LastRunInOneRoundTrip);
        Assert.True(_rolled.LastRunUsedRollups || dropped >= 1, "a query that read raw rows was not counted as a dropped try");
        return _rolled.LastRunUsedRollups;
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

    private static KpiQueryRunner Runner(KpiClusterFixture fixture, bool useRollups) =>
        new(fixture.Database, new KpiQueryOptions { UseRollups = useRollups, CacheDuration = TimeSpan.Zero }, TimeSpan.FromMinutes(5), NullLogger.Instance);
}
