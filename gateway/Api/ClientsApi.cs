using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// What a caller sends to create or replace a client's configuration: the document <c>GET /clients/{clientId}</c>
/// returns, changed where wanted, is one.
/// </summary>
/// <param name="CustomKpis">Changed only through <c>/clients/{clientId}/custom-kpis</c>; a PUT may repeat them as read.</param>
/// <param name="Version">The version the change was made from: refused (409) when the configuration has moved on since.</param>
public sealed record ClientRequest(
    string? ClientId,
    string? Name,
    string? TimeZone,
    IReadOnlyList<string>? SelectedKpis,
    IReadOnlyList<FieldMapping>? FieldMappings,
    IReadOnlyList<KpiDefinition>? CustomKpis = null,
    long? Version = null) : IClientScoped;

/// <summary>The query rollups of a client's partitions (<c>GET /clients/{clientId}/rollups</c>).</summary>
public sealed record ClientRollups(string ClientId, IReadOnlyList<PartitionRollupStatus> Partitions);

/// <summary>
/// Client configuration ("your order"): <c>GET/POST/PUT /clients</c>. Viewers read the clients their token
/// grants; only admins create or change them.
/// </summary>
public static class ClientsApi
{
    public static IEndpointRouteBuilder MapClientsApi(this IEndpointRouteBuilder app)
    {
        var clients = app.MapGroup("/clients").WithTags("Clients").RefuseUnknownQueryParameters();

        clients.MapGet("/", async (IClusterClient cluster, ClaimsPrincipal user) =>
        {
            var grant = ClientAccess.GrantOf(user);
            var all = await cluster.GetGrain<IClientDirectoryGrain>(0).List();
            return TypedResults.Ok(grant.All ? all : [.. all.Where(c => grant.Allows(c.ClientId))]);
        })
            .WithName("ListClients")
            .WithSummary("The clients the caller's token grants.");

        clients.MapGet("/{clientId}", async Task<Results<Ok<ClientConfig>, ProblemHttpResult>> (string clientId, IClusterClient cluster, HttpContext http) =>
            await cluster.GetGrain<IClientConfigGrain>(clientId).Get() is { } config
                ? Tagged(http, config)
                : Problems.NotFound($"Client '{clientId}' does not exist."))
            .WithName("GetClient")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("The client's configuration, its version as the ETag: PUT it back, changed, with If-Match or its version to change it.")
            .RespondsWithHeader(StatusCodes.Status200OK, "ETag", "The configuration's version, quoted (a strong ETag): send it back in If-Match.");

        clients.MapGet("/{clientId}/rollups", async Task<Results<Ok<ClientRollups>, ProblemHttpResult>> (string clientId, IClusterClient cluster, HttpContext http) =>
            await cluster.GetGrain<IClientConfigGrain>(clientId).Get() is null
                ? Problems.NotFound($"Client '{clientId}' does not exist.")
                : TypedResults.Ok(new ClientRollups(clientId, await cluster.GetGrain<IKpiQueryGrain>(0).RollupStatus(clientId, http.RequestAborted))))
            .WithName("GetClientRollups")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("How far each of the client's partitions is rolled up for queries, whether its rollups hold every rolled-up row, how many rows a backfill still has to add, and when rollups of a term or dimension were last restarted.");

        clients.MapPost("/", async Task<Results<Created<ClientConfig>, ValidationProblem, ProblemHttpResult>> (ClientRequest request, IClusterClient cluster, HttpContext http) =>
        {
            if (string.IsNullOrWhiteSpace(request.ClientId))
            {
                return Problems.Validation(["clientId: is required"]);
            }

            if (TextProblems(request) is { Count: > 0 } textProblems)
            {
                return Problems.Validation(textProblems);
            }

            if (CreationProblems(request) is { Count: > 0 } creationProblems)
            {
                return Problems.Validation(creationProblems);
            }

            // Only if the client does not exist yet, checked where it is stored: of two creations at once, one is refused.
            var change = await cluster.GetGrain<IClientConfigGrain>(request.ClientId).Update(UpdateOf(request) with { Name = request.Name ?? "" }, expectedVersion: 0);
            if (change.Conflicted)
            {
                return TypedResults.Problem($"Client '{request.ClientId}' already exists; use PUT /clients/{request.ClientId} to change it.",
                    statusCode: StatusCodes.Status409Conflict, title: "Conflict");
            }

            if (change.Stored is not { } stored)
            {
                return Problems.Validation(change.Problems);
            }

            http.Response.Headers.ETag = ETagOf(stored);
            return TypedResults.Created($"/clients/{request.ClientId}", stored);
        })
            .WithName("CreateClient")
            .RequireAuthorization(Policies.Administer)
            .ProducesProblem(StatusCodes.Status409Conflict);

        clients.MapPut("/{clientId}", async Task<Results<Ok<ClientConfig>, ValidationProblem, ProblemHttpResult>> (string clientId, ClientRequest request, IClusterClient cluster, HttpContext http) =>
        {
            var ifMatch = http.Request.GetTypedHeaders().IfMatch;
            if (ifMatch.Count == 0 && http.Request.Headers.IfMatch.Count > 0)
            {
                return Problems.BadRequest("Invalid If-Match header",
                    $"If-Match must be the ETag GET returned, a quoted version such as \"3\", or *; got {http.Request.Headers.IfMatch}.",
                    Problems.ErrorAt("If-Match", "is not an entity tag"));
            }

            var grain = cluster.GetGrain<IClientConfigGrain>(clientId);
            if (await grain.Get() is not { } existing)
            {
                return Problems.NotFound($"Client '{clientId}' does not exist; create it with POST /clients.");
            }

            if (request.ClientId is not null && request.ClientId != clientId)
            {
                return Problems.Validation([$"clientId: '{request.ClientId}' does not match the path's '{clientId}'"]);
            }

            // The version the change was made from, if the caller names one: by If-Match (a "*" names none) or in the body.
            var byIfMatch = ifMatch.Count > 0 && !ifMatch.Any(tag => tag.Equals(EntityTagHeaderValue.Any));
            if (byIfMatch && !ifMatch.Any(tag => tag.Compare(new EntityTagHeaderValue(ETagOf(existing)), useStrongComparison: true)))
            {
                return PreconditionFailed(clientId, existing.Version);
            }

            if (request.Version is { } read && read != existing.Version)
            {
                return Changed(clientId, read, existing.Version);
            }

            if (TextProblems(request) is { Count: > 0 } textProblems)
            {
                return Problems.Validation(textProblems);
            }

            if (request.CustomKpis is { } customKpis && !SameCustomKpis(customKpis, existing.CustomKpis, http))
            {
                return Problems.Validation([$"customKpis: change custom KPIs through /clients/{clientId}/custom-kpis; a PUT may only repeat them as GET returns them"]);
            }

            // Merged with the stored configuration where it is stored: a change landing meanwhile (a custom KPI, say) stays.
            var expected = byIfMatch || request.Version is not null ? existing.Version : (long?)null;
            var change = await grain.Update(UpdateOf(request), expected);
            if (change.Stored is { } stored)
            {
                return Tagged(http, stored);
            }

            return change.CurrentVersion is not { } current ? Problems.Validation(change.Problems)
                : byIfMatch ? PreconditionFailed(clientId, current)
                : Changed(clientId, request.Version!.Value, current);
        })
            .WithName("UpdateClient")
            .WithSummary("Changes the client's configuration: fields left out keep their value; with If-Match or a version, only if it is still that version.")
            .RequireAuthorization(Policies.Administer)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .AcceptsOptionalHeader(
                "If-Match",
                "The ETag of the configuration the change was made from (GET returns it): refused with 412 when the configuration has changed since.");

        return app;
    }

