using AnalyticsEngine.Archive;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Kpi.Formula;
using AnalyticsEngine.Query;
using Orleans.Concurrency;

namespace AnalyticsEngine.Governance;

/// <summary>
/// Scores a client's KPI values (<see cref="ConfidenceScorer"/>) as the query path computes them, the same values the
/// stream shows, and keeps reviewers' decisions on them. Stateless: any silo serves it, calls run at once.
/// </summary>
[StatelessWorker]
[Reentrant]
public sealed class ReviewGrain(ReviewStore store, DataCompleteness completeness) : Grain, IReviewGrain
{
    public const int MaxNotesLength = 2000;

    public async Task<ReviewList> List(ReviewListRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (scored, error) = await ScoreAsync(request.ClientId, request.KpiCode, request.From, request.To, request.Granularity);
        var threshold = request.Threshold ?? ConfidenceScorer.ReviewThreshold;
        if (error is not null)
        {
            return new ReviewList([], error, threshold);
        }

        // From the start of the first bucket, which holds 'from' and may start before it.
        var first = scored.Count == 0 ? request.From : scored.Min(s => s.Value.BucketStart);
        var decisions = (await store.ListAsync(request.ClientId, request.Granularity, first, request.To))
            .ToDictionary(d => (d.KpiCode, d.BucketStart));
        var items = scored
            .Select(s => Item(s.Value, s.Confidence, decisions.GetValueOrDefault((s.Value.KpiCode, s.Value.BucketStart)), threshold))
            .Where(item => (item.Flagged || item.Decision is not null) && (request.Status is null || item.Status == request.Status))
            .ToList();
        return new ReviewList(items, null, threshold);
    }

    public async Task<ReviewDecisionOutcome> Decide(string clientId, ReviewDecisionRequest request, string reviewer)
    {
        ArgumentNullException.ThrowIfNull(request);
        var problems = Problems(request);
        if (problems.Count > 0)
        {
            return new ReviewDecisionOutcome(null, problems, null);
        }

        // The bucket holding the instant just after bucketStart: the one that starts there, if one does.
        var (scored, error) = await ScoreAsync(clientId, request.KpiCode, request.BucketStart, request.BucketStart.AddTicks(10), request.Granularity);
        if (error is not null)
        {
            return new ReviewDecisionOutcome(null, [], error);
        }

        var (value, confidence) = scored.Single();
        var granularity = request.Granularity.ToString().ToLowerInvariant();
        if (value.BucketStart != request.BucketStart)
        {
            return new ReviewDecisionOutcome(null,
                [$"bucketStart: is not where a {granularity} starts in the client's time zone; the {granularity} holding it starts at {value.BucketStart.ToOffset(request.BucketStart.Offset):yyyy-MM-ddTHH:mm:sszzz}"],
                null);
        }

        if ((request.EventCount is { } read && read != value.EventCount) || (request.Value is { } seen && !SameValue(seen, value.Value)))
        {
            return new ReviewDecisionOutcome(null, [], null, value);
        }

        var decision = new ReviewRecord(
            clientId, value.KpiCode, request.Granularity, value.BucketStart, request.Decision, request.Notes, reviewer, DateTimeOffset.UtcNow,
            value.Value, value.EventCount);
        await store.SaveAsync(decision);
        return new ReviewDecisionOutcome(Item(value, confidence, decision, ConfidenceScorer.ReviewThreshold), [], null);
    }

    private static ReviewItem Item(KpiValue value, ValueConfidence? confidence, ReviewRecord? decision, double threshold)
    {
        // A decision holds for the value it was made on; one the bucket has since changed from waits for a new one.
        var holds = decision is not null && decision.ReviewedEventCount == value.EventCount && SameValue(decision.ReviewedValue, value.Value);
        var status = !holds ? ReviewStatus.Pending : decision!.Decision == ReviewDecision.Approved ? ReviewStatus.Approved : ReviewStatus.Rejected;
        // The same instant as the value's, written in its offset (the store reads it back in UTC).
        return new ReviewItem(value, confidence, ConfidenceScorer.IsFlagged(confidence, threshold), status, decision is null ? null : decision with { BucketStart = value.BucketStart });
    }

    /// <summary>
    /// The same value, to within rounding: a sum read from rollups adds the same numbers in another order than one read
    /// from raw rows (docs/queries.md), so a bucket that did not change may differ in its last bits.
    /// </summary>
    internal static bool SameValue(double? reviewed, double? now) =>
        reviewed is null || now is null
            ? reviewed is null && now is null
            : Math.Abs(reviewed.Value - now.Value) <= 1e-9 * Math.Max(Math.Abs(reviewed.Value), Math.Abs(now.Value));

