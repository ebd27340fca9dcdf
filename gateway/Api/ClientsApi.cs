using System.Security.Claims;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Query;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>What a caller sends to create or replace a client's configuration.</summary>
public sealed record ClientRequest(
    string? ClientId,
    string? Name,
    string? TimeZone,
    IReadOnlyList<string>? SelectedKpis,
    IReadOnlyList<FieldMapping>? FieldMappings) : IClientScoped;

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
        var clients = app.MapGroup("/clients").WithTags("Clients");

        clients.MapGet("/", async (IClusterClient cluster, ClaimsPrincipal user) =>
        {
            var grant = ClientAccess.GrantOf(user);
            var all = await cluster.GetGrain<IClientDirectoryGrain>(0).List();
            return TypedResults.Ok(grant.All ? all : [.. all.Where(c => grant.Allows(c.ClientId))]);
        })
            .WithName("ListClients")
            .WithSummary("The clients the caller's token grants.");

        clients.MapGet("/{clientId}", async Task<Results<Ok<ClientConfig>, ProblemHttpResult>> (string clientId, IClusterClient cluster) =>
            await cluster.GetGrain<IClientConfigGrain>(clientId).Get() is { } config
                ? TypedResults.Ok(config)
                : Problems.NotFound($"Client '{clientId}' does not exist."))
            .WithName("GetClient");

        clients.MapGet("/{clientId}/rollups", async Task<Results<Ok<ClientRollups>, ProblemHttpResult>> (string clientId, IClusterClient cluster, HttpContext http) =>
            await cluster.GetGrain<IClientConfigGrain>(clientId).Get() is null
                ? Problems.NotFound($"Client '{clientId}' does not exist.")
                : TypedResults.Ok(new ClientRollups(clientId, await cluster.GetGrain<IKpiQueryGrain>(0).RollupStatus(clientId, http.RequestAborted))))
            .WithName("GetClientRollups")
            .WithSummary("How far each of the client's partitions is rolled up for queries, whether its rollups hold every rolled-up row, how many rows a backfill still has to add, and when rollups of a term or dimension were last restarted.");

        clients.MapPost("/", async Task<Results<Created<ClientConfig>, ValidationProblem, ProblemHttpResult>> (ClientRequest request, IClusterClient cluster) =>
        {
            if (string.IsNullOrWhiteSpace(request.ClientId))
            {
                return Problems.Validation(["clientId: is required"]);
            }

            if (TextProblems(request) is { Count: > 0 } textProblems)
            {
                return Problems.Validation(textProblems);
            }

            var grain = cluster.GetGrain<IClientConfigGrain>(request.ClientId);
            if (await grain.Get() is not null)
            {
                return TypedResults.Problem($"Client '{request.ClientId}' already exists; use PUT /clients/{request.ClientId} to change it.",
                    statusCode: StatusCodes.Status409Conflict, title: "Conflict");
            }

            var problems = await grain.Put(ToConfig(request.ClientId, request, existing: null));
            return problems.Count > 0
                ? Problems.Validation(problems)
                : TypedResults.Created($"/clients/{request.ClientId}", (await grain.Get())!);
        }).WithName("CreateClient").RequireAuthorization(Policies.Administer);

        clients.MapPut("/{clientId}", async Task<Results<Ok<ClientConfig>, ValidationProblem, ProblemHttpResult>> (string clientId, ClientRequest request, IClusterClient cluster) =>
        {
            var grain = cluster.GetGrain<IClientConfigGrain>(clientId);
            if (await grain.Get() is not { } existing)
            {
                return Problems.NotFound($"Client '{clientId}' does not exist; create it with POST /clients.");
            }

            if (request.ClientId is not null && request.ClientId != clientId)
            {
                return Problems.Validation([$"clientId: '{request.ClientId}' does not match the path's '{clientId}'"]);
            }

            if (TextProblems(request) is { Count: > 0 } textProblems)
            {
                return Problems.Validation(textProblems);
            }

            var problems = await grain.Put(ToConfig(clientId, request, existing));
            return problems.Count > 0 ? Problems.Validation(problems) : TypedResults.Ok((await grain.Get())!);
        }).WithName("UpdateClient").RequireAuthorization(Policies.Administer);

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

    private static ClientConfig ToConfig(string clientId, ClientRequest request, ClientConfig? existing) => new(
        clientId,
        request.Name ?? "",
        request.TimeZone ?? existing?.TimeZone ?? "UTC",
        request.SelectedKpis ?? existing?.SelectedKpis ?? [],
        existing?.CustomKpis ?? [],
        request.FieldMappings ?? existing?.FieldMappings ?? [],
        existing?.Version ?? 0);
}
