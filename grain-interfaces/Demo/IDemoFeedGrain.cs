namespace AnalyticsEngine.Demo;

/// <summary>Settings of the built-in demo feed.</summary>
[GenerateSerializer, Immutable, Alias("ae.DemoFeedSettings")]
public sealed record DemoFeedSettings(
    [property: Id(0)] int Clients,
    [property: Id(1)] int OrdersPerSecond);

/// <summary>What the demo feed has done so far.</summary>
[GenerateSerializer, Immutable, Alias("ae.DemoFeedStatus")]
public sealed record DemoFeedStatus(
    [property: Id(0)] bool Running,
    [property: Id(1)] IReadOnlyList<string> ClientIds,
    [property: Id(2)] int OrdersPerSecond,
    [property: Id(3)] long OrdersSent);

/// <summary>A request to generate historical demo orders for one client.</summary>
[GenerateSerializer, Immutable, Alias("ae.DemoGenerateRequest")]
public sealed record DemoGenerateRequest(
    [property: Id(0)] string ClientId,
    [property: Id(1)] int Orders,
    [property: Id(2)] DateTimeOffset From,
    [property: Id(3)] DateTimeOffset To,
    [property: Id(4)] int Seed);

/// <summary>
/// Generates demo data through the real ingest path (singleton, key 0): creates demo clients and keeps
/// posting orders while started, like a live source would.
/// </summary>
[Alias("ae.IDemoFeedGrain")]
public interface IDemoFeedGrain : IGrainWithIntegerKey
{
    Task<DemoFeedStatus> Start(DemoFeedSettings settings);

    Task<DemoFeedStatus> Stop();

    Task<DemoFeedStatus> GetStatus();

    /// <summary>Ingests <see cref="DemoGenerateRequest.Orders"/> orders spread over the range; returns how many were stored.</summary>
    Task<int> Generate(DemoGenerateRequest request);
}
