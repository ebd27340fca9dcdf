using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;

namespace AnalyticsEngine.FanoutDriver;

/// <summary>One reading of the gateway: its process from /proc (when its pid is known) and its own /metrics.</summary>
public sealed record GatewayReading(DateTimeOffset At, double CpuSeconds, long RssBytes, double GcHeapBytes, IReadOnlyDictionary<string, double> Metrics)
{
    /// <summary>Sum of every sample of a metric whatever its labels (except those filtered by <paramref name="labelFilter"/>).</summary>
    public double Sum(string name, string? labelFilter = null) =>
        Metrics.Where(m => SeriesName(m.Key) == name && (labelFilter is null || m.Key.Contains(labelFilter, StringComparison.Ordinal))).Sum(m => m.Value);

    /// <summary>Cumulative histogram counts by upper bound, summed over other labels.</summary>
    public SortedDictionary<double, double> Buckets(string name)
    {
        var buckets = new SortedDictionary<double, double>();
        foreach (var (key, value) in Metrics.Where(m => SeriesName(m.Key) == name + "_bucket"))
        {
            var le = key[(key.IndexOf("le=\"", StringComparison.Ordinal) + 4)..];
            le = le[..le.IndexOf('"', StringComparison.Ordinal)];
            var bound = le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture);
            buckets[bound] = buckets.GetValueOrDefault(bound) + value;
        }

        return buckets;
    }

    private static string SeriesName(string key) => key.IndexOf('{', StringComparison.Ordinal) is var brace and >= 0 ? key[..brace] : key;
}

/// <summary>Reads the gateway's CPU time and memory from /proc and its metrics from the Prometheus endpoint.</summary>
/// <param name="http">A client of the gateway, or of a silo (whose /metrics is read the same way; no pid, no /proc).</param>
public sealed class GatewayProbe(HttpClient http, int? pid)
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    /// <summary>
    /// A reading after a full, blocking collection in the gateway (when its pid is known), so the heap size counts
    /// only what is alive: the runtime collects when a diagnostics session enables the GCHeapCollect keyword.
    /// </summary>
    public async Task<GatewayReading> ReadAfterCollectionAsync()
    {
        if (pid is { } id)
        {
            var collections = (await ScrapeAsync()).Where(m => m.Key.StartsWith("dotnet_gc_collections_total", StringComparison.Ordinal)).Sum(m => m.Value);
            const long GcHeapCollectKeyword = 0x800000;
            using (var session = new DiagnosticsClient(id).StartEventPipeSession(
                new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, GcHeapCollectKeyword), requestRundown: false))
            {
                // The events are not needed; drain them so the session never blocks the runtime.
                var draining = session.EventStream.CopyToAsync(Stream.Null);
                var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
                while ((await ScrapeAsync()).Where(m => m.Key.StartsWith("dotnet_gc_collections_total", StringComparison.Ordinal)).Sum(m => m.Value) <= collections
                    && DateTimeOffset.UtcNow < deadline)
                {
                    await Task.Delay(200);
                }

                await session.StopAsync(CancellationToken.None);
                await draining;
            }
        }

        return await ReadAsync();
    }

    public async Task<GatewayReading> ReadAsync()
    {
        var metrics = await ScrapeAsync();
        var (cpu, rss) = pid is { } id ? ReadProc(id) : (double.NaN, -1L);
        // The runtime's heap size after the last collection, summed over generations (System.Runtime meter).
        var heap = metrics.Where(m => m.Key.StartsWith("dotnet_gc_last_collection_heap_size_bytes", StringComparison.Ordinal)).Sum(m => m.Value);
        return new GatewayReading(DateTimeOffset.UtcNow, cpu, rss, heap, metrics);
    }

    private async Task<Dictionary<string, double>> ScrapeAsync()
    {
        var text = await http.GetStringAsync("metrics");
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            // name{labels} value [timestamp]
            var end = line.IndexOf('}', StringComparison.Ordinal) is var brace and >= 0 ? brace + 1 : line.IndexOf(' ', StringComparison.Ordinal);
            var rest = line[end..].Trim().Split(' ');
            if (double.TryParse(rest[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                metrics[line[..end]] = value;
            }
        }

        return metrics;
    }

    private static (double CpuSeconds, long RssBytes) ReadProc(int id)
    {
        // Fields after the command name (which may hold spaces, hence the last ')'): utime is the 14th field, stime the 15th.
        var stat = File.ReadAllText($"/proc/{id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        var rssLine = File.ReadLines($"/proc/{id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        var rssKb = long.Parse(rssLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return (ticks / TicksPerSecond, rssKb * 1024);
    }

    /// <summary>
    /// The upper bound of the histogram bucket holding the p-quantile of what <paramref name="histogram"/> recorded
    /// between two readings ("n/a" when it recorded nothing).
    /// </summary>
    public static string Quantile(GatewayReading before, GatewayReading after, string histogram, double p)
    {
        var start = before.Buckets(histogram);
        var end = after.Buckets(histogram);
        var total = end.GetValueOrDefault(double.PositiveInfinity) - start.GetValueOrDefault(double.PositiveInfinity);
        if (total <= 0)
        {
            return "n/a";
        }

        var bound = end.First(b => b.Value - start.GetValueOrDefault(b.Key) >= p * total).Key;
        return double.IsPositiveInfinity(bound) ? "inf" : bound.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The machine's 1-minute load average.</summary>
    public static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
}
