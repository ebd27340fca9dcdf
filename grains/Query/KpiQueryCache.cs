using System.ComponentModel;
using System.Security.Cryptography;
using System.Text;
using AnalyticsEngine.Kpi;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Query;

/// <summary>
/// Recent query results in a <see cref="HybridCache"/> (in-process, and Redis as the second level when the host
/// registers it). An entry per query, keyed by everything its result depends on — the database, client, the KPI's
/// formula, the client's zone, range, granularity, dimension — holds its newest result and the committed position of
/// every object model that result read.
/// </summary>
/// <remarks>
/// The runner serves that result only after checking, in a snapshot of its own, that no row committed since those
/// positions lands in a bucket it covers (<see cref="KpiQueryRunner"/>): events elsewhere in time leave it valid, a
/// late event in its range makes the query run again. So a report over last quarter stays cached while today's events
/// stream in. A statement over raw rows runs through <see cref="HybridCache.GetOrCreateAsync{TState, T}"/> under a key
/// with the positions, so callers at the same positions run it once: those that arrive while it runs join it, those
/// that arrive after it (having started before its result was the newest) find it there. The run reads in a
/// connection and snapshot of its own, which any caller may leave, so its result may be as of newer positions. One over rollups alone,
/// sent with its snapshot, is stored as the newest with the positions it answers with (<see cref="StoreAsync"/>).
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

    /// <summary>The key of a query: a readable prefix and a hash of the rest.</summary>
    internal static string Key(string database, string clientId, string kpiCode, string formula, string zone, KpiQuery query)
    {
        var identity = string.Join('\n',
            database, formula, zone, query.Granularity, query.From.UtcTicks, query.To.UtcTicks, query.Dimension ?? "\u0000");
        return $"ae:query:{clientId}:{kpiCode}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))}";
    }

    /// <summary>The query's newest cached result, if any (nothing is written on a miss).</summary>
    internal ValueTask<CachedResult?> NewestAsync(string key, CancellationToken cancellationToken) =>
        cache.GetOrCreateAsync(key, static _ => ValueTask.FromResult<CachedResult?>(null), ReadOnly, cancellationToken: cancellationToken);

    /// <summary>
    /// The query's result at <paramref name="positions"/> (or newer): cached under a key with them, or <paramref name="run"/>'s
    /// (once for concurrent callers, and for those that reach this point after the run ended), which is then cached
    /// there and as the query's newest.
    /// </summary>
    internal async ValueTask<CachedResult> RunAsync(
        string key, SourcePosition[] positions, Func<CancellationToken, ValueTask<CachedResult>> run, CancellationToken cancellationToken)
    {
        var ran = false;
        var entry = Entry;
        var result = await cache.GetOrCreateAsync(
            PositionedKey(key, positions),
            run,
            async (run, ct) =>
            {
                ran = true;
                var result = await run(ct);
                // The same instance under the query's own key, so that a hit reads one entry. Kept here, by the run
                // itself: it goes on for the callers still waiting when the one that started it has gone away.
                await cache.SetAsync(key, result, entry, cancellationToken: ct);
                return result;
            },
            entry,
            cancellationToken: cancellationToken);
        Record(hit: !ran);
        return result;
    }

    /// <summary>
    /// Keeps a result the caller computed without <see cref="RunAsync"/> (a statement sent with its snapshot, whose
    /// positions are known only with its answer) as the query's newest; counted as run.
    /// </summary>
    internal async ValueTask StoreAsync(string key, SourcePosition[] positions, KpiSeries[] series, CancellationToken cancellationToken)
    {
        await cache.SetAsync(key, new CachedResult(positions, series), Entry, cancellationToken: cancellationToken);
        Record(hit: false);
    }

    private HybridCacheEntryOptions Entry =>
        new() { Expiration = options.Value.CacheDuration, LocalCacheExpiration = options.Value.CacheDuration };

    private static string PositionedKey(string key, SourcePosition[] positions) =>
        key + ":" + string.Join(',', positions.Select(p => $"{p.ObjectModel}={p.Sequence}"));

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

/// <summary>
/// A query's cached result and the committed position of each object model it was computed at. Immutable (nothing
/// changes a result once computed; callers copy what they adjust), so the in-process level keeps the instance instead
/// of deserializing it on every hit (a year of days: 366 values).
/// </summary>
[ImmutableObject(true)]
internal sealed record CachedResult(SourcePosition[] Positions, KpiSeries[] Series);
