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
            .WithTags("KPI values")
            .RequireAuthorization(Policies.Read)
            .WithName("GetKpiSnapshot");
        return app;
    }

    private static async Task<Results<Ok<KpiSnapshot>, ProblemHttpResult>> GetAsync(
        string clientId, string kpiCode, string? granularity, int? recent, IClusterClient cluster)
    {
        if (!Granularities.TryParseStreaming(granularity ?? "minute", out var parsed))
        {
            return Problems.BadRequest("Unknown granularity", $"granularity '{granularity}' is not one of {Granularities.StreamingNames}.");
        }

        if (recent is < 1 or > 1440)
        {
            return Problems.BadRequest("Invalid recent", "recent must be between 1 and 1440 buckets.");
        }

        if (await KpiAccess.FindProblemAsync(cluster, clientId, kpiCode) is { } problem)
        {
            return Problems.NotFound(problem);
        }

        return TypedResults.Ok(await cluster.GetGrain<IClientKpiGrain>(clientId).GetSnapshot(kpiCode, parsed, recent ?? 60));
    }
}

/// <summary>Checks shared by HTTP and the hub: does this client exist and compute this KPI?</summary>
public static class KpiAccess
{
    public static async Task<string?> FindProblemAsync(IClusterClient cluster, string clientId, string kpiCode)
    {
        var config = await cluster.GetGrain<IClientConfigGrain>(clientId).Get();
        if (config is null)
        {
            return $"Client '{clientId}' does not exist.";
        }

        return config.SelectedKpis.Contains(kpiCode, StringComparer.Ordinal)
            ? null
            : $"Client '{clientId}' has not selected KPI '{kpiCode}'.";
    }
}

/// <summary>The granularities a dashboard can stream, by their wire names.</summary>
public static class Granularities
{
    public const string StreamingNames = "'minute', 'hour', 'day'";

    public static bool TryParseStreaming(string name, out Granularity granularity)
    {
        switch (name)
        {
            case "minute":
                granularity = Granularity.Minute;
                return true;
            case "hour":
                granularity = Granularity.Hour;
                return true;
            case "day":
                granularity = Granularity.Day;
                return true;
            default:
                granularity = default;
                return false;
        }
    }
}
