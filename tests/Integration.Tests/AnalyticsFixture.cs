using System.Net;
using System.Net.Sockets;
using AnalyticsEngine.Silo;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// The whole product in one test process: a real silo (PostgreSQL storage, Redis membership) and the real
/// gateway as its Orleans client, against the PostgreSQL and Redis that the test command started.
/// Each run uses its own cluster id, so it never joins a cluster left over from another run.
/// </summary>
public sealed class AnalyticsFixture : IAsyncLifetime
{
    public static string Postgres { get; } = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
        ?? "Host=127.0.0.1;Port=55432;Username=analytics;Password=analytics;Database=analytics";

    public static string Redis { get; } = Environment.GetEnvironmentVariable("ConnectionStrings__Redis") ?? "127.0.0.1:56379";

    private readonly string _clusterId = "it-" + Guid.NewGuid().ToString("N")[..12];
    private WebApplication? _silo;

    public WebApplicationFactory<Program> Gateway { get; private set; } = null!;

    public NpgsqlDataSource Database { get; } = NpgsqlDataSource.Create(Postgres);

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _silo = SiloApp.Build(
        [
            $"--ConnectionStrings:Postgres={Postgres}",
            $"--ConnectionStrings:Redis={Redis}",
            $"--Orleans:ClusterId={_clusterId}",
            $"--Orleans:ServiceId={_clusterId}",
            $"--Orleans:SiloPort={FreePort()}",
            $"--Orleans:GatewayPort={FreePort()}",
            "--urls=http://127.0.0.1:0",
        ]);
        await SiloApp.StartAsync(_silo);

        Gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("ConnectionStrings:Postgres", Postgres)
            .UseSetting("ConnectionStrings:Redis", Redis)
            .UseSetting("Orleans:ClusterId", _clusterId)
            .UseSetting("Orleans:ServiceId", _clusterId));
        Http = Gateway.CreateClient();
    }

    /// <summary>A SignalR connection to the gateway's KPI hub, over the test server's WebSocket.</summary>
    public async Task<HubConnection> ConnectHubAsync()
    {
        var server = Gateway.Server;
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.BaseAddress, "hubs/kpi"), options =>
            {
                options.HttpMessageHandlerFactory = _ => server.CreateHandler();
                options.WebSocketFactory = async (context, ct) =>
                {
                    var client = server.CreateWebSocketClient();
                    return await client.ConnectAsync(context.Uri, ct);
                };
            })
            .AddJsonProtocol(o => o.PayloadSerializerOptions.Converters.Add(
                new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase)))
            .Build();
        await connection.StartAsync();
        return connection;
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        if (_silo is not null)
        {
            await _silo.StopAsync();
            await _silo.DisposeAsync();
        }

        await Database.DisposeAsync();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class AnalyticsCollection : ICollectionFixture<AnalyticsFixture>
{
    public const string Name = "analytics";
}
