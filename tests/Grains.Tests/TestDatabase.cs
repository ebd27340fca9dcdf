using AnalyticsEngine.Silo.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests;

/// <summary>
/// The real PostgreSQL that <c>scripts/services.sh</c> starts, migrated once per test process.
/// </summary>
/// <remarks>
/// Tests share the database, so each keeps to its own rows: Orleans test clusters get a fresh ServiceId,
/// other tests use unique keys.
/// </remarks>
public static class TestDatabase
{
    /// <summary>The connection string used when <c>ConnectionStrings__Postgres</c> is not set.</summary>
    public const string DefaultConnectionString =
        "Host=127.0.0.1;Port=55432;Username=analytics;Password=analytics;Database=analytics";

    /// <summary>The connection string from <c>ConnectionStrings__Postgres</c>, or <see cref="DefaultConnectionString"/>.</summary>
    public static string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("ConnectionStrings__Postgres") is { Length: > 0 } configured
            ? configured
            : DefaultConnectionString;

    private static readonly Lazy<Task> Migration = new(
        () => SchemaMigrator.ApplyAsync(ConnectionString, NullLogger.Instance, CancellationToken.None));

    private static readonly Lazy<NpgsqlDataSource> LazyDataSource = new(() => NpgsqlDataSource.Create(ConnectionString));

    /// <summary>A data source over <see cref="ConnectionString"/>, shared by the whole test process.</summary>
    public static NpgsqlDataSource DataSource => LazyDataSource.Value;

    /// <summary>Applies the schema migrations; only the first call does any work.</summary>
    public static Task EnsureMigratedAsync() => Migration.Value;

    /// <summary>
    /// Waits until <paramref name="backends"/> backends running a statement that contains <paramref name="statement"/>
    /// wait for a lock held by the backend <paramref name="holder"/>; given <paramref name="applicationName"/>, backends of
    /// connections by that name (a cluster's, where other test collections' queries may wait on the same lock).
    /// </summary>
    public static async Task WaitUntilBlockedByAsync(int holder, string statement, string? applicationName = null, int backends = 1)
    {
        await using var command = DataSource.CreateCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) AND strpos(query, $2) > 0 AND ($3::text IS NULL OR application_name = $3)");
        command.Parameters.AddWithValue(holder);
        command.Parameters.AddWithValue(statement);
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = applicationName, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        for (var attempt = 0; attempt < 600; attempt++)
        {
            if ((long)(await command.ExecuteScalarAsync())! >= backends)
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"fewer than {backends} statements containing '{statement}' waited for backend {holder}'s lock");
    }
}
