using System.Diagnostics;
using AnalyticsEngine.LoadDriver;

// Drives a running gateway through its public API and prints the figures of the whole pipeline.
// Usage: dotnet run -c Release --project bench/LoadDriver -- [--gateway URL] [--token JWT] [--posts N] [--batches N] [--batch-size N]
var options = DriverOptions.Parse(args);
Console.WriteLine($"gateway {options.Gateway}; {Environment.ProcessorCount} cores; {DateTime.UtcNow:u}");

await using var driver = await PipelineDriver.CreateAsync(options);

var latency = await driver.MeasurePushLatencyAsync(options.Posts);
Console.WriteLine();
Console.WriteLine($"POST /ingest/orders returned -> SignalR update received, {latency.Count} single-event posts:");
Console.WriteLine($"  median {Percentile(latency, 0.50):F1} ms   p90 {Percentile(latency, 0.90):F1} ms   p99 {Percentile(latency, 0.99):F1} ms   max {latency.Max():F1} ms");

var (events, elapsed) = await driver.MeasureThroughputAsync(options.Batches, options.BatchSize);
Console.WriteLine();
Console.WriteLine($"One client posting {options.Batches} batches of {options.BatchSize}: {events} events committed and reflected in the pushed KPI in {elapsed.TotalSeconds:F2} s");
Console.WriteLine($"  {events / elapsed.TotalSeconds:F0} events/s through the whole pipeline");
Console.WriteLine($"({driver.Throttled} posts were asked by the gateway's rate limit to retry; raise RateLimits__PermitsPerSecond to measure without it)");

static double Percentile(List<double> samples, double p)
{
    var sorted = samples.Order().ToList();
    return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}
