using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using Microsoft.Extensions.Logging;

namespace AnalyticsEngine.Demo;

/// <summary>
/// The demo feed: creates demo clients in a few time zones and posts orders through the ingest grains
/// on a timer, so the live page shows real values moving through the real pipeline.
/// </summary>
public sealed class DemoFeedGrain(ILogger<DemoFeedGrain> logger) : Grain, IDemoFeedGrain
{
    private static readonly string[] Zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney"];
    private static readonly string[] DemoKpis = ["POF", "OTD"];
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    private readonly DemoOrders _orders = new(seed: 7);
    private IGrainTimer? _timer;
    private DemoFeedSettings? _settings;
    private List<string> _clientIds = [];
    private long _sent;
    private double _carry;

    public async Task<DemoFeedStatus> Start(DemoFeedSettings settings)
    {
        var clients = Math.Clamp(settings.Clients, 1, 100);
        _settings = settings with { Clients = clients, OrdersPerSecond = Math.Clamp(settings.OrdersPerSecond, 1, 10_000) };
        _clientIds = [];
        for (var i = 1; i <= clients; i++)
        {
            var clientId = $"demo-{i}";
            await EnsureClientAsync(clientId, $"Demo Client {i}", Zones[(i - 1) % Zones.Length]);
            _clientIds.Add(clientId);
        }

        _timer?.Dispose();
        _timer = this.RegisterGrainTimer(PostOrdersAsync, new GrainTimerCreationOptions(Tick, Tick) { KeepAlive = true });
        logger.LogInformation("Demo feed started: {Clients} clients, {Rate} orders/s", clients, _settings.OrdersPerSecond);
        return await GetStatus();
    }

    public Task<DemoFeedStatus> Stop()
    {
        _timer?.Dispose();
        _timer = null;
        return GetStatus();
    }

    public Task<DemoFeedStatus> GetStatus() =>
        Task.FromResult(new DemoFeedStatus(_timer is not null, _clientIds, _settings?.OrdersPerSecond ?? 0, _sent));

    public async Task<int> Generate(DemoGenerateRequest request)
    {
        var random = new Random(request.Seed);
        var span = (request.To - request.From).Ticks;
        var generator = new DemoOrders(request.Seed);
        var stored = 0;
        for (var offset = 0; offset < request.Orders; offset += 5_000)
        {
            var times = Enumerable.Range(0, Math.Min(5_000, request.Orders - offset))
                .Select(_ => request.From.AddTicks((long)(random.NextDouble() * span)))
                .ToList();
            var result = await GrainFactory.GetGrain<IIngestGrain>(IngestKeys.For(request.ClientId, "orders"))
                .Ingest(new IngestRequest(IngestFormat.Json, generator.CreateBatch(times, $"gen{request.Seed}-{offset}"), IngestPolicy.RejectBatch, null));
            if (result.Status != IngestStatus.Committed)
            {
                throw new InvalidOperationException($"Demo data was refused: {result.Errors.FirstOrDefault()?.Reason}");
            }

            stored += result.Accepted;
        }

        return stored;
    }

    private async Task EnsureClientAsync(string clientId, string name, string zone)
    {
        var grain = GrainFactory.GetGrain<IClientConfigGrain>(clientId);
        if (await grain.Get() is null)
        {
            await grain.Put(new ClientConfig(clientId, name, zone, DemoKpis, [], [], 0));
        }
    }

    private async Task PostOrdersAsync(CancellationToken cancellationToken)
    {
        if (_settings is null)
        {
            return;
        }

        // Spread the per-second rate over the ticks, carrying fractions so low rates still post.
        _carry += _settings.OrdersPerSecond * Tick.TotalSeconds;
        var due = (int)_carry;
        _carry -= due;
        var now = DateTimeOffset.UtcNow;
        var posts = new List<Task>();
        for (var i = 0; i < _clientIds.Count && due > 0; i++)
        {
            var share = (due / (_clientIds.Count - i)) + (i < due % (_clientIds.Count - i) ? 1 : 0);
            if (share == 0)
            {
                continue;
            }

            due -= share;
            var body = _orders.CreateBatch(Enumerable.Repeat(now, share).ToList(), _clientIds[i]);
            posts.Add(GrainFactory.GetGrain<IIngestGrain>(IngestKeys.For(_clientIds[i], "orders"))
                .Ingest(new IngestRequest(IngestFormat.Json, body, IngestPolicy.RejectBatch, null)));
            _sent += share;
        }

        await Task.WhenAll(posts);
    }
}