    private static List<string> Problems(ReviewDecisionRequest request)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(request.KpiCode))
        {
            problems.Add("kpiCode: is required");
        }

        if (!Enum.IsDefined(request.Granularity))
        {
            problems.Add("granularity: give minute, hour, day, week or month");
        }

        if (!Enum.IsDefined(request.Decision))
        {
            problems.Add("decision: give approved or rejected");
        }

        if (request.EventCount is < 0)
        {
            problems.Add("eventCount: must not be negative");
        }

        if (request.BucketStart < QueryRange.Earliest || request.BucketStart >= QueryRange.End)
        {
            problems.Add($"bucketStart: must be from {QueryRange.Earliest:O} and before {QueryRange.End:O}");
        }

        if (request.Notes is { } notes && (notes.Length > MaxNotesLength || notes.Any(c => char.IsControl(c) && c is not ('\t' or '\r' or '\n'))))
        {
            problems.Add($"notes: give at most {MaxNotesLength} characters, without control characters other than tabs and line breaks");
        }

        return problems;
    }

    /// <summary>
    /// The values of the client's KPI (its selected ones when <paramref name="kpiCode"/> is null) whose buckets start in
    /// <c>[from, to)</c> or hold <paramref name="from"/>, each scored against the buckets before it (read too).
    /// </summary>
    private async Task<(List<(KpiValue Value, ValueConfidence? Confidence)> Scored, QueryError? Error)> ScoreAsync(
        string clientId, string? kpiCode, DateTimeOffset from, DateTimeOffset to, Granularity granularity)
    {
        var client = await GrainFactory.GetGrain<IClientConfigGrain>(clientId).Get();
        if (client is null)
        {
            return ([], new QueryError(QueryErrorKind.UnknownClient, $"Client '{clientId}' does not exist."));
        }

        var earlier = Earlier(from, granularity);
        var queries = GrainFactory.GetGrain<IKpiQueryGrain>(0);
        var results = kpiCode is not null
            ? [await queries.Calculate(new KpiQuery(clientId, kpiCode, earlier, to, (QueryGranularity)granularity))]
            : await queries.CalculateDashboard(clientId, earlier, to, (QueryGranularity)granularity);
        if (results.FirstOrDefault(r => r.Error is not null) is { Error: { } failed } result)
        {
            return ([], kpiCode is null ? failed with { Message = $"{result.KpiCode}: {failed.Message}" } : failed);
        }

        var scored = new List<(KpiValue, ValueConfidence?)>();
        DataCompleteness.Counter? counter = null;
        // Counting reads raw rows: the archived rows of the days it counts come back first (the queries above read those
        // days from rollups where they could), and stay until it is done.
        var archive = GrainFactory.GetGrain<IArchiveGrain>(clientId);
        Guid? held = null;
        try
        {
            foreach (var values in results.Select(r => r.Series.Single().Values).Where(v => v.Count > 0))
            {
                var formula = FormulaOf(client, values[0].KpiCode);
                var eventModels = formula?.ObjectModels.Where(code => BuiltInCatalog.ObjectModelsByCode[code].Kind == ObjectKind.Event).ToList() ?? [];
                // The buckets the query path cut, from the first value's start to the last one's end.
                var boundaries = QueryBuckets.Compute(
                    ZoneIds.ZoneOf(client), (QueryGranularity)granularity, TimeTicks.Of(values[0].BucketStart), TimeTicks.Of(values[^1].BucketEnd), int.MaxValue - 2);
                counter ??= boundaries is null ? null : completeness.Begin(clientId, boundaries);
                if (counter is not null && eventModels.Count > 0 && RetentionHorizons.MayReadArchive(values[0].BucketStart, DateTimeOffset.UtcNow))
                {
                    held ??= Guid.NewGuid();
                    await archive.PrepareQuery(held.Value, ArchiveQuery.RawRowsOnly(values[0].BucketStart, values[^1].BucketEnd, eventModels));
                }

                var rowsMissingFields = formula is null || counter is null
                    ? new Dictionary<long, BucketCompleteness>()
                    : await counter.CountAsync(formula);
                if (rowsMissingFields is null)
                {
                    return ([], new QueryError(QueryErrorKind.Timeout,
                        "Counting the rows that lack a field the KPIs read took longer than a query may (or found no free turn in time); ask for a shorter range."));
                }

                for (var i = 0; i < values.Count; i++)
                {
                    if (values[i].BucketEnd > from)
                    {
                        var before = Math.Min(i, ConfidenceScorer.Neighbours);
                        scored.Add((values[i], ConfidenceScorer.Score(
                            values[i], [.. values.Skip(i - before).Take(before)], eventModels.Count > 0, rowsMissingFields.GetValueOrDefault(TimeTicks.Of(values[i].BucketStart)))));
                    }
                }
            }
        }
        finally
        {
            if (held is { } ended)
            {
                _ = archive.EndQuery(ended);
            }
        }

        return (scored, null);
    }

    /// <summary>Far enough before <paramref name="from"/> to hold the <see cref="ConfidenceScorer.Neighbours"/> buckets before it.</summary>
    private static DateTimeOffset Earlier(DateTimeOffset from, Granularity granularity)
    {
        var span = granularity switch
        {
            Granularity.Minute => TimeSpan.FromMinutes(1),
            Granularity.Hour => TimeSpan.FromHours(1),
            Granularity.Day => TimeSpan.FromDays(1),
            Granularity.Week => TimeSpan.FromDays(7),
            _ => TimeSpan.FromDays(31),
        } * ConfidenceScorer.Neighbours;
        return from - QueryRange.Earliest > span ? from - span : QueryRange.Earliest;
    }

    private static CompiledFormula? FormulaOf(ClientConfig client, string kpiCode) =>
        ClientKpis.Find(client, kpiCode) is { } kpi ? KpiFormula.Compile(kpi.Formula, BuiltInCatalog.ObjectModelsByCode).Formula : null;
}
