using System.Globalization;
using System.Net.Http.Json;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.SignalR.Client;

namespace AnalyticsEngine.Integration.Tests;

/// <summary>
/// After a push, the gateway's Prometheus endpoint exports commit-to-push latency, viewers per series, the open
/// WebSocket connections and per-endpoint request figures, with values that fit what just happened.
/// </summary>
[Collection(AnalyticsCollection.Name)]
public sealed class GatewayMetricsTests(AnalyticsFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_push_shows_up_on_metrics_with_its_commit_to_push_latency_and_its_viewers()
    {
        var clientId = TestClients.NewId("metrics");
        await TestClients.CreateAsync(fixture.Http, clientId);
        var minute = DateTimeOffset.UtcNow.AddMinutes(-2);
        minute = new DateTimeOffset(minute.Year, minute.Month, minute.Day, minute.Hour, minute.Minute, 0, TimeSpan.Zero);
        var orders = TestOrder.Random(8, minute, seed: 7);

        await using var hub = await fixture.ConnectHubAsync();
        var arrived = new TaskCompletionSource<KpiValue>(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.On<KpiValue[]>("kpiChanged", values =>
        {
            foreach (var value in values.Where(v => v.BucketStart == minute && v.EventCount == orders.Count))
            {
                arrived.TrySetResult(value);
            }
        });
        await hub.InvokeAsync<KpiSnapshot>("Subscribe", clientId, "OTD", "minute");

        var before = await ScrapeAsync();
        var posted = DateTimeOffset.UtcNow;
        (await fixture.Http.PostAsJsonAsync($"/ingest/orders?clientId={clientId}", orders)).EnsureSuccessStatusCode();
        var pushed = await arrived.Task.WaitAsync(Patience);
        var received = DateTimeOffset.UtcNow;

        // The pushed value carries the commit of the batch that changed it, which happened during the post.
        Assert.NotNull(pushed.CommittedAt);
        Assert.InRange(pushed.CommittedAt.Value, posted, received);

        Metrics after = before;
        await Eventually.HoldsAsync(
            async () => (after = await ScrapeAsync()).Sum("ae_gateway_commit_to_push_milliseconds_count") > before.Sum("ae_gateway_commit_to_push_milliseconds_count"),
            Patience,
            () => "ae.gateway.commit_to_push recorded nothing for the push");
        var count = after.Sum("ae_gateway_commit_to_push_milliseconds_count") - before.Sum("ae_gateway_commit_to_push_milliseconds_count");
        var meanMs = (after.Sum("ae_gateway_commit_to_push_milliseconds_sum") - before.Sum("ae_gateway_commit_to_push_milliseconds_sum")) / count;
        Assert.InRange(meanMs, 0, (received - posted).TotalMilliseconds);

        // This connection views one series alone; the distribution counts it, and no series has fewer than one viewer.
        Assert.True(after.Sum("ae_gateway_series_by_viewers", "viewers=\"1\"") >= 1, "no series with one viewer");
        Assert.True(after.Sum("ae_gateway_max_viewers_per_series") >= 1, "the most watched series has no viewer");
        Assert.True(after.Sum("ae_gateway_series_by_viewers") <= after.Sum("ae_gateway_watched_series"), "more series counted by viewers than are watched");
        // ASP.NET Core's own meters: the open WebSocket, and the ingest request by route and status.
        Assert.True(after.Sum("signalr_server_active_connections", "signalr_transport=\"web_sockets\"") >= 1, "no open WebSocket connection exported");
        Assert.True(
            after.Sum("http_server_request_duration_seconds_count", "http_route=\"/ingest/{objectModel}\"") > before.Sum("http_server_request_duration_seconds_count", "http_route=\"/ingest/{objectModel}\""),
            "the ingest request is not counted per route");
    }

    private async Task<Metrics> ScrapeAsync() => Metrics.Parse(await fixture.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative)));

    /// <summary>Samples of a Prometheus text exposition, by name with labels.</summary>
    private sealed class Metrics(Dictionary<string, double> samples)
    {
        public static Metrics Parse(string text)
        {
            var samples = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var line in text.Split('\n').Where(l => l.Length > 0 && l[0] != '#'))
            {
                var end = line.IndexOf('}', StringComparison.Ordinal) is var brace and >= 0 ? brace + 1 : line.IndexOf(' ', StringComparison.Ordinal);
                if (double.TryParse(line[end..].Trim().Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    samples[line[..end]] = value;
                }
            }

            return new Metrics(samples);
        }

        /// <summary>The sum of a metric's samples, of those whose labels contain <paramref name="label"/> when given.</summary>
        public double Sum(string name, string? label = null) => samples
            .Where(s => (s.Key == name || s.Key.StartsWith(name + "{", StringComparison.Ordinal)) && (label is null || s.Key.Contains(label, StringComparison.Ordinal)))
            .Sum(s => s.Value);
    }
}
