using System.Text;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Query;
using Npgsql;
using NpgsqlTypes;

namespace AnalyticsEngine.Ingest;

/// <summary>
/// The PostgreSQL table of one object model, generated from its definition: <c>{domain}.{code}</c> with
/// <c>client_id</c>, <c>sequence</c> (contiguous per client), one column per field and <c>ingested_at</c>.
/// With TimescaleDB it is a hypertable on the event-time column; without it, a plain table indexed the
/// same way serves the same queries.
/// </summary>
public sealed class ObjectModelTable
{
    public ObjectModelTable(ObjectModelDefinition model)
    {
        Layout = new EventRowLayout(model);
        QualifiedName = $"{Quote(model.Domain)}.{Quote(model.Code)}";
        EventTimeColumn = Quote(model.EventTimeField);
        var fieldColumns = string.Join(", ", model.Fields.Select(f => Quote(f.Name)));
        _copyCommand = $"COPY {QualifiedName} (client_id, sequence, {fieldColumns}) FROM STDIN (FORMAT BINARY)";
        _selectRange = $"SELECT sequence, {fieldColumns} FROM {QualifiedName} WHERE client_id = $1 AND sequence BETWEEN $2 AND $3 ORDER BY sequence LIMIT $4";
        _eventTimeSlot = Layout.GetSlot(model.EventTimeField);
        ColumnNames = new HashSet<string>(["client_id", "sequence", "ingested_at", .. model.Fields.Select(f => f.Name)], StringComparer.Ordinal);
    }

    private readonly string _copyCommand;
    private readonly string _selectRange;
    private readonly FieldSlot _eventTimeSlot;

    public EventRowLayout Layout { get; }

    public ObjectModelDefinition Model => Layout.Model;

    public string QualifiedName { get; }

    /// <summary>Every column of the table, unquoted: what an archived segment of it may hold.</summary>
    public IReadOnlySet<string> ColumnNames { get; }

    /// <summary>The event-time column's name, quoted.</summary>
    public string EventTimeColumn { get; }

    /// <summary>
    /// A boolean SQL expression: whether everything <see cref="CreateTableSql"/> makes without TimescaleDB is there
    /// already (table, index, slot statistics at their target). It reads only the catalogs, so unlike the DDL it
    /// waits on no lock of the table.
    /// </summary>
    public string ExistsSql()
    {
        var model = Model;
        var schema = KpiSqlCompiler.Literal(Quote(model.Domain));
        var checks = new List<string>
        {
            $"to_regclass({KpiSqlCompiler.Literal(QualifiedName)}) IS NOT NULL",
            $"to_regclass({KpiSqlCompiler.Literal($"{Quote(model.Domain)}.{Quote($"{model.Code}_client_time")}")}) IS NOT NULL",
        };
        if (model.Kind == ObjectKind.Event)
        {
            checks.AddRange(TermRollups.SlotMinutes.Select(minutes =>
                $"EXISTS (SELECT 1 FROM pg_statistic_ext WHERE stxnamespace = to_regnamespace({schema}) " +
                $"AND stxname = {KpiSqlCompiler.Literal($"{model.Code}_slots_{minutes}")} AND stxstattarget = {SlotStatisticsTarget})"));
        }

        return string.Join(" AND ", checks);
    }

    /// <summary>Idempotent DDL for the table and its indexes.</summary>
    public string CreateTableSql(bool withTimescale)
    {
        var model = Model;
        var sql = new StringBuilder();
        sql.Append("CREATE SCHEMA IF NOT EXISTS ").Append(Quote(model.Domain)).AppendLine(";");
        sql.Append("CREATE TABLE IF NOT EXISTS ").Append(QualifiedName).AppendLine(" (");
        sql.AppendLine("    client_id text NOT NULL,");
        sql.AppendLine("    sequence bigint NOT NULL,");
        foreach (var field in model.Fields)
        {
            var notNull = field.Required || field.Name == model.EventTimeField ? " NOT NULL" : "";
            sql.Append("    ").Append(Quote(field.Name)).Append(' ').Append(SqlType(field.Type)).Append(notNull).AppendLine(",");
        }

        sql.AppendLine("    ingested_at timestamptz NOT NULL DEFAULT now(),");
        // A hypertable's unique keys must contain its time column.
        sql.Append("    PRIMARY KEY (client_id, sequence, ").Append(EventTimeColumn).AppendLine(")");
        sql.AppendLine(");");
        sql.Append("CREATE INDEX IF NOT EXISTS ").Append(Quote($"{model.Code}_client_time"))
            .Append(" ON ").Append(QualifiedName).Append(" (client_id, ").Append(EventTimeColumn).AppendLine(");");
        if (model.Kind == ObjectKind.Event)
        {
            // A query over raw rows first adds them up per time slot (KpiSqlCompiler). Without statistics on the slot
            // expression PostgreSQL takes every row for a group of its own, so it never splits the aggregation over
            // parallel workers (a year of 10 million rows took twice as long). A slot holds many rows, so the default
            // sample (30,000 rows) sees most slots once and overestimates them; 300,000 count an hour's slots exactly
            // and bring a quarter-hour's estimate low enough for a parallel plan (zones at :30 and :45). The price is
            // a longer ANALYZE: 4–6 s for 10 million rows against 0.4 s (1.3 s with 90,000 rows, too few for quarters).
            // The target is set only when it differs: ALTER needs the statistics' owner, and a database administrator
            // may have created them (the silo's role owns the table, so CREATE … IF NOT EXISTS then does nothing).
            foreach (var minutes in TermRollups.SlotMinutes)
            {
                var name = $"{model.Code}_slots_{minutes}";
                var statistics = $"{Quote(model.Domain)}.{Quote(name)}";
                sql.Append("CREATE STATISTICS IF NOT EXISTS ").Append(statistics)
                    .Append(" ON (").Append(TermRollups.SlotStart(EventTimeColumn, minutes)).Append(") FROM ").Append(QualifiedName).AppendLine(";");
                sql.Append("DO $slots$ BEGIN IF EXISTS (SELECT 1 FROM pg_statistic_ext WHERE stxnamespace = ").Append(KpiSqlCompiler.Literal(Quote(model.Domain)))
                    .Append("::regnamespace AND stxname = ").Append(KpiSqlCompiler.Literal(name)).Append(" AND stxstattarget IS DISTINCT FROM ").Append(SlotStatisticsTarget)
                    .Append(") THEN ALTER STATISTICS ").Append(statistics).Append(" SET STATISTICS ").Append(SlotStatisticsTarget).AppendLine("; END IF; END $slots$;");
            }
        }

        if (withTimescale)
        {
            sql.Append("SELECT create_hypertable(").Append(KpiSqlCompiler.Literal(QualifiedName))
                .Append(", by_range(").Append(KpiSqlCompiler.Literal(model.EventTimeField)).AppendLine("), if_not_exists => true, migrate_data => true);");
        }

        return sql.ToString();
    }

