using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>A query that fails for a reason of the database's is that query's error alone, not its batch's.</summary>
[Collection(KpiClusterCollection.Name)]
public sealed class QueryFailureTests(KpiClusterFixture fixture)
{
    [Fact]
    public async Task A_query_whose_connection_dies_fails_alone_and_the_rest_of_its_batch_is_answered()
    {
        var clientId = "f-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Failure", "UTC", ["POF", "OTD"], [], [], 0)));
        var now = DateTimeOffset.UtcNow;
        var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        KpiQuery Query(string kpi) => new(clientId, kpi, hour.AddDays(-1), hour, QueryGranularity.Hour);

        // Every query reads the rolled-up terms first: the batch's first query waits on the lock, and its backend is
        // terminated there (as an administrator or a failover would), which is no timeout and no fault of the formula.
        // Only this cluster's backends are terminated: other collections' queries may wait on the lock too.
        await using var holder = await fixture.Database.OpenConnectionAsync();
        var transaction = await holder.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("LOCK TABLE query.rollup_terms IN ACCESS EXCLUSIVE MODE", holder, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        var batch = fixture.Client.GetGrain<IKpiQueryGrain>(0).CalculateBatch([Query("POF"), Query("OTD")]);
        await TestDatabase.WaitUntilBlockedByAsync(holder.ProcessID, "query.rollup_terms", fixture.ApplicationName);
        await using (var terminate = new NpgsqlCommand(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) AND application_name = $2",
            holder, transaction))
        {
            terminate.Parameters.AddWithValue(holder.ProcessID);
            terminate.Parameters.AddWithValue(fixture.ApplicationName);
            Assert.Equal(1L, await terminate.ExecuteScalarAsync());
        }

        await transaction.RollbackAsync();
        var results = await batch;

        Assert.Equal(QueryErrorKind.Failed, results[0].Error?.Kind);
        var message = results[0].Error!.Message;
        Assert.Contains("'POF'", message, StringComparison.Ordinal);
        Assert.Contains("server's log", message, StringComparison.Ordinal);
        // The database's own words stay in the log: they name the server's internals, not what the caller can change.
        Assert.DoesNotContain("terminat", message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("stream", message, StringComparison.OrdinalIgnoreCase);
        Assert.Null(results[1].Error);
        Assert.Equal(24, Assert.Single(results[1].Series).Values.Count);
    }
}
