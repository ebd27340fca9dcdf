using System.Data;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Query;
using Npgsql;
using NpgsqlTypes;

namespace AnalyticsEngine.Archive;

/// <summary>
/// The rows of one client in one active table that an archival step moves: those of <see cref="Table"/> (alias
/// <c>t</c>) matching <see cref="Where"/>, whose times lie in [<see cref="From"/>, <see cref="To"/>).
/// </summary>
/// <param name="Where">A condition over <c>t</c> with its values as literals (COPY takes no parameters).</param>
/// <param name="Columns">The columns a segment keeps, quoted, in file order (<c>t.*</c> for all).</param>
/// <param name="HasSequences">Whether the rows have sequence numbers (object models), recorded so a restore can be undone.</param>
/// <param name="ReplacedBefore">Of a snapshot object's rows: the rows that replaced them are all older than this.</param>
public sealed record TableSlice(
    ArchivedDataKind Kind, string Source, string Table, string Where, string Columns, DateTimeOffset From, DateTimeOffset To, bool HasSequences,
    DateTimeOffset? ReplacedBefore = null);

/// <summary>
/// Moves rows between an active table and cold storage, each move in one transaction: rows out to a gzip-compressed
/// CSV segment (written and flushed before the transaction records it and deletes the rows, so a row is always in one
/// place or both, never in neither), rows back in for a while (a restore), and those rows out again.
/// </summary>
public sealed class TableArchiver(NpgsqlDataSource dataSource, ColdStorage storage)
{
    private const int Chunk = 1 << 16;

    /// <summary>
    /// The text forms a segment is written and read in, whatever the server's or role's defaults: every float8 digit
    /// (so a value comes back exactly), ISO dates and UTC offsets.
    /// </summary>
    private const string TextForms = "SET LOCAL extra_float_digits = 3; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL TimeZone = 'UTC'; SET LOCAL IntervalStyle = 'postgres'";

