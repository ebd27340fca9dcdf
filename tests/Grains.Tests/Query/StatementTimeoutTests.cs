using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>The statement timeout guards every statement of a query, and a query that hits it leaves no broken connection behind.</summary>
[Collection(KpiClusterCollection.Name)]
public sealed class StatementTimeoutTests(KpiClusterFixture fixture)
{
    [Fact]
    public async Task A_query_held_up_past_the_statement_timeout_fails_as_a_timeout_and_the_next_one_runs()
    {
        var (config, query) = await ClientAndQueryAsync();
        var runner = new KpiQueryRunner(
            fixture.Database, new KpiQueryOptions { StatementTimeout = TimeSpan.FromMilliseconds(300) }, TimeSpan.FromMinutes(5), NullLogger.Instance);

        var blocked = await RunHeldUpAsync(runner, query, config);
        Assert.Equal(QueryErrorKind.Timeout, blocked.Error?.Kind);
        Assert.Contains("did not finish within 0.3 s", blocked.Error!.Message, StringComparison.Ordinal);

        // The timed-out query's connection went back to the pool inside an aborted transaction; the pool must have
        // rolled it back, or these would fail with "current transaction is aborted".
        for (var i = 0; i < 5; i++)
        {
            var answer = await runner.RunAsync(query, config);
            Assert.Null(answer.Error);
            Assert.NotEmpty(Assert.Single(answer.Series).Values);
        }
    }

    [Fact]
    public async Task A_data_source_whose_own_timeout_is_shorter_still_hears_the_statement_timeout()
    {
        // Npgsql gives up on its own after the data source's command timeout (30 s unless set), which used to equal the
        // default statement timeout and, starting first, to fire first: a broken connection and an error that was no
        // "timeout". The query's round trips now wait past the statement timeout.
        var (config, query) = await ClientAndQueryAsync();
        await using var impatient = NpgsqlDataSource.Create(KpiClusterFixture.Postgres + ";Command Timeout=1");
        var runner = new KpiQueryRunner(
            impatient, new KpiQueryOptions { StatementTimeout = TimeSpan.FromSeconds(2) }, TimeSpan.FromMinutes(5), NullLogger.Instance);

        var blocked = await RunHeldUpAsync(runner, query, config);

        Assert.Equal(QueryErrorKind.Timeout, blocked.Error?.Kind);
        Assert.Contains("did not finish within 2 s", blocked.Error!.Message, StringComparison.Ordinal);
    }

    private async Task<(ClientConfig Config, KpiQuery Query)> ClientAndQueryAsync()
    {
        var clientId = "t-" + Guid.NewGuid().ToString("N")[..10];
        Assert.Empty(await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Timeout", "UTC", ["POF"], [], [], 0)));
        var config = (await fixture.Client.GetGrain<IClientConfigGrain>(clientId).Get())!;
        var now = DateTimeOffset.UtcNow;
        return (config, new KpiQuery(clientId, "POF", now.AddDays(-1), now, QueryGranularity.Hour));
    }

    /// <summary>
    /// Runs the query while another transaction holds the table of rolled-up terms exclusively: every query reads it
    /// first, so its first statement waits until a timeout ends it. (Ingest elsewhere waits for the lock briefly.)
    /// </summary>
    private async Task<KpiQueryResult> RunHeldUpAsync(KpiQueryRunner runner, KpiQuery query, ClientConfig config)
    {
        await using var holder = await fixture.Database.OpenConnectionAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("LOCK TABLE query.rollup_terms IN ACCESS EXCLUSIVE MODE", holder, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        return await runner.RunAsync(query, config);
    }
}
