using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Query;

/// <summary>
/// Bounds how many one-time queries a silo runs at once (<see cref="KpiQueryOptions.MaxConcurrentQueries"/>). The
/// query grain takes calls concurrently, so a year-long dashboard does not hold up the quick queries behind it; the
/// gate keeps a burst of them from taking every connection of the pool the ingest commits need too. Those past the
/// bound wait their turn in arrival order, for at most as long as they are given, and stop waiting when their caller
/// goes away.
/// </summary>
public sealed class QueryGate(IOptions<KpiQueryOptions> options) : IDisposable
{
    private readonly SemaphoreSlim slots = new(options.Value.MaxConcurrentQueries);
    private int waiting;

    /// <summary>Queries waiting for a slot now.</summary>
    public int Waiting => Volatile.Read(ref waiting);

    /// <summary>
    /// Runs <paramref name="query"/> once a slot is free, and frees it when the query ends; false, without running it,
    /// if none is free within <paramref name="maxWait"/>.
    /// </summary>
    public async Task<(bool Ran, T? Result)> TryRunAsync<T>(Func<Task<T>> query, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!slots.Wait(0))
        {
            Interlocked.Increment(ref waiting);
            try
            {
                if (!await slots.WaitAsync(maxWait > TimeSpan.Zero ? maxWait : TimeSpan.Zero, cancellationToken))
                {
                    return (false, default);
                }
            }
            finally
            {
                Interlocked.Decrement(ref waiting);
            }
        }

        try
        {
            return (true, await query());
        }
        finally
        {
            slots.Release();
        }
    }

    /// <summary>The bound (<see cref="KpiQueryOptions.MaxConcurrentQueries"/>).</summary>
    public int Slots { get; } = options.Value.MaxConcurrentQueries;

    public void Dispose() => slots.Dispose();
}
