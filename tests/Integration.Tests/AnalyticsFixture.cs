using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Silo;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// The whole product in one test process: a real silo (PostgreSQL storage, Redis membership) and the real
/// gateway as its Orleans client, against the PostgreSQL and Redis that the test command started.
/// Each run uses its own cluster id, so it never joins a cluster left over from another run.
/// The gateway runs in Development, so it validates tokens signed with appsettings.Development.json's key;
/// <see cref="Http"/> and <see cref="ConnectHubAsync"/> carry an admin token for every client.
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

    /// <summary>An admin with access to every client.</summary>
    public HttpClient Http { get; private set; } = null!;

    /// <summary>The gateway's token settings (issuer, audience, development signing key).</summary>
    public AuthOptions Auth => Gateway.Services.GetRequiredService<IOptions<AuthOptions>>().Value;

    public async Task InitializeAsync()
    {
        _silo = await StartSiloAsync();
        Gateway = CreateGateway();
        Http = CreateClient(Token(Roles.Admin, ClientAccess.AllClients));
    }

    /// <summary>
    /// A silo of this cluster, started and joined; the fixture starts the first, a test may start more (as operators
    /// scale out) and stop them again (as they scale in).
    /// </summary>
    public async Task<WebApplication> StartSiloAsync()
    {
        var silo = SiloApp.Build(
        [
            $"--ConnectionStrings:Postgres={Postgres}",
            $"--ConnectionStrings:Redis={Redis}",
            $"--Orleans:ClusterId={_clusterId}",
            $"--Orleans:ServiceId={_clusterId}",
            $"--Orleans:SiloPort={FreePort()}",
            $"--Orleans:GatewayPort={FreePort()}",
            "--urls=http://127.0.0.1:0",
            // RollupTests watches the ingest grain roll up on its own; a second instead of ten keeps it short.
            "--Ingest:RollupDelay=00:00:01",
        ]);
        await SiloApp.StartAsync(silo);
        return silo;
    }

    /// <summary>A gateway of this cluster; <see cref="Gateway"/> is one, a test may start more side by side (and dispose them).</summary>
    public WebApplicationFactory<Program> CreateGateway() =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("ConnectionStrings:Postgres", Postgres)
            .UseSetting("ConnectionStrings:Redis", Redis)
            .UseSetting("Orleans:ClusterId", _clusterId)
            .UseSetting("Orleans:ServiceId", _clusterId)
            // The matrix and hostile-input tests send many requests per client; RateLimitTests checks the limiter.
            .UseSetting("RateLimits:PermitsPerSecond", "100000")
            .UseSetting("RateLimits:Burst", "100000"));

    /// <summary>A token signed with the gateway's development key; a negative lifetime makes an expired one.</summary>
    public string Token(string role, string clients, TimeSpan? lifetime = null, string subject = "tests") =>
        Token(Auth, role, clients, lifetime, subject);

    public static string Token(AuthOptions auth, string role, string clients, TimeSpan? lifetime = null, string subject = "tests")
    {
        var valid = lifetime ?? TimeSpan.FromMinutes(30);
        // An expired token was issued in the past and lapsed before now (beyond the allowed clock skew).
        var issuedAt = valid > TimeSpan.Zero ? DateTimeOffset.UtcNow : DateTimeOffset.UtcNow + valid - TimeSpan.FromMinutes(5);
        return DevTokens.Create(auth, new DevTokenRequest(subject, [role], clients, valid > TimeSpan.Zero ? valid : TimeSpan.FromMinutes(5)), issuedAt);
    }

    /// <summary>An HTTP client of the gateway that sends this bearer token (none when null).</summary>
    public HttpClient CreateClient(string? token) => CreateClient(Gateway, token);

    public static HttpClient CreateClient(WebApplicationFactory<Program> gateway, string? token)
    {
        var http = gateway.CreateClient();
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }

    /// <summary>A SignalR connection to the gateway's KPI hub, over the test server's WebSocket, as an admin of every client.</summary>
    public Task<HubConnection> ConnectHubAsync() => ConnectHubAsync(Token(Roles.Admin, ClientAccess.AllClients));

    /// <summary>
    /// A SignalR connection with this token (none when null): a header on negotiate, and on the WebSocket the
    /// <c>access_token</c> query value, as browsers send it.
    /// </summary>
    public Task<HubConnection> ConnectHubAsync(string? token) => ConnectHubAsync(Gateway, token);

    public static async Task<HubConnection> ConnectHubAsync(WebApplicationFactory<Program> gateway, string? token)
    {
        var server = gateway.Server;
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.BaseAddress, "hubs/kpi"), options =>
            {
                options.HttpMessageHandlerFactory = _ => server.CreateHandler();
                options.AccessTokenProvider = () => Task.FromResult(token);
                options.WebSocketFactory = async (context, ct) =>
                {
                    var client = server.CreateWebSocketClient();
                    var uri = token is null
                        ? context.Uri
                        : new UriBuilder(context.Uri) { Query = context.Uri.Query.TrimStart('?') + "&access_token=" + Uri.EscapeDataString(token) }.Uri;
                    return await client.ConnectAsync(uri, ct);
                };
            })
            .AddJsonProtocol(o => o.PayloadSerializerOptions.Converters.Add(
                new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase)))
            .Build();
        await connection.StartAsync();
        return connection;
    }

    /// <summary>A SignalR connection over MessagePack (long polling), with this token.</summary>
    public async Task<HubConnection> ConnectMessagePackHubAsync(string token)
    {
        var server = Gateway.Server;
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.BaseAddress, "hubs/kpi"), options =>
            {
                options.HttpMessageHandlerFactory = _ => server.CreateHandler();
                options.AccessTokenProvider = () => Task.FromResult<string?>(token);
                options.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.LongPolling;
            })
            .AddMessagePackProtocol()
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
