using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>One KPI of one client over a range: <c>POST /calculate</c>, and one item of <c>POST /calculate/batch</c>.</summary>
/// <param name="Granularity">minute, hour, day, week, month or range (one bucket for the whole range).</param>
/// <param name="Dimension">Optional text, boolean or integer field to drill down by, e.g. <c>carrier</c>.</param>
/// <remarks>The parameters with a default are optional; the OpenAPI document marks the others required.</remarks>
public sealed record CalculateRequest(
    string? ClientId,
    string? KpiCode,
    DateTimeOffset? From,
    DateTimeOffset? To,
    string? Granularity = null,
    string? Dimension = null) : IClientScoped;

/// <summary>Many KPI queries at once: <c>POST /calculate/batch</c>.</summary>
public sealed record CalculateBatchRequest(IReadOnlyList<CalculateRequest>? Queries) : IClientsScoped
{
    public IEnumerable<string?> NamedClientIds() => Queries?.Select(q => q?.ClientId) ?? [];
}

/// <summary>Every KPI a client has selected over one range: <c>POST /calculate/dashboard</c>.</summary>
public sealed record CalculateDashboardRequest(string? ClientId, DateTimeOffset? From, DateTimeOffset? To, string? Granularity = null) : IClientScoped;

/// <summary>
/// One-time KPI queries (mode 2): the same formulas and buckets as the stream, answered from the stored rows.
/// Results are <see cref="KpiQueryResult"/>s in JSON, or CSV with <c>?format=csv</c> or <c>Accept: text/csv</c>.
/// </summary>
public static class CalculateApi
{
    public const string GranularityNames = "'minute', 'hour', 'day', 'week', 'month', 'range'";

    /// <summary>Most queries one batch request may carry (the grain enforces its own limit too).</summary>
    public const int MaxBatchQueries = 200;

