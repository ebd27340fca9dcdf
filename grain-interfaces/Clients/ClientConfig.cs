using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Clients;

/// <summary>Maps one field of a client's source to a field of an object model.</summary>
[GenerateSerializer, Immutable, Alias("ae.FieldMapping")]
public sealed record FieldMapping(
    [property: Id(0)] string ObjectModel,
    [property: Id(1)] string SourceField,
    [property: Id(2)] string ModelField);

/// <summary>A client organisation's configuration ("your order").</summary>
/// <param name="TimeZone">IANA time zone id; buckets are cut in this zone.</param>
[GenerateSerializer, Immutable, Alias("ae.ClientConfig")]
public sealed record ClientConfig(
    [property: Id(0)] string ClientId,
    [property: Id(1)] string Name,
    [property: Id(2)] string TimeZone,
    [property: Id(3)] IReadOnlyList<string> SelectedKpis,
    [property: Id(4)] IReadOnlyList<KpiDefinition> CustomKpis,
    [property: Id(5)] IReadOnlyList<FieldMapping> FieldMappings,
    [property: Id(6)] long Version);

/// <summary>The configuration of one client (grain key: client id).</summary>
[Alias("ae.IClientConfigGrain")]
public interface IClientConfigGrain : IGrainWithStringKey
{
    /// <summary>The configuration, or null when the client does not exist.</summary>
    /// <remarks>Interleaves: <see cref="Put"/> waits for the client's computation to rebuild, which reads the configuration.</remarks>
    [Orleans.Concurrency.AlwaysInterleave]
    Task<ClientConfig?> Get();

    /// <summary>Creates or replaces the configuration; returns problems that refused it (empty when stored).</summary>
    Task<IReadOnlyList<string>> Put(ClientConfig config);
}

/// <summary>Lists the clients that exist (stateless; reads the configuration store).</summary>
[Alias("ae.IClientDirectoryGrain")]
public interface IClientDirectoryGrain : IGrainWithIntegerKey
{
    Task<IReadOnlyList<ClientConfig>> List();
}
