using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace AnalyticsEngine.Clients;

/// <summary>Reads and writes client configurations in <c>config.clients</c> as JSON documents.</summary>
public sealed class ClientConfigStore(NpgsqlDataSource dataSource)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<ClientConfig?> FindAsync(string clientId, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand("SELECT config FROM config.clients WHERE client_id = $1");
        command.Parameters.AddWithValue(clientId);
        var json = (string?)await command.ExecuteScalarAsync(ct);
        return json is null ? null : JsonSerializer.Deserialize<ClientConfig>(json, Json);
    }

    public async Task<IReadOnlyList<ClientConfig>> ListAsync(CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand("SELECT config FROM config.clients ORDER BY client_id");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var configs = new List<ClientConfig>();
        while (await reader.ReadAsync(ct))
        {
            configs.Add(JsonSerializer.Deserialize<ClientConfig>(reader.GetString(0), Json)!);
        }

        return configs;
    }

    public async Task SaveAsync(ClientConfig config, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand(
            """
            INSERT INTO config.clients (client_id, config, version, updated_at) VALUES ($1, $2, $3, now())
            ON CONFLICT (client_id) DO UPDATE SET config = excluded.config, version = excluded.version, updated_at = now()
            """);
        command.Parameters.AddWithValue(config.ClientId);
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(config, Json), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.AddWithValue(config.Version);
        await command.ExecuteNonQueryAsync(ct);
    }
}
