using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Grains.Tests.Ingest;

/// <summary>Client grains' questions about committed ends are answered right, and many of them by one query.</summary>
public sealed class CommittedEndsTests : IAsyncLifetime
{
    private readonly string _prefix = "ends-" + Guid.NewGuid().ToString("N")[..10] + "-";

    public Task InitializeAsync() => TestDatabase.EnsureMigratedAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Each_client_gets_the_ends_of_its_own_partitions_and_a_client_without_any_gets_none()
    {
        await CommitAsync(_prefix + "a", "orders", 7);
        await CommitAsync(_prefix + "a", "shipments", 3);
        await CommitAsync(_prefix + "b", "orders", 12);
        var ends = new CommittedEnds(TestDatabase.DataSource);

        var answers = await Task.WhenAll(new[] { "a", "b", "none" }.Select(c => ends.GetAsync(_prefix + c)));

        Assert.Equal([new CommittedEnd("orders", 7), new CommittedEnd("shipments", 3)], answers[0].OrderBy(e => e.ObjectModel));
        Assert.Equal([new CommittedEnd("orders", 12)], answers[1]);
        Assert.Empty(answers[2]);
    }

    [Fact]
    public async Task Questions_asked_while_a_query_runs_are_answered_together_by_the_next_one()
    {
        var clients = Enumerable.Range(0, 10).Select(i => _prefix + "c" + i).ToList();
        for (var i = 0; i < clients.Count; i++)
        {
            await CommitAsync(clients[i], "orders", i + 1);
        }

        var ends = new CommittedEnds(TestDatabase.DataSource);
        Task<IReadOnlyList<CommittedEnd>>[] later;
        Task<IReadOnlyList<CommittedEnd>> first;
        await using (var connection = await TestDatabase.DataSource.OpenConnectionAsync())
        {
            // Hold the first query at the table, so the others are certainly asked while it runs.
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var block = connection.CreateCommand())
            {
                block.CommandText = "LOCK TABLE ingest.partitions IN ACCESS EXCLUSIVE MODE";
                await block.ExecuteNonQueryAsync();
            }

            first = ends.GetAsync(clients[0]);
            await TestDatabase.WaitUntilBlockedByAsync(connection.ProcessID, "client_id = ANY");
            later = [.. clients.Skip(1).Select(c => ends.GetAsync(c))];
            await transaction.CommitAsync();
        }

        Assert.Equal([new CommittedEnd("orders", 1)], await first);
        var answers = await Task.WhenAll(later);
        for (var i = 0; i < answers.Length; i++)
        {
            Assert.Equal([new CommittedEnd("orders", i + 2)], answers[i]);
        }

        Assert.Equal(2, ends.Queries);
    }

    private static async Task CommitAsync(string clientId, string objectModel, long lastSequence)
    {
        await using var command = TestDatabase.DataSource.CreateCommand(
            "INSERT INTO ingest.partitions (client_id, object_model, last_sequence) VALUES ($1, $2, $3)");
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(objectModel);
        command.Parameters.AddWithValue(lastSequence);
        await command.ExecuteNonQueryAsync();
    }
}
