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

/// <summary>The fields of a client's configuration to set (<see cref="IClientConfigGrain.Update"/>); null keeps a field as it is.</summary>
[GenerateSerializer, Immutable, Alias("ae.ClientUpdate")]
public sealed record ClientUpdate(
    [property: Id(0)] string? Name,
    [property: Id(1)] string? TimeZone,
    [property: Id(2)] IReadOnlyList<string>? SelectedKpis,
    [property: Id(3)] IReadOnlyList<FieldMapping>? FieldMappings);

/// <summary>The outcome of <see cref="IClientConfigGrain.Update"/>.</summary>
/// <param name="Stored">The configuration as stored (its new version), or null when refused.</param>
/// <param name="Problems">What was wrong with the configuration (empty when stored or on a version conflict).</param>
/// <param name="CurrentVersion">On a version conflict, the version the configuration is at (0: it does not exist).</param>
[GenerateSerializer, Immutable, Alias("ae.ClientConfigChange")]
public sealed record ClientConfigChange(
    [property: Id(0)] ClientConfig? Stored,
    [property: Id(1)] IReadOnlyList<string> Problems,
    [property: Id(2)] long? CurrentVersion)
{
    public bool Conflicted => CurrentVersion is not null;
}

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

    /// <summary>
    /// Sets the fields <paramref name="update"/> gives; the others keep their value (a new client starts in UTC, with
    /// no KPIs and no field mappings). Read and changed in one turn of the grain, so that no other change made
    /// meanwhile is undone; with <paramref name="expectedVersion"/>, only if the configuration is still at that version
    /// (0: only if the client does not exist yet).
    /// </summary>
    Task<ClientConfigChange> Update(ClientUpdate update, long? expectedVersion);

    /// <summary>
    /// Adds or replaces a client-specific KPI (and selects it). Its formula is checked against the catalog's
    /// object models; when it has problems nothing changes. A changed formula restarts that KPI from the stored events.
    /// </summary>
    Task<FormulaCheck> PutCustomKpi(KpiDefinition kpi);

    /// <summary>Removes a client-specific KPI; false when the client has no such KPI.</summary>
    Task<bool> DeleteCustomKpi(string kpiCode);
}

/// <summary>Checks formulas against the catalog without storing anything (stateless).</summary>
[Alias("ae.IFormulaGrain")]
public interface IFormulaGrain : IGrainWithIntegerKey
{
    Task<FormulaCheck> Check(string formula);

    /// <summary>The object models and fields the given KPIs read (catalog KPIs, and the client's custom ones when given).</summary>
    Task<RequiredObjects> AnalyzeRequiredObjects(IReadOnlyList<string> kpiCodes, string? clientId);
}

/// <summary>Lists the clients that exist (stateless; reads the configuration store).</summary>
[Alias("ae.IClientDirectoryGrain")]
public interface IClientDirectoryGrain : IGrainWithIntegerKey
{
    Task<IReadOnlyList<ClientConfig>> List();
}

/// <summary>One problem with a formula, with where it is: 1-based line and column, and the line with a caret under the spot.</summary>
[GenerateSerializer, Immutable, Alias("ae.FormulaProblem")]
public sealed record FormulaProblem(
    [property: Id(0)] int Line,
    [property: Id(1)] int Column,
    [property: Id(2)] string Message,
    [property: Id(3)] string Excerpt);

/// <summary>The outcome of checking a formula: its problems (none when valid) and the object models it reads.</summary>
[GenerateSerializer, Immutable, Alias("ae.FormulaCheck")]
public sealed record FormulaCheck(
    [property: Id(0)] IReadOnlyList<FormulaProblem> Problems,
    [property: Id(1)] IReadOnlyList<string> ObjectModels)
{
    public bool IsValid => Problems.Count == 0;
}

/// <summary>One object model a set of KPIs needs, the fields they read of it, and which KPIs need it.</summary>
[GenerateSerializer, Immutable, Alias("ae.RequiredObject")]
public sealed record RequiredObject(
    [property: Id(0)] string ObjectModel,
    [property: Id(1)] string Domain,
    [property: Id(2)] IReadOnlyList<string> Fields,
    [property: Id(3)] IReadOnlyList<string> Kpis);

/// <summary>What a set of KPIs needs from a client's data; <see cref="UnknownKpis"/> lists codes that name no KPI.</summary>
[GenerateSerializer, Immutable, Alias("ae.RequiredObjects")]
public sealed record RequiredObjects(
    [property: Id(0)] IReadOnlyList<RequiredObject> Objects,
    [property: Id(1)] IReadOnlyList<string> UnknownKpis);
