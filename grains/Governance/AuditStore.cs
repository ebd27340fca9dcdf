using Npgsql;
using NpgsqlTypes;

namespace AnalyticsEngine.Governance;

/// <summary><c>governance.audit_log</c> (sql/0015): the audit trail, appended to and read newest first.</summary>
public sealed class AuditStore(NpgsqlDataSource dataSource)
{
    /// <summary>Appends the entries in one round trip and one transaction.</summary>
    public async Task AppendAsync(IReadOnlyList<AuditEntry> entries, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return;
        }

        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(connection);
        foreach (var entry in entries)
        {
            var command = new NpgsqlBatchCommand(
                """
                INSERT INTO governance.audit_log (at, actor, roles, client_ids, action, path, status, trace_id, body)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """);
            command.Parameters.AddWithValue(entry.At.ToUniversalTime());
            command.Parameters.AddWithValue(Storable(entry.Actor));
            command.Parameters.AddWithValue(entry.Roles.Select(Storable).ToArray());
            command.Parameters.AddWithValue(entry.ClientIds.Select(Storable).ToArray());
            command.Parameters.AddWithValue(Storable(entry.Action));
            command.Parameters.AddWithValue(Storable(entry.Path));
            command.Parameters.AddWithValue(entry.Status);
            command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = entry.TraceId, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = entry.Body is null ? null : Storable(entry.Body), NpgsqlDbType = NpgsqlDbType.Text });
            batch.BatchCommands.Add(command);
        }

        // A batch of several statements runs as one implicit transaction: all its entries are stored, or none.
        await batch.ExecuteNonQueryAsync(ct);
    }

    public async Task<AuditPage> ReadAsync(AuditQuery query, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        await using var command = dataSource.CreateCommand(
            """
            SELECT entry_id, at, actor, roles, client_ids, action, path, status, trace_id, body
              FROM governance.audit_log
             WHERE ($1::text[] IS NULL OR (client_ids <@ $1 AND cardinality(client_ids) > 0))
               AND ($8::text IS NULL OR client_ids @> ARRAY[$8::text])
               AND ($2::text IS NULL OR actor = $2)
               AND ($3::timestamptz IS NULL OR at >= $3)
               AND ($4::timestamptz IS NULL OR at < $4)
               AND ($5::timestamptz IS NULL OR at < $5 OR (at = $5 AND entry_id < $6))
             ORDER BY at DESC, entry_id DESC
             LIMIT $7
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.Visible?.ToArray() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = query.Actor, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = query.From?.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = query.To?.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = query.After?.At.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<long?> { TypedValue = query.After?.EntryId, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.AddWithValue(query.Limit + 1);
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = query.ClientId, NpgsqlDbType = NpgsqlDbType.Text });

        var records = new List<AuditRecord>();
        AuditCursor? last = null;
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (records.Count == query.Limit)
            {
                return new AuditPage(records, last);
            }

            records.Add(new AuditRecord(
                reader.GetInt64(0),
                new AuditEntry(
                    reader.GetFieldValue<DateTimeOffset>(1),
                    reader.GetString(2),
                    reader.GetFieldValue<string[]>(3),
                    reader.GetFieldValue<string[]>(4),
                    reader.GetString(5),
                    reader.GetString(6),
                    reader.GetInt32(7),
                    reader.IsDBNull(8) ? null : reader.GetString(8),
                    reader.IsDBNull(9) ? null : reader.GetString(9))));
            // The stored time, not the entry's own: the database keeps microseconds, and the next page compares with it.
            last = new AuditCursor(new DateTimeOffset(reader.GetFieldValue<DateTime>(1), TimeSpan.Zero), reader.GetInt64(0));
        }

        return new AuditPage(records, null);
    }

    /// <summary>
    /// The text with what PostgreSQL text cannot hold replaced by U+FFFD: NUL, and a surrogate without its pair (which
    /// has no UTF-8). The gateway refuses them in what it accepts, but a refused request is audited too.
    /// </summary>
    internal static string Storable(string text)
    {
        char[]? copy = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var paired = char.IsHighSurrogate(c) ? i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])
                : char.IsLowSurrogate(c) ? i > 0 && char.IsHighSurrogate(text[i - 1])
                : c != '\0';
            if (!paired)
            {
                (copy ??= text.ToCharArray())[i] = '\uFFFD';
            }
        }

        return copy is null ? text : new string(copy);
    }
}
