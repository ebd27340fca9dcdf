using Microsoft.Extensions.DependencyInjection;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR.Client;

namespace AnalyticsEngine.LoadDriver;

/// <summary>
/// A client of the real gateway: creates a fresh client organisation, subscribes to its POF over SignalR
/// and posts orders over HTTP, timing what comes back.
/// </summary>
public sealed class PipelineDriver : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly HubConnection _hub;
    private readonly string _clientId;
    private readonly ConcurrentDictionary<long, long> _pushedAtBySequence = new();
    private long _highestPushed;
    private int _orderNumber;
    private int _throttled;

    /// <summary>How many posts the gateway's rate limit asked to retry.</summary>
    public int Throttled => _throttled;

    private PipelineDriver(HttpClient http, HubConnection hub, string clientId)
    {
        _http = http;
        _hub = hub;
        _clientId = clientId;
    }

    public static async Task<PipelineDriver> CreateAsync(DriverOptions options)
    {
        var http = new HttpClient { BaseAddress = options.Gateway, Timeout = TimeSpan.FromMinutes(2) };
        if (options.Token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.Token);
        }

        var clientId = "load-" + Guid.NewGuid().ToString("N")[..8];
        using (var created = await http.PostAsJsonAsync("clients", new { clientId, name = "Load driver", timeZone = "UTC", selectedKpis = new[] { "POF", "OTD" } }))
        {
            created.EnsureSuccessStatusCode();
        }

        var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(options.Gateway, "hubs/kpi"), o => o.AccessTokenProvider = () => Task.FromResult(options.Token))
            .AddJsonProtocol(o => o.PayloadSerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase)))
            .Build();
        var driver = new PipelineDriver(http, hub, clientId);
        hub.On<KpiValue[]>("kpiChanged", driver.OnPushed);
        await hub.StartAsync();
        await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "POF", "day");
        return driver;
    }

    /// <summary>Posts one order at a time and measures POST returned → push that includes it arrived.</summary>
    public async Task<List<double>> MeasurePushLatencyAsync(int posts)
    {
        var samples = new List<double>(posts);
        for (var i = 0; i < posts; i++)
        {
            var sequence = await PostAsync(1);
            var returned = Stopwatch.GetTimestamp();
            var pushed = await WaitForPushAsync(sequence);
            samples.Add(Stopwatch.GetElapsedTime(returned, Math.Max(returned, pushed)).TotalMilliseconds);
        }

        return samples;
    }

    /// <summary>Posts batches with a few in flight; the clock stops when a push includes the last event.</summary>
    public async Task<(long Events, TimeSpan Elapsed)> MeasureThroughputAsync(int batches, int batchSize)
    {
        var started = Stopwatch.GetTimestamp();
        var inFlight = new List<Task<long>>();
        long highest = 0;
        for (var i = 0; i < batches; i++)
        {
            inFlight.Add(PostAsync(batchSize));
            if (inFlight.Count == 4)
            {
                highest = Math.Max(highest, await inFlight[0]);
                inFlight.RemoveAt(0);
            }
        }

        foreach (var post in inFlight)
        {
            highest = Math.Max(highest, await post);
        }

        var finished = await WaitForPushAsync(highest);
        return ((long)batches * batchSize, Stopwatch.GetElapsedTime(started, finished));
    }

    public async ValueTask DisposeAsync()
    {
        await _hub.DisposeAsync();
        _http.Dispose();
    }

    private void OnPushed(KpiValue[] values)
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var value in values)
        {
            foreach (var position in value.AsOf)
            {
                if (position.ObjectModel == "orders" && position.Sequence > Interlocked.Read(ref _highestPushed))
                {
                    Interlocked.Exchange(ref _highestPushed, position.Sequence);
                    _pushedAtBySequence[position.Sequence] = now;
                }
            }
        }
    }

    /// <summary>The time the first push including <paramref name="sequence"/> arrived.</summary>
    private async Task<long> WaitForPushAsync(long sequence)
    {
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 60);
        while (Interlocked.Read(ref _highestPushed) < sequence)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"no push included sequence {sequence} within 60 s");
            }

            await Task.Delay(1);
        }

        return _pushedAtBySequence.Where(p => p.Key >= sequence).Min(p => p.Value);
    }

    private async Task<long> PostAsync(int count)
    {
        var now = DateTimeOffset.UtcNow;
        var body = new StringBuilder("[");
        for (var i = 0; i < count; i++)
        {
            var n = Interlocked.Increment(ref _orderNumber);
            body.Append(i == 0 ? "" : ",").Append(CultureInvariant(
                $$"""{"order_id":"L{{n}}","ordered_at":"{{now:O}}","order_value":{{n % 997}},"promised_at":"{{now.AddDays(1):O}}","on_time":{{(n % 10 != 0 ? "true" : "false")}},"in_full":true,"damage_free":true,"documentation_complete":{{(n % 17 != 0 ? "true" : "false")}},"status":"delivered","carrier":"DHL"}"""));
        }

        body.Append(']');
        var payload = body.ToString();
        HttpResponseMessage response;
        // A well-behaved client: when the gateway's per-client rate limit answers 429, wait as told and retry.
        while ((response = await _http.PostAsync($"ingest/orders?clientId={_clientId}", new StringContent(payload, Encoding.UTF8, "application/json")))
            .StatusCode == System.Net.HttpStatusCode.TooManyRequests)
        {
            var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
            response.Dispose();
            Interlocked.Increment(ref _throttled);
            await Task.Delay(wait);
        }

        using var _ = response;
        response.EnsureSuccessStatusCode();
        using var result = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return result.RootElement.GetProperty("toSequence").GetInt64();
    }

    private static string CultureInvariant(FormattableString text) => FormattableString.Invariant(text);
}
