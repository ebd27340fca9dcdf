using System.ComponentModel.DataAnnotations;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Kpi;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary><c>GET /clients/{clientId}/kpis/{kpiCode}</c>: the current bucket and recent series, as a dashboard would get them.</summary>
public static class KpiApi
{
    public static IEndpointRouteBuilder MapKpiApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/clients/{clientId}/kpis/{kpiCode}", GetAsync)
            .RefuseUnknownQueryParameters()
            .AnswersJsonOnly<KpiSnapshot>()
            .WithTags("KPI values")
            .RequireAuthorization(Policies.Read)
            .WithName("GetKpiSnapshot")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        app.MapGet("/clients/{clientId}/kpis/{kpiCode}/window", GetWindowAsync)
            .RefuseUnknownQueryParameters()
            .AnswersJsonOnly<KpiValue>()
            .WithTags("KPI values")
            .RequireAuthorization(Policies.Read)
            .WithName("GetKpiWindow")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        app.MapGet("/clients/{clientId}/kpis/{kpiCode}/history", GetHistoryAsync)
            .RefuseUnknownQueryParameters()
            .AnswersJsonOrCsv<AnalyticsEngine.Query.KpiQueryResult>()
            .AnswersQueryProblems()
            .RequiresQueryParameters("from", "to")
            .WithTags("KPI values")
            .RequireAuthorization(Policies.Read)
            .WithName("GetKpiHistory");
        return app;
    }

    /// <summary>
    /// <c>GET /clients/{clientId}/kpis/{kpiCode}/history?from=&amp;to=&amp;granularity=&amp;dimension=</c>: the KPI's values
    /// over a range, computed by the query path (the one definition) with the guards of <c>POST /calculate</c>; JSON or CSV.
    /// </summary>
    private static async Task<IResult> GetHistoryAsync(
        string clientId, string kpiCode, string? from, string? to, string? granularity, string? dimension,
        HttpContext http, IClusterClient cluster)
    {
        var times = new List<string>();
        var start = Instants.FromQueryString("from", from, times);
        var end = Instants.FromQueryString("to", to, times);
        if (times.Count > 0)
        {
            return Problems.Validation(times);
        }

        var request = new CalculateRequest(clientId, kpiCode, start, end, granularity, dimension);
        if (CalculateApi.Validate(request, out var query) is { } invalid)
        {
            return invalid;
        }

        var result = await cluster.GetGrain<AnalyticsEngine.Query.IKpiQueryGrain>(0).Calculate(query!, http.RequestAborted);
        return result.Error is { } error ? KpiResults.Problem(error) : KpiResults.Answer(http, result, [result]);
    }

    /// <summary>
    /// <c>GET /clients/{clientId}/kpis/{kpiCode}/window?kind=lastHours&amp;count=24</c>: a rolling window
    /// (lastMinutes, lastHours, lastDays with a count) or period to date (dayToDate, weekToDate, monthToDate,
    /// quarterToDate, yearToDate), merged from the live buckets.
    /// </summary>
    private static async Task<Results<Ok<KpiValue>, ProblemHttpResult>> GetWindowAsync(
        string clientId, string kpiCode, string? kind, [Range(1, LiveRetention.MostBuckets)] int? count, IClusterClient cluster)
    {
        if (!WindowKinds.TryGetValue(kind ?? "", out var windowKind))
        {
            return Problems.BadRequestAt("Unknown window", "kind", $"kind '{kind}' is not one of {string.Join(", ", WindowKinds.Keys.Select(k => $"'{k}'"))}.");
        }

        var countedIn = LiveRetention.CountedIn(windowKind);
        var rolling = countedIn is not null;
        if (countedIn is { } unit && (count is null || count < 1 || count > LiveRetention.MaxBuckets(unit)))
        {
            return Problems.BadRequestAt("Invalid count", "count",
                $"a {kind} window needs count between 1 and {LiveRetention.MaxBuckets(unit)}, the {unit.ToString().ToLowerInvariant()}s "
                + "the live engine keeps; ask POST /calculate for a longer range.");
        }

        // A period to date has no length to give; a count there would be ignored, and the caller misled.
        if (!rolling && count is not null)
        {
            return Problems.BadRequestAt("Invalid count", "count", "count applies only to lastMinutes, lastHours, lastDays.");
        }

        var (problem, code) = await KpiAccess.FindSelectedAsync(cluster, clientId, kpiCode);
        if (problem is not null)
        {
            return Problems.NotFound(problem);
        }

        var window = new KpiWindow(windowKind, rolling ? count!.Value : 1);
        return await cluster.GetGrain<IClientKpiGrain>(clientId).GetWindow(code, window) is { } value
            ? TypedResults.Ok(value)
            : Problems.NotFound($"Client '{clientId}' does not compute KPI '{kpiCode}'.");
    }

    // Names are read whatever their case, as the query API's JSON names are.
    private static readonly Dictionary<string, KpiWindowKind> WindowKinds = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lastMinutes"] = KpiWindowKind.LastMinutes,
        ["lastHours"] = KpiWindowKind.LastHours,
        ["lastDays"] = KpiWindowKind.LastDays,
        ["dayToDate"] = KpiWindowKind.DayToDate,
        ["weekToDate"] = KpiWindowKind.WeekToDate,
        ["monthToDate"] = KpiWindowKind.MonthToDate,
        ["quarterToDate"] = KpiWindowKind.QuarterToDate,
        ["yearToDate"] = KpiWindowKind.YearToDate,
    };

    private static async Task<Results<Ok<KpiSnapshot>, ProblemHttpResult>> GetAsync(
        string clientId, string kpiCode, string? granularity, [Range(1, LiveRetention.MostBuckets)] int? recent, IClusterClient cluster)
    {
        if (!Granularities.TryParseStreaming(granularity ?? "minute", out var parsed))
        {
            return Problems.BadRequestAt("Unknown granularity", "granularity", $"granularity '{granularity}' is not one of {Granularities.StreamingNames}.");
        }

        if (recent is < 1 || recent > LiveRetention.MaxBuckets(parsed))
        {
            return Problems.BadRequestAt("Invalid recent", "recent",
                $"recent must be between 1 and {LiveRetention.MaxBuckets(parsed)} {granularity ?? "minute"} buckets, the ones the live engine keeps; "
                + "ask /history or POST /calculate for a longer range.");
        }

        var (problem, code) = await KpiAccess.FindSelectedAsync(cluster, clientId, kpiCode);
        if (problem is not null)
        {
            return Problems.NotFound(problem);
        }

        return TypedResults.Ok(await cluster.GetGrain<IClientKpiGrain>(clientId).GetSnapshot(code, parsed, recent ?? 60));
    }
}