    /// <summary>Writes rows with binary COPY on the caller's connection (and transaction).</summary>
    public async Task CopyAsync(NpgsqlConnection connection, string clientId, IReadOnlyList<EventRow> rows, CancellationToken ct)
    {
        await using var importer = await connection.BeginBinaryImportAsync(_copyCommand, ct);
        foreach (var row in rows)
        {
            await importer.StartRowAsync(ct);
            await importer.WriteAsync(clientId, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(row.Sequence, NpgsqlDbType.Bigint, ct);
            foreach (var slot in Layout.Slots)
            {
                await WriteValueAsync(importer, row, slot, ct);
            }
        }

        await importer.CompleteAsync(ct);
    }

    /// <summary>
    /// Reads the committed rows of one client with sequence in [from, to], in order: the first <paramref name="limit"/>
    /// of them (all when not given). One statement, so the rows read and the sequence numbers between them that no row
    /// has are seen at the same moment.
    /// </summary>
    public async Task<List<EventRow>> ReadAsync(
        NpgsqlDataSource dataSource, string clientId, long fromSequence, long toSequence, CancellationToken ct, long limit = long.MaxValue)
    {
        await using var command = dataSource.CreateCommand(_selectRange);
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(fromSequence);
        command.Parameters.AddWithValue(toSequence);
        command.Parameters.AddWithValue(limit);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<EventRow>();
        while (await reader.ReadAsync(ct))
        {
            var numbers = new double[Layout.NumberCount];
            var texts = new string?[Layout.TextCount];
            for (var i = 0; i < Layout.Slots.Count; i++)
            {
                var slot = Layout.Slots[i];
                var ordinal = i + 1;
                if (slot.IsText)
                {
                    texts[slot.Index] = reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
                }
                else
                {
                    numbers[slot.Index] = reader.IsDBNull(ordinal) ? double.NaN : ReadNumber(reader, ordinal, slot.Field.Type);
                }
            }

            var eventTime = DateTimeOffset.FromUnixTimeMilliseconds((long)numbers[_eventTimeSlot.Index]);
            rows.Add(new EventRow(reader.GetInt64(0), eventTime, numbers, texts));
        }

        return rows;
    }

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>The statistics target of the time-slot statistics (300 rows sampled per unit: 300,000).</summary>
    private const int SlotStatisticsTarget = 1000;

    private static string SqlType(FieldType type) => type switch
    {
        FieldType.Number => "double precision",
        FieldType.Integer => "bigint",
        FieldType.Boolean => "boolean",
        FieldType.Text => "text",
        FieldType.Timestamp => "timestamptz",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    private static double ReadNumber(NpgsqlDataReader reader, int ordinal, FieldType type) => type switch
    {
        FieldType.Number => reader.GetDouble(ordinal),
        FieldType.Integer => reader.GetInt64(ordinal),
        FieldType.Boolean => reader.GetBoolean(ordinal) ? 1 : 0,
        FieldType.Timestamp => new DateTimeOffset(reader.GetDateTime(ordinal), TimeSpan.Zero).ToUnixTimeMilliseconds(),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    private static Task WriteValueAsync(NpgsqlBinaryImporter importer, EventRow row, FieldSlot slot, CancellationToken ct)
    {
        if (slot.IsText)
        {
            var text = row.Texts[slot.Index];
            return text is null ? importer.WriteNullAsync(ct) : importer.WriteAsync(text, NpgsqlDbType.Text, ct);
        }

        var number = row.Numbers[slot.Index];
        if (double.IsNaN(number))
        {
            return importer.WriteNullAsync(ct);
        }

        return slot.Field.Type switch
        {
            FieldType.Number => importer.WriteAsync(number, NpgsqlDbType.Double, ct),
            FieldType.Integer => importer.WriteAsync((long)number, NpgsqlDbType.Bigint, ct),
            FieldType.Boolean => importer.WriteAsync(number != 0, NpgsqlDbType.Boolean, ct),
            FieldType.Timestamp => importer.WriteAsync(DateTimeOffset.FromUnixTimeMilliseconds((long)number).UtcDateTime, NpgsqlDbType.TimestampTz, ct),
            _ => throw new ArgumentOutOfRangeException(nameof(slot), slot.Field.Type, null),
        };
    }
}