    public static IEndpointRouteBuilder MapCalculateApi(this IEndpointRouteBuilder app)
    {
        var calculate = app.MapGroup("/calculate").WithTags("One-time queries").RefuseUnknownQueryParameters().RequireAuthorization(Policies.Analyze)
            .WithMetadata(ChangesNothing.Instance)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        calculate.MapPost("/", CalculateAsync).WithName("Calculate").AnswersJsonOrCsv<KpiQueryResult>().AnswersQueryProblems();
        calculate.MapPost("/batch", CalculateBatchAsync).WithName("CalculateBatch").AnswersJsonOrCsv<IReadOnlyList<KpiQueryResult>>()
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);
        // A dashboard answers each KPI's failure in its result; only an unknown client is the request's.
        calculate.MapPost("/dashboard", CalculateDashboardAsync).WithName("CalculateDashboard").AnswersJsonOrCsv<IReadOnlyList<KpiQueryResult>>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);
        return app;
    }

    private static async Task<IResult> CalculateAsync(CalculateRequest request, HttpContext http, IClusterClient cluster)
    {
        if (Validate(request, out var query) is { } invalid)
        {
            return invalid;
        }

        var result = await cluster.GetGrain<IKpiQueryGrain>(0).Calculate(query!, http.RequestAborted);
        if (result.Error is { } error)
        {
            return KpiResults.Problem(error);
        }

        return KpiResults.Answer(http, result, [result]);
    }

    private static async Task<IResult> CalculateBatchAsync(CalculateBatchRequest request, HttpContext http, IClusterClient cluster)
    {
        if (request.Queries is not { Count: > 0 } items)
        {
            return Problems.BadRequest("No queries", "queries must hold at least one query.");
        }

        if (items.Count > MaxBatchQueries)
        {
            return Problems.BadRequest("Too many queries", $"A batch may hold at most {MaxBatchQueries} queries; this one has {items.Count}.");
        }

        var queries = new List<KpiQuery>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is null)
            {
                return Problems.Validation([$"queries[{i}]: must be a query object, not null"]);
            }

            switch (Validate(items[i], out var query))
            {
                case ValidationProblem invalid:
                    // Each field at fault by its path in the body, as a value that could not be read is named.
                    return Problems.Validation(invalid.ProblemDetails.Errors.SelectMany(e => e.Value.Select(message => $"queries[{i}].{e.Key}: {message}")));
                case ProblemHttpResult problem:
                    return Problems.BadRequest($"queries[{i}]: {problem.ProblemDetails.Title}", problem.ProblemDetails.Detail ?? "",
                        Problems.UnderItem(problem.ProblemDetails.Extensions, $"queries[{i}]", i));
            }

            queries.Add(query!);
        }

        var results = await cluster.GetGrain<IKpiQueryGrain>(0).CalculateBatch(queries, http.RequestAborted);
        return KpiResults.Answer(http, results, results);
    }

    private static async Task<IResult> CalculateDashboardAsync(CalculateDashboardRequest request, HttpContext http, IClusterClient cluster)
    {
        var asQuery = new CalculateRequest(request.ClientId, "-", request.From, request.To, request.Granularity, null);
        if (Validate(asQuery, out var query) is { } invalid)
        {
            return invalid;
        }

        var results = await cluster.GetGrain<IKpiQueryGrain>(0).CalculateDashboard(query!.ClientId, query.From, query.To, query.Granularity, http.RequestAborted);
        if (results is [{ Error: { Kind: QueryErrorKind.UnknownClient } error }])
        {
            return KpiResults.Problem(error);
        }

        // A range or granularity no KPI can answer (too long, too many points: the same buckets for every KPI of a
        // dashboard) is the request's fault, not each KPI's.
        if (results.Count > 0 && results.All(r => r.Error?.Kind is QueryErrorKind.InvalidRange or QueryErrorKind.TooManyPoints))
        {
            return KpiResults.Problem(results[0].Error!);
        }

        return KpiResults.Answer(http, results, results);
    }

    /// <summary>Checks what the gateway can check alone; the grain checks the rest (KPI, limits, dimension).</summary>
    internal static IResult? Validate(CalculateRequest request, out KpiQuery? query)
    {
        query = null;
        var missing = new List<string>();
        if (string.IsNullOrWhiteSpace(request.ClientId))
        {
            missing.Add("clientId: is required");
        }

        if (string.IsNullOrWhiteSpace(request.KpiCode))
        {
            missing.Add("kpiCode: is required");
        }

        if (request.From is null)
        {
            missing.Add("from: is required (ISO 8601 with an offset, e.g. 2026-07-01T00:00:00Z)");
        }

        if (request.To is null)
        {
            missing.Add("to: is required (ISO 8601 with an offset, e.g. 2026-10-01T00:00:00Z)");
        }

        if (request.Dimension is { } dimension && string.IsNullOrWhiteSpace(dimension))
        {
            missing.Add(NoEmptyDimension);
        }

        if (missing.Count > 0)
        {
            return Problems.Validation(missing);
        }

        if (!TryParseGranularity(request.Granularity ?? "day", out var granularity))
        {
            return Problems.BadRequest("Unsupported granularity", $"granularity '{request.Granularity}' is not one of {GranularityNames}.",
                Problems.ErrorAt("granularity", $"'{request.Granularity}' is not one of {GranularityNames}"));
        }

        if (request.To <= request.From)
        {
            return Problems.BadRequest("Invalid range", $"'to' ({request.To:O}) must be after 'from' ({request.From:O}).",
                Problems.ErrorAt("to", $"must be after 'from' ({request.From:O})"));
        }

        if (OutsideQueryRange(request.From!.Value, request.To!.Value) is { } outside)
        {
            return outside;
        }

        query = new KpiQuery(request.ClientId!, request.KpiCode!, request.From!.Value, request.To!.Value, granularity, request.Dimension);
        return null;
    }

    /// <summary>
    /// The fields of a range that lie outside <see cref="QueryRange"/>, each named (the query path would refuse the range
    /// too, but without saying which end is wrong); null when both lie within it.
    /// </summary>
    private static ProblemHttpResult? OutsideQueryRange(DateTimeOffset from, DateTimeOffset to)
    {
        var outside = new[] { (Field: "from", Value: from), (Field: "to", Value: to) }.Where(e => e.Value < QueryRange.Earliest || e.Value > QueryRange.End).ToList();
        if (outside.Count == 0)
        {
            return null;
        }

        var bounds = $"{QueryRange.Earliest:yyyy-MM-dd} and {QueryRange.End:yyyy-MM-dd} (UTC)";
        return Problems.BadRequest("Invalid range",
            $"The range must lie between {bounds}: no stored event is outside it, and the calendar's buckets end at the year 9999.",
            new Dictionary<string, object?> { ["errors"] = outside.ToDictionary(e => e.Field, e => new[] { $"{e.Value:O} is not between {bounds}" }) });
    }

    /// <summary>A dimension of only spaces names no field; read as none, it would answer a question the caller did not ask.</summary>
    internal const string NoEmptyDimension = "dimension: must name a field to drill down by; leave it out for no drill-down";

    public static bool TryParseGranularity(string name, out QueryGranularity granularity)
    {
        switch (name.ToLowerInvariant())
        {
            case "minute": granularity = QueryGranularity.Minute; return true;
            case "hour": granularity = QueryGranularity.Hour; return true;
            case "day": granularity = QueryGranularity.Day; return true;
            case "week": granularity = QueryGranularity.Week; return true;
            case "month": granularity = QueryGranularity.Month; return true;
            case "range": granularity = QueryGranularity.Range; return true;
            default: granularity = default; return false;
        }
    }
}
