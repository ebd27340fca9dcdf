using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Grains.Tests.Ingest;

/// <summary>
/// An idempotency key stands for one request: its retries are answered from the first commit, and a different
/// request under the same key is refused rather than answered "replayed" with its rows dropped.
/// </summary>
[Collection(KpiClusterCollection.Name)]
public sealed class IdempotencyKeyTests(KpiClusterFixture fixture)
{
    [Fact]
    public async Task The_same_rows_sent_twice_with_one_key_are_stored_once_and_the_second_is_a_replay()
    {
        var clientId = await CreateClientAsync();
        var body = Body("A-1", "A-2", "A-3");

        var first = await IngestAsync(clientId, body, "k-1");
        var second = await IngestAsync(clientId, body, "k-1");

        Assert.Equal(IngestStatus.Committed, first.Status);
        Assert.Equal(IngestStatus.Replayed, second.Status);
        Assert.Equal((1, 3, first.CommittedAt), (second.FromSequence, second.ToSequence, second.CommittedAt));
        Assert.Equal(["A-1", "A-2", "A-3"], await StoredOrderIdsAsync(clientId));
    }

    [Fact]
    public async Task Other_rows_under_a_used_key_are_refused_and_store_nothing()
    {
        var clientId = await CreateClientAsync();
        var first = await IngestAsync(clientId, Body("A-1", "A-2"), "k-1");

        var reused = await IngestAsync(clientId, Body("B-1", "B-2", "B-3"), "k-1");

        Assert.Equal(IngestStatus.Committed, first.Status);
        Assert.Equal(IngestStatus.IdempotencyKeyReused, reused.Status);
        Assert.Equal(0, reused.Accepted);
        Assert.Equal(first.CommittedAt, reused.CommittedAt);
        var reason = reused.Errors.Single().Reason;
        Assert.Contains("'k-1' was already used", reason);
        Assert.Contains(first.CommittedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ"), reason);
        Assert.Contains("new key", reason);
        Assert.Equal(["A-1", "A-2"], await StoredOrderIdsAsync(clientId));
        Assert.Equal(2, await LastSequenceAsync(clientId));

        // The key still stands for the first request, whose retry is answered as before; a new key stores the rows.
        Assert.Equal(IngestStatus.Replayed, (await IngestAsync(clientId, Body("A-1", "A-2"), "k-1")).Status);
        Assert.Equal(IngestStatus.Committed, (await IngestAsync(clientId, Body("B-1", "B-2", "B-3"), "k-2")).Status);
        Assert.Equal(["A-1", "A-2", "B-1", "B-2", "B-3"], await StoredOrderIdsAsync(clientId));
    }

    [Fact]
    public async Task A_key_recorded_without_a_fingerprint_replays_whatever_the_rows()
    {
        var clientId = await CreateClientAsync();
        var first = await IngestAsync(clientId, Body("A-1"), "k-1");
        // As an earlier release recorded keys, before fingerprints.
        await using (var forget = fixture.Database.CreateCommand(
            "UPDATE ingest.idempotency_keys SET request_fingerprint = NULL WHERE client_id = $1 AND idempotency_key = 'k-1'"))
        {
            forget.Parameters.AddWithValue(clientId);
            Assert.Equal(1, await forget.ExecuteNonQueryAsync());
        }

        var retried = await IngestAsync(clientId, Body("A-1", "A-2"), "k-1");

        Assert.Equal(IngestStatus.Committed, first.Status);
        Assert.Equal(IngestStatus.Replayed, retried.Status);
        Assert.Equal((1, 1), (retried.FromSequence, retried.ToSequence));
        Assert.Equal(["A-1"], await StoredOrderIdsAsync(clientId));
    }

    [Fact]
    public async Task A_commit_whose_connection_the_server_ends_stores_nothing_says_so_and_its_retry_stores_once()
    {
        var clientId = await CreateClientAsync();
        // Another transaction holds the key's row uncommitted, so the batch's COMMIT round trip waits on it...
        await using var holder = await fixture.Database.OpenConnectionAsync();
        await using var holding = await holder.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand(
                         "INSERT INTO ingest.idempotency_keys (client_id, object_model, idempotency_key) VALUES ($1, 'orders', 'k-cut')", holder, holding))
        {
            hold.Parameters.AddWithValue(clientId);
            await hold.ExecuteNonQueryAsync();
        }

        var ingest = IngestAsync(clientId, Body("L-1"), "k-cut");
        // ...and the server ends its connection there: it says so (FATAL) before any COMMIT, so nothing was stored.
        // (A connection that breaks without a word after COMMIT went out is answered "may or may not be stored".)
        await using var cut = fixture.Database.CreateCommand(
            """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO ingest.idempotency_keys%' AND pid <> pg_backend_pid()
            """);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((long)(await cut.ExecuteScalarAsync())! == 0)
        {
            Assert.True(DateTime.UtcNow < deadline && !ingest.IsCompleted, "the commit never waited on the held key");
            await Task.Delay(20);
        }

        var result = await ingest;
        await holding.RollbackAsync();
        var retried = await IngestAsync(clientId, Body("L-1"), "k-cut");

        Assert.Equal(IngestStatus.Unavailable, result.Status);
        Assert.Contains("nothing was stored", result.Errors.Single().Reason);
        Assert.Equal(IngestStatus.Committed, retried.Status);
        Assert.Equal(["L-1"], await StoredOrderIdsAsync(clientId));
    }

    private async Task<string> CreateClientAsync()
    {
        var clientId = "idem-" + Guid.NewGuid().ToString("N")[..10];
        var problems = await fixture.Client.GetGrain<IClientConfigGrain>(clientId)
            .Put(new ClientConfig(clientId, "Idempotency test", "Europe/Berlin", ["POF"], [], [], 0));
        Assert.Empty(problems);
        return clientId;
    }

    private Task<IngestResult> IngestAsync(string clientId, byte[] body, string key) =>
        fixture.Client.GetGrain<IIngestGrain>(IngestKeys.For(clientId, "orders"))
            .Ingest(new IngestRequest(IngestFormat.Json, body, IngestPolicy.RejectBatch, key));

    private Task<List<string>> StoredOrderIdsAsync(string clientId) => OrderBodies.StoredIdsAsync(fixture.Database, clientId);

    private async Task<long> LastSequenceAsync(string clientId)
    {
        await using var command = fixture.Database.CreateCommand(
            "SELECT last_sequence FROM ingest.partitions WHERE client_id = $1 AND object_model = 'orders'");
        command.Parameters.AddWithValue(clientId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static byte[] Body(params string[] orderIds) => OrderBodies.Body(orderIds);
}
