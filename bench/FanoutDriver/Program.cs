using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using AnalyticsEngine.FanoutDriver;

// Many SignalR viewers on one gateway, spread over many series that change about once a second: commit-to-client
// latency, the gateway's memory per connection and CPU, and the cost of one more viewer. See docs/benchmarks.md, "Fan-out".
// Usage: dotnet run -c Release --project bench/FanoutDriver -- --gateway URL --gateway-pid PID [--silo URL (its /metrics)]
//        [--clients 100] [--kpis 10] [--connections 1000] [--warmup 20] [--seconds 60] [--marginal 100] [--client lean|signalr]
var options = FanoutOptions.Parse(args);
var runId = "fan" + Guid.NewGuid().ToString("N")[..6];
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = options.Gateway, Timeout = TimeSpan.FromMinutes(2) };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.Token);
var probe = new GatewayProbe(http, options.GatewayPid);
using var siloHttp = new HttpClient { BaseAddress = options.Silo ?? options.Gateway };
GatewayProbe? silo = options.Silo is null ? null : new GatewayProbe(siloHttp, pid: null);
var feed = new OrderFeed(http, options, runId);

Print($"gateway {options.Gateway} (pid {options.GatewayPid?.ToString(CultureInfo.InvariantCulture) ?? "unknown: no CPU or RSS figures"}); " +
      $"{Environment.ProcessorCount} cores; load average {GatewayProbe.LoadAverage():F2}; {DateTime.UtcNow:u}; run {runId}");
Print($"{options.Clients} clients x {options.Kpis} KPIs = {options.Series} series (minute); {options.Connections} connections, " +
      $"{(double)options.Connections / options.Series:F1} per series ({(options.LeanClient ? "lean WebSocket" : "SignalR .NET")} clients); one post of {options.OrdersPerPost} order(s) per client per second");

await feed.CreateClientsAsync();
var watched = feed.Clients.SelectMany(c => feed.Kpis.Select(k => new Series(c, k, "minute"))).ToList();
await using var viewers = new Viewers(options);

var idle = await probe.ReadAfterCollectionAsync();
var connecting = Stopwatch.GetTimestamp();
var subscribeTimes = await viewers.ConnectAsync([.. Enumerable.Range(0, options.Connections).Select(i => watched[i % watched.Count])]);
var connected = await probe.ReadAfterCollectionAsync();
Print($"connected and subscribed {viewers.Count} in {Stopwatch.GetElapsedTime(connecting).TotalSeconds:F1} s; subscribe p50 {Percentile(subscribeTimes, 0.5):F1} ms, p99 {Percentile(subscribeTimes, 0.99):F1} ms");
Print($"gateway memory: RSS {Mb(idle.RssBytes)} -> {Mb(connected.RssBytes)} MB ({Kb(connected.RssBytes - idle.RssBytes, options.Connections)} KB per connection); " +
      $"GC heap after a full collection {Mb(idle.GcHeapBytes)} -> {Mb(connected.GcHeapBytes)} MB ({Kb(connected.GcHeapBytes - idle.GcHeapBytes, options.Connections)} KB per connection)");

using var stopFeed = new CancellationTokenSource();
var feeding = feed.RunAsync(maxInFlight: 256, stopFeed.Token);
await Task.Delay(options.Warmup);

var before = await probe.ReadAsync();
var siloBefore = silo is null ? null : await silo.ReadAsync();
var (receivedBefore, postedBefore, skippedBefore) = (viewers.Received, feed.Posted, feed.Skipped);
var driverCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
viewers.StartRecording();
await Task.Delay(options.Window);
var latencies = viewers.StopRecording();
var after = await probe.ReadAsync();
var siloAfter = silo is null ? null : await silo.ReadAsync();
var seconds = (after.At - before.At).TotalSeconds;
var delivered = viewers.Received - receivedBefore;
var gatewayCpu = after.CpuSeconds - before.CpuSeconds;

