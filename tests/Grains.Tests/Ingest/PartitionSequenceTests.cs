using AnalyticsEngine.Ingest;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Ingest;

/// <summary>
/// Sequence numbers stay contiguous and are never handed out twice, whether the writer knows where its partition
/// ends or not, against the real <c>ingest.partitions</c>.
/// </summary>
public sealed class PartitionSequenceTests : IAsyncLifetime
{
    private readonly string _clientId = "seq-" + Guid.NewGuid().ToString("N")[..12];

    public Task InitializeAsync() => TestDatabase.EnsureMigratedAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_first_claim_locks_and_advances_the_row_and_later_ones_are_numbered_on_from_the_commit()
    {
        var writer = Writer();

        var first = await CommitAsync(writer, 3);
        var second = await CommitAsync(writer, 2);

        Assert.Equal(new SequenceClaim(1, 3, Locked: true), first);
        Assert.Equal(new SequenceClaim(4, 5, Locked: false), second);
        Assert.Equal(5, await LastSequenceAsync());
    }

    [Fact]
    public async Task A_claim_numbered_from_a_stale_end_fails_before_commit_and_the_next_one_reads_the_row()
    {
        var first = Writer();
        var second = Writer(); // A second activation of the same partition, as during a failover.
        await CommitAsync(first, 3);
        Assert.Equal(new SequenceClaim(4, 7, Locked: true), await CommitAsync(second, 4));

        var failure = await Assert.ThrowsAsync<PostgresException>(() => CommitAsync(first, 2));

        Assert.True(PartitionSequence.IsMoved(failure));
        Assert.Equal(7, await LastSequenceAsync());
        Assert.Equal(new SequenceClaim(8, 9, Locked: true), await CommitAsync(first, 2));
        Assert.Equal(9, await LastSequenceAsync());
    }

    [Fact]
    public async Task A_locked_claim_that_rolls_back_takes_its_advance_back_and_a_known_end_stays_valid()
    {
        var writer = Writer();
        await CommitAsync(writer, 3);

        // Another writer locks and advances, then rolls back: the row is where the first writer left it.
        await CommitAsync(Writer(), 5, rollBack: true);
        Assert.Equal(3, await LastSequenceAsync());

        Assert.Equal(new SequenceClaim(4, 4, Locked: false), await CommitAsync(writer, 1));
        Assert.Equal(4, await LastSequenceAsync());
    }

    [Fact]
    public async Task After_a_transaction_that_did_not_commit_the_writer_reads_the_row_again()
    {
        var writer = Writer();
        await CommitAsync(writer, 3);

        await CommitAsync(writer, 2, rollBack: true);

        Assert.Equal(3, await LastSequenceAsync());
        Assert.Equal(new SequenceClaim(4, 5, Locked: true), await CommitAsync(writer, 2));
    }

    [Fact]
    public async Task A_second_writer_waits_for_the_first_ones_commit_and_numbers_after_it()
    {
        var first = Writer();
        await CommitAsync(first, 2);
        var second = Writer();

        await using var connection = await TestDatabase.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var held = await first.ClaimAsync(connection, 3, CancellationToken.None);
        await ConfirmAsync(connection, transaction, first, held);

        // The second writer's claim needs the row the first one holds until it commits.
        var waiting = CommitAsync(second, 1);
        await TestDatabase.WaitUntilBlockedByAsync(connection.ProcessID, "INSERT INTO ingest.partitions");
        Assert.False(waiting.IsCompleted);

        await transaction.CommitAsync();
        first.Committed(held);

        Assert.Equal(new SequenceClaim(6, 6, Locked: true), await waiting);
        Assert.Equal(6, await LastSequenceAsync());
    }

    private PartitionSequence Writer() => new(_clientId, "orders");

    /// <summary>Claims <paramref name="count"/> numbers and commits (or rolls back) as the ingest grain does: confirmation sent with COMMIT.</summary>
    private static async Task<SequenceClaim> CommitAsync(PartitionSequence writer, int count, bool rollBack = false)
    {
        await using var connection = await TestDatabase.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var claim = await writer.ClaimAsync(connection, count, CancellationToken.None);
        if (rollBack)
        {
            await transaction.RollbackAsync();
            return claim;
        }

        await using var commit = new NpgsqlBatch(connection, transaction);
        if (writer.Confirmation(claim) is { } confirmation)
        {
            commit.BatchCommands.Add(confirmation);
        }

        commit.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        await commit.ExecuteNonQueryAsync();
        writer.Committed(claim);
        return claim;
    }

    private static async Task ConfirmAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, PartitionSequence writer, SequenceClaim claim)
    {
        if (writer.Confirmation(claim) is { } confirmation)
        {
            await using var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { confirmation } };
            await batch.ExecuteNonQueryAsync();
        }
    }

    private async Task<long> LastSequenceAsync()
    {
        await using var command = TestDatabase.DataSource.CreateCommand(
            "SELECT last_sequence FROM ingest.partitions WHERE client_id = $1 AND object_model = 'orders'");
        command.Parameters.AddWithValue(_clientId);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
