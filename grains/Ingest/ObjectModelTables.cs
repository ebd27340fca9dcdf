using AnalyticsEngine.Catalog;
using Npgsql;

namespace AnalyticsEngine.Ingest;

/// <summary>The storage table of every catalog object model, created at silo start.</summary>
public sealed class ObjectModelTables
{
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

    /// <summary>Creates every table that does not exist yet; hypertables when TimescaleDB is installed.</summary>
    public async Task EnsureCreatedAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await using var probe = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')");
        var withTimescale = (bool)(await probe.ExecuteScalarAsync(ct))!;
        foreach (var table in _tables.Values)
        {
            await using var command = dataSource.CreateCommand(table.CreateTableSql(withTimescale));
            await command.ExecuteNonQueryAsync(ct);
        }
    }
}
