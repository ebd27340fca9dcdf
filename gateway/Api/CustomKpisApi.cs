using AnalyticsEngine.Batch;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>What a caller sends to define a client-specific KPI.</summary>
public sealed record CustomKpiRequest(
    string? Code,
    string? Name,
    string? Description,
    string? Formula,
    string? Unit,
    KpiDirection? Direction,
    string? Module);

/// <summary>What a caller sends to check a formula.</summary>
public sealed record FormulaRequest(string? Formula);

/// <summary>
/// Client-specific KPIs (<c>/clients/{clientId}/custom-kpis</c>) and formula checking (<c>POST /formulas/check</c>).
/// A formula with problems is refused with every problem, its line, column and a caret excerpt.
/// Viewers list a client's custom KPIs; analysts check formulas and create, change and delete custom KPIs.
/// </summary>
public static class CustomKpisApi
{
    public static IEndpointRouteBuilder MapCustomKpisApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/formulas/check", async (FormulaRequest request, IClusterClient cluster) =>
            TypedResults.Ok(await cluster.GetGrain<IFormulaGrain>(0).Check(request.Formula ?? "")))
            .WithTags("Custom KPIs")
            .WithName("CheckFormula")
            .WithMetadata(ChangesNothing.Instance)
            .RequireAuthorization(Policies.Analyze);

        var custom = app.MapGroup("/clients/{clientId}/custom-kpis").WithTags("Custom KPIs").RefuseUnknownQueryParameters();

        custom.MapGet("/", async Task<Results<Ok<IReadOnlyList<KpiDefinition>>, ProblemHttpResult>> (string clientId, IClusterClient cluster) =>
            await cluster.GetGrain<IClientConfigGrain>(clientId).Get() is { } config
                ? TypedResults.Ok(config.CustomKpis)
                : Problems.NotFound($"Client '{clientId}' does not exist."))
            .WithName("ListCustomKpis")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(Policies.Read);

        custom.MapPost("/", (string clientId, CustomKpiRequest request, IClusterClient cluster) =>
            PutAsync(clientId, request.Code, request, cluster, creating: true))
            .WithName("CreateCustomKpi")
            .Produces<KpiDefinition>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(Policies.Analyze);

        custom.MapPut("/{kpiCode}", (string clientId, string kpiCode, CustomKpiRequest request, IClusterClient cluster) =>
            request.Code is not null && !string.Equals(request.Code, kpiCode, StringComparison.OrdinalIgnoreCase)
                ? Task.FromResult<IResult>(Problems.Validation([$"code: '{request.Code}' does not match the path's '{kpiCode}'"]))
                : PutAsync(clientId, kpiCode, request, cluster, creating: false))
            .WithName("UpdateCustomKpi")
            .Produces<KpiDefinition>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(Policies.Analyze);

        custom.MapDelete("/{kpiCode}", DeleteAsync)
            .WithName("DeleteCustomKpi")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(Policies.Analyze);

        return app;
    }

    /// <summary>The most jobs a refused deletion names; it counts the rest.</summary>
    private const int JobsNamed = 10;

    /// <summary>
    /// Deletes a custom KPI, unless a scheduled batch job names it: every later run of that job would fail, so the
    /// caller is told which jobs to unschedule first.
    /// </summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string clientId, string kpiCode, IClusterClient cluster)
    {
        kpiCode = StoredCode(await cluster.GetGrain<IClientConfigGrain>(clientId).Get(), kpiCode);
        var jobs = await cluster.GetGrain<IBatchJobDirectoryGrain>(0).ListAllOf(clientId);
        var usedBy = jobs
            .Where(j => j.Status == BatchJobStatus.Scheduled && j.Definition.KpiCodes.Contains(kpiCode, StringComparer.Ordinal))
            .Select(j => j.JobId)
            .ToList();
        if (usedBy.Count > 0)
        {
            var named = string.Join(", ", usedBy.Take(JobsNamed).Select(id => $"'{id}'"))
                + (usedBy.Count > JobsNamed ? $" and {usedBy.Count - JobsNamed} more (GET /batch/jobs?clientId={Uri.EscapeDataString(clientId)})" : "");
            return TypedResults.Problem(
                $"KPI '{kpiCode}' is computed by scheduled batch job{(usedBy.Count == 1 ? "" : "s")} {named}; "
                + "unschedule (DELETE /batch/jobs/{jobId}) or replace them first, or every later run would fail.",
                statusCode: StatusCodes.Status409Conflict, title: "KPI in use");
        }

        return await cluster.GetGrain<IClientConfigGrain>(clientId).DeleteCustomKpi(kpiCode)
            ? TypedResults.NoContent()
            : Problems.NotFound($"Client '{clientId}' has no custom KPI '{kpiCode}'.");
    }

    /// <summary>
    /// The code of the client's custom KPI <paramref name="code"/> names, whatever its case, as the query endpoints read
    /// codes (custom codes are upper case, and no two differ only in case); as given if it has none such.
    /// </summary>
    private static string StoredCode(ClientConfig? config, string? code) =>
        config?.CustomKpis.FirstOrDefault(k => string.Equals(k.Code, code, StringComparison.OrdinalIgnoreCase))?.Code ?? code ?? "";

    private static async Task<IResult> PutAsync(string clientId, string? code, CustomKpiRequest request, IClusterClient cluster, bool creating)
    {
        var grain = cluster.GetGrain<IClientConfigGrain>(clientId);
        if (await grain.Get() is not { } config)
        {
            return Problems.NotFound($"Client '{clientId}' does not exist.");
        }

        code = creating ? code : StoredCode(config, code);
        var exists = config.CustomKpis.Any(k => k.Code == code);
        if (creating && exists)
        {
            return TypedResults.Problem($"Client '{clientId}' already has a custom KPI '{code}'; use PUT to change it.",
                statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        }

        if (!creating && !exists)
        {
            return Problems.NotFound($"Client '{clientId}' has no custom KPI '{code}'.");
        }

        var missing = new List<string>();
        if (string.IsNullOrWhiteSpace(code))
        {
            missing.Add("code: is required");
        }

        if (string.IsNullOrWhiteSpace(request.Name))
        {
            missing.Add("name: is required");
        }

        missing.AddRange(InputText.Problems(
            ("code", code), ("name", request.Name), ("description", request.Description), ("formula", request.Formula),
            ("unit", request.Unit), ("module", request.Module)));
        if (missing.Count > 0)
        {
            return Problems.Validation(missing);
        }

        var kpi = new KpiDefinition(code!, request.Name!, request.Description ?? "", request.Formula ?? "", request.Unit ?? "",
            request.Direction ?? KpiDirection.HigherIsBetter, [], request.Module ?? "custom", "custom");
        var check = await grain.PutCustomKpi(kpi);
        if (!check.IsValid)
        {
            return check.Problems.All(p => p.Line > 0)
                ? Problems.BadRequest("The formula has problems", $"{check.Problems.Count} problem(s) in the formula; nothing was changed.",
                    new Dictionary<string, object?> { ["problems"] = check.Problems })
                : Problems.Validation(check.Problems.Select(p => p.Message));
        }

        var stored = (await grain.Get())!.CustomKpis.First(k => k.Code == code);
        return creating ? TypedResults.Created($"/clients/{clientId}/custom-kpis/{code}", stored) : TypedResults.Ok(stored);
    }
}
