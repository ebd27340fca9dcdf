using System.Security.Cryptography;
using System.Text;
using AnalyticsEngine.Kpi;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Query;

/// <summary>
/// Recent query results in a <see cref="HybridCache"/> (in-process, and Redis as the second level when the host
/// registers it). A result is keyed by everything it depends on — the database, client, the KPI's formula, the
/// client's zone, range, granularity, dimension — and by the committed position of every object model it reads, so an
/// event landing in any of them (and so in any bucket the result covers) makes a new key: a stale result is never
/// served, it just ages out.
/// </summary>
public sealed class KpiQueryCache(HybridCache cache, IOptions<KpiQueryOptions> options)
{
    private long _hits;
    private long _misses;

    /// <summary>Queries this instance answered from the cache.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Queries this instance had to run.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>The key of a result: a readable prefix and a hash of the rest.</summary>
    internal static string Key(string database, string clientId, string kpiCode, string formula, string zone, KpiQuery query, IEnumerable<SourcePosition> positions)
    {
        var identity = string.Join('\n',
            database, formula, zone, query.Granularity, query.From.UtcTicks, query.To.UtcTicks, query.Dimension ?? "\u0000",
            string.Join(' ', positions.Select(p => $"{p.ObjectModel}:{p.Sequence}")));
        return $"ae:query:{clientId}:{kpiCode}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))}";
    }

    /// <summary>The cached series under <paramref name="key"/>, or <paramref name="run"/>'s, which is then cached.</summary>
    internal async ValueTask<KpiSeries[]> GetOrRunAsync(string key, Func<CancellationToken, ValueTask<KpiSeries[]>> run, CancellationToken cancellationToken)
    {
        var ran = false;
        var duration = options.Value.CacheDuration;
        var series = await cache.GetOrCreateAsync(
            key,
            run,
            async (factory, ct) =>
            {
                ran = true;
                return await factory(ct);
            },
            new HybridCacheEntryOptions { Expiration = duration, LocalCacheExpiration = duration },
            cancellationToken: cancellationToken);
        if (ran)
        {
            Interlocked.Increment(ref _misses);
            QueryTelemetry.CacheMisses.Add(1);
        }
        else
        {
            Interlocked.Increment(ref _hits);
            QueryTelemetry.CacheHits.Add(1);
        }

        return series;
    }
}