    /// <summary>
    /// Null list entries and control characters are refused at the edge: PostgreSQL cannot store NUL in text or
    /// jsonb, and no name, time zone, KPI code or field name needs a control character.
    /// </summary>
    private static List<string> TextProblems(ClientRequest request)
    {
        var problems = new List<string>();
        void Check(string field, string? value, bool required = false)
        {
            if (value is null ? required : InputText.HasControlCharacters(value))
            {
                problems.Add(value is null ? $"{field}: must not be null" : $"{field}: must not contain control characters");
            }
        }

        Check("name", request.Name);
        Check("timeZone", request.TimeZone);
        // Each entry by its index and field, so a caller with many mappings can tell which one to fix.
        var codes = request.SelectedKpis ?? [];
        for (var i = 0; i < codes.Count; i++)
        {
            Check($"selectedKpis[{i}]", codes[i], required: true);
        }

        var mappings = request.FieldMappings ?? [];
        for (var i = 0; i < mappings.Count; i++)
        {
            if (mappings[i] is not { } mapping)
            {
                problems.Add($"fieldMappings[{i}]: must not be null");
                continue;
            }

            Check($"fieldMappings[{i}].objectModel", mapping.ObjectModel, required: true);
            Check($"fieldMappings[{i}].sourceField", mapping.SourceField, required: true);
            Check($"fieldMappings[{i}].modelField", mapping.ModelField, required: true);
        }

        return problems;
    }

    /// <summary>Fields of the GET document a new client cannot have yet.</summary>
    private static List<string> CreationProblems(ClientRequest request)
    {
        var problems = new List<string>();
        if (request.CustomKpis is { Count: > 0 })
        {
            problems.Add("customKpis: a new client has none; add them with POST /clients/{clientId}/custom-kpis once it exists");
        }

        if (request.Version is not null)
        {
            problems.Add("version: a new client has none yet; leave it out");
        }

        return problems;
    }

    /// <summary>The configuration with its version as the response's ETag.</summary>
    private static Ok<ClientConfig> Tagged(HttpContext http, ClientConfig config)
    {
        http.Response.Headers.ETag = ETagOf(config);
        return TypedResults.Ok(config);
    }

    /// <summary>A strong ETag: the version changes with every stored change, and only then.</summary>
    private static string ETagOf(ClientConfig config) => $"\"{config.Version.ToString(CultureInfo.InvariantCulture)}\"";

    private static ProblemHttpResult PreconditionFailed(string clientId, long version) => TypedResults.Problem(
        $"Client '{clientId}' is no longer at the version If-Match names: it is at version {version}. Read it again and make the change on that.",
        statusCode: StatusCodes.Status412PreconditionFailed, title: "Precondition failed",
        extensions: new Dictionary<string, object?> { ["currentVersion"] = version });

    private static ProblemHttpResult Changed(string clientId, long read, long version) => TypedResults.Problem(
        $"Client '{clientId}' has changed since version {read} was read: it is at version {version}. Read it again and make the change on that.",
        statusCode: StatusCodes.Status409Conflict, title: "Conflict",
        extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { ["version"] = [$"is {read}; the client is at {version}"] }, ["currentVersion"] = version });

    /// <summary>Whether the custom KPIs a PUT repeats are the stored ones, compared as the API writes them.</summary>
    private static bool SameCustomKpis(IReadOnlyList<KpiDefinition> sent, IReadOnlyList<KpiDefinition> stored, HttpContext http)
    {
        var json = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        return JsonSerializer.Serialize(sent, json) == JsonSerializer.Serialize(stored, json);
    }

    private static ClientUpdate UpdateOf(ClientRequest request) => new(request.Name, request.TimeZone, request.SelectedKpis, request.FieldMappings);
}
