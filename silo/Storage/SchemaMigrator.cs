using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AnalyticsEngine.Silo.Storage;

/// <summary>
/// Brings the database schema up to date from the <c>sql/*.sql</c> migrations embedded in this assembly.
/// </summary>
/// <remarks>
/// Files run in ordinal name order, each in its own transaction, and are recorded with a SHA-256 checksum in
/// <c>public.ae_schema_migrations</c>. A session-level advisory lock serialises silos that start together;
/// the ones that wait find the work done and skip it. A file whose checksum changed after it was applied is not
/// applied again, only reported: while a rolling update or a rollback runs two releases side by side, each would
/// otherwise apply its own version of the file over the other's at every silo start (the Orleans query texts of
/// <c>0001</c>, say). A change to the schema comes as a new numbered file.
/// </remarks>
public static partial class SchemaMigrator
{
    /// <summary>The table that records applied migrations.</summary>
    public const string HistoryTable = "public.ae_schema_migrations";

    // Arbitrary but fixed: every process that migrates this database must use the same key.
    private const long AdvisoryLockKey = 0x4145_5F53_4348_454D; // "AE_SCHEM"

    private const string ResourcePrefix = "sql/";

    /// <summary>The embedded migrations, in the order they are applied.</summary>
    public static IReadOnlyList<Migration> Migrations { get; } = LoadEmbeddedMigrations();

    /// <summary>Applies every embedded migration that this database has not yet seen.</summary>
    public static async Task ApplyAsync(string connectionString, ILogger logger, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(logger);

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct).ConfigureAwait(false);

        if (!await ExecuteScalarAsync<bool>(connection, "SELECT pg_try_advisory_lock(@key)", AdvisoryLockKey, ct).ConfigureAwait(false))
        {
            LogWaitingForLock(logger);
            await ExecuteScalarAsync<object>(connection, "SELECT pg_advisory_lock(@key)", AdvisoryLockKey, ct).ConfigureAwait(false);
        }

        try
        {
            await ApplyUnderLockAsync(connection, logger, ct).ConfigureAwait(false);
        }
        finally
        {
            // Closing the session would release the lock too; unlocking explicitly matters only when the
            // connection goes back to a pool, but costs nothing. Skip it if the connection is already broken.
            if (connection.FullState == System.Data.ConnectionState.Open)
            {
                await ExecuteScalarAsync<bool>(connection, "SELECT pg_advisory_unlock(@key)", AdvisoryLockKey, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether the TimescaleDB extension is installed in the database behind <paramref name="dataSource"/>.</summary>
    public static async Task<bool> HasTimescaleDbAsync(NpgsqlDataSource dataSource, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'timescaledb')");
        return (bool)(await command.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }

    /// <summary>Whether the TimescaleDB extension is installed in the database named by <paramref name="connectionString"/>.</summary>
    public static async Task<bool> HasTimescaleDbAsync(string connectionString, CancellationToken ct = default)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        return await HasTimescaleDbAsync(dataSource, ct).ConfigureAwait(false);
    }

    private static async Task ApplyUnderLockAsync(NpgsqlConnection connection, ILogger logger, CancellationToken ct)
    {
        await using (var create = new NpgsqlCommand(
            $"""
            CREATE TABLE IF NOT EXISTS {HistoryTable}
            (
                name       text        PRIMARY KEY,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, connection))
        {
            await create.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        var applied = new Dictionary<string, string>(StringComparer.Ordinal);
        await using (var read = new NpgsqlCommand($"SELECT name, checksum FROM {HistoryTable}", connection))
        await using (var reader = await read.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                applied[reader.GetString(0)] = reader.GetString(1);
            }
        }

        var appliedNow = 0;
        foreach (var migration in Migrations)
        {
            if (applied.TryGetValue(migration.Name, out var checksum))
            {
                if (checksum != migration.Checksum)
                {
                    LogChecksumChanged(logger, migration.Name);
                }

                continue;
            }

            await ApplyOneAsync(connection, migration, ct).ConfigureAwait(false);
            LogApplied(logger, migration.Name);
            appliedNow++;
        }

        LogUpToDate(logger, Migrations.Count, appliedNow);
    }

    private static async Task ApplyOneAsync(NpgsqlConnection connection, Migration migration, CancellationToken ct)
    {
        await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
        try
        {
            // The whole file is one command; without parameters Npgsql sends its statements as written.
            await using (var command = new NpgsqlCommand(migration.Sql, connection, transaction))
            {
                command.CommandTimeout = 0; // a migration may rewrite a large table; cancellation comes from ct
                await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }

            await using (var record = new NpgsqlCommand(
                $"""
                INSERT INTO {HistoryTable} (name, checksum) VALUES (@name, @checksum)
                ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()
                """, connection, transaction))
            {
                record.Parameters.AddWithValue("name", migration.Name);
                record.Parameters.AddWithValue("checksum", migration.Checksum);
                await record.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }

            await transaction.CommitAsync(ct).ConfigureAwait(false);
        }
        catch (PostgresException ex)
        {
            throw new InvalidOperationException(
                $"Migration {migration.Name} failed at line {LineOf(migration.Sql, ex.Position)}: {ex.MessageText}", ex);
        }
    }

    private static async Task<T> ExecuteScalarAsync<T>(NpgsqlConnection connection, string sql, long key, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.CommandTimeout = 0; // waiting for another silo's migrations is bounded by ct, not by a timeout
        command.Parameters.AddWithValue("key", key);
        return (T)(await command.ExecuteScalarAsync(ct).ConfigureAwait(false))!;
    }

    // Positions count characters from 1; 0 means the server did not say.
    private static string LineOf(string sql, int position) =>
        position <= 0 || position > sql.Length
            ? "?"
            : (sql.AsSpan(0, position).Count('\n') + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static List<Migration> LoadEmbeddedMigrations()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames()
                     .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
                     .OrderBy(n => n, StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"Embedded migration {resource} could not be opened.");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            // Line endings are normalised so that a checkout with CRLF does not look like an edited migration.
            var sql = reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
            var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
            migrations.Add(new Migration(resource[ResourcePrefix.Length..], checksum, sql));
        }

        return migrations;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting for another process to finish applying schema migrations")]
    private static partial void LogWaitingForLock(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migration {Name} differs from the one applied to this database; it is not applied again (another release's version, or an edit: a schema change belongs in a new numbered file)")]
    private static partial void LogChecksumChanged(ILogger logger, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {Name}")]
    private static partial void LogApplied(ILogger logger, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Database schema is up to date: {Total} migrations, {AppliedNow} applied now")]
    private static partial void LogUpToDate(ILogger logger, int total, int appliedNow);
}

/// <summary>One embedded migration file.</summary>
/// <param name="Name">File name, e.g. <c>0001_orleans_persistence.sql</c>; also the order key.</param>
/// <param name="Checksum">Lower-case hex SHA-256 of the text with LF line endings.</param>
/// <param name="Sql">The SQL text.</param>
public sealed record Migration(string Name, string Checksum, string Sql);
