using System.ComponentModel;
using System.Security.Cryptography;
using System.Text;
using AnalyticsEngine.Kpi;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Query;

/// <summary>
/// Recent query results in a <see cref="HybridCache"/> (in-process, and Redis as the second level when the host
/// registers it). A result is keyed by everything it depends on — the database, client, the KPI's formula, the
/// client's zone, range, granularity, dimension — and by the committed position of every object model it read; a
/// second entry, keyed without the positions, says which positions the newest result of the query was computed at.
/// </summary>
/// <remarks>
/// The runner serves that newest result only after checking, in its query's snapshot, that no row committed since its
/// positions lands in a bucket it covers (<see cref="KpiQueryRunner"/>): events elsewhere in time leave it valid, a
/// late event in its range makes the query run again. So a report over last quarter stays cached while today's events
/// stream in. Running is through <see cref="HybridCache.GetOrCreateAsync{TState, T}"/> under the positions' key, so
/// concurrent callers at the same positions run the statement once.
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

    /// <summary>The key of a query's newest positions: a readable prefix and a hash of the rest.</summary>
    internal static string Key(string database, string clientId, string kpiCode, string formula, string zone, KpiQuery query)
    {
        var identity = string.Join('\n',
            database, formula, zone, query.Granularity, query.From.UtcTicks, query.To.UtcTicks, query.Dimension ?? "\u0000");
        return $"ae:query:{clientId}:{kpiCode}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))}";
    }

    /// <summary>The key of the query's result at <paramref name="positions"/>.</summary>
    internal static string ResultKey(string key, IEnumerable<SourcePosition> positions) =>
        key + ":" + string.Join(',', positions.Select(p => $"{p.ObjectModel}={p.Sequence}"));

    /// <summary>The positions the newest cached result of the query under <paramref name="key"/> was computed at, if any.</summary>
    internal ValueTask<SourcePosition[]?> NewestAsync(string key, CancellationToken cancellationToken) =>
        cache.GetOrCreateAsync(key, static _ => ValueTask.FromResult<SourcePosition[]?>(null), ReadOnly, cancellationToken: cancellationToken);

    /// <summary>The query's cached result at <paramref name="positions"/>, if it is still there.</summary>
    internal async ValueTask<KpiSeries[]?> ResultAsync(string key, SourcePosition[] positions, CancellationToken cancellationToken) =>
        (await cache.GetOrCreateAsync(ResultKey(key, positions), static _ => ValueTask.FromResult<CachedResult?>(null), ReadOnly, cancellationToken: cancellationToken))?.Series;

    /// <summary>
    /// The query's result at <paramref name="positions"/>: cached, or <paramref name="run"/>'s (once for concurrent
    /// callers), which is then cached and recorded as the query's newest.
    /// </summary>
    internal async ValueTask<KpiSeries[]> GetOrRunAsync(
        string key, SourcePosition[] positions, Func<CancellationToken, ValueTask<KpiSeries[]>> run, CancellationToken cancellationToken)
    {
        var ran = false;
        var result = await cache.GetOrCreateAsync(
            ResultKey(key, positions),
            run,
            async (factory, ct) =>
            {
                ran = true;
                return new CachedResult(await factory(ct));
            },
            Entry,
            cancellationToken: cancellationToken);
        await cache.SetAsync(key, positions, Entry, cancellationToken: cancellationToken);
        Record(hit: !ran);
        return result.Series;
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

    private HybridCacheEntryOptions Entry => new() { Expiration = options.Value.CacheDuration, LocalCacheExpiration = options.Value.CacheDuration };
}

/// <summary>
/// A cached result. Immutable (nothing changes a result once computed; callers copy what they adjust), so the
/// in-process level keeps the instance instead of deserializing it on every hit (a year of days: 366 values).
/// </summary>
[ImmutableObject(true)]
internal sealed record CachedResult(KpiSeries[] Series);
