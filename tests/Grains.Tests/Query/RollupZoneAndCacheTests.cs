using System.Globalization;
using System.Text.Json;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Formula;
using AnalyticsEngine.Query;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// Rollups in zones whose hours and days are not UTC's (Kathmandu +05:45, St. John's −03:30/−02:30) and across DST
/// changes, against raw rows and a hand-written SQL query; and the result cache: hit, shared through Redis, and
/// replaced as soon as an event lands in a bucket it covers.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class RollupZoneAndCacheTests(KpiClusterFixture fixture)
{
    private static readonly KpiDefinition[] Custom =
    [
        new("R_MIXED", "R_MIXED", "Rolled-up and raw terms together.",
            "sum(orders.order_value) filter (where orders.on_time) / count(orders) + count_distinct(orders.carrier)", "", KpiDirection.HigherIsBetter, [], "custom", "custom"),
    ];

    [Theory]
    [InlineData("Asia/Kathmandu", "2026-06-10T00:00:00Z")]
    [InlineData("America/St_Johns", "2026-03-07T12:00:00Z")] // spring forward on 8 March
    [InlineData("America/St_Johns", "2026-10-31T12:00:00Z")] // fall back on 1 November
    [InlineData("Europe/Berlin", "2026-10-24T00:00:00Z")] // fall back on 25 October
    public async Task Rollups_equal_raw_rows_and_hand_written_sql_in_odd_zones_and_across_dst(string zone, string start)
    {
        var from = DateTimeOffset.Parse(start, CultureInfo.InvariantCulture);
        var to = from.AddDays(3);
        var clientId = await CreateClientAsync(zone, seed: zone.Length * 31 + from.Month, from, to, rows: 700);
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        var raw = Runner(useRollups: false);
        var rolled = Runner(useRollups: true);
        // First with the newest rows after the watermark (read raw), then with every row rolled up.
        Assert.InRange(await RolledUpThroughAsync(clientId), 1, await LastSequenceAsync(clientId) - 1);
        foreach (var phase in new[] { "part rolled up", "all rolled up" })
        {
            if (phase == "all rolled up")
            {
                await TermRollups.ForCatalog["orders"].RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
                Assert.Equal(await LastSequenceAsync(clientId), await RolledUpThroughAsync(clientId));
            }

            foreach (var kpi in new[] { "POF", "OTD", "R_MIXED" }.Concat(BuiltInCatalog.Kpis.Where(k => k.RequiredObjects.SequenceEqual(new[] { "orders" })).Select(k => k.Code)).Distinct())
            {
                var formula = KpiFormula.Compile(ClientKpis.Find(config, kpi)!.Formula, BuiltInCatalog.ObjectModelsByCode).Formula!;
                var rollable = formula.Aggregates.All(t => TermRollups.ForCatalog["orders"].TermIds.ContainsKey(t.StateKey));
                foreach (var granularity in new[] { QueryGranularity.Hour, QueryGranularity.Day, QueryGranularity.Range })
                {
                    var query = new KpiQuery(clientId, kpi, from.AddMinutes(-3), to.AddMinutes(7), granularity);
                    var expected = Assert.Single((await raw.RunAsync(query, config)).Series).Values;
                    var actual = Assert.Single((await rolled.RunAsync(query, config)).Series).Values;
                    // R_MIXED's terms are not all the catalog's, and count_distinct never rolls up: it reads raw rows.
                    Assert.True(rolled.LastRunUsedRollups == rollable, $"{kpi} {granularity}: rollups {rolled.LastRunUsedRollups}");
                    Assert.Equal(expected.Count, actual.Count);
                    for (var i = 0; i < expected.Count; i++)
                    {
                        var where = $"{phase}: {kpi} {granularity} [{expected[i].BucketStart:O}, {expected[i].BucketEnd:O})";
                        Assert.True(expected[i].Value == actual[i].Value, $"{where}: raw {expected[i].Value}, rollups {actual[i].Value}");
                        Assert.True(expected[i].EventCount == actual[i].EventCount, $"{where}: raw {expected[i].EventCount} events, rollups {actual[i].EventCount}");
                        Assert.Equal(expected[i].BucketStart, actual[i].BucketStart);
                        Assert.Equal(expected[i].NewestEventTime, actual[i].NewestEventTime);
                        Assert.Equal(string.Join(" | ", expected[i].Components), string.Join(" | ", actual[i].Components));
                        Assert.Equal(expected[i].AsOf, actual[i].AsOf);
                    }
                }
            }
        }

        // POF per local day, by hand: date_trunc in the zone gives the 23- and 25-hour days their real midnights.
        var hand = new Dictionary<DateTimeOffset, double>();
        await using (var command = fixture.Database.CreateCommand(
            """
            SELECT date_trunc('day', ordered_at AT TIME ZONE $2) AT TIME ZONE $2,
                   100.0 * count(*) FILTER (WHERE on_time AND in_full AND damage_free AND documentation_complete) / count(*)
            FROM scor_data.orders WHERE client_id = $1 GROUP BY 1
            """))
        {
            command.Parameters.AddWithValue(clientId);
            command.Parameters.AddWithValue(zone);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                hand[new DateTimeOffset(reader.GetFieldValue<DateTime>(0), TimeSpan.Zero)] = (double)reader.GetDecimal(1);
            }
        }

        var days = Assert.Single((await rolled.RunAsync(new KpiQuery(clientId, "POF", from.AddDays(-1), to.AddDays(1), QueryGranularity.Day), config)).Series).Values;
        Assert.True(rolled.LastRunUsedRollups);
        Assert.Equal(hand.Count, days.Count(d => d.Value is not null));
        foreach (var day in days.Where(d => d.Value is not null))
        {
            Assert.Equal(hand[day.BucketStart], day.Value!.Value, 9);
        }
    }

    [Fact]
    public async Task A_cached_result_is_served_again_shared_through_redis_kept_through_events_elsewhere_and_replaced_once_one_lands_in_a_bucket_it_covers()
    {
        var now = DateTimeOffset.UtcNow;
        var clientId = await CreateClientAsync("Asia/Kathmandu", seed: 7, now.AddHours(-5), now.AddMinutes(-1), rows: 120);
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        using var hits = new CounterTotal("ae.query.cache.hits");

        await using var first = CacheServices();
        await using var second = CacheServices(); // another silo: its own first level, the same Redis
        var cache = first.GetRequiredService<KpiQueryCache>();
        var otherCache = second.GetRequiredService<KpiQueryCache>();
        var query = new KpiQuery(clientId, "POF", now.AddHours(-6), now, QueryGranularity.Hour);

        var computing = Runner(true, cache);
        var computed = await computing.RunAsync(query, config);
        Assert.True(computing.LastRunInOneRoundTrip); // its statement went with its snapshot, and its answer to the cache
        var again = await Runner(true, cache).RunAsync(query, config);
        await WaitUntilInRedisAsync($"ae:query:{clientId}:POF:*"); // the second level may be written after the answer returns
        var elsewhere = await Runner(true, otherCache).RunAsync(query, config);

        Assert.Equal((1, 1), (cache.Misses, cache.Hits));
        Assert.Equal((0, 1), (otherCache.Misses, otherCache.Hits));
        Assert.True(hits.Total >= 2, "ae.query.cache.hits was not recorded");
        Assert.Equal(Flatten(computed), Flatten(again));
        Assert.Equal(Flatten(computed), Flatten(elsewhere));

        // An event three days ago lands in no bucket of the result: it is still served, as of the new position, and
        // equals what the query computes afresh.
        await IngestAsync(clientId, [Order("old-1", now.AddDays(-3), perfect: false)]);
        var still = await Runner(true, cache).RunAsync(query, config);
        var recomputed = await Runner(true).RunAsync(query, config);

        Assert.Equal((1, 2), (cache.Misses, cache.Hits));
        Assert.Equal(Flatten(recomputed), Flatten(still));
        Assert.NotEqual(Flatten(computed), Flatten(still)); // AsOf moved on

        // One late event half an hour ago: its bucket is in the cached result, so the next answer must include it.
        var late = now.AddMinutes(-30);
        await IngestAsync(clientId, [Order("late-1", late, perfect: true)]);
        var fresh = await Runner(true, cache).RunAsync(query, config);

        Assert.Equal((2, 2), (cache.Misses, cache.Hits));
        var before = Assert.Single(computed.Series).Values.Single(v => v.BucketStart <= late && late < v.BucketEnd);
        var after = Assert.Single(fresh.Series).Values.Single(v => v.BucketStart <= late && late < v.BucketEnd);
        Assert.Equal(before.EventCount + 1, after.EventCount);
        Assert.Equal(Assert.Single(computed.Series).Values.Sum(v => v.EventCount) + 1, Assert.Single(fresh.Series).Values.Sum(v => v.EventCount));
    }

    [Fact]
    public async Task A_quiet_client_s_statement_leaves_out_the_rows_after_the_watermark_and_is_dropped_once_some_arrive()
    {
        var (clientId, config, query) = await QuietClientAsync(seed: 13);
        var late = query.To.AddMinutes(-30);
        var raw = Runner(useRollups: false);
        var rolled = Runner(useRollups: true);

        // The first query finds the partition quiet and rolled up to the end; the second leaves its rows after the
        // watermark out.
        var first = await rolled.RunAsync(query, config);
        var quiet = await rolled.RunAsync(query, config);
        Assert.True(rolled.LastRunInOneRoundTrip);
        Assert.Equal(Flatten(first), Flatten(quiet));
        Assert.Equal(Flatten(await raw.RunAsync(query, config)), Flatten(quiet));

        // A late order after the watermark: the shorter statement's answer is dropped, and the answer counts it.
        await IngestAsync(clientId, [Order("late-1", late, perfect: true)]);
        Assert.True(await RolledUpThroughAsync(clientId) < await LastSequenceAsync(clientId));
        var active = await rolled.RunAsync(query, config);
        Assert.False(rolled.LastRunInOneRoundTrip);
        Assert.Equal(Flatten(await raw.RunAsync(query, config)), Flatten(active));
        var before = Assert.Single(quiet.Series).Values.Single(v => v.BucketStart <= late && late < v.BucketEnd);
        Assert.Equal(before.EventCount + 1, Assert.Single(active.Series).Values.Single(v => v.BucketStart <= late && late < v.BucketEnd).EventCount);

        // Rolled up again but not quiet (rows just came): the next queries read the rows after the watermark, in one
        // round trip, and are not dropped when more come.
        await TermRollups.ForCatalog["orders"].RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        Assert.Equal(Flatten(active), Flatten(await rolled.RunAsync(query, config)));
        await IngestAsync(clientId, [Order("late-2", late, perfect: false)]);
        var busy = await rolled.RunAsync(query, config);
        Assert.True(rolled.LastRunInOneRoundTrip);
        Assert.Equal(Flatten(await raw.RunAsync(query, config)), Flatten(busy));

        // Quiet again, and rolled up: the shorter statement comes back, as the next late order shows.
        await TermRollups.ForCatalog["orders"].RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        await CommittedLongAgoAsync(clientId);
        Assert.Equal(Flatten(busy), Flatten(await rolled.RunAsync(query, config)));
        await IngestAsync(clientId, [Order("late-3", late, perfect: true)]);
        var again = await rolled.RunAsync(query, config);
        Assert.False(rolled.LastRunInOneRoundTrip);
        Assert.Equal(Flatten(await raw.RunAsync(query, config)), Flatten(again));
    }

    [Fact]
    public async Task A_cache_check_that_finds_new_rows_has_the_next_statement_read_them_in_its_one_round_trip()
    {
        var (clientId, config, query) = await QuietClientAsync(seed: 14);
        await using var services = CacheServices();
        var rolled = Runner(true, services.GetRequiredService<KpiQueryCache>());
        await rolled.RunAsync(query, config); // found quiet and rolled up to the end: the client's next statement leaves the rows after the watermark out

        // A late order in the cached range: the cache check's own snapshot sees it after the watermark, so the statement
        // that follows reads those rows rather than being written from the older finding and dropped.
        await IngestAsync(clientId, [Order("late-1", query.To.AddMinutes(-30), perfect: true)]);
        var fresh = await rolled.RunAsync(query, config);

        Assert.True(rolled.LastRunInOneRoundTrip);
        Assert.Equal(Flatten(await Runner(false).RunAsync(query, config)), Flatten(fresh));
    }

    /// <summary>
    /// A client whose orders of the last five hours are all rolled up and were committed an hour ago (as far as the
    /// partition says), and a query of POF by hour over the last six.
    /// </summary>
    private async Task<(string ClientId, ClientConfig Config, KpiQuery Query)> QuietClientAsync(int seed)
    {
        var now = DateTimeOffset.UtcNow;
        var clientId = await CreateClientAsync("UTC", seed, now.AddHours(-5), now.AddMinutes(-1), rows: 120);
        await TermRollups.ForCatalog["orders"].RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
        await CommittedLongAgoAsync(clientId);
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        return (clientId, config, new KpiQuery(clientId, "POF", now.AddHours(-6), now, QueryGranularity.Hour));
    }

    /// <summary>The client's orders were last committed an hour ago, as far as the partition says.</summary>
    private async Task CommittedLongAgoAsync(string clientId)
    {
        await using var command = fixture.Database.CreateCommand(
            "UPDATE ingest.partitions SET last_committed_at = now() - interval '1 hour' WHERE client_id = $1 AND object_model = 'orders'");
        command.Parameters.AddWithValue(clientId);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    /// <summary>
    /// Over raw rows, where a statement costs most: the callers read the same positions, and all but one wait for its
    /// run. (A statement over rollups alone, sent with its snapshot, is run by each caller.)
    /// </summary>
    [Fact]
    public async Task Concurrent_callers_of_the_same_query_over_raw_rows_run_its_statement_once()
    {
        var now = DateTimeOffset.UtcNow;
        var clientId = await CreateClientAsync("UTC", seed: 11, now.AddHours(-5), now.AddMinutes(-1), rows: 120);
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        await using var services = CacheServices();
        var cache = services.GetRequiredService<KpiQueryCache>();
        var query = new KpiQuery(clientId, "POF", now.AddHours(-6), now, QueryGranularity.Hour);

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Runner(false, cache).RunAsync(query, config))));

        Assert.Equal((1, 7), (cache.Misses, cache.Hits));
        Assert.Single(answers.Select(Flatten).Distinct());
    }

    [Fact]
    public async Task A_caller_that_leaves_a_shared_run_takes_nothing_from_the_callers_still_waiting_on_it()
    {
        var now = DateTimeOffset.UtcNow;
        var clientId = await CreateClientAsync("UTC", seed: 12, now.AddHours(-5), now.AddMinutes(-1), rows: 60);
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        await using var services = CacheServices();
        var cache = services.GetRequiredService<KpiQueryCache>();
        var query = new KpiQuery(clientId, "POF", now.AddHours(-6), now, QueryGranularity.Hour);
        // Each caller on a data source of its own, to see in pg_stat_activity how far each has gone.
        var name = "shared-run-" + Guid.NewGuid().ToString("N")[..8];
        await using var leaving = NpgsqlDataSource.Create($"{KpiClusterFixture.Postgres};Application Name={name}-a");
        await using var staying = NpgsqlDataSource.Create($"{KpiClusterFixture.Postgres};Application Name={name}-b");
        KpiQueryRunner RunnerOn(NpgsqlDataSource source) =>
            new(source, new KpiQueryOptions { UseRollups = false }, TimeSpan.FromMinutes(5), NullLogger.Instance, cache);

        // The run (over raw rows: the client's rows are read first) waits on a lock of the orders table; the caller
        // that started it leaves while another, at the same positions, waits on it.
        await using var holder = await fixture.Database.OpenConnectionAsync();
        var transaction = await holder.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("LOCK TABLE scor_data.orders IN ACCESS EXCLUSIVE MODE", holder, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        using var leave = new CancellationTokenSource();
        var first = RunnerOn(leaving).RunAsync(query, config, leave.Token);
        await TestDatabase.WaitUntilBlockedByAsync(holder.ProcessID, "scor_data");
        var second = RunnerOn(staying).RunAsync(query, config);
        await WaitUntilPositionsReadAsync($"{name}-b"); // it joins the run next
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        await transaction.RollbackAsync();

        var answer = await second.WaitAsync(TimeSpan.FromSeconds(30)); // on the leaving caller's connection, the run never ended
        Assert.Null(answer.Error);
        Assert.Equal(Flatten(await Runner(false).RunAsync(query, config)), Flatten(answer));
        // The run kept its answer as the query's newest, although the caller that started it had gone: the next caller
        // checks that one entry, rather than reading positions and the entry under them as well.
        var database = new NpgsqlConnectionStringBuilder(KpiClusterFixture.Postgres);
        var key = KpiQueryCache.Key($"{database.Host}:{database.Port}/{database.Database}", clientId, "POF", BuiltInCatalog.FindKpi("POF")!.Formula, "UTC", query);
        Assert.NotNull(await cache.NewestAsync(key, CancellationToken.None));
        Assert.Null((await RunnerOn(leaving).RunAsync(query with { To = now.AddMinutes(-30) }, config)).Error);
    }

    [Fact]
    public async Task A_cached_result_over_snapshot_rows_is_kept_through_a_row_after_its_range_and_replaced_by_one_before_its_end()
    {
        var now = DateTimeOffset.UtcNow;
        var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        var clientId = "rs-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Snapshot cache", "UTC", ["MSP_LICENSE_WASTE"], [], [], 0)));
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        await IngestLicensesAsync(clientId, License("a", hour.AddHours(-5), used: 4), License("b", hour.AddHours(-4), used: 8));
        await using var services = CacheServices();
        var cache = services.GetRequiredService<KpiQueryCache>();
        var query = new KpiQuery(clientId, "MSP_LICENSE_WASTE", hour.AddHours(-6), hour.AddHours(-2), QueryGranularity.Hour);
        var computed = await Runner(true, cache).RunAsync(query, config);
        Assert.Equal(new double?[] { 0, 12, 16, 16 }, Values(computed)); // (10 - used) × 2 per active license

        // A row after the range's end replaces "a" from then on only: every bucket of the result stands.
        await IngestLicensesAsync(clientId, License("a", hour.AddHours(-1), used: 10));
        var kept = await Runner(true, cache).RunAsync(query, config);
        Assert.Equal((1, 1), (cache.Misses, cache.Hits));
        Assert.Equal(Flatten(await Runner(true).RunAsync(query, config)), Flatten(kept));

        // A row long before the range, of a license never seen: it is that license's latest in every bucket.
        await IngestLicensesAsync(clientId, License("c", hour.AddDays(-3), used: 0));
        var replaced = await Runner(true, cache).RunAsync(query, config);
        Assert.Equal((2, 1), (cache.Misses, cache.Hits));
        Assert.Equal(new double?[] { 20, 32, 36, 36 }, Values(replaced));
    }

    [Fact]
    public async Task A_cached_result_over_two_object_models_is_checked_against_each()
    {
        var now = DateTimeOffset.UtcNow;
        var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        var clientId = "rm-" + Guid.NewGuid().ToString("N")[..10];
        KpiDefinition[] custom =
        [
            new("R_PER_LICENSE", "R_PER_LICENSE", "Orders per active license.",
                "count(orders) / greatest(count(licenses) filter (where licenses.status = 'Active'), 1)", "", KpiDirection.HigherIsBetter, [], "custom", "custom"),
        ];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Two models", "UTC", ["R_PER_LICENSE"], custom, [], 0)));
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        await IngestLicensesAsync(clientId, License("a", hour.AddHours(-5), used: 1), License("b", hour.AddHours(-5), used: 1));
        await IngestAsync(clientId, [Order("o-1", hour.AddHours(-3).AddMinutes(10), perfect: true), Order("o-2", hour.AddHours(-3).AddMinutes(20), perfect: true)]);
        await using var services = CacheServices();
        var cache = services.GetRequiredService<KpiQueryCache>();
        var query = new KpiQuery(clientId, "R_PER_LICENSE", hour.AddHours(-4), hour.AddHours(-2), QueryGranularity.Hour);
        Assert.Equal(new double?[] { 0, 1 }, Values(await Runner(true, cache).RunAsync(query, config)));

        // Rows of either object model after the range: still served.
        await IngestAsync(clientId, [Order("o-3", hour.AddMinutes(-30), perfect: true)]);
        await IngestLicensesAsync(clientId, License("c", hour.AddMinutes(-30), used: 1));
        Assert.Equal(new double?[] { 0, 1 }, Values(await Runner(true, cache).RunAsync(query, config)));
        Assert.Equal((1, 1), (cache.Misses, cache.Hits));

        // A license before the range's end (a snapshot object: the latest of its key from then on), then an order in it.
        await IngestLicensesAsync(clientId, License("d", hour.AddHours(-6), used: 1));
        Assert.Equal(new double?[] { 0, 2.0 / 3 }, Values(await Runner(true, cache).RunAsync(query, config)));
        await IngestAsync(clientId, [Order("o-4", hour.AddHours(-4).AddMinutes(5), perfect: true)]);
        Assert.Equal(new double?[] { 1.0 / 3, 2.0 / 3 }, Values(await Runner(true, cache).RunAsync(query, config)));
        Assert.Equal((3, 1), (cache.Misses, cache.Hits));
    }

    private static double?[] Values(KpiQueryResult result) => Assert.Single(result.Series).Values.Select(v => v.Value).ToArray();

    private static Dictionary<string, object?> License(string id, DateTimeOffset at, int used) => new()
    {
        ["license_id"] = id,
        ["client_name"] = "Client",
        ["product_name"] = "Product",
        ["seats_purchased"] = 10,
        ["seats_used"] = used,
        ["cost_per_seat"] = 2.0,
        ["status"] = "Active",
        ["updated_at"] = at.ToString("O", CultureInfo.InvariantCulture),
    };

    private async Task IngestLicensesAsync(string clientId, params Dictionary<string, object?>[] rows)
    {
        var result = await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "licenses"))
            .Ingest(new IngestRequest(IngestFormat.Json, JsonSerializer.SerializeToUtf8Bytes(rows), IngestPolicy.RejectBatch, null));
        Assert.True(result.Status == IngestStatus.Committed, string.Join("; ", result.Errors));
    }

    private static async Task WaitUntilInRedisAsync(string pattern)
    {
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(RedisConfiguration);
        var server = redis.GetServers()[0];
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!server.Keys(pattern: pattern).Any())
        {
            Assert.True(DateTime.UtcNow < deadline, $"no key {pattern} in Redis after 10 s");
            await Task.Delay(20);
        }
    }

    /// <summary>Waits until a connection named <paramref name="application"/> has read a query's positions and is idle.</summary>
    private static async Task WaitUntilPositionsReadAsync(string application)
    {
        await using var command = TestDatabase.DataSource.CreateCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle%' AND strpos(query, 'ingest.partitions') + strpos(query, 'COMMIT') > 0");
        command.Parameters.AddWithValue(application);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((long)(await command.ExecuteScalarAsync())! == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"no connection of {application} read the positions within 30 s");
            await Task.Delay(20);
        }
    }

    private static string RedisConfiguration => Environment.GetEnvironmentVariable("ConnectionStrings__Redis") ?? "127.0.0.1:56379";

    private static ServiceProvider CacheServices()
    {
        var services = new ServiceCollection();
        services.AddHybridCache();
        services.AddStackExchangeRedisCache(o => o.Configuration = RedisConfiguration);
        services.AddOptions<KpiQueryOptions>();
        services.AddSingleton<KpiQueryCache>();
        return services.BuildServiceProvider();
    }

    private Task<long> RolledUpThroughAsync(string clientId) => PartitionAsync(clientId, "rolled_up_through");

    private Task<long> LastSequenceAsync(string clientId) => PartitionAsync(clientId, "last_sequence");

    private async Task<long> PartitionAsync(string clientId, string column)
    {
        await using var command = fixture.Database.CreateCommand($"SELECT {column} FROM ingest.partitions WHERE client_id = $1 AND object_model = 'orders'");
        command.Parameters.AddWithValue(clientId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string Flatten(KpiQueryResult result) => JsonSerializer.Serialize(result);

    private KpiQueryRunner Runner(bool useRollups, KpiQueryCache? cache = null) =>
        new(fixture.Database, new KpiQueryOptions { UseRollups = useRollups }, TimeSpan.FromMinutes(5), NullLogger.Instance, cache);

    /// <summary>A client in <paramref name="zone"/> with random orders in [from, to), ingested out of order, the oldest sixth last.</summary>
    private async Task<string> CreateClientAsync(string zone, int seed, DateTimeOffset from, DateTimeOffset to, int rows)
    {
        var clientId = "r-" + Guid.NewGuid().ToString("N")[..10];
        var problems = await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Rollups", zone, ["POF", "R_MIXED"], Custom, [], 0));
        Assert.Empty(problems);
        var random = new Random(seed);
        var span = (to - from).Ticks;
        var orders = Enumerable.Range(0, rows)
            .Select(i => (Time: from.AddTicks(random.NextInt64(span) / 10_000 * 10_000), Index: i))
            .Select(o => (o.Time, Row: Order($"o-{o.Index}", o.Time, random.Next(3) > 0, random)))
            .OrderBy(_ => random.Next())
            .ToList();
        var late = orders.OrderBy(o => o.Time).Take(rows / 6).ToHashSet();
        var ordered = orders.Where(o => !late.Contains(o)).Concat(late).Select(o => o.Row).ToArray();
        // Rolled up after two thirds of the batches: the rest, the late rows among them, are read raw after the watermark.
        var batches = ordered.Chunk(70).ToArray();
        for (var i = 0; i < batches.Length; i++)
        {
            await IngestAsync(clientId, batches[i]);
            if (i == batches.Length * 2 / 3)
            {
                await TermRollups.ForCatalog["orders"].RollUpAsync(fixture.Database, clientId, TermRollups.EveryRow, CancellationToken.None);
            }
        }

        return clientId;
    }

    private async Task IngestAsync(string clientId, Dictionary<string, object?>[] rows)
    {
        var result = await fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"))
            .Ingest(new IngestRequest(IngestFormat.Json, JsonSerializer.SerializeToUtf8Bytes(rows), IngestPolicy.RejectBatch, null));
        Assert.True(result.Status == IngestStatus.Committed, string.Join("; ", result.Errors));
    }

    private static Dictionary<string, object?> Order(string id, DateTimeOffset at, bool perfect, Random? random = null)
    {
        random ??= new Random(1);
        return new Dictionary<string, object?>
        {
            ["order_id"] = id,
            ["ordered_at"] = at.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["order_value"] = random.Next(0, 400) * 0.25,
            ["promised_at"] = at.AddDays(2).ToString("O", CultureInfo.InvariantCulture),
            ["on_time"] = perfect || random.Next(2) == 0,
            ["in_full"] = perfect || random.Next(4) > 0,
            ["damage_free"] = true,
            ["documentation_complete"] = perfect || random.Next(5) > 0,
            ["status"] = "delivered",
            ["carrier"] = random.Next(5) == 0 ? null : $"c{random.Next(4)}",
        };
    }
}
