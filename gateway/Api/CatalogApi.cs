using AnalyticsEngine.Catalog;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>The KPI catalog ("the menu") over HTTP: KPIs, object models, modules and value chains.</summary>
public static class CatalogApi
{
    // Catalog metadata changes only with a release, so browsers and proxies may keep it for an hour.
    private const string CacheControl = "public, max-age=3600";

    /// <summary>
    /// Maps <c>GET /kpis</c>, <c>/kpis/{code}</c>, <c>/kpis/module/{code}</c>, <c>/object-models</c>,
    /// <c>/object-models/{code}</c>, <c>/modules</c> and <c>/value-chains</c>, answered by <see cref="ICatalogGrain"/>.
    /// An unknown code is a 404 problem naming it.
    /// </summary>
    public static IEndpointRouteBuilder MapCatalogApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);

        var catalog = app.MapGroup("")
            .WithTags("Catalog")
            .RequireAuthorization(Policies.Read)
            .AddEndpointFilter(CacheSuccessfulResponses);

        catalog.MapGet("/kpis", GetKpis).WithName("GetKpis")
            .WithSummary("Every built-in KPI, grouped by value chain and module.");
        catalog.MapGet("/kpis/{code}", GetKpi).WithName("GetKpi")
            .WithSummary("One KPI by its code (case-insensitive).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        catalog.MapGet("/kpis/module/{code}", GetKpisByModule).WithName("GetKpisByModule")
            .WithSummary("The KPIs of one module.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        catalog.MapGet("/object-models", GetObjectModels).WithName("GetObjectModels")
            .WithSummary("Every object model with its fields, keys and relationships.");
        catalog.MapGet("/object-models/{code}", GetObjectModel).WithName("GetObjectModel")
            .WithSummary("One object model by its code (case-insensitive).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        catalog.MapGet("/modules", GetModules).WithName("GetModules")
            .WithSummary("Every module, grouped by value chain.");
        catalog.MapGet("/value-chains", GetValueChains).WithName("GetValueChains")
            .WithSummary("Every value chain.");

        return app;
    }

    private static ICatalogGrain Catalog(IClusterClient client) => client.GetGrain<ICatalogGrain>(0);

    private static async Task<Ok<IReadOnlyList<KpiDefinition>>> GetKpis(IClusterClient client) =>
        TypedResults.Ok(await Catalog(client).GetKpis());

    private static async Task<Results<Ok<KpiDefinition>, ProblemHttpResult>> GetKpi(string code, IClusterClient client) =>
        await Catalog(client).GetKpi(code) is { } kpi
            ? TypedResults.Ok(kpi)
            : NotFound("KPI not found", $"The catalog has no KPI with code '{code}'.");

    private static async Task<Results<Ok<IReadOnlyList<KpiDefinition>>, ProblemHttpResult>> GetKpisByModule(
        string code, IClusterClient client) =>
        await Catalog(client).GetKpisByModule(code) is { } kpis
            ? TypedResults.Ok(kpis)
            : NotFound("Module not found", $"The catalog has no module with code '{code}'.");

    private static async Task<Ok<IReadOnlyList<ObjectModelDefinition>>> GetObjectModels(IClusterClient client) =>
        TypedResults.Ok(await Catalog(client).GetObjectModels());

    private static async Task<Results<Ok<ObjectModelDefinition>, ProblemHttpResult>> GetObjectModel(
        string code, IClusterClient client) =>
        await Catalog(client).GetObjectModel(code) is { } objectModel
            ? TypedResults.Ok(objectModel)
            : NotFound("Object model not found", $"The catalog has no object model with code '{code}'.");

    private static async Task<Ok<IReadOnlyList<ModuleDefinition>>> GetModules(IClusterClient client) =>
        TypedResults.Ok(await Catalog(client).GetModules());

    private static async Task<Ok<IReadOnlyList<ValueChainDefinition>>> GetValueChains(IClusterClient client) =>
        TypedResults.Ok(await Catalog(client).GetValueChains());

    private static ProblemHttpResult NotFound(string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status404NotFound, title: title);

    // Only successful answers are cacheable: a 404 for a code that a later release adds must not linger.
    private static async ValueTask<object?> CacheSuccessfulResponses(
        EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var result = await next(context);
        var outcome = result is INestedHttpResult nested ? nested.Result : result;
        if (outcome is IStatusCodeHttpResult { StatusCode: StatusCodes.Status200OK })
        {
            context.HttpContext.Response.Headers.CacheControl = CacheControl;
        }

        return result;
    }
}
