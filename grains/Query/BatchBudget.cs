using System.Diagnostics;

namespace AnalyticsEngine.Query;

/// <summary>
/// What a batch of queries (a batch, a dashboard, a scheduled run) may still start: queries within
/// <see cref="KpiQueryOptions.BatchTimeout"/> of its start, while its answers so far hold fewer than
/// <see cref="KpiQueryOptions.MaxBatchPoints"/> points. A query it may not start is answered with why; those before
/// it keep their results, so the call still ends within <see cref="IKpiQueryGrain.CallTimeout"/> and its answer stays
/// a size a message and a response can carry.
/// </summary>
internal sealed class BatchBudget(KpiQueryOptions options)
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _points;

    /// <summary>Why <paramref name="query"/> may not start, as its answer; null when it may.</summary>
    public KpiQueryResult? Refusal(KpiQuery query)
    {
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