/// <summary>Checks shared by HTTP and the hub: does this client exist and compute this KPI?</summary>
public static class KpiAccess
{
    /// <summary>
    /// Why the client does not compute <paramref name="kpiCode"/> as the hub names series (the code as the client's
    /// selection stores it, which pushes carry), or null.
    /// </summary>
    public static async Task<string?> FindProblemAsync(IClusterClient cluster, string clientId, string kpiCode) =>
        (await FindSelectedAsync(cluster, clientId, kpiCode, StringComparer.Ordinal)).Problem;

    /// <summary>
    /// The code of the selected KPI <paramref name="kpiCode"/> names, whatever its case (<c>pof</c> is POF), as the
    /// HTTP endpoints read codes; or why the client has none such.
    /// </summary>
    public static Task<(string? Problem, string Code)> FindSelectedAsync(IClusterClient cluster, string clientId, string kpiCode) =>
        FindSelectedAsync(cluster, clientId, kpiCode, StringComparer.OrdinalIgnoreCase);

    private static async Task<(string? Problem, string Code)> FindSelectedAsync(IClusterClient cluster, string clientId, string kpiCode, StringComparer codes)
    {
        var config = await cluster.GetGrain<IClientConfigGrain>(clientId).Get();
        if (config is null)
        {
            return ($"Client '{clientId}' does not exist.", kpiCode);
        }

        return config.SelectedKpis.FirstOrDefault(code => codes.Equals(code, kpiCode)) is { } selected
            ? (null, selected)
            : ($"Client '{clientId}' has not selected KPI '{kpiCode}'.", kpiCode);
    }
}

/// <summary>The granularities a dashboard can stream, by their wire names.</summary>
public static class Granularities
{
    public const string StreamingNames = "'minute', 'hour', 'day'";

    private static readonly Dictionary<string, Granularity> Streaming = new(StringComparer.OrdinalIgnoreCase)
    {
        ["minute"] = Granularity.Minute,
        ["hour"] = Granularity.Hour,
        ["day"] = Granularity.Day,
    };

    /// <summary>Reads a streaming granularity by its name, whatever its case (as the query API's JSON reads its own).</summary>
    public static bool TryParseStreaming(string? name, out Granularity granularity)
    {
        granularity = default;
        return name is not null && Streaming.TryGetValue(name, out granularity);
    }
}
