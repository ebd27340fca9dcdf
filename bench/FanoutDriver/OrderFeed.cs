using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace AnalyticsEngine.FanoutDriver;

/// <summary>
/// The driver's clients and their orders: each client gets one post a second (spread evenly over the second),
/// and every order changes the current minute bucket of every KPI the client selected.
/// </summary>
public sealed class OrderFeed(HttpClient http, FanoutOptions options, string runId)
{
    private long _orderNumber;
    private long _posted;
    private long _failed;
    private long _skipped;
    private int _inFlight;

    public IReadOnlyList<string> Clients { get; } = [.. Enumerable.Range(0, options.Clients).Select(i => $"{runId}-{i:D4}")];

    public IReadOnlyList<string> Kpis { get; } = FanoutOptions.OrderKpis[..options.Kpis];

    /// <summary>Posts that the gateway answered with success.</summary>
    public long Posted => Interlocked.Read(ref _posted);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Posts not started because too many were still in flight: the product did not keep up with the offered rate.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    public async Task CreateClientsAsync()
    {
        foreach (var clientId in Clients)
        {
            using var created = await http.PostAsJsonAsync("clients", new { clientId, name = "Fan-out driver", timeZone = "UTC", selectedKpis = Kpis });
            created.EnsureSuccessStatusCode();
        }
    }

    /// <summary>Posts to every client once a second until cancelled, at most <paramref name="maxInFlight"/> posts at a time.</summary>
    public async Task RunAsync(int maxInFlight, CancellationToken cancellation)
    {
        var interval = TimeSpan.FromSeconds(1.0 / Clients.Count);
        var started = Stopwatch.GetTimestamp();
        for (long tick = 0; !cancellation.IsCancellationRequested; tick++)
        {
            // Paced against the start, so a late tick does not shift every later one.
            var due = TimeSpan.FromTicks(interval.Ticks * tick) - Stopwatch.GetElapsedTime(started);
            if (due > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(due, cancellation);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            if (Interlocked.Increment(ref _inFlight) > maxInFlight)
            {
                Interlocked.Decrement(ref _inFlight);
                Interlocked.Increment(ref _skipped);
                continue;
            }

            _ = PostAsync(Clients[(int)(tick % Clients.Count)]);
        }
    }

    private async Task PostAsync(string clientId)
    {
        try
        {
            var now = DateTimeOffset.UtcNow;
            var body = new StringBuilder("[");
            for (var i = 0; i < options.OrdersPerPost; i++)
            {
                var n = Interlocked.Increment(ref _orderNumber);
                body.Append(i == 0 ? "" : ",").Append(FormattableString.Invariant(
                    $$"""{"order_id":"F{{n}}","ordered_at":"{{now:O}}","order_value":{{n % 997}},"promised_at":"{{now.AddDays(1):O}}","on_time":{{(n % 10 != 0 ? "true" : "false")}},"in_full":true,"damage_free":true,"documentation_complete":{{(n % 17 != 0 ? "true" : "false")}},"status":"delivered","carrier":"DHL"}"""));
            }

            using var response = await http.PostAsync(
                string.Create(CultureInfo.InvariantCulture, $"ingest/orders?clientId={clientId}"),
                new StringContent(body.Append(']').ToString(), Encoding.UTF8, "application/json"));
            Interlocked.Increment(ref response.IsSuccessStatusCode ? ref _posted : ref _failed);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Console.Error.WriteLine("the gateway's rate limit refused a post: start it with RateLimits__PermitsPerSecond raised (see docs/benchmarks.md)");
            }
        }
        catch (HttpRequestException)
        {
            Interlocked.Increment(ref _failed);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