Print($"steady window {seconds:F0} s, load average {GatewayProbe.LoadAverage():F2}:");
Print($"  posts {(feed.Posted - postedBefore) / seconds:F1}/s (offered {options.Clients}/s; skipped as still in flight {feed.Skipped - skippedBefore}; failed so far {feed.Failed})");
Print($"  values received {delivered / seconds:F0}/s; gateway pushes {(after.Sum("ae_gateway_pushes_total") - before.Sum("ae_gateway_pushes_total")) / seconds:F0} messages/s, " +
      $"conflated {after.Sum("ae_gateway_conflated_values_total") - before.Sum("ae_gateway_conflated_values_total"):F0} values");
if (latencies.Length > 0)
{
    Print($"  commit -> received by the driver, {latencies.Length} values: p50 {Percentile(latencies, 0.50):F1} ms, p90 {Percentile(latencies, 0.90):F1} ms, " +
          $"p99 {Percentile(latencies, 0.99):F1} ms, max {latencies[^1]:F1} ms; p99 <= 250 ms: {(Percentile(latencies, 0.99) <= 250 ? "yes" : "NO")}");
}

if (siloBefore is not null && siloAfter is not null)
{
    Print($"  commit -> applied by the client grain (silo histogram ae.kpi.commit_to_applied): {Quantiles(siloBefore, siloAfter, "ae_kpi_commit_to_applied_milliseconds")}");
}

Print($"  commit -> push (gateway histogram ae.gateway.commit_to_push): {Quantiles(before, after, "ae_gateway_commit_to_push_milliseconds")}");
Print($"  gateway CPU {gatewayCpu / seconds:F2} cores ({gatewayCpu * 1e6 / Math.Max(1, delivered):F1} us per value delivered); " +
      $"driver CPU {(Process.GetCurrentProcess().TotalProcessorTime - driverCpuBefore).TotalSeconds / seconds:F2} cores; gateway RSS {Mb(after.RssBytes)} MB, GC heap {Mb(after.GcHeapBytes)} MB");

if (options.MarginalViewers > 0)
{
    // One more viewer of a series this gateway already watches, against a viewer of a series nobody watched yet
    // (the same clients' KPIs at hour granularity: they change with every order too).
    var count = Math.Min(options.MarginalViewers, watched.Count);
    await Marginal("of an already-watched series", [.. watched.Take(count)]);
    await Marginal("of a series not watched yet", [.. watched.Take(count).Select(s => s with { Granularity = "hour" })]);
}

await stopFeed.CancelAsync();
await feeding;
return 0;

async Task Marginal(string what, List<Series> series)
{
    var start = await probe.ReadAfterCollectionAsync();
    var durations = await viewers.ConnectAsync(series);
    var end = await probe.ReadAfterCollectionAsync();
    Print($"{series.Count} more viewers {what}: subscribe p50 {Percentile(durations, 0.5):F1} ms, p90 {Percentile(durations, 0.9):F1} ms; " +
          $"RSS {Kb(end.RssBytes - start.RssBytes, series.Count)} KB and GC heap {Kb(end.GcHeapBytes - start.GcHeapBytes, series.Count)} KB per viewer; " +
          $"upstream watches (ae.gateway.watched_series) {start.Sum("ae_gateway_watched_series"):F0} -> {end.Sum("ae_gateway_watched_series"):F0}");
}

static double Percentile(double[] samples, double p)
{
    if (samples.Length == 0)
    {
        return double.NaN;
    }

    var sorted = samples.Order().ToArray();
    return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

static string Quantiles(GatewayReading before, GatewayReading after, string histogram) =>
    $"p50 <= {GatewayProbe.Quantile(before, after, histogram, 0.50)} ms, p90 <= {GatewayProbe.Quantile(before, after, histogram, 0.90)} ms, " +
    $"p99 <= {GatewayProbe.Quantile(before, after, histogram, 0.99)} ms";

static string Mb(double bytes) => (bytes / (1024 * 1024)).ToString("F1", CultureInfo.InvariantCulture);

static string Kb(double bytes, int count) => (bytes / 1024 / Math.Max(1, count)).ToString("F1", CultureInfo.InvariantCulture);

static void Print(string line) => Console.WriteLine(line);
