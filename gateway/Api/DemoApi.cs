using AnalyticsEngine.Clients;
using AnalyticsEngine.Demo;
using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>What <c>POST /demo/generate</c> takes: historical orders for one client over a range.</summary>
public sealed record DemoGenerateBody(string? ClientId, int Orders, DateTimeOffset? From, DateTimeOffset? To, int? Seed) : IClientScoped;

/// <summary>The built-in demo feed (<c>/demo/feed</c>) and demo data generation (<c>POST /demo/generate</c>).</summary>
public static class DemoApi
{
    public const int MaxGeneratedOrders = 1_000_000;

    public static IEndpointRouteBuilder MapDemoApi(this IEndpointRouteBuilder app)
    {
        // Admins only; the feed creates and writes to several demo clients, so it needs a token for all clients.
        var demo = app.MapGroup("/demo").WithTags("Demo").RequireAuthorization(Policies.Administer);
        demo.MapPost("/feed", async Task<Results<Ok<DemoFeedStatus>, ProblemHttpResult>> (DemoFeedSettings settings, IClusterClient cluster) =>
            settings.Clients is < 1 or > 100 || settings.OrdersPerSecond is < 1 or > 10_000
                ? Problems.BadRequest("Invalid demo feed", "clients must be 1-100 and ordersPerSecond 1-10000.")
                : TypedResults.Ok(await cluster.GetGrain<IDemoFeedGrain>(0).Start(settings))).RequireAllClients();
        demo.MapDelete("/feed", async (IClusterClient cluster) => TypedResults.Ok(await cluster.GetGrain<IDemoFeedGrain>(0).Stop())).RequireAllClients();
        demo.MapGet("/feed", async (IClusterClient cluster) => TypedResults.Ok(await cluster.GetGrain<IDemoFeedGrain>(0).GetStatus())).RequireAllClients();
        demo.MapPost("/generate", async Task<Results<Ok<object>, ProblemHttpResult>> (DemoGenerateBody body, IClusterClient cluster) =>
        {
            var to = body.To ?? DateTimeOffset.UtcNow;
            var from = body.From ?? to.AddDays(-7);
            if (string.IsNullOrWhiteSpace(body.ClientId) || body.Orders is < 1 or > MaxGeneratedOrders || from >= to)
            {
                return Problems.BadRequest("Invalid demo request", $"clientId is required, orders must be 1-{MaxGeneratedOrders}, and from must be before to.");
            }

            if (await cluster.GetGrain<AnalyticsEngine.Clients.IClientConfigGrain>(body.ClientId).Get() is null)
            {
                return Problems.NotFound($"Client '{body.ClientId}' does not exist.");
            }

            var stored = await cluster.GetGrain<IDemoFeedGrain>(0).Generate(new DemoGenerateRequest(body.ClientId, body.Orders, from, to, body.Seed ?? 1));
            return TypedResults.Ok<object>(new { clientId = body.ClientId, stored, from, to });
        });
        return app;
    }
}
