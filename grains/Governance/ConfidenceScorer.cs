using System.Globalization;
using AnalyticsEngine.Kpi;

namespace AnalyticsEngine.Governance;

/// <summary>
/// A heuristic confidence score for one KPI value, with its reasons in words. It starts from full confidence and takes
/// away for what makes a value less certain:
/// <list type="bullet">
/// <item>no data: no row at all of an object model the KPI reads has been received for the client, 0.5;</item>
/// <item>incomplete rows: 0.3 times the share of the bucket's rows that lack an optional field the KPI reads;</item>
/// <item>a small sample: fewer than <see cref="FullSample"/> events in the bucket, up to 0.5 for none (not for a KPI
/// of snapshot objects alone, whose value is every record's latest state, however few changed in the bucket);</item>
/// <item>an open bucket, 0.1: late events may still change it;</item>
/// <item>an unusual value, 0.35, enough to flag it on its own: outside the interquartile fences (1.5 × IQR) of the values of the
/// <see cref="Neighbours"/> buckets before it, when at least four of them have one.</item>
/// </list>
/// The score stays within 0.1 and 1; at least 0.85 is high confidence, below <see cref="ReviewThreshold"/> low, and a
/// low one is flagged for review. A value the bucket lacks has no score.
/// </summary>
public static class ConfidenceScorer
{
    public const int FullSample = 30;
    public const int Neighbours = 7;
    public const double ReviewThreshold = 0.7;
    public const double HighConfidence = 0.85;

    private const decimal SmallSamplePenalty = 0.5m;
    private const decimal NoDataPenalty = 0.5m;
    private const decimal IncompletePenalty = 0.3m;
    private const decimal OpenBucketPenalty = 0.1m;
    // More than the distance from full confidence to the review threshold: an unusual value is always flagged.
    private const decimal UnusualValuePenalty = 0.35m;

    /// <param name="value">The value to score.</param>
    /// <param name="before">The values of the buckets before it, oldest first (only the last <see cref="Neighbours"/> count).</param>
    /// <param name="readsEvents">Whether the KPI reads an event object (a small sample of events then means a less certain value).</param>
    /// <param name="completeness">How many of the bucket's rows lack a field the KPI reads, when it reads optional ones.</param>
    public static ValueConfidence? Score(KpiValue value, IReadOnlyList<KpiValue> before, bool readsEvents, BucketCompleteness? completeness = null)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(before);
        if (value.Value is not { } number)
        {
            return null;
        }

        var bucket = value.Granularity.ToString().ToLowerInvariant();
        // In decimal: a share of 0.075 taken from 1 is 0.925, which a double holds as 0.92499… and rounds down.
        var score = 1m;
        var reasons = new List<string>();
        // A value over an object model of which no row has come at all stands on nothing (a count of nothing is 0).
        var neverReceived = value.AsOf.Where(p => p.Sequence == 0).Select(p => p.ObjectModel).ToList();
        if (neverReceived.Count > 0)
        {
            score -= NoDataPenalty;
            reasons.Add($"no {string.Join(" or ", neverReceived)} rows have been received for this client yet");
        }

        if (completeness is { Rows: > 0, Incomplete: > 0 } data)
        {
            var missing = (decimal)data.Incomplete / data.Rows;
            score -= IncompletePenalty * missing;
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"{data.Incomplete:N0} of its {data.Rows:N0} rows {(data.Incomplete == 1 ? "lacks" : "lack")} {string.Join(" or ", data.Fields)} ({100 * (1 - missing):0}% complete)"));
        }

        if (readsEvents && value.EventCount < FullSample)
        {
            score -= SmallSamplePenalty * (1 - (decimal)value.EventCount / FullSample);
            reasons.Add(value.EventCount switch
            {
                0 => $"no events in this {bucket}",
                1 => $"only 1 event in this {bucket} ({FullSample} make a full sample)",
                var n => $"only {n} events in this {bucket} ({FullSample} make a full sample)",
            });
        }

        if (!value.IsFinal)
        {
            score -= OpenBucketPenalty;
            reasons.Add($"this {bucket} is still open, so late events may change it");
        }

        var neighbours = before.TakeLast(Neighbours).Where(b => b.Value is not null).Select(b => b.Value!.Value).ToArray();
        if (neighbours.Length >= 4 && IsUnusual(number, neighbours))
        {
            score -= UnusualValuePenalty;
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"unusual against the {neighbours.Length} {bucket}s before it, which lie within {neighbours.Min():G6} to {neighbours.Max():G6}"));
        }

        var rounded = (double)Math.Round(Math.Clamp(score, 0.1m, 1m), 2, MidpointRounding.AwayFromZero);
        var level = rounded >= HighConfidence ? ConfidenceLevel.High : rounded >= ReviewThreshold ? ConfidenceLevel.Medium : ConfidenceLevel.Low;
        var why = reasons.Count > 0
            ? string.Join("; ", reasons)
            : readsEvents ? $"{value.EventCount.ToString("N0", CultureInfo.InvariantCulture)} events, and the {bucket} is final" : $"the {bucket} is final";
        return new ValueConfidence(rounded, level,
            string.Create(CultureInfo.InvariantCulture, $"{level} confidence ({rounded * 100:0}%): {why}."));
    }

    public static bool IsFlagged(ValueConfidence? confidence, double threshold = ReviewThreshold) => confidence is not null && confidence.Score < threshold;

    /// <summary>Outside Tukey's fences of the neighbours: below Q1 − 1.5 IQR or above Q3 + 1.5 IQR.</summary>
    private static bool IsUnusual(double value, double[] neighbours)
    {
        Array.Sort(neighbours);
        var q1 = Quantile(neighbours, 0.25);
        var q3 = Quantile(neighbours, 0.75);
        var fence = 1.5 * (q3 - q1);
        return value < q1 - fence || value > q3 + fence;
    }

    /// <summary>The quantile of sorted values, interpolated linearly between the nearest ranks.</summary>
    private static double Quantile(double[] sorted, double p)
    {
        var rank = p * (sorted.Length - 1);
        var below = (int)Math.Floor(rank);
        var above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (rank - below) * (sorted[above] - sorted[below]);
    }
}
