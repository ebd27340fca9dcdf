using System.Collections.Concurrent;

namespace AnalyticsEngine.Query;

/// <summary>
/// Values computed once per key and kept for the next caller; emptied when it holds <paramref name="maxKept"/> of them
/// (what it keeps is far fewer in use, so emptying is rare and costs only recomputing). For pure computations only:
/// concurrent callers of a new key may each compute it, and one result is kept.
/// </summary>
internal sealed class BoundedKeep<TKey, TValue>(int maxKept)
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, TValue> _kept = new();

    /// <summary>How many values are kept now.</summary>
    public int Count => _kept.Count;

    public TValue GetOrAdd(TKey key, Func<TKey, TValue> compute) => GetOrAdd(key, static (key, compute) => compute(key), compute);

    /// <summary>As <see cref="GetOrAdd(TKey, Func{TKey, TValue})"/>, with what the computation needs passed along rather than captured.</summary>
    public TValue GetOrAdd<TState>(TKey key, Func<TKey, TState, TValue> compute, TState state)
    {
        if (_kept.TryGetValue(key, out var kept))
        {
            return kept;
        }

        var computed = compute(key, state);
        if (_kept.Count >= maxKept)
        {
            _kept.Clear();
        }

        return _kept.GetOrAdd(key, computed);
    }
}
