using System.Security.Cryptography;
using System.Text;
using AnalyticsEngine.Kpi;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Query;

/// <summary>
/// Recent query results in a <see cref="HybridCache"/> (in-process, and Redis as the second level when the host
/// registers it). A result is keyed by everything it depends on — the database, client, the KPI's formula, the
/// client's zone, range, granularity, dimension — and kept with the committed position of every object model it read.
/// </summary>
/// <remarks>
/// The runner serves a cached result only after checking, in its query's snapshot, that no row committed since those
/// positions lands in a bucket the result covers (<see cref="KpiQueryRunner"/>): events elsewhere in time leave it
/// valid, a late event in its range replaces it. So a report over last quarter stays cached while today's events
/// stream in.
/// </remarks>
public sealed class KpiQueryCache(HybridCache cache, IOptions<KpiQueryOptions> options)
{
    private static readonly HybridCacheEntryOptions ReadOnly = new()
    {
        Flags = HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite,
    };

    private long _hits;
    private long _misses;

    /// <summary>Queries this instance answered from the cache.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Queries this instance had to run.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>The key of a result: a readable prefix and a hash of the rest.</summary>
    internal static string Key(string database, string clientId, string kpiCode, string formula, string zone, KpiQuery query)
    {
        var identity = string.Join('\n',
            database, formula, zone, query.Granularity, query.From.UtcTicks, query.To.UtcTicks, query.Dimension ?? "\u0000");
        return $"ae:query:{clientId}:{kpiCode}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))}";
    }

    /// <summary>The result cached under <paramref name="key"/>, if any (nothing is written on a miss).</summary>
    internal ValueTask<CachedAnswer?> GetAsync(string key, CancellationToken cancellationToken) =>
        cache.GetOrCreateAsync(key, static _ => ValueTask.FromResult<CachedAnswer?>(null), ReadOnly, cancellationToken: cancellationToken);

    /// <summary>Caches a result just computed (replacing an older one under the same key).</summary>
    internal ValueTask SetAsync(string key, CachedAnswer answer, CancellationToken cancellationToken)
    {
        var duration = options.Value.CacheDuration;
        return cache.SetAsync(key, answer, new HybridCacheEntryOptions { Expiration = duration, LocalCacheExpiration = duration }, cancellationToken: cancellationToken);
    }

    /// <summary>Counts one query as answered from the cache or run (<c>ae.query.cache.hits</c> / <c>misses</c>).</summary>
    internal void Record(bool hit)
    {
        if (hit)
        {
            Interlocked.Increment(ref _hits);
            QueryTelemetry.CacheHits.Add(1);
        }
        else
        {
            Interlocked.Increment(ref _misses);
            QueryTelemetry.CacheMisses.Add(1);
        }
    }
}

/// <summary>A cached result and the committed position of each object model it was computed at.</summary>
internal sealed record CachedAnswer(SourcePosition[] Positions, KpiSeries[] Series);
