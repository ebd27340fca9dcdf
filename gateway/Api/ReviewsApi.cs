using System.Globalization;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Governance;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Query;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>The review list: the confidence threshold below which values are flagged, and the values flagged or decided on.</summary>
public sealed record ReviewListView(double Threshold, IReadOnlyList<ReviewItem> Items);

/// <summary>
/// Confidence and review of a client's KPI values: <c>GET /clients/{clientId}/reviews</c> lists the values flagged for
/// their low confidence (and those decided on) with their scores and explanations; admins approve or reject one with
/// notes at <c>POST /clients/{clientId}/reviews</c>. Every decision is in the audit trail too.
/// </summary>
public static class ReviewsApi
{
    // A review is of a bucket, so a whole range's one value (granularity=range) is not offered.
    private static readonly string[] Granularities = ["minute", "hour", "day", "week", "month"];

    private static readonly Dictionary<string, ReviewStatus> Statuses = new(StringComparer.OrdinalIgnoreCase)
    {
        ["pending"] = ReviewStatus.Pending,
        ["approved"] = ReviewStatus.Approved,
        ["rejected"] = ReviewStatus.Rejected,
    };

    public static IEndpointRouteBuilder MapReviewsApi(this IEndpointRouteBuilder app)
    {
        var reviews = app.MapGroup("/clients/{clientId}/reviews").WithTags("Governance").RefuseUnknownQueryParameters();
        reviews.MapGet("/", ListAsync)
            .RequireAuthorization(Policies.Read)
            .WithName("ListReviews")
            .AnswersJsonOnly<ReviewListView>()
            .AnswersQueryProblems();
        reviews.MapPost("/", DecideAsync)
            .RequireAuthorization(Policies.Administer)
            .WithName("DecideReview")
            .AnswersQueryProblems()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return app;
    }

    /// <summary>
    /// <c>GET /clients/{clientId}/reviews?from=&amp;to=&amp;granularity=&amp;kpiCode=&amp;status=&amp;threshold=</c>: the client's
    /// selected KPIs (or <c>kpiCode</c>) in <c>[from, to)</c> by minute, hour, day (the default), week or month, flagged below
    /// <c>threshold</c> (0.7 unless given).
    /// </summary>
    private static async Task<IResult> ListAsync(
        string clientId, string? from, string? to, string? granularity, string? kpiCode, string? status, double? threshold, IClusterClient cluster)
    {
        var problems = new List<string>();
        var start = Instants.FromQueryString("from", from, problems);
        var end = Instants.FromQueryString("to", to, problems);
        if (granularity is not null && !Granularities.Contains(granularity, StringComparer.OrdinalIgnoreCase))
        {
            problems.Add($"granularity: '{granularity}' is not one of {string.Join(", ", Granularities)}");
        }

        ReviewStatus? wanted = null;
        if (status is not null)
        {
            wanted = Statuses.TryGetValue(status, out var parsed) ? parsed : null;
            if (wanted is null)
            {
                problems.Add($"status: '{status}' is not one of pending, approved, rejected");
            }
        }

        if (threshold is not null && !(threshold > 0 && threshold <= 1))
        {
            problems.Add($"threshold: give a confidence from more than 0 to 1, below which values are flagged; it is {threshold}");
        }

        if (problems.Count > 0)
        {
            return Problems.Validation(problems);
        }

        // The same guards as a query's (range, calendar, granularity); the KPI, when none is named, is each selected one.
        var request = new CalculateRequest(clientId, kpiCode ?? "*", start, end, granularity);
        if (CalculateApi.Validate(request, out var query) is { } invalid)
        {
            return invalid;
        }

        var list = await cluster.GetGrain<IReviewGrain>(0).List(
            new ReviewListRequest(clientId, query!.From, query.To, (Granularity)query.Granularity, kpiCode, wanted, threshold));
        return list.Error is { } error ? KpiResults.Problem(error) : TypedResults.Ok(new ReviewListView(list.Threshold, list.Items));
    }

    private static async Task<Results<Ok<ReviewItem>, ValidationProblem, ProblemHttpResult>> DecideAsync(
        string clientId, ReviewDecisionRequest request, HttpContext http, IClusterClient cluster)
    {
        var outcome = await cluster.GetGrain<IReviewGrain>(0).Decide(clientId, request, http.User.Identity?.Name ?? "");
        return outcome switch
        {
            { Error: { } error } => KpiResults.Problem(error),
            { Changed: { } now } => TypedResults.Problem(
                string.Create(CultureInfo.InvariantCulture,
                    $"The value changed since it was read: it is now {(now.Value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "no value")} over {now.EventCount} events. Read it again before deciding."),
                statusCode: StatusCodes.Status409Conflict, title: "Value changed", extensions: new Dictionary<string, object?> { ["current"] = now }),
            { Item: { } item } => TypedResults.Ok(item),
            _ => Problems.Validation(outcome.Problems),
        };
    }
}
