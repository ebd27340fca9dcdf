using Npgsql;

namespace AnalyticsEngine.Ingest;

/// <summary>Sequence numbers <see cref="First"/>..<see cref="Last"/> claimed for one batch.</summary>
/// <param name="Locked">
/// True when the claim locked and advanced the partition's row already; false when it was numbered from the end the
/// writer last committed, and <see cref="PartitionSequence.Confirmation"/> must advance the row before COMMIT.
/// </param>
public readonly record struct SequenceClaim(long First, long Last, bool Locked);

/// <summary>
/// Hands out the contiguous sequence numbers of one (client, object model) partition to its single writer, inside
/// the writer's commit transaction, with as few round trips as the guarantees allow.
/// </summary>
/// <remarks>
/// While the end of the partition is unknown (a new activation, or after any failure) a claim locks the partition's
/// row and advances it in one statement; the lock is held until the transaction ends, so a second writer waits and
/// the numbers stay contiguous, and a rollback takes the advance back with the rows. After a commit the writer
/// knows the end, so the next claim costs no round trip: the row is advanced by <see cref="Confirmation"/>, which the
/// writer sends together with COMMIT, and which fails the transaction (SQLSTATE 40001, <see cref="IsMoved"/>) when
/// the partition is no longer where this writer left it. The rows then roll back, and a new claim reads the row.
/// </remarks>
public sealed class PartitionSequence(string clientId, string objectModel)
{
    private long? _committedEnd;

    public string ClientId { get; } = clientId;

    public string ObjectModel { get; } = objectModel;

    /// <summary>The last sequence this writer committed, if it knows it.</summary>
    public long? CommittedEnd => _committedEnd;

    /// <summary>Claims <paramref name="count"/> numbers in the transaction open on <paramref name="connection"/>.</summary>
    public async ValueTask<SequenceClaim> ClaimAsync(NpgsqlConnection connection, int count, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var known = _committedEnd;
        _committedEnd = null; // Until Committed: a transaction that fails or is abandoned leaves the end unknown.
        if (known is { } end)
        {
            return new SequenceClaim(end + 1, end + count, Locked: false);
        }

        await using var command = new NpgsqlCommand(
            """
            INSERT INTO ingest.partitions (client_id, object_model, last_sequence, last_committed_at) VALUES ($1, $2, $3, now())
            ON CONFLICT (client_id, object_model) DO UPDATE SET last_sequence = ingest.partitions.last_sequence + excluded.last_sequence,
                                                                last_committed_at = excluded.last_committed_at
            RETURNING last_sequence
            """, connection);
        command.Parameters.AddWithValue(ClientId);
        command.Parameters.AddWithValue(ObjectModel);
        command.Parameters.AddWithValue((long)count);
        var last = (long)(await command.ExecuteScalarAsync(ct))!;
        return new SequenceClaim(last - count + 1, last, Locked: true);
    }

    /// <summary>
    /// The statement that advances the row for a claim that did not lock it, to run in the same transaction before
    /// COMMIT; null when the claim advanced the row itself.
    /// </summary>
    public NpgsqlBatchCommand? Confirmation(SequenceClaim claim)
    {
        if (claim.Locked)
        {
            return null;
        }

        var command = new NpgsqlBatchCommand("SELECT ingest.advance_partition($1, $2, $3, $4)");
        command.Parameters.AddWithValue(ClientId);
        command.Parameters.AddWithValue(ObjectModel);
        command.Parameters.AddWithValue(claim.First - 1);
        command.Parameters.AddWithValue(claim.Last);
        return command;
    }

    /// <summary>
    /// The transaction of <paramref name="claim"/> committed: the partition ends at its last number. Until this is
    /// called after a claim (the transaction failed, its outcome is unknown, or it was rolled back on purpose), the
    /// next claim reads the row.
    /// </summary>
    public void Committed(SequenceClaim claim) => _committedEnd = claim.Last;

    /// <summary>
    /// Whether <paramref name="exception"/> says that the partition moved under a claim numbered from a stale end: the
    /// confirmation found the row elsewhere, or, before it ran, a row (or idempotency key) collided with one the other
    /// writer committed. Either way the server refused the transaction, so nothing of it was stored.
    /// </summary>
    public static bool IsMoved(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.UniqueViolation };
}
