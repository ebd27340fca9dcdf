using AnalyticsEngine.Archive;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Governance;
using AnalyticsEngine.Grains.Tests.Query;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Proposals;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Archive;

/// <summary>
/// Archival end to end on a client with a month of rows: rows past the active period leave the active tables for
/// compressed segments (a snapshot object's only where a newer row replaces them), a query over archived days puts them
/// back and answers exactly what it answered before, restored rows leave again when their time is up, and archives
/// past their period are deleted.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class ArchivalTests(KpiClusterFixture fixture)
{
    private const int ActiveDays = 7;

    private IKpiQueryGrain Queries => fixture.Client.GetGrain<IKpiQueryGrain>(0);

    private static RetentionAnswers Policy(bool archive, int? archiveYears = null) => new(
        new RetentionAnswer(ActiveDays, RetentionUnit.Days, archive, archive ? archiveYears : null, archive ? archiveYears is null ? RetentionUnit.Indefinite : RetentionUnit.Years : null),
        new RetentionAnswer(30, RetentionUnit.Days, false));

    [Fact]
    public async Task Archived_rows_leave_the_active_tables_and_queries_over_their_days_answer_as_before()
    {
        var now = DateTimeOffset.UtcNow;
        var scenario = await QueryScenario.CreateAsync(fixture.Client, fixture.Database, seed: 20261129, from: now.AddDays(-30), to: now.AddDays(-1));
        var archive = fixture.Client.GetGrain<IArchiveGrain>(scenario.ClientId);
        var horizon = RetentionHorizons.Horizon(now, ActiveDays);
        var before = await AnswersAsync(scenario, now.AddDays(-32), now);
        // A month's bucket starts before its range: a range of the last days still reads the month's archived days.
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(scenario.ClientId).Get())!;
        var monthFrom = MonthRangeStart(now, horizon, config);
        var month = await Queries.Calculate(new KpiQuery(scenario.ClientId, "OTD", monthFrom, now, QueryGranularity.Month));
        // Rows a week old are rolled up long since: a run moves only those (see Rows_not_rolled_up_yet_stay_until_they_are).
        await RollUpAllAsync(scenario.ClientId, config);
        var expected = await LeavingRowsAsync(scenario.ClientId, horizon);
        Assert.True(expected.Values.Sum() > 1000, "the scenario should put most rows before the horizon");
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var model in expected.Keys)
        {
            totals[model] = await TotalAsync(scenario.ClientId, model);
        }

        var set = await archive.SetPolicy(Policy(archive: true), "tester");
        Assert.Empty(set.Problems);
        var run = await archive.RunNow();

        Assert.Equal(horizon, run.SourceHorizon);
        Assert.Equal(expected.Values.Sum(), run.RowsArchived);
        Assert.Equal(0, run.RowsDeleted);
        foreach (var (model, rows) in expected)
        {
            Assert.Equal(totals[model] - rows, await TotalAsync(scenario.ClientId, model));
        }

        foreach (var model in BuiltInCatalog.ObjectModels.Where(m => m.Kind == ObjectKind.Event))
        {
            Assert.Equal(0, await CountAsync(scenario.ClientId, model.Code, horizon));
        }

        var segments = await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000);
        Assert.Equal(run.SegmentsWritten, segments.Count);
        Assert.Equal(run.RowsArchived, segments.Sum(s => s.Rows));
        Assert.All(segments, s =>
        {
            Assert.True(File.Exists(Path.Combine(fixture.ArchiveDirectory, s.Location)), s.Location);
            Assert.True(s.To <= horizon && s.To - s.From <= TimeSpan.FromDays(1), $"{s.Source} [{s.From}, {s.To})");
            Assert.Null(s.RestoredUntil);
            Assert.Null(s.ExpiresAt);
        });

        // A snapshot object's segments hold rows that newer rows replaced before the horizon: a range starting after it
        // does not put them back, one starting before it does.
        Assert.Contains(segments, s => s.Source == "licenses");
        Assert.Null((await Queries.Calculate(new KpiQuery(scenario.ClientId, "Q_SEATS", horizon.AddDays(1), now, QueryGranularity.Day))).Error);
        Assert.All((await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000)).Where(s => s.Source == "licenses"), s => Assert.Null(s.RestoredUntil));

        var monthAfter = await Queries.Calculate(new KpiQuery(scenario.ClientId, "OTD", monthFrom, now.AddHours(1), QueryGranularity.Month));
        Assert.Equal(
            Assert.Single(month.Series).Values.Select(v => (v.BucketStart, v.Value, v.EventCount)),
            Assert.Single(monthAfter.Series).Values.Select(v => (v.BucketStart, v.Value, v.EventCount)));

        // Another range than before, so that no cached answer stands in for the query over the archive. What the KPIs
        // read raw is back (the snapshot objects' rows, say); a segment of an object model none of them reads, or only
        // through rollups that hold it, stays in the archive.
        var after = await AnswersAsync(scenario, now.AddDays(-32), now.AddDays(1));
        AssertSameBuckets(before, after);
        var restored = await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000);
        var read = scenario.Kpis.SelectMany(k => QueryFormulas.Compile(ClientKpis.Find(config, k)!.Formula).Formula!.ObjectModels).ToHashSet();
        Assert.All(restored.Where(s => !read.Contains(s.Source)), s => Assert.Null(s.RestoredUntil));
        Assert.Contains(restored, s => read.Contains(s.Source) && s.RestoredUntil is null);
        Assert.Contains(restored, s => s.Source == "licenses" && s.RestoredUntil is not null);
        var restoredCount = restored.Count(s => s.RestoredUntil is not null);
        foreach (var (model, total) in totals)
        {
            var stillArchived = restored.Where(s => s.Source == model && s.RestoredUntil is null).Sum(s => s.Rows);
            Assert.Equal(total - stillArchived, await TotalAsync(scenario.ClientId, model));
        }

        // The restore's time is up: the next run takes the rows out again, and a query puts them back once more.
        // A client rebuilt meanwhile (another KPI set) replays the archived days too: its buckets equal the queries'.
        await ExpireRestoresAsync(scenario.ClientId);
        Assert.Equal(restoredCount, (await archive.RunNow()).SegmentsRestoredAgain);
        await RebuildAsync(scenario);
        await AssertStreamEqualsAsync(scenario, before, "OTD", "POF", "Q_LATE_VALUE");
        // The replay reads raw rows only: every segment of the object models the client's KPIs read came back.
        var replayed = (await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000)).Where(s => s.RestoredUntil is not null).ToList();
        Assert.Equal(restored.Count(s => read.Contains(s.Source)), replayed.Count);

        await ExpireRestoresAsync(scenario.ClientId);
        var again = await archive.RunNow();
        Assert.Equal(replayed.Count, again.SegmentsRestoredAgain);
        Assert.Equal(0, again.RowsArchived);
        foreach (var model in BuiltInCatalog.ObjectModels.Where(m => m.Kind == ObjectKind.Event))
        {
            Assert.Equal(0, await CountAsync(scenario.ClientId, model.Code, horizon));
        }

        AssertSameBuckets(before, await AnswersAsync(scenario, now.AddDays(-32), now.AddDays(2)));

        // Archives kept for good are deleted once the policy keeps them less, the answer to the change says so, and a
        // run whose restored rows leave the active tables deletes those of them that expired too.
        var expiring = segments.Count(s => s.To.AddDays(ActiveDays + 10) <= DateTimeOffset.UtcNow);
        Assert.True(expiring > 0);
        var shorter = await archive.SetPolicy(new RetentionAnswers(
            new RetentionAnswer(ActiveDays, RetentionUnit.Days, true, 10, RetentionUnit.Days),
            new RetentionAnswer(30, RetentionUnit.Days, false)), "tester");
        Assert.Contains(shorter.Policy!.Effective.Notes, n => n.StartsWith($"The archive holds {expiring:N0} segments", StringComparison.Ordinal));
        await ExpireRestoresAsync(scenario.ClientId);
        var expiry = await archive.RunNow();
        Assert.Equal(restoredCount, expiry.SegmentsRestoredAgain);
        Assert.Equal(expiring, expiry.SegmentsExpired);
        var left = await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000);
        Assert.Equal(segments.Count - expiring, left.Count);
        Assert.All(segments.Where(s => left.All(l => l.SegmentId != s.SegmentId)),
            s => Assert.False(File.Exists(Path.Combine(fixture.ArchiveDirectory, s.Location)), s.Location));
        Assert.All(left, s => Assert.Equal(s.To.AddDays(ActiveDays + 10), s.ExpiresAt));
    }

    [Fact]
    public async Task Deleted_rows_leave_their_aggregates_for_the_analytics_period_and_then_those_go_too()
    {
        var now = DateTimeOffset.UtcNow;
        var scenario = await QueryScenario.CreateAsync(fixture.Client, fixture.Database, seed: 7, from: now.AddDays(-20), to: now.AddDays(-1));
        var config = await fixture.Client.GetGrain<IClientConfigGrain>(scenario.ClientId).Get();
        await RollUpAllAsync(scenario.ClientId, config!);
        var archive = fixture.Client.GetGrain<IArchiveGrain>(scenario.ClientId);
        var horizon = RetentionHorizons.Horizon(now, ActiveDays);
        var expected = await LeavingRowsAsync(scenario.ClientId, horizon);
        var orders = await TotalAsync(scenario.ClientId, "orders");
        Assert.Equal(orders, await OrdersCountedAsync(scenario.ClientId, now.AddDays(-21), now.AddDays(1)));

        // Raw rows deleted after a week, aggregates kept a month: the orders still count, from the rollups.
        Assert.Empty((await archive.SetPolicy(Policy(archive: false), "tester")).Problems);
        var run = await archive.RunNow();
        Assert.Equal(expected.Values.Sum(), run.RowsDeleted);
        Assert.Equal(0, run.RowsArchived);
        Assert.Equal(0, run.RollupRowsDeleted);
        Assert.Empty(await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 10));
        Assert.Equal(orders - expected["orders"], await TotalAsync(scenario.ClientId, "orders"));
        Assert.Equal(orders, await OrdersCountedAsync(scenario.ClientId, now.AddDays(-21), now.AddDays(2)));

        // Aggregates kept a week too: what is left is what the rows say.
        Assert.Empty((await archive.SetPolicy(new RetentionAnswers(
            new RetentionAnswer(ActiveDays, RetentionUnit.Days, false), new RetentionAnswer(ActiveDays, RetentionUnit.Days, false)), "tester")).Problems);
        var second = await archive.RunNow();
        Assert.True(second.RollupRowsDeleted > 0);
        Assert.Equal(orders - expected["orders"], await OrdersCountedAsync(scenario.ClientId, now.AddDays(-21), now.AddDays(3)));

        // A rebuild replays what is left, stepping over the sequence numbers of the deleted rows.
        await RebuildAsync(scenario);
        var days = await fixture.Client.GetGrain<IClientKpiGrain>(scenario.ClientId).GetSnapshot("OTD", Granularity.Day, 25);
        Assert.Equal(orders - expected["orders"], days.Recent.Sum(v => v.EventCount));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Archived_days_are_read_from_rollups_while_these_hold_their_rows_and_restored_once_they_do_not(bool rebuildRollups)
    {
        var now = DateTimeOffset.UtcNow;
        var scenario = await QueryScenario.CreateAsync(fixture.Client, fixture.Database, seed: rebuildRollups ? 11 : 12, from: now.AddDays(-25), to: now.AddDays(-1));
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(scenario.ClientId).Get())!;
        await RollUpAllAsync(scenario.ClientId, config);
        var archive = fixture.Client.GetGrain<IArchiveGrain>(scenario.ClientId);
        var before = await Queries.Calculate(new KpiQuery(scenario.ClientId, "OTD", now.AddDays(-26), now, QueryGranularity.Day));
        var mixedBefore = await Queries.Calculate(new KpiQuery(scenario.ClientId, "Q_MIXED", now.AddDays(-26), now, QueryGranularity.Day));
        var byCarrierBefore = await Queries.Calculate(new KpiQuery(scenario.ClientId, "OTD", now.AddDays(-26), now, QueryGranularity.Day, "carrier"));
        var reviewRequest = new ReviewListRequest(scenario.ClientId, now.AddDays(-20), now.AddDays(-8), Granularity.Day, "Q_LATE_VALUE");
        var reviewBefore = await fixture.Client.GetGrain<IReviewGrain>(0).List(reviewRequest);
        Assert.Null(reviewBefore.Error);
        Assert.Contains(reviewBefore.Items, i => i.Confidence?.Explanation.Contains("lack", StringComparison.Ordinal) == true);
        Assert.Empty((await archive.SetPolicy(Policy(archive: true), "tester")).Problems);
        Assert.True((await archive.RunNow()).RowsArchived > 0);
        var orders = (await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000)).Where(s => s.Source == "orders").ToList();
        Assert.True(orders.Count > 10, $"{orders.Count} segments of orders");

        // The rollups held every order before any left: the archived days are read from them, nothing comes back.
        AssertSameDays(before, await Queries.Calculate(new KpiQuery(scenario.ClientId, "OTD", now.AddDays(-26), now.AddHours(1), QueryGranularity.Day)));
        Assert.All(await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000), s => Assert.Null(s.RestoredUntil));

        // A drill-down reads rollups per hour only: the half hours that start and end each day in St John's (UTC-03:30)
        // read raw rows, whose archived days come back for them, while the hours between still come from rollups.
        var byCarrier = await Queries.Calculate(new KpiQuery(scenario.ClientId, "OTD", now.AddDays(-26), now.AddHours(1), QueryGranularity.Day, "carrier"));
        Assert.True(byCarrier.Error is null, byCarrier.Error?.Message);
        Assert.Equal(
            byCarrierBefore.Series.SelectMany(s => s.Values.Where(v => v.EventCount > 0).Select(v => (s.DimensionValue, v.BucketStart, v.Value, v.EventCount))),
            byCarrier.Series.SelectMany(s => s.Values.Where(v => v.EventCount > 0).Select(v => (s.DimensionValue, v.BucketStart, v.Value, v.EventCount))));
        Assert.True(byCarrierBefore.Series.Count > 2, $"{byCarrierBefore.Series.Count} carriers");
        Assert.Contains(await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000), s => s.Source == "orders" && s.RestoredUntil is not null);
        await ExpireRestoresAsync(scenario.ClientId);
        await archive.RunNow();

        // A KPI over a snapshot object too reads that object's rows raw: they come back, the orders and returns do not.
        AssertSameDays(mixedBefore, await Queries.Calculate(new KpiQuery(scenario.ClientId, "Q_MIXED", now.AddDays(-26), now.AddHours(1), QueryGranularity.Day)));
        var mixed = await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000);
        Assert.Contains(mixed, s => s.Source == "licenses" && s.RestoredUntil is not null);
        Assert.All(mixed.Where(s => s.Source is "orders" or "order_returns"), s => Assert.Null(s.RestoredUntil));
        Assert.Contains(mixed, s => s.Source == "order_returns");
        await ExpireRestoresAsync(scenario.ClientId);
        await archive.RunNow();

        // The review list counts the rows that lack a field the KPI reads: archived rows too, put back for it.
        var reviewAfter = await fixture.Client.GetGrain<IReviewGrain>(0).List(reviewRequest);
        Assert.Equal(
            reviewBefore.Items.Select(i => (i.Value.BucketStart, i.Confidence?.Score, i.Confidence?.Explanation)),
            reviewAfter.Items.Select(i => (i.Value.BucketStart, i.Confidence?.Score, i.Confidence?.Explanation)));
        await ExpireRestoresAsync(scenario.ClientId);
        await archive.RunNow();

        // What the archive answered a query that reads the orders through rollups, and the runner that checks it.
        DateTimeOffset? deletedBefore;
        await using (var read = fixture.Database.CreateCommand("SELECT before FROM archive.rollups_deleted WHERE client_id = $1"))
        {
            read.Parameters.AddWithValue(scenario.ClientId);
            deletedBefore = await read.ExecuteScalarAsync() is DateTime at ? new DateTimeOffset(at, TimeSpan.Zero) : null;
        }

        var archived = new ArchiveAccess([], [new ArchivedThroughRollups("orders", orders.Min(s => s.SegmentId), RowsBack: false)], [], orders.Count, 0, deletedBefore);
        var runner = new KpiQueryRunner(fixture.Database, new KpiQueryOptions { CacheDuration = TimeSpan.Zero }, TimeSpan.FromMinutes(5), NullLogger.Instance) { Archived = archived };
        var query = new KpiQuery(scenario.ClientId, "OTD", now.AddDays(-26), now, QueryGranularity.Day);
        AssertSameDays(before, await runner.RunAsync(query, config));

        if (rebuildRollups)
        {
            // Rebuilt from the rows left, the rollups miss the archived ones: a query the archive answered before that
            // finds so in its snapshot starts again (the query grain asks for every row back).
            await TermRollups.ForClient(config)["orders"].RebuildAsync(fixture.Database, scenario.ClientId, TermRollups.EveryRow, CancellationToken.None);
            Assert.Equal("orders", (await Assert.ThrowsAsync<ArchivedRowsNotBackException>(() => runner.RunAsync(query, config))).ObjectModel);
        }
        else
        {
            // Aggregates kept a week too: the next run deletes the rollups of the archived days.
            Assert.Empty((await archive.SetPolicy(new RetentionAnswers(
                new RetentionAnswer(ActiveDays, RetentionUnit.Days, true, null, RetentionUnit.Indefinite), new RetentionAnswer(ActiveDays, RetentionUnit.Days, false)), "tester")).Problems);
            Assert.True((await archive.RunNow()).RollupRowsDeleted > 0);
            // A query the archive answered before the run (its hold long lapsed) finds so in its snapshot.
            Assert.Equal("orders", (await Assert.ThrowsAsync<ArchivedRowsNotBackException>(() => runner.RunAsync(query, config))).ObjectModel);
        }

        // Either way the query reads the archived orders raw, put back, and answers as before.
        AssertSameDays(before, await Queries.Calculate(new KpiQuery(scenario.ClientId, "OTD", now.AddDays(-26), now.AddHours(2), QueryGranularity.Day)));
        var back = (await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000)).Where(s => s.Source == "orders" && s.RestoredUntil is not null);
        Assert.Equal(orders.Select(s => s.SegmentId).Order(), back.Select(s => s.SegmentId).Order());
    }

    [Fact]
    public async Task A_roll_up_that_finds_rows_of_its_range_archived_records_their_segment_as_not_held()
    {
        // As if a move had seen the partition before its rollups were reset and committed between two passes: rows the
        // next pass was to add are in a segment, not in the table.
        var now = DateTimeOffset.UtcNow;
        var scenario = await QueryScenario.CreateAsync(fixture.Client, fixture.Database, seed: 14, from: now.AddDays(-20), to: now.AddDays(-1));
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(scenario.ClientId).Get())!;
        var orders = TermRollups.ForClient(config)["orders"];
        Assert.Equal(0, await WholeAfterAsync(scenario.ClientId));
        var partition = (await orders.PartitionAsync(fixture.Database, scenario.ClientId, CancellationToken.None))!;
        Assert.True(partition.RolledUpThrough < partition.LastSequence);
        var left = partition.RolledUpThrough + 1;
        long segment;
        await using (var move = fixture.Database.CreateBatch())
        {
            move.BatchCommands.Add(new NpgsqlBatchCommand("DELETE FROM scor_data.orders WHERE client_id = $1 AND sequence = $2") { Parameters = { new() { Value = scenario.ClientId }, new() { Value = left } } });
            move.BatchCommands.Add(new NpgsqlBatchCommand(
                """
                INSERT INTO archive.segments (client_id, data_kind, source, range_from, range_to, sequences, row_count, bytes, sha256, location, archived_at)
                VALUES ($1, 'source', 'orders', now() - interval '20 days', now() - interval '19 days', int8multirange(int8range($2, $2, '[]')), 1, 1, '', $3, now())
                RETURNING segment_id
                """) { Parameters = { new() { Value = scenario.ClientId }, new() { Value = left }, new() { Value = $"{scenario.ClientId}/orders/race.csv.gz" } } });
            segment = (long)(await move.ExecuteScalarAsync())!;
        }

        await QueryScenario.RollUpAsync(orders, fixture.Database, scenario.ClientId);

        // Every coverage of the orders now takes that segment for one its rollups miss.
        Assert.Equal(segment, await WholeAfterAsync(scenario.ClientId));
    }

    /// <summary>The least whole_after_segment over the client's order coverages (each is set, or this fails).</summary>
    private async Task<long> WholeAfterAsync(string clientId)
    {
        await using var command = fixture.Database.CreateCommand(
            "SELECT min(whole_after_segment), count(*) FILTER (WHERE whole_after_segment IS NULL) FROM query.rollup_terms WHERE client_id = $1 AND object_model = 'orders'");
        command.Parameters.AddWithValue(clientId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(0, reader.GetInt64(1));
        return reader.GetInt64(0);
    }

    [Fact]
    public async Task Rows_not_rolled_up_yet_stay_until_they_are()
    {
        var now = DateTimeOffset.UtcNow;
        // The scenario rolls up half of each object model's rows.
        var scenario = await QueryScenario.CreateAsync(fixture.Client, fixture.Database, seed: 13, from: now.AddDays(-20), to: now.AddDays(-1));
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(scenario.ClientId).Get())!;
        var horizon = RetentionHorizons.Horizon(now, ActiveDays);
        var leaving = (await LeavingRowsAsync(scenario.ClientId, horizon))["orders"];
        await using var waiting = fixture.Database.CreateCommand(
            """
            SELECT count(*) FROM scor_data.orders AS t JOIN ingest.partitions AS p ON p.client_id = t.client_id AND p.object_model = 'orders'
            WHERE t.client_id = $1 AND t.ordered_at < $2 AND t.sequence > p.rolled_up_through
            """);
        waiting.Parameters.AddWithValue(scenario.ClientId);
        waiting.Parameters.AddWithValue(horizon.UtcDateTime);
        var notRolledUp = (long)(await waiting.ExecuteScalarAsync())!;
        Assert.True(notRolledUp > 0 && notRolledUp < leaving, $"{notRolledUp} of {leaving} orders wait to be rolled up");
        var archive = fixture.Client.GetGrain<IArchiveGrain>(scenario.ClientId);
        Assert.Empty((await archive.SetPolicy(Policy(archive: true), "tester")).Problems);

        await archive.RunNow();
        Assert.Equal(leaving - notRolledUp, ArchivedOrders(await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000)));
        Assert.Equal(notRolledUp, await CountAsync(scenario.ClientId, "orders", horizon));

        await RollUpAllAsync(scenario.ClientId, config);
        await archive.RunNow();
        Assert.Equal(leaving, ArchivedOrders(await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 5000)));
        Assert.Equal(0, await CountAsync(scenario.ClientId, "orders", horizon));

        static long ArchivedOrders(IEnumerable<ArchiveSegment> segments) => segments.Where(s => s.Source == "orders").Sum(s => s.Rows);
    }

    private static void AssertSameDays(KpiQueryResult before, KpiQueryResult after)
    {
        Assert.True(after.Error is null, after.Error?.Message);
        var later = Assert.Single(after.Series).Values.ToDictionary(v => v.BucketStart);
        var compared = 0;
        foreach (var value in Assert.Single(before.Series).Values.Where(v => v.EventCount > 0))
        {
            Assert.True(later.TryGetValue(value.BucketStart, out var now) && value.Value.Equals(now.Value) && value.EventCount == now.EventCount,
                $"{value.BucketStart}: {value.Value} over {value.EventCount} events before archival, {now?.Value} over {now?.EventCount} after");
            compared++;
        }

        Assert.True(compared > 15, $"only {compared} days with events compared");
    }

    /// <summary>Rolls up every row of the client's object models that have rollups, as the ingest grains do within seconds.</summary>
    private async Task RollUpAllAsync(string clientId, ClientConfig config)
    {
        foreach (var rollups in TermRollups.ForClient(config).Values)
        {
            await QueryScenario.RollUpAsync(rollups, fixture.Database, clientId);
        }
    }

    /// <summary>Changes the client's KPI set, which rebuilds its computation from the stored rows, and waits until it has them all.</summary>
    private async Task RebuildAsync(QueryScenario scenario)
    {
        var configs = fixture.Client.GetGrain<IClientConfigGrain>(scenario.ClientId);
        var config = (await configs.Get())!;
        var without = config with { SelectedKpis = [.. config.SelectedKpis.Where(k => k != "Q_MIXED")] };
        Assert.Empty(await configs.Put(without));
        Assert.Empty(await configs.Put((await configs.Get())! with { SelectedKpis = config.SelectedKpis }));
        await QueryScenario.WaitUntilAppliedAsync(fixture.Client, scenario.ClientId, scenario.LastSequences);
    }

    /// <summary>The stream's day buckets of <paramref name="kpis"/> equal the answers a query gave before archival.</summary>
    private async Task AssertStreamEqualsAsync(QueryScenario scenario, Dictionary<string, KpiQueryResult> answers, params string[] kpis)
    {
        foreach (var kpi in kpis)
        {
            var values = Assert.Single(answers[kpi].Series).Values;
            var stream = (await fixture.Client.GetGrain<IClientKpiGrain>(scenario.ClientId).GetSnapshot(kpi, Granularity.Day, values.Count + 1))
                .Recent.ToDictionary(v => v.BucketStart);
            foreach (var value in values.Where(v => v.EventCount > 0))
            {
                Assert.True(stream.TryGetValue(value.BucketStart, out var streamed), $"{kpi} {value.BucketStart}: not in the stream");
                Assert.True(value.Value.Equals(streamed.Value) && value.EventCount == streamed.EventCount,
                    $"{kpi} {value.BucketStart}: the query said {value.Value} over {value.EventCount} events, the rebuilt stream {streamed.Value} over {streamed.EventCount}");
            }
        }
    }

    /// <summary>
    /// A start for a range by month that begins within the last 6 days, which alone would not ask the archive, while its
    /// month's bucket (in the client's zone) begins before the horizon: two days ago, or else just before that month.
    /// (Only when the month's first day is within the active week is there none.)
    /// </summary>
    private static DateTimeOffset MonthRangeStart(DateTimeOffset now, DateTimeOffset horizon, ClientConfig config)
    {
        var twoDaysAgo = now.AddDays(-2);
        DateTimeOffset[] candidates = [twoDaysAgo, new DateTimeOffset(twoDaysAgo.Year, twoDaysAgo.Month, 1, 0, 0, 0, TimeSpan.Zero).AddHours(-1)];
        foreach (var from in candidates)
        {
            var bounds = KpiQueryRunner.Prepare(new KpiQuery(config.ClientId, "OTD", from, now, QueryGranularity.Month), config, new KpiQueryOptions()).Boundaries!;
            if (!RetentionHorizons.MayReadArchive(from, now) && TimeTicks.ToDateTimeOffset(bounds[0]) < horizon)
            {
                return from;
            }
        }

        // Around the 7th of a month the month began after the horizon: no such range exists, and the check is a plain one.
        return twoDaysAgo;
    }

    /// <summary>The orders OTD counts over the range, as one value.</summary>
    private async Task<long> OrdersCountedAsync(string clientId, DateTimeOffset from, DateTimeOffset to)
    {
        var result = await Queries.Calculate(new KpiQuery(clientId, "OTD", from, to, QueryGranularity.Range));
        Assert.True(result.Error is null, result.Error?.Message);
        return Assert.Single(Assert.Single(result.Series).Values).EventCount;
    }

    [Fact]
    public async Task Batch_runs_past_the_analytics_period_move_to_a_segment_handed_out_as_stored()
    {
        var clientId = "arch-runs-" + Guid.NewGuid().ToString("N")[..8];
        var now = DateTimeOffset.UtcNow;
        foreach (var (run, daysAgo) in new[] { (1, 20), (2, 10), (3, 1) })
        {
            await using var insert = fixture.Database.CreateCommand(
                """
                INSERT INTO batch.runs (job_id, run_id, client_id, trigger, status, scheduled_for, range_from, range_to, started_at, finished_at, results)
                VALUES ($1, $2, $3, 'schedule', 'succeeded', $4, $4 - interval '1 day', $4, $4, $4 + interval '1 second', '[{"kpiCode": "OTD, \"late\""}]')
                """);
            insert.Parameters.AddWithValue(clientId + "-job");
            insert.Parameters.AddWithValue((long)run);
            insert.Parameters.AddWithValue(clientId);
            insert.Parameters.AddWithValue(now.AddDays(-daysAgo).UtcDateTime);
            await insert.ExecuteNonQueryAsync();
        }

        // Files no segment names, as a crash between writing a segment and recording it leaves: an old one goes, one that
        // may still be on its way to the index stays.
        var stray = Path.Combine(fixture.ArchiveDirectory, clientId, "orders", "2026", "01", "01-stray.csv.gz");
        var recent = Path.Combine(fixture.ArchiveDirectory, clientId, "orders", "2026", "01", "02-stray.csv.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(stray)!);
        await File.WriteAllTextAsync(stray, "stray");
        await File.WriteAllTextAsync(recent, "recent");
        File.SetLastWriteTimeUtc(stray, DateTime.UtcNow.AddHours(-2));

        var archive = fixture.Client.GetGrain<IArchiveGrain>(clientId);
        Assert.Empty((await archive.SetPolicy(new RetentionAnswers(
            new RetentionAnswer(ActiveDays, RetentionUnit.Days, false), new RetentionAnswer(ActiveDays, RetentionUnit.Days, true, 1, RetentionUnit.Years)), "tester")).Problems);
        var result = await archive.RunNow();

        Assert.False(File.Exists(stray));
        Assert.True(File.Exists(recent));

        Assert.Equal(2, result.RowsArchived);
        var segment = Assert.Single(await archive.Segments(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, 10));
        Assert.Equal((ArchivedDataKind.Analytics, "batch_runs", 2L), (segment.Kind, segment.Source, segment.Rows));
        Assert.Equal(segment.To.AddDays(ActiveDays + 365), segment.ExpiresAt);
        Assert.True(File.Exists(Path.Combine(fixture.ArchiveDirectory, segment.Location)));
        await using (var left = fixture.Database.CreateCommand("SELECT array_agg(run_id ORDER BY run_id) FROM batch.runs WHERE client_id = $1"))
        {
            left.Parameters.AddWithValue(clientId);
            var runsLeft = (long[])(await left.ExecuteScalarAsync())!;
            Assert.Equal(new long[] { 3 }, runsLeft);
        }

        var file = await archive.ReadSegment(segment.SegmentId);
        Assert.NotNull(file?.Content);
        using var csv = new StreamReader(new System.IO.Compression.GZipStream(new MemoryStream(file.Content), System.IO.Compression.CompressionMode.Decompress));
        var lines = (await csv.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("job_id,run_id,client_id,", lines[0], StringComparison.Ordinal);
        Assert.Equal(3, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Contains("OTD, \\\"\"late\\\"\"", l, StringComparison.Ordinal));
        Assert.Null(await archive.ReadSegment(segment.SegmentId + 1_000_000));
    }

    [Fact]
    public async Task A_run_moves_no_rows_while_queries_an_earlier_activation_let_read_them_may_run()
    {
        var clientId = "arch-held-" + Guid.NewGuid().ToString("N")[..8];
        var old = DateTimeOffset.UtcNow.AddDays(-20).UtcDateTime;
        await using (var insert = fixture.Database.CreateCommand(
            """
            INSERT INTO scor_data.orders (client_id, sequence, order_id, ordered_at, order_value, promised_at, on_time, in_full, damage_free, documentation_complete, status)
            VALUES ($1, 1, 'h-1', $2, 10, $2, true, true, true, true, 'delivered'), ($1, 2, 'h-2', $2, 20, $2, false, true, true, true, 'delivered')
            """))
        {
            insert.Parameters.AddWithValue(clientId);
            insert.Parameters.AddWithValue(old);
            await insert.ExecuteNonQueryAsync();
        }

        // As an activation lost with its silo leaves it: a hold recorded, and no one in memory to end it.
        var held = DateTimeOffset.UtcNow.AddMinutes(30);
        await SetHoldAsync(clientId, held);
        var archive = fixture.Client.GetGrain<IArchiveGrain>(clientId);
        Assert.Empty((await archive.SetPolicy(Policy(archive: true), "tester")).Problems);

        var postponed = await archive.RunNow();
        Assert.Equal(0, postponed.RowsArchived);
        Assert.Equal(held.UtcDateTime, postponed.MovesPostponedUntil?.UtcDateTime ?? default, TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, await TotalAsync(clientId, "orders"));

        // The hold over, the next run moves them.
        await SetHoldAsync(clientId, DateTimeOffset.UtcNow.AddSeconds(-1));
        var moved = await archive.RunNow();
        Assert.Equal(2, moved.RowsArchived);
        Assert.Null(moved.MovesPostponedUntil);

        // This activation's own holds, once their queries ended, postpone nothing (and are recorded for the next one).
        var query = Guid.NewGuid();
        Assert.Equal(1, (await archive.PrepareQuery(query, ArchiveQuery.RawRowsOnly(DateTimeOffset.UtcNow.AddDays(-21), DateTimeOffset.UtcNow, ["orders"]))).SegmentsRestored);
        await archive.EndQuery(query);
        await using (var recorded = fixture.Database.CreateCommand("SELECT held_until > now() + interval '30 minutes' FROM archive.holds WHERE client_id = $1"))
        {
            recorded.Parameters.AddWithValue(clientId);
            Assert.True((bool)(await recorded.ExecuteScalarAsync())!);
        }

        Assert.Null((await archive.RunNow()).MovesPostponedUntil);

        // An activation that deactivates with no query in flight ends the hold it recorded, but not a later one another
        // activation recorded since.
        var index = new SegmentIndex(fixture.Database);
        var later = DateTimeOffset.UtcNow.AddHours(2);
        await index.HoldUntilAsync(clientId, later, CancellationToken.None);
        await index.ReleaseHoldAsync(clientId, DateTimeOffset.UtcNow.AddHours(1), CancellationToken.None);
        Assert.True(await index.HeldUntilAsync(clientId, CancellationToken.None) > DateTimeOffset.UtcNow.AddMinutes(90));
        await index.ReleaseHoldAsync(clientId, later, CancellationToken.None);
        Assert.True(await index.HeldUntilAsync(clientId, CancellationToken.None) <= DateTimeOffset.UtcNow);

        await using var cleanUp = fixture.Database.CreateCommand("DELETE FROM scor_data.orders WHERE client_id = $1");
        cleanUp.Parameters.AddWithValue(clientId);
        await cleanUp.ExecuteNonQueryAsync();
    }

    private async Task SetHoldAsync(string clientId, DateTimeOffset until)
    {
        await using var command = fixture.Database.CreateCommand(
            "INSERT INTO archive.holds (client_id, held_until) VALUES ($1, $2) ON CONFLICT (client_id) DO UPDATE SET held_until = excluded.held_until");
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(until.UtcDateTime);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task A_policy_keeps_a_week_active_at_least_and_meets_compliance_minimums()
    {
        var archive = fixture.Client.GetGrain<IArchiveGrain>("retention-rules");
        var tooShort = await archive.SetPolicy(new RetentionAnswers(new RetentionAnswer(3, RetentionUnit.Days, false)), "tester");
        Assert.Null(tooShort.Policy);
        Assert.Contains(tooShort.Problems, p => p.StartsWith("stagedSourceData.activePeriod:", StringComparison.Ordinal) && p.Contains("3 days", StringComparison.Ordinal));

        var sox = await archive.SetPolicy(new RetentionAnswers(new RetentionAnswer(90, RetentionUnit.Days, false), Compliance: [ComplianceRegime.Sox]), "tester");
        Assert.Empty(sox.Problems);
        Assert.Equal(new RetentionPlan(90, true, 7 * 365 - 90), sox.Policy!.Effective.StagedSourceData);
        Assert.NotEmpty(sox.Policy.Effective.Notes);
        var saved = await archive.GetPolicy();
        Assert.Equal(sox.Policy.Effective.StagedSourceData, saved!.Effective.StagedSourceData);
        Assert.Equal(sox.Policy.UpdatedAt, saved.UpdatedAt);
        Assert.True(await archive.RemovePolicy());
        Assert.Null(await archive.GetPolicy());
    }

    private async Task<Dictionary<string, KpiQueryResult>> AnswersAsync(QueryScenario scenario, DateTimeOffset from, DateTimeOffset to)
    {
        var answers = new Dictionary<string, KpiQueryResult>(StringComparer.Ordinal);
        foreach (var kpi in scenario.Kpis)
        {
            var result = await Queries.Calculate(new KpiQuery(scenario.ClientId, kpi, from, to, QueryGranularity.Day));
            Assert.True(result.Error is null, $"{kpi}: {result.Error}");
            answers[kpi] = result;
        }

        return answers;
    }

    private static void AssertSameBuckets(Dictionary<string, KpiQueryResult> before, Dictionary<string, KpiQueryResult> after)
    {
        var compared = 0;
        foreach (var (kpi, result) in before)
        {
            var later = Assert.Single(after[kpi].Series).Values.ToDictionary(v => v.BucketStart);
            foreach (var value in Assert.Single(result.Series).Values)
            {
                Assert.True(later.TryGetValue(value.BucketStart, out var now), $"{kpi} {value.BucketStart}: no bucket");
                Assert.True(value.Value.Equals(now.Value) && value.EventCount == now.EventCount,
                    $"{kpi} {value.BucketStart}: {value.Value} over {value.EventCount} events before archival, {now.Value} over {now.EventCount} after");
                compared += value.EventCount > 0 ? 1 : 0;
            }
        }

        Assert.True(compared > 100, $"only {compared} buckets with events compared");
    }

    /// <summary>Per object model, the rows a run should take out: older than the horizon, and of a snapshot object replaced by a newer row of its key before it.</summary>
    private async Task<Dictionary<string, long>> LeavingRowsAsync(string clientId, DateTimeOffset horizon)
    {
        var rows = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var model in BuiltInCatalog.ObjectModels)
        {
            var table = ObjectModelTables.BuiltIn.Get(model.Code);
            var time = table.EventTimeColumn;
            var keys = string.Join(" AND ", model.KeyFields.Select(k => $"newer.\"{k}\" = old.\"{k}\""));
            var replaced = model.Kind == ObjectKind.Snapshot
                ? $" AND EXISTS (SELECT 1 FROM {table.QualifiedName} AS newer WHERE newer.client_id = old.client_id AND {keys} AND newer.{time} < $2 " +
                  $"AND (newer.{time} > old.{time} OR (newer.{time} = old.{time} AND newer.sequence > old.sequence)))"
                : "";
            await using var command = fixture.Database.CreateCommand($"SELECT count(*) FROM {table.QualifiedName} AS old WHERE old.client_id = $1 AND old.{time} < $2{replaced}");
            command.Parameters.AddWithValue(clientId);
            command.Parameters.AddWithValue(horizon.UtcDateTime);
            rows[model.Code] = (long)(await command.ExecuteScalarAsync())!;
        }

        return rows;
    }

    private async Task<long> CountAsync(string clientId, string model, DateTimeOffset before)
    {
        var table = ObjectModelTables.BuiltIn.Get(model);
        await using var command = fixture.Database.CreateCommand($"SELECT count(*) FROM {table.QualifiedName} WHERE client_id = $1 AND {table.EventTimeColumn} < $2");
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(before.UtcDateTime);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private Task<long> TotalAsync(string clientId, string model) => CountAsync(clientId, model, DateTimeOffset.MaxValue);

    private async Task ExpireRestoresAsync(string clientId)
    {
        await using var command = fixture.Database.CreateCommand(
            "UPDATE archive.segments SET restored_until = now() - interval '1 second' WHERE client_id = $1 AND restored_until IS NOT NULL");
        command.Parameters.AddWithValue(clientId);
        await command.ExecuteNonQueryAsync();
    }
}
