using AnalyticsEngine.Clients;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>KPI codes to analyse; with a client id, that client's custom KPIs count too.</summary>
public sealed record RequiredObjectsRequest(IReadOnlyList<string>? KpiCodes, string? ClientId) : IClientScoped;

/// <summary>
/// <c>POST /analysis/required-objects</c>: which object models, and which of their fields, a set of KPIs
/// needs — what a client must deliver before those KPIs can be computed.
/// </summary>
public static class AnalysisApi
{
    public const int MaxKpis = 500;

    public static IEndpointRouteBuilder MapAnalysisApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/analysis/required-objects", AnalyzeAsync)
            .WithTags("Analysis")
            .RequireAuthorization(Policies.Read)
            .WithName("AnalyzeRequiredObjects")
            .WithMetadata(ChangesNothing.Instance);
        return app;
    }

    private static async Task<Results<Ok<RequiredObjects>, ValidationProblem, ProblemHttpResult>> AnalyzeAsync(
        RequiredObjectsRequest request, IClusterClient cluster)
    {
        if (request.KpiCodes is not { Count: > 0 and <= MaxKpis } codes || codes.Any(string.IsNullOrWhiteSpace))
        {
            return Problems.Validation([$"kpiCodes: give 1 to {MaxKpis} KPI codes, none empty"]);
        }

        if (request.ClientId is { } clientId && await cluster.GetGrain<IClientConfigGrain>(clientId).Get() is null)
        {
            return Problems.NotFound($"Client '{clientId}' does not exist.");
        }

        var result = await cluster.GetGrain<IFormulaGrain>(0).AnalyzeRequiredObjects(codes, request.ClientId);
        return result.UnknownKpis.Count > 0
            ? Problems.Validation(result.UnknownKpis.Select(code => $"kpiCodes: '{code}' is not a catalog KPI{(request.ClientId is null ? "" : " nor one of the client's custom KPIs")}"))
            : TypedResults.Ok(result);
    }
}
