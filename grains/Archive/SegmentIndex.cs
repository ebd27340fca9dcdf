using System.Text.Json;
using AnalyticsEngine.Proposals;
using Npgsql;
using NpgsqlTypes;

namespace AnalyticsEngine.Archive;

/// <summary>A segment as the engine works with it: its listing, and which rows of the active table it holds.</summary>
public sealed record IndexedSegment(ArchiveSegment Segment, NpgsqlRange<long>[]? Sequences);

/// <summary><c>archive.policies</c> and <c>archive.segments</c> (sql/0016): clients' retention answers and the archive's index.</summary>
public sealed class SegmentIndex(NpgsqlDataSource dataSource)
{
    private static readonly JsonSerializerOptions Json = StoredJson.Options;

    public async Task<(RetentionAnswers Answers, DateTimeOffset UpdatedAt, string UpdatedBy)?> PolicyAsync(string clientId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT answers, updated_at, updated_by FROM archive.policies WHERE client_id = $1");
        command.Parameters.AddWithValue(clientId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        var answers = JsonSerializer.Deserialize<RetentionAnswers>(reader.GetString(0), Json)
            ?? throw new InvalidDataException($"The retention policy of client '{clientId}' is empty.");
        return (answers, reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2));
    }

    public async Task SavePolicyAsync(string clientId, RetentionAnswers answers, DateTimeOffset at, string actor, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(
            """
            INSERT INTO archive.policies (client_id, answers, updated_at, updated_by) VALUES ($1, $2, $3, $4)
            ON CONFLICT (client_id) DO UPDATE SET answers = excluded.answers, updated_at = excluded.updated_at, updated_by = excluded.updated_by
            """);
        command.Parameters.AddWithValue(clientId);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = JsonSerializer.Serialize(answers, Json), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.AddWithValue(at.ToUniversalTime());
        command.Parameters.AddWithValue(actor);
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<bool> RemovePolicyAsync(string clientId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM archive.policies WHERE client_id = $1");
        command.Parameters.AddWithValue(clientId);
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Every segment of the client, oldest first (expiry is the caller's to work out).</summary>
    public async Task<List<IndexedSegment>> SegmentsAsync(string clientId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(
            """
            SELECT segment_id, data_kind, source, range_from, range_to, row_count, bytes, sha256, location, archived_at, restored_until, sequences, replaced_before
              FROM archive.segments WHERE client_id = $1 ORDER BY range_from, segment_id
            """);
        command.Parameters.AddWithValue(clientId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var segments = new List<IndexedSegment>();
        while (await reader.ReadAsync(ct))
        {
            segments.Add(new IndexedSegment(
                new ArchiveSegment(
                    reader.GetInt64(0),
                    reader.GetString(1) == "source" ? ArchivedDataKind.Source : ArchivedDataKind.Analytics,
                    reader.GetString(2),
                    reader.GetFieldValue<DateTimeOffset>(3),
                    reader.GetFieldValue<DateTimeOffset>(4),
                    reader.GetInt64(5),
                    reader.GetInt64(6),
                    reader.GetString(7),
                    reader.GetString(8),
                    reader.GetFieldValue<DateTimeOffset>(9),
                    null,
                    reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
                    reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12)),
                reader.IsDBNull(11) ? null : reader.GetFieldValue<NpgsqlRange<long>[]>(11)));
        }

        return segments;
    }

    /// <summary>Removes a segment from the index (its file is the caller's to delete after); false if it was not there.</summary>
    public async Task<bool> ForgetAsync(long segmentId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM archive.segments WHERE segment_id = $1 AND restored_until IS NULL");
        command.Parameters.AddWithValue(segmentId);
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>Keeps restored segments' rows in the active tables until <paramref name="until"/>.</summary>
    public async Task ExtendRestoreAsync(IReadOnlyList<long> segmentIds, DateTimeOffset until, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE archive.segments SET restored_until = greatest(restored_until, $2) WHERE segment_id = ANY($1) AND restored_until IS NOT NULL");
        command.Parameters.AddWithValue(segmentIds.ToArray());
        command.Parameters.AddWithValue(until.ToUniversalTime());
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Records that queries of the client may read old rows until <paramref name="until"/> (never earlier than recorded).</summary>
    public async Task HoldUntilAsync(string clientId, DateTimeOffset until, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(
            """
            INSERT INTO archive.holds (client_id, held_until) VALUES ($1, $2)
            ON CONFLICT (client_id) DO UPDATE SET held_until = greatest(archive.holds.held_until, excluded.held_until)
            """);
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(until.ToUniversalTime());
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Ends a hold recorded until <paramref name="recorded"/> or earlier (none later, which another activation would have
    /// recorded): the queries it covered have all ended.
    /// </summary>
    public async Task ReleaseHoldAsync(string clientId, DateTimeOffset recorded, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("UPDATE archive.holds SET held_until = now() WHERE client_id = $1 AND held_until <= $2 AND held_until > now()");
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(recorded.ToUniversalTime());
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Until when queries of the client may read old rows, as recorded (<see cref="HoldUntilAsync"/>), or null.</summary>
    public Task<DateTimeOffset?> HeldUntilAsync(string clientId, CancellationToken ct) =>
        InstantAsync("SELECT held_until FROM archive.holds WHERE client_id = $1", clientId, ct);

    /// <summary>The statement that reads before when archival runs deleted the client's rollup slots ($1: the client).</summary>
    internal const string RollupsDeletedBeforeSql = "SELECT before FROM archive.rollups_deleted WHERE client_id = $1";

    /// <summary>Before when archival runs deleted the client's rollup slots (<see cref="RecordRollupsDeleted"/>), or null.</summary>
    public Task<DateTimeOffset?> RollupsDeletedBeforeAsync(string clientId, CancellationToken ct) => InstantAsync(RollupsDeletedBeforeSql, clientId, ct);

    /// <summary>The one instant <paramref name="sql"/> reads for the client, or null if it reads no row.</summary>
    private async Task<DateTimeOffset?> InstantAsync(string sql, string clientId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue(clientId);
        return await command.ExecuteScalarAsync(ct) is DateTime instant ? new DateTimeOffset(instant, TimeSpan.Zero) : null;
    }

    /// <summary>The statement that records rollup slots before <paramref name="before"/> as deleted (never an earlier time than recorded).</summary>
    public static NpgsqlBatchCommand RecordRollupsDeleted(string clientId, DateTimeOffset before)
    {
        var command = new NpgsqlBatchCommand(
            """
            INSERT INTO archive.rollups_deleted (client_id, before) VALUES ($1, $2)
            ON CONFLICT (client_id) DO UPDATE SET before = greatest(archive.rollups_deleted.before, excluded.before)
            """);
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(before.UtcDateTime);
        return command;
    }

    internal static string DataKindName(ArchivedDataKind kind) => kind == ArchivedDataKind.Source ? "source" : "analytics";
}
