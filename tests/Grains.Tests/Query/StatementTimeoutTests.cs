using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>The statement timeout guards every statement of a query, and a query that hits it leaves no broken connection behind.</summary>
[Collection(KpiClusterCollection.Name)]
public sealed class StatementTimeoutTests(KpiClusterFixture fixture)
{
    [Fact]
    public async Task A_query_held_up_past_the_statement_timeout_fails_as_a_timeout_and_the_next_one_runs()
    {
        var clientId = "t-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Timeout", "UTC", ["POF"], [], [], 0)));
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        var runner = new KpiQueryRunner(
            fixture.Database, new KpiQueryOptions { StatementTimeout = TimeSpan.FromMilliseconds(300) }, TimeSpan.FromMinutes(5), NullLogger.Instance);
        var now = DateTimeOffset.UtcNow;
        var query = new KpiQuery(clientId, "POF", now.AddDays(-1), now, QueryGranularity.Hour);

        // Every query reads which terms are rolled up; while another transaction holds that table exclusively, the
        // query's first statement waits until the timeout cancels it. (Ingest elsewhere waits for the lock briefly.)
        await using (var holder = await fixture.Database.OpenConnectionAsync())
        await using (var transaction = await holder.BeginTransactionAsync())
        {
            await using (var hold = new Npgsql.NpgsqlCommand("LOCK TABLE query.rollup_terms IN ACCESS EXCLUSIVE MODE", holder, transaction))
            {
                await hold.ExecuteNonQueryAsync();
            }

            var blocked = await runner.RunAsync(query, config);
            Assert.Equal(QueryErrorKind.Timeout, blocked.Error?.Kind);
            Assert.Contains("did not finish within 0.3 s", blocked.Error!.Message, StringComparison.Ordinal);
        }

        // The timed-out query's connection went back to the pool inside an aborted transaction; the pool must have
        // rolled it back, or these would fail with "current transaction is aborted".
        for (var i = 0; i < 5; i++)
        {
            var answer = await runner.RunAsync(query, config);
            Assert.Null(answer.Error);
            Assert.NotEmpty(Assert.Single(answer.Series).Values);
        }
    }
}