    /// <summary>
    /// Archives the slice's rows to a new segment and deletes them from the table, or only deletes them when
    /// <paramref name="archive"/> is false. Answers how many rows left the table.
    /// </summary>
    public async Task<long> MoveOutAsync(string clientId, TableSlice slice, bool archive, DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // One snapshot for counting, copying and deleting: a row committed meanwhile is in none of them, and waits for
        // the next run.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
        await ExecuteAsync(connection, TextForms, ct);
        var delete = $"DELETE FROM {slice.Table} AS t WHERE {slice.Where}";
        if (!archive)
        {
            var deleted = await ExecuteAsync(connection, delete, ct);
            await transaction.CommitAsync(ct);
            return deleted;
        }

        var (rows, sequences) = await CountAsync(connection, slice, ct);
        if (rows == 0)
        {
            return 0;
        }

        var location = string.Create(CultureInfo.InvariantCulture,
            $"{clientId}/{slice.Source}/{slice.From:yyyy'/'MM'/'dd}-{Guid.NewGuid():N}.csv.gz");
        var (bytes, sha256) = await storage.WriteAsync(location, file => ExportAsync(connection, slice, file, ct), ct);
        try
        {
            await using (var record = new NpgsqlCommand(
                """
                INSERT INTO archive.segments
                    (client_id, data_kind, source, range_from, range_to, sequences, row_count, bytes, sha256, location, archived_at, replaced_before)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                """, connection, transaction))
            {
                record.Parameters.AddWithValue(clientId);
                record.Parameters.AddWithValue(SegmentIndex.DataKindName(slice.Kind));
                record.Parameters.AddWithValue(slice.Source);
                record.Parameters.AddWithValue(slice.From.ToUniversalTime());
                record.Parameters.AddWithValue(slice.To.ToUniversalTime());
                record.Parameters.Add(new NpgsqlParameter { Value = (object?)sequences ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.BigIntMultirange });
                record.Parameters.AddWithValue(rows);
                record.Parameters.AddWithValue(bytes);
                record.Parameters.AddWithValue(sha256);
                record.Parameters.AddWithValue(location);
                record.Parameters.AddWithValue(now.ToUniversalTime());
                record.Parameters.Add(new NpgsqlParameter { Value = (object?)slice.ReplacedBefore?.UtcDateTime ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
                await record.ExecuteNonQueryAsync(ct);
            }

            var removed = await ExecuteAsync(connection, delete, ct);
            if (removed != rows)
            {
                throw new InvalidOperationException($"Archiving {slice.Source} of client '{clientId}' counted {rows} rows but would delete {removed}; nothing was archived.");
            }
        }
        catch
        {
            // The rows stay in the table; the file would be an orphan.
            storage.Delete(location);
            throw;
        }

        // Not in the catch above: a commit that failed on the way back may have committed, and then the file is the rows'
        // only copy. At worst it stays as a file no index entry names.
        await transaction.CommitAsync(ct);
        return rows;
    }

    /// <summary>
    /// Puts a segment's rows back into <paramref name="table"/> until <paramref name="until"/>; false when another call
    /// already did. A file naming a column the table does not have is refused.
    /// </summary>
    public async Task<bool> RestoreAsync(IndexedSegment indexed, ObjectModelTable table, DateTimeOffset until, CancellationToken ct)
    {
        var segment = indexed.Segment;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await ExecuteAsync(connection, TextForms, ct);
        await using (var mark = new NpgsqlCommand(
            "UPDATE archive.segments SET restored_until = $2 WHERE segment_id = $1 AND restored_until IS NULL", connection, transaction))
        {
            mark.Parameters.AddWithValue(segment.SegmentId);
            mark.Parameters.AddWithValue(until.ToUniversalTime());
            if (await mark.ExecuteNonQueryAsync(ct) == 0)
            {
                return false;
            }
        }

        await using var file = await storage.OpenCheckedAsync(segment.Location, segment.Sha256, ct);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, new UTF8Encoding(false));
        var header = await reader.ReadLineAsync(ct) ?? throw new InvalidDataException($"Archive file '{segment.Location}' is empty.");
        var named = header.Split(',').Select(c => c.Trim('"')).ToList();
        if (named.FirstOrDefault(c => !table.ColumnNames.Contains(c)) is { } unknown)
        {
            throw new InvalidDataException($"Archive file '{segment.Location}' has a column '{unknown}' that {table.QualifiedName} does not.");
        }

        var list = string.Join(", ", named.Select(ObjectModelTable.Quote));
        await using (var import = await connection.BeginTextImportAsync($"COPY {table.QualifiedName} ({list}) FROM STDIN (FORMAT csv)", ct))
        {
            var buffer = new char[Chunk];
            int read;
            while ((read = await reader.ReadAsync(buffer, ct)) > 0)
            {
                await import.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        }

        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>Takes a restored segment's rows out of <paramref name="table"/> again (its file stays); false if it was not restored.</summary>
    public async Task<bool> RemoveRestoredAsync(string clientId, IndexedSegment indexed, ObjectModelTable table, CancellationToken ct)
    {
        var segment = indexed.Segment;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var unmark = new NpgsqlCommand(
            "UPDATE archive.segments SET restored_until = NULL WHERE segment_id = $1 AND restored_until IS NOT NULL", connection, transaction))
        {
            unmark.Parameters.AddWithValue(segment.SegmentId);
            if (await unmark.ExecuteNonQueryAsync(ct) == 0)
            {
                return false;
            }
        }

        await using (var delete = new NpgsqlCommand(
            $"DELETE FROM {table.QualifiedName} AS t WHERE t.client_id = $1 AND t.{table.EventTimeColumn} >= $2 AND t.{table.EventTimeColumn} < $3 AND $4 @> t.sequence",
            connection, transaction))
        {
            delete.Parameters.AddWithValue(clientId);
            delete.Parameters.AddWithValue(segment.From.ToUniversalTime());
            delete.Parameters.AddWithValue(segment.To.ToUniversalTime());
            delete.Parameters.Add(new NpgsqlParameter { Value = indexed.Sequences ?? [], NpgsqlDbType = NpgsqlDbType.BigIntMultirange });
            var removed = await delete.ExecuteNonQueryAsync(ct);
            if (removed != segment.Rows)
            {
                throw new InvalidOperationException(
                    $"Segment {segment.SegmentId} of client '{clientId}' holds {segment.Rows} rows, but {removed} of them are in {table.QualifiedName}; they stay restored.");
            }
        }

        await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>A literal of an instant for a statement that takes no parameters.</summary>
    public static string Literal(DateTimeOffset instant) =>
        KpiSqlCompiler.Literal(instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)) + "::timestamptz";

    private static async Task<long> ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<(long Rows, NpgsqlRange<long>[]? Sequences)> CountAsync(NpgsqlConnection connection, TableSlice slice, CancellationToken ct)
    {
        var sequences = slice.HasSequences ? "range_agg(int8range(t.sequence, t.sequence, '[]'))" : "NULL::int8multirange";
        await using var command = new NpgsqlCommand($"SELECT count(*), {sequences} FROM {slice.Table} AS t WHERE {slice.Where}", connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<NpgsqlRange<long>[]>(1));
    }

    private static async Task ExportAsync(NpgsqlConnection connection, TableSlice slice, Stream file, CancellationToken ct)
    {
        var order = slice.HasSequences ? " ORDER BY t.sequence" : "";
        await using var gzip = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true);
        await using (var writer = new StreamWriter(gzip, new UTF8Encoding(false), Chunk, leaveOpen: true))
        {
            using var export = await connection.BeginTextExportAsync(
                $"COPY (SELECT {slice.Columns} FROM {slice.Table} AS t WHERE {slice.Where}{order}) TO STDOUT (FORMAT csv, HEADER)", ct);
            var buffer = new char[Chunk];
            int read;
            while ((read = await export.ReadAsync(buffer, ct)) > 0)
            {
                await writer.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        }
    }
}
