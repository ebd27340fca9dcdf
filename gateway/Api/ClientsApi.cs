using AnalyticsEngine.Clients;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>What a caller sends to create or replace a client's configuration.</summary>
public sealed record ClientRequest(
    string? ClientId,
    string? Name,
    string? TimeZone,
    IReadOnlyList<string>? SelectedKpis,
    IReadOnlyList<FieldMapping>? FieldMappings);

/// <summary>Client configuration ("your order"): <c>GET/POST/PUT /clients</c>.</summary>
public static class ClientsApi
{
    public static IEndpointRouteBuilder MapClientsApi(this IEndpointRouteBuilder app)
    {
        var clients = app.MapGroup("/clients").WithTags("Clients");

        clients.MapGet("/", async (IClusterClient cluster) =>
            TypedResults.Ok(await cluster.GetGrain<IClientDirectoryGrain>(0).List()))
            .WithName("ListClients");

        clients.MapGet("/{clientId}", async Task<Results<Ok<ClientConfig>, ProblemHttpResult>> (string clientId, IClusterClient cluster) =>
            await cluster.GetGrain<IClientConfigGrain>(clientId).Get() is { } config
                ? TypedResults.Ok(config)
                : Problems.NotFound($"Client '{clientId}' does not exist."))
            .WithName("GetClient");

        clients.MapPost("/", async Task<Results<Created<ClientConfig>, ValidationProblem, ProblemHttpResult>> (ClientRequest request, IClusterClient cluster) =>
        {
            if (string.IsNullOrWhiteSpace(request.ClientId))
            {
                return Problems.Validation(["clientId: is required"]);
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
        }).WithName("CreateClient");

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

            var problems = await grain.Put(ToConfig(clientId, request, existing));
            return problems.Count > 0 ? Problems.Validation(problems) : TypedResults.Ok((await grain.Get())!);
        }).WithName("UpdateClient");

        return app;
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
