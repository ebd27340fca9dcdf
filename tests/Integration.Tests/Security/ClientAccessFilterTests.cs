using System.Security.Claims;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Gateway.Security;
using AnalyticsEngine.Proposals;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AnalyticsEngine.Integration.Tests.Security;

/// <summary>The client-isolation filter on its own: every client a body names must be granted.</summary>
public sealed class ClientAccessFilterTests
{
    private sealed record One(string? ClientId) : IClientScoped;

    private sealed record Batch(IReadOnlyList<One> Queries) : IClientsScoped
    {
        public IEnumerable<string?> NamedClientIds() => Queries.Select(q => q.ClientId);
    }

    [Theory]
    [InlineData("a", 200)]
    [InlineData("a b", 200)]
    [InlineData("b", 403)]
    [InlineData("*", 200)]
    public async Task A_batch_passes_only_when_every_client_it_names_is_granted(string granted, int expected)
    {
        var result = await RunAsync(granted, new Batch([new("a"), new("a"), new(null)]));
        Assert.Equal(expected, result);
    }

    [Fact]
    public async Task One_ungranted_client_in_a_batch_refuses_the_whole_batch()
    {
        Assert.Equal(403, await RunAsync("a", new Batch([new("a"), new("b")])));
        Assert.Equal(403, await RunAsync("a", new List<One> { new("a"), new("b") }));
        Assert.Equal(400, await RunAsync("*", new Batch([new("a"), new("NOT VALID")])));
    }

    [Theory]
    [InlineData("a", "a", 200)]
    [InlineData("b", "a", 403)]
    [InlineData("*", "a", 200)]
    [InlineData("b", null, 200)]
    [InlineData("*", "NOT VALID", 400)]
    public async Task The_client_a_ProposalRequest_names_must_be_granted(string granted, string? clientId, int expected)
    {
        var answers = new ProposalRequest(3, new InfrastructureAnswers(5, 200), ClientId: clientId);
        Assert.Equal(expected, await RunAsync(granted, answers));
    }

    private static async Task<int> RunAsync(string granted, object body)
    {
        var http = new DefaultHttpContext
        {
            User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClientAccess.ClaimType, granted)], "test")),
        };
        var context = new DefaultEndpointFilterInvocationContext(http, body);
        var result = await new ClientAccessFilter().InvokeAsync(context, _ => ValueTask.FromResult<object?>(TypedResults.Ok()));
        return result is IStatusCodeHttpResult { StatusCode: { } status } ? status : -1;
    }
}
