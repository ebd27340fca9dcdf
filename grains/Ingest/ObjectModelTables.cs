using AnalyticsEngine.Catalog;
using Npgsql;

namespace AnalyticsEngine.Ingest;

/// <summary>The storage table of every catalog object model, created at silo start.</summary>
public sealed class ObjectModelTables
{
    private const long CreationLockKey = 0x4145_5F4F_424A_4D44; // "AE_OBJMD"

    private readonly Dictionary<string, ObjectModelTable> _tables;

    public ObjectModelTables(IEnumerable<ObjectModelDefinition> models)
    {
        _tables = models.ToDictionary(m => m.Code, m => new ObjectModelTable(m), StringComparer.Ordinal);
    }

    public static ObjectModelTables BuiltIn { get; } = new(BuiltInCatalog.ObjectModels);

    public IEnumerable<ObjectModelTable> All => _tables.Values;

    public ObjectModelTable? Find(string objectModel) => _tables.GetValueOrDefault(objectModel);

    public ObjectModelTable Get(string objectModel) =>
        Find(objectModel) ?? throw new ArgumentException($"'{objectModel}' is not an object model", nameof(objectModel));

    /// <summary>
    /// Creates every table that does not exist yet; hypertables when TimescaleDB is installed. Silos (and test
    /// fixtures) that start together serialise on a transaction-level advisory lock, because
    /// <c>CREATE TABLE IF NOT EXISTS</c> is not safe against a concurrent creation of the same table: the
    /// loser fails on the catalog's unique index instead of finding the table.
    /// </summary>
    /// <remarks>
    /// When the catalogs show everything there (every start but a database's first, without TimescaleDB), no DDL
    /// runs: <c>CREATE INDEX IF NOT EXISTS</c> takes a share lock on the table even when the index exists, so each
    /// silo start (a scale-out, every step of a rolling update) would wait for ingest's open COPYs and then hold
    /// every new one back until its transaction ends.
    /// </remarks>
    public async Task EnsureCreatedAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        bool withTimescale, present;
        await using (var probe = new NpgsqlCommand(
                         "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'), "
                         + string.Join(" AND ", _tables.Values.Select(t => $"({t.ExistsSql()})")), connection))
        await using (var reader = await probe.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            (withTimescale, present) = (reader.GetBoolean(0), reader.GetBoolean(1));
        }

        if (present && !withTimescale)
        {
            return;
        }

        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction))
        {
            lockCommand.Parameters.AddWithValue(CreationLockKey);
            await lockCommand.ExecuteNonQueryAsync(ct);
        }

        foreach (var table in _tables.Values)
        {
            await using var command = new NpgsqlCommand(table.CreateTableSql(withTimescale), connection, transaction);
            await command.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
    }
}
