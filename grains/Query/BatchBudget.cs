using System.Diagnostics;

namespace AnalyticsEngine.Query;

/// <summary>
/// What a batch of queries (a batch, a dashboard, a scheduled run) may still start: its first
/// <see cref="KpiQueryOptions.MaxBatch"/> queries, within <see cref="KpiQueryOptions.BatchTimeout"/> of its start,
/// while its answers so far hold fewer than <see cref="KpiQueryOptions.MaxBatchPoints"/> points. A query it may not
/// start is answered with why; those before it keep their results, so the call still ends within
/// <see cref="IKpiQueryGrain.CallTimeout"/> and its answer stays a size a message and a response can carry.
/// </summary>
/// <param name="options">The limits.</param>
/// <param name="tooManyQueries">The answer to each query past <see cref="KpiQueryOptions.MaxBatch"/>, in the caller's words (a batch's, a dashboard's).</param>
internal sealed class BatchBudget(KpiQueryOptions options, string tooManyQueries)
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private int _queries;
    private long _points;

    /// <summary>Why <paramref name="query"/>, the batch's next, may not start, as its answer; null when it may.</summary>
    public KpiQueryResult? Refusal(KpiQuery query)
    {
        if (++_queries > options.MaxBatch)
        {
            return KpiQueryResult.Failed(query, QueryErrorKind.TooManyQueries, tooManyQueries);
        }

        if (_points >= options.MaxBatchPoints)
        {
            return KpiQueryResult.Failed(query, QueryErrorKind.TooManyPoints,
                $"Not started: the batch's answers already hold {_points} points, and a batch may hold {options.MaxBatchPoints} (Query:MaxBatchPoints); ask for fewer KPIs, a shorter range or a coarser granularity.");
        }

        var limit = options.BatchTimeout;
        return Stopwatch.GetElapsedTime(_started) < limit
            ? null
            : KpiQueryResult.Failed(query, QueryErrorKind.Timeout,
                $"Not started: the batch had run for {limit.TotalSeconds:0.#} s (Query:BatchTimeout); ask for fewer KPIs or a shorter range, or send this one again.");
    }

    /// <summary>How long the batch may still go on starting queries (zero once it may not).</summary>
    public TimeSpan Remaining => TimeSpan.FromTicks(Math.Max(0, (options.BatchTimeout - Stopwatch.GetElapsedTime(_started)).Ticks));

    /// <summary>Counts <paramref name="result"/>'s points against the batch, and returns it.</summary>
    public KpiQueryResult Spend(KpiQueryResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        foreach (var series in result.Series)
        {
            _points += series.Values.Count;
        }

        return result;
    }
}
